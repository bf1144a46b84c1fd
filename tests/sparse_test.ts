// Copyright 2026 the safefs authors. MIT license.
// Sparse files keep their holes through copy() and a cross-filesystem
// move() (issue 21): VM images, databases and core files are mostly holes.
import assert, { equal as assertEquals } from "node:assert/strict";
import { join } from "node:path";
import { backendInfo, copy, copySync, move } from "../mod.ts";
import { cleanup, diskDir, HAS_SHM, recordCalls, shmDir } from "./_helpers.ts";

const MIB = 1 << 20;

/**
 * A sparse file of `size` bytes holding `data` bytes of random data at each
 * offset of `at` (everything else is holes). Returns the data written.
 */
function sparseFile(
  path: string,
  size: number,
  at: number[],
  data = MIB,
): Uint8Array {
  const bytes = new Uint8Array(data);
  for (let off = 0; off < data; off += 65536) {
    crypto.getRandomValues(bytes.subarray(off, Math.min(off + 65536, data)));
  }
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  try {
    f.truncateSync(size);
    for (const off of at) {
      f.seekSync(off, Deno.SeekMode.Start);
      let done = 0;
      while (done < data) done += f.writeSync(bytes.subarray(done));
    }
  } finally {
    f.close();
  }
  return bytes;
}

/** Bytes actually allocated on disk. */
function allocated(path: string): number {
  return (Deno.statSync(path).blocks ?? 0) * 512;
}

function readAt(path: string, off: number, len: number): Uint8Array {
  const f = Deno.openSync(path);
  try {
    f.seekSync(off, Deno.SeekMode.Start);
    const buf = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const n = f.readSync(buf.subarray(done));
      if (n === null) break;
      done += n;
    }
    return buf;
  } finally {
    f.close();
  }
}

/** Same size, same bytes at the data, zeros in sampled holes. */
function assertSameSparse(
  copyPath: string,
  size: number,
  at: number[],
  data: Uint8Array,
): void {
  assertEquals(Deno.statSync(copyPath).size, size);
  for (const off of at) {
    assert.deepEqual(readAt(copyPath, off, data.length), data);
  }
  const zeros = new Uint8Array(4096);
  for (const off of [0, Math.floor(size / 3), size - 4096]) {
    if (at.some((a) => off >= a && off < a + data.length)) continue;
    assert.deepEqual(readAt(copyPath, off, 4096), zeros);
  }
}

const info = backendInfo();

for (const durable of [true, false]) {
  Deno.test(`copy() keeps the holes of a sparse file (durable: ${durable}, ${info.name} backend)`, async () => {
    const dir = diskDir();
    try {
      const size = 64 * MIB;
      const at = [5 * MIB, 40 * MIB];
      const data = sparseFile(join(dir, "img"), size, at);
      const before = allocated(join(dir, "img"));
      assert(before < 8 * MIB, `the source is sparse (${before} bytes)`);
      await copy(join(dir, "img"), join(dir, "copy"), { durable });
      assertSameSparse(join(dir, "copy"), size, at, data);
      const after = allocated(join(dir, "copy"));
      assert(
        after <= 2 * before,
        `the copy allocates ${after} bytes, the source ${before}`,
      );
    } finally {
      cleanup(dir);
    }
  });
}

Deno.test(`copy() keeps the holes between small pieces of data that share their MiB with holes (${info.name} backend)`, async () => {
  // 16 pieces of 64 KiB, each inside a MiB that is otherwise a hole (as in a
  // VM image): a copy that keeps holes only at MiB granularity writes 16 MiB.
  const dir = diskDir();
  try {
    const size = 256 * MIB;
    const at = Array.from({ length: 16 }, (_, k) => k * 16 * MIB + 12288);
    const data = sparseFile(join(dir, "img"), size, at, 65536);
    const before = allocated(join(dir, "img"));
    assert(before < 2 * MIB, `the source is sparse (${before} bytes)`);
    await copy(join(dir, "img"), join(dir, "copy"), { durable: false });
    assertSameSparse(join(dir, "copy"), size, at, data);
    const after = allocated(join(dir, "copy"));
    assert(
      after <= 2 * before,
      `the copy allocates ${after} bytes, the source ${before}`,
    );
  } finally {
    cleanup(dir);
  }
});

Deno.test(`copySync() keeps the holes of a file that ends in a hole (${info.name} backend)`, () => {
  const dir = diskDir();
  try {
    const size = 32 * MIB;
    const data = sparseFile(join(dir, "img"), size, [0]);
    copySync(join(dir, "img"), join(dir, "copy"));
    assertSameSparse(join(dir, "copy"), size, [0], data);
    assert(allocated(join(dir, "copy")) <= 2 * allocated(join(dir, "img")));
  } finally {
    cleanup(dir);
  }
});

Deno.test({
  name:
    `move() across filesystems keeps the holes of a sparse file (${info.name} backend)`,
  ignore: !HAS_SHM,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    try {
      const size = 64 * MIB;
      const at = [MIB, 63 * MIB];
      const data = sparseFile(join(a, "img"), size, at);
      const before = allocated(join(a, "img"));
      await move(join(a, "img"), join(b, "img"));
      assertSameSparse(join(b, "img"), size, at, data);
      assert(allocated(join(b, "img")) <= 2 * before);
      // And back to the disk, the other way across.
      await move(join(b, "img"), join(a, "back"));
      assertSameSparse(join(a, "back"), size, at, data);
      assert(allocated(join(a, "back")) <= 2 * before);
    } finally {
      cleanup(a, b);
    }
  },
});

// A 1 GiB image holding 1 MiB: SEEK_DATA/SEEK_HOLE find the data without
// reading the holes (the path backend must read every byte to find them,
// which is correct but slow: see README).
Deno.test({
  name:
    "copy() of a 1 GiB sparse file holding 1 MiB reads only its data (ffi backend)",
  ignore: !info.sparse,
  fn: async () => {
    const dir = diskDir();
    try {
      const size = 1024 * MIB;
      const data = sparseFile(join(dir, "img"), size, [500 * MIB]);
      const before = allocated(join(dir, "img"));
      const { calls } = await recordCalls(() =>
        copy(join(dir, "img"), join(dir, "copy"))
      );
      assertSameSparse(join(dir, "copy"), size, [500 * MIB], data);
      assert(allocated(join(dir, "copy")) <= 2 * before);
      // Copying the holes would take 16 calls of 64 MiB (or reads); the one
      // data segment, found by SEEK_DATA, takes one.
      const copies = calls.filter((c) =>
        c.op === "copyRange" || c.op === "read"
      );
      assertEquals(copies.length, 1, JSON.stringify(copies));
      assert(calls.some((c) => c.op === "seek" && c.how === "data"));
    } finally {
      cleanup(dir);
    }
  },
});
