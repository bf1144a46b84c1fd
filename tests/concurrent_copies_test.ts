// Copyright 2026 the safefs authors. MIT license.
// Copies running at the same time in one process (Promise.all of copy() and
// move() calls, or a copySync() from a callback while a copy() is under way)
// each copy exactly their own data.
//
// Found by tests/sweep_liveness_test.ts on the ffi backend: a 32 MiB file
// copied across filesystems while a tree was being copied came out with
// the wrong bytes. The file copy's read/write loop (the path backend always;
// ffi when copy_file_range is refused, or with verify) read into one
// module-wide buffer and wrote from it off the main thread; another copy
// reading into that buffer in between changed what was written (fixed on
// wave2 by 0b891bd: a buffer per file copy).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { copy, copySync } from "../src/copy.ts";
import { setSysHook } from "../src/_sys.ts";
import { cleanup, diskDir, HAS_SHM, shmDir } from "./_helpers.ts";
import { BACKEND } from "./_reliability.ts";
import { data } from "./_scenarios.ts";

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

Deno.test({
  name:
    `a copy made while another copy is between reading a chunk and writing it leaves that chunk intact (${BACKEND} backend)`,
  ignore: !HAS_SHM,
  fn: async () => {
    const shm = shmDir();
    const dest = diskDir();
    try {
      const big = data(8 << 20, 21);
      const small = data(200_000, 22);
      Deno.writeFileSync(join(shm, "big"), big);
      Deno.writeFileSync(join(shm, "small"), small);
      let writes = 0;
      let nested = false;
      const restore = setSysHook((c) => {
        // The big file's first write: its chunk has been read, not written.
        if (nested || c.op !== "write" || !c.path?.includes(".big.")) return;
        if (writes++ > 0) return;
        nested = true;
        try {
          copySync(join(shm, "small"), join(dest, "small"));
        } finally {
          nested = false;
        }
      });
      try {
        // verify: the read/write loop on every backend and filesystem (a
        // changed chunk is then caught by the verification, not published).
        await copy(join(shm, "big"), join(dest, "big"), { verify: "sha256" });
      } finally {
        restore();
      }
      assert(
        writes > 0,
        "the big file was not copied with the read/write loop",
      );
      assert.equal(sha(Deno.readFileSync(join(dest, "small"))), sha(small));
      assert.equal(
        sha(Deno.readFileSync(join(dest, "big"))),
        sha(big),
        "the big file's copy holds other bytes",
      );
    } finally {
      cleanup(shm, dest);
    }
  },
});

Deno.test({
  name:
    `concurrent copy() calls of a large file and a tree of small files, across filesystems, each copy their own bytes (${BACKEND} backend)`,
  ignore: !HAS_SHM,
  fn: async () => {
    const shm = shmDir();
    const dest = diskDir();
    try {
      const big = data(16 << 20, 23);
      Deno.writeFileSync(join(shm, "big"), big);
      Deno.mkdirSync(join(shm, "tree"));
      for (let i = 0; i < 200; i++) {
        Deno.writeFileSync(join(shm, "tree", `f${i}`), data(4096 + i, i));
      }
      for (let round = 0; round < 3; round++) {
        await Promise.all([
          copy(join(shm, "big"), join(dest, `big${round}`)),
          copy(join(shm, "tree"), join(dest, `tree${round}`)),
        ]);
        assert.equal(
          sha(Deno.readFileSync(join(dest, `big${round}`))),
          sha(big),
          `round ${round}: the large file's copy holds other bytes`,
        );
        for (let i = 0; i < 200; i++) {
          assert.equal(
            sha(Deno.readFileSync(join(dest, `tree${round}`, `f${i}`))),
            sha(data(4096 + i, i)),
            `round ${round}: tree file f${i}`,
          );
        }
      }
    } finally {
      cleanup(shm, dest);
    }
  },
});
