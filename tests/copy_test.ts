// Copyright 2026 the safefs authors. MIT license.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
  notEqual as assertNotEquals,
} from "node:assert/strict";
import { createHash } from "node:crypto";
import { fds } from "./_sys_backends.ts";
import process from "node:process";
import { basename, join } from "node:path";
import {
  AbortedError,
  AlreadyExistsError,
  InvalidArgumentError,
  IsADirectoryError,
  NotADirectoryError,
  NotEmptyError,
  NotFoundError,
  PermissionError,
  SafeFsError,
  SourceChangedError,
  UnsupportedFileTypeError,
} from "../src/errors.ts";
import { copy, type CopyResult, copySync } from "../src/copy.ts";
import { setSysHook, sys, type SysCall } from "../src/_sys.ts";
import { resetCaps } from "../src/_caps.ts";
import { isTempName } from "../src/_temp.ts";
import {
  abortTimer,
  BACKEND,
  backendFlags,
  callKey,
  CAN_EXCHANGE,
  CAN_EXFAT,
  CAN_MOUNT,
  cleanup,
  DATA_OP,
  diskDir,
  EIO,
  failingAt,
  HAS_SHM,
  indexOf,
  isDataRead,
  isDataWrite,
  isDirFsync,
  isDurabilityCall,
  isFileFsync,
  isNoClobberPublishAt,
  isPublishAt,
  isSyncfs,
  makeTree,
  mountExfat,
  mountTmpfs,
  onEverySysCall,
  pollDirectory,
  recordCalls,
  rejects,
  runDeno,
  shmDir,
  showCalls,
  snapshot,
  temps,
  treeDurability,
  umount,
  watchFifoOpens,
  writeBytes,
} from "./_helpers.ts";

const noShm = { ignore: !HAS_SHM };
const noMount = { ignore: !CAN_MOUNT };
if (!HAS_SHM) {
  console.warn(
    "SKIPPED: /dev/shm is not a separate filesystem: cross-device copy tests are skipped",
  );
}
if (!CAN_MOUNT) {
  console.warn(
    "SKIPPED: cannot mount tmpfs (needs root): ENOSPC and mount-point copy tests are skipped",
  );
}
if (!CAN_EXFAT) {
  console.warn(
    "SKIPPED: cannot mount exFAT (needs root, mkfs.exfat, exfat-fuse): the no-symlink filesystem test is skipped",
  );
}

// ---------------------------------------------------------------------------
// The data path. There is one per backend: copy_file_range between the two
// descriptors on ffi (a reflink on xfs and btrfs), a read/write loop through
// the checked descriptor on the path backend (and on ffi with verify:
// "sha256"). Every data test runs on the running backend's path and checks
// it was the one used; CI runs the file on both backends.
// ---------------------------------------------------------------------------

function sha(path: string): string {
  return createHash("sha256").update(Deno.readFileSync(path)).digest("hex");
}

/** The path of the temp a data call writes into (copy_file_range's destination, or write's file). */
function dataTarget(c: SysCall): string {
  return (c.op === "copyRange" ? c.dest : c.path)!;
}

/** Asserts that the copy's data went through the running backend's data call, into a temp of `dir`. */
function assertDataPath(calls: SysCall[], dir: string): void {
  const data = calls.filter((c) => isDataWrite(c));
  assert(data.length > 0, `no data call:\n${showCalls(calls)}`);
  for (const c of data) {
    assertEquals(c.op, DATA_OP, `the ${BACKEND} backend's data path`);
    const t = dataTarget(c);
    assert(
      t.startsWith(dir + "/") &&
        t.slice(dir.length + 1).split("/").some(isTempName),
      `data written outside a temp: ${t}`,
    );
  }
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

Deno.test("copy() copies a file with its content, mode and times, leaving no temp", async () => {
  const dir = diskDir();
  try {
    writeBytes(join(dir, "a"), 3_000_000, 2);
    Deno.chmodSync(join(dir, "a"), 0o640);
    Deno.utimeSync(
      join(dir, "a"),
      new Date(1_400_000_000_000),
      new Date(1_500_000_000_123),
    );
    const { calls, result } = await recordCalls(() =>
      copy(join(dir, "a"), join(dir, "b"))
    );
    assert(!(result instanceof Error), String(result));
    const r = result as CopyResult;
    assertEquals(r.bytes, 3_000_000);
    assertEquals(r.entries, 1);
    assertEquals(r.replaced, false);
    assertEquals(r.publish, BACKEND === "ffi" ? "noreplace" : "link");
    assertDataPath(calls, dir);
    // atime first (nothing has read the source before the copy; reading the
    // copy would move its atime).
    assertEquals(
      Deno.statSync(join(dir, "b")).atime?.getTime(),
      1_400_000_000_000,
    );
    const src = snapshot(join(dir, "a"), { times: true })!;
    assertEquals(src[""], `f:640:${sha(join(dir, "a"))}:1500000000123`);
    deepStrictEqual(snapshot(join(dir, "b"), { times: true }), src);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() detects a source swapped for another file between lstat and open, and publishes nothing", async () => {
  const dir = diskDir();
  try {
    writeBytes(join(dir, "a"), 2_000_000, 1);
    writeBytes(join(dir, "other"), 2_000_000, 9);
    let swapped = false;
    const restore = setSysHook((c) => {
      if (
        !swapped && c.op === "openAt" && c.how === "read" &&
        c.path === join(dir, "a")
      ) {
        swapped = true;
        Deno.renameSync(join(dir, "other"), join(dir, "a"));
      }
    });
    try {
      await rejects(
        copy(join(dir, "a"), join(dir, "b")),
        SourceChangedError,
        "ESRCCHANGED",
      );
    } finally {
      restore();
    }
    assert(swapped);
    assertEquals(snapshot(join(dir, "b")), null);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() detects a source appended to during the copy, and publishes nothing", async () => {
  const dir = diskDir();
  try {
    writeBytes(join(dir, "a"), 5_000_000, 1);
    Deno.writeTextFileSync(join(dir, "b"), "old");
    let appended = false;
    const restore = setSysHook((c) => {
      // Right before the data is read from the checked descriptor.
      if (appended || !isDataRead(c, join(dir, "a"))) return;
      appended = true;
      const f = Deno.openSync(join(dir, "a"), { append: true });
      f.writeSync(new Uint8Array(10));
      f.close();
    });
    try {
      await rejects(
        copy(join(dir, "a"), join(dir, "b"), { overwrite: true }),
        SourceChangedError,
        "ESRCCHANGED",
      );
    } finally {
      restore();
    }
    assert(appended);
    assertEquals(
      Deno.readTextFileSync(join(dir, "b")),
      "old",
      "dest untouched",
    );
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test({
  name: "copy() copies a file across filesystems (/tmp to /dev/shm) and back",
  ...noShm,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    try {
      writeBytes(join(a, "f"), 4_000_000, 3);
      Deno.chmodSync(join(a, "f"), 0o604);
      const snap = snapshot(join(a, "f"), { times: true });
      const there = await recordCalls(() => copy(join(a, "f"), join(b, "f")));
      assertDataPath(there.calls, b);
      deepStrictEqual(snapshot(join(b, "f"), { times: true }), snap);
      const back = await recordCalls(() => copy(join(b, "f"), join(a, "g")));
      assertDataPath(back.calls, a);
      deepStrictEqual(snapshot(join(a, "g"), { times: true }), snap);
      deepStrictEqual(temps(a), []);
      deepStrictEqual(temps(b), []);
    } finally {
      cleanup(a, b);
    }
  },
});

Deno.test({
  name:
    "copy() into a full filesystem fails with ENOSPC, leaves no temp and the destination untouched",
  ...noMount,
  fn: async () => {
    const a = diskDir(), m = diskDir();
    mountTmpfs(m, "size=1m");
    try {
      writeBytes(join(a, "big"), 3_000_000);
      Deno.writeTextFileSync(join(m, "big"), "old content");
      const e = await rejects(
        copy(join(a, "big"), join(m, "big"), { overwrite: true }),
        SafeFsError,
        "ENOSPC",
      );
      assert(e.message.includes("'"), e.message);
      assertEquals(Deno.readTextFileSync(join(m, "big")), "old content");
      deepStrictEqual(temps(m), []);
      // and the space is free again: a small copy now fits
      Deno.writeTextFileSync(join(a, "small"), "fits");
      await copy(join(a, "small"), join(m, "small"));
      assertEquals(Deno.readTextFileSync(join(m, "small")), "fits");
    } finally {
      umount(m);
      cleanup(a, m);
    }
  },
});

Deno.test("copy() fsyncs the file before the publishing call and the directory after; durable: false does neither", async () => {
  const dir = diskDir();
  try {
    writeBytes(join(dir, "a"), 2_000_000);
    const { calls, result } = await recordCalls(() =>
      copy(join(dir, "a"), join(dir, "b"))
    );
    assert(!(result instanceof Error), String(result));
    const ops = showCalls(calls);
    // The temp's data (a file fsync in dir), then the one no-clobber call
    // that makes b appear (renameat2 NOREPLACE on ffi, link on path), then
    // the directory.
    const fsync = indexOf(
      calls,
      (c) => isFileFsync(c) && c.path!.startsWith(dir + "/"),
    );
    const link = indexOf(calls, (c) => isNoClobberPublishAt(c, join(dir, "b")));
    const dirSync = indexOf(calls, (c) => isDirFsync(c, dir), link + 1);
    assert(fsync >= 0 && link > fsync, ops);
    assert(dirSync > link, ops);
    assertEquals(
      calls.filter((c) => isPublishAt(c, join(dir, "b"))).length,
      1,
      ops,
    );
    assertEquals(calls.filter(isDurabilityCall).length, 2, ops);
    // overwrite publishes with a rename, same order, same count
    const over = await recordCalls(() =>
      copy(join(dir, "a"), join(dir, "b"), { overwrite: true })
    );
    const f2 = indexOf(over.calls, (c) => isFileFsync(c));
    const r2 = indexOf(
      over.calls,
      (c) =>
        c.op === "renameAt" && c.how === "replace" && c.dest === join(dir, "b"),
    );
    const d2 = indexOf(over.calls, (c) => isDirFsync(c, dir), r2 + 1);
    assert(f2 >= 0 && r2 > f2 && d2 > r2, showCalls(over.calls));
    assertEquals(over.calls.filter(isDurabilityCall).length, 2);
    assertEquals((over.result as CopyResult).replaced, true);
    assertEquals((over.result as CopyResult).publish, "rename");
    const quiet = await recordCalls(() =>
      copy(join(dir, "a"), join(dir, "c"), { durable: false })
    );
    assertEquals(quiet.calls.filter(isDurabilityCall).length, 0);
    assertEquals(sha(join(dir, "c")), sha(join(dir, "a")));
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() detects a source replaced at its path while its data was copied", async () => {
  const dir = diskDir();
  try {
    writeBytes(join(dir, "a"), 2_000_000, 1);
    writeBytes(join(dir, "other"), 2_000_000, 9); // same size: only identity tells
    let swapped = false;
    const restore = setSysHook((c) => {
      if (swapped || !isDataRead(c, join(dir, "a"))) return;
      swapped = true;
      // Let the kernel's clock tick (its timestamps are coarse: a few ms)
      // so that the unlink of the checked file moves its ctime.
      const until = Date.now() + 25;
      while (Date.now() < until) { /* wait */ }
      Deno.renameSync(join(dir, "other"), join(dir, "a"));
    });
    try {
      await rejects(
        copy(join(dir, "a"), join(dir, "b")),
        SourceChangedError,
        "ESRCCHANGED",
      );
    } finally {
      restore();
    }
    assert(swapped);
    assertEquals(snapshot(join(dir, "b")), null);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() writes data only into a temp it created exclusively and privately, never through an existing name", async () => {
  const dir = diskDir();
  try {
    writeBytes(join(dir, "a"), 2_000_000, 1);
    Deno.chmodSync(join(dir, "a"), 0o644);
    // At every data call: its target is the temp created by this copy
    // (O_CREAT|O_EXCL), readable by nobody else.
    const created: string[] = [];
    const seen: string[] = [];
    const restore = setSysHook((c) => {
      if (c.op === "openAt" && c.how === "create") {
        created.push(c.path!);
        assertEquals(c.mode, 0o600, "the temp is created private");
      }
      // Created under its claim name, then renamed to its temp name.
      if (c.op === "renameAt" && created.includes(c.path!)) {
        created.push(c.dest!);
      }
      if (isDataWrite(c)) {
        const t = dataTarget(c);
        seen.push(t);
        assert(created.includes(t), `data written to ${t}, not a created temp`);
        seen.push((Deno.lstatSync(t).mode! & 0o7777).toString(8));
      }
    });
    try {
      await copy(join(dir, "a"), join(dir, "b"));
    } finally {
      restore();
    }
    assert(seen.length >= 2, "no data call seen");
    assert(seen.filter((x) => !x.startsWith("/")).every((m) => m === "600"));
    assertEquals(sha(join(dir, "b")), sha(join(dir, "a")));
    assertEquals(Deno.statSync(join(dir, "b")).mode! & 0o777, 0o644);
    deepStrictEqual(temps(dir), []);

    // An attacker who plants a symlink at the temp's name just before it is
    // created gets the creation refused: nothing is written through it.
    Deno.writeTextFileSync(join(dir, "victim"), "victim");
    let planted = "";
    const restore2 = setSysHook((c) => {
      if (planted === "" && c.op === "openAt" && c.how === "create") {
        planted = c.path!;
        Deno.symlinkSync(join(dir, "victim"), planted);
      }
    });
    try {
      await rejects(copy(join(dir, "a"), join(dir, "c")), SafeFsError);
    } finally {
      restore2();
    }
    assert(planted !== "", "the attacker never struck");
    assertEquals(Deno.readTextFileSync(join(dir, "victim")), "victim");
    assertEquals(snapshot(join(dir, "c")), null);
    cleanup(planted);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() never publishes a short copy: a source that shrinks while its data is copied fails it", async () => {
  const dir = diskDir();
  try {
    writeBytes(join(dir, "a"), 4_000_000, 1);
    let cut = false;
    const restore = setSysHook((c) => {
      if (cut || !isDataRead(c, join(dir, "a"))) return;
      cut = true;
      Deno.truncateSync(join(dir, "a"), 1_000_000);
    });
    try {
      await rejects(
        copy(join(dir, "a"), join(dir, "b")),
        SourceChangedError,
        "ESRCCHANGED",
      );
    } finally {
      restore();
    }
    assert(cut);
    assertEquals(snapshot(join(dir, "b")), null);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() never gives its temp more permissions than the result while the data is written", async () => {
  const dir = diskDir();
  const saved = process.umask(0o022);
  try {
    writeBytes(join(dir, "a"), 2_000_000, 1);
    Deno.chmodSync(join(dir, "a"), 0o666);
    for (const mode of [false, true]) {
      const dest = join(dir, `b-${mode}`);
      const modes: number[] = [];
      const restore = setSysHook((c) => {
        if (isDataWrite(c)) {
          modes.push(Deno.lstatSync(dataTarget(c)).mode! & 0o7777);
        }
      });
      try {
        await copy(join(dir, "a"), dest, { preserve: { mode } });
      } finally {
        restore();
      }
      const final = Deno.statSync(dest).mode! & 0o7777;
      assertEquals(final, mode ? 0o666 : 0o666 & ~0o022);
      assert(modes.length > 0, "no data call seen");
      for (const m of modes) {
        assertEquals(
          m & ~final,
          0,
          `the temp was exposed with ${m.toString(8)}, wider than ${
            final.toString(8)
          } (preserve.mode: ${mode})`,
        );
      }
    }
    assertEquals(
      Deno.statSync(join(dir, "b-false")).mode! & 0o777,
      0o666 & ~(sys.umask() ?? 0o022),
    );
  } finally {
    process.umask(saved);
    cleanup(dir);
  }
});

Deno.test("copy() refuses a FIFO source at once without opening it", async () => {
  const dir = diskDir();
  try {
    new Deno.Command("mkfifo", { args: [join(dir, "p")] }).outputSync();
    let opened = false;
    const restore = setSysHook((c) => {
      if (c.op === "openAt" && c.path?.endsWith("/p")) opened = true;
    });
    // An open of a FIFO would block: seen in the kernel (no timer) and
    // unblocked by opening the FIFO ourselves, it fails the test.
    const unblock = (p: string) => (): void =>
      Deno.openSync(p, { read: true, write: true }).close();
    const check = (w: { openedFifo: boolean; result: unknown }): void => {
      assert(!w.openedFifo, `the FIFO was opened (${w.result})`);
      if (w.result instanceof assert.AssertionError) throw w.result;
    };
    try {
      let w = await watchFifoOpens(
        rejects(
          copy(join(dir, "p"), join(dir, "q")),
          UnsupportedFileTypeError,
          "EFTYPE",
        ),
        unblock(join(dir, "p")),
      );
      check(w);
      // dereference: a symlink to a FIFO is refused the same way
      Deno.symlinkSync("p", join(dir, "lp"));
      w = await watchFifoOpens(
        rejects(
          copy(join(dir, "lp"), join(dir, "q"), { dereference: true }),
          UnsupportedFileTypeError,
        ),
        unblock(join(dir, "p")),
      );
      check(w);
      // a FIFO inside a tree: refused before anything is created
      Deno.mkdirSync(join(dir, "t"));
      Deno.writeTextFileSync(join(dir, "t/f"), "x");
      new Deno.Command("mkfifo", { args: [join(dir, "t/p")] }).outputSync();
      w = await watchFifoOpens(
        rejects(
          copy(join(dir, "t"), join(dir, "t2")),
          UnsupportedFileTypeError,
        ),
        unblock(join(dir, "t/p")),
      );
      check(w);
    } finally {
      restore();
    }
    assert(!opened, "the FIFO was opened");
    assertEquals(snapshot(join(dir, "q")), null);
    assertEquals(snapshot(join(dir, "t2")), null);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() onto an existing destination without overwrite fails with AlreadyExistsError and changes nothing", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "a"), "new");
    Deno.writeTextFileSync(join(dir, "b"), "old");
    const e = await rejects(
      copy(join(dir, "a"), join(dir, "b")),
      AlreadyExistsError,
      "EEXIST",
    );
    assertEquals(e.op, "copy");
    assertEquals(e.path, join(dir, "a"));
    assertEquals(e.dest, join(dir, "b"));
    assert(e.message.includes(`'${join(dir, "b")}'`));
    assertNotEquals(e.message[0], e.message[0].toLowerCase());
    assertEquals(Deno.readTextFileSync(join(dir, "b")), "old");
    // a dangling symlink at dest counts as existing too
    Deno.symlinkSync("nowhere", join(dir, "l"));
    await rejects(copy(join(dir, "a"), join(dir, "l")), AlreadyExistsError);
    assertEquals(Deno.readLinkSync(join(dir, "l")), "nowhere");
    // with overwrite: replaced
    const r = await copy(join(dir, "a"), join(dir, "b"), { overwrite: true });
    assertEquals(Deno.readTextFileSync(join(dir, "b")), "new");
    assertEquals(r.replaced, true);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() no-clobber is atomic: of 16 concurrent copies to one path exactly one wins", async () => {
  const dir = diskDir();
  try {
    for (const kind of ["file", "dir"]) {
      const srcs: string[] = [];
      for (let i = 0; i < 16; i++) {
        const p = join(dir, `${kind}${i}`);
        if (kind === "file") writeBytes(p, 100_000, i + 1);
        else {
          Deno.mkdirSync(p);
          Deno.writeTextFileSync(join(p, "id"), String(i));
          writeBytes(join(p, "data"), 50_000, i + 1);
        }
        srcs.push(p);
      }
      const dest = join(dir, `dest-${kind}`);
      const results = await Promise.allSettled(srcs.map((s) => copy(s, dest)));
      const won = results.flatMap((r, i) =>
        r.status === "fulfilled" ? [i] : []
      );
      assertEquals(won.length, 1, `${kind}: exactly one wins`);
      for (const r of results) {
        if (r.status === "rejected") {
          assert(r.reason instanceof AlreadyExistsError, String(r.reason));
        }
      }
      deepStrictEqual(snapshot(dest), snapshot(srcs[won[0]]));
    }
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() refuses bad arguments with typed errors and changes nothing", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "f"), "x");
    Deno.linkSync(join(dir, "f"), join(dir, "hard"));
    Deno.mkdirSync(join(dir, "d/sub"), { recursive: true });
    Deno.mkdirSync(join(dir, "full"));
    Deno.writeTextFileSync(join(dir, "full/x"), "x");
    Deno.mkdirSync(join(dir, "empty"));
    Deno.symlinkSync(join(dir, "d"), join(dir, "dlink"));
    const before = snapshot(dir);

    // onto itself, or onto another name of itself: not a copy
    await rejects(
      copy(join(dir, "f"), join(dir, "f"), { overwrite: true }),
      InvalidArgumentError,
      "EINVAL",
    );
    await rejects(
      copy(join(dir, "f"), join(dir, "hard"), { overwrite: true }),
      InvalidArgumentError,
      "EINVAL",
    );
    // (without overwrite too: a copy onto itself is no copy, as in @std/fs)
    await rejects(
      copy(join(dir, "f"), join(dir, "f")),
      InvalidArgumentError,
      "EINVAL",
    );
    await rejects(
      copy(join(dir, "d"), join(dir, "d/sub/copy")),
      InvalidArgumentError,
    );
    // into itself through a symlink
    await rejects(
      copy(join(dir, "d"), join(dir, "dlink/copy")),
      InvalidArgumentError,
    );
    await rejects(
      copy(join(dir, "nope"), join(dir, "x")),
      NotFoundError,
      "ENOENT",
    );
    const e = await rejects(
      copy(join(dir, "f"), join(dir, "no/such/x")),
      NotFoundError,
    );
    assert(e.message.includes(`'${join(dir, "no/such")}'`), e.message);
    await rejects(
      copy(join(dir, "f"), join(dir, "f/x")),
      NotADirectoryError,
      "ENOTDIR",
    );
    // overwrite semantics like move
    await rejects(
      copy(join(dir, "f"), join(dir, "empty"), { overwrite: true }),
      IsADirectoryError,
      "EISDIR",
    );
    await rejects(
      copy(join(dir, "d"), join(dir, "f"), { overwrite: true }),
      NotADirectoryError,
      "ENOTDIR",
    );
    await rejects(copy("", join(dir, "x")), InvalidArgumentError);
    await rejects(
      copy(join(dir, "f"), join(dir, "x"), { verify: "md5" as "sha256" }),
      InvalidArgumentError,
    );
    await rejects(
      copy(join(dir, "f"), join(dir, "x"), {
        filter: "*.txt" as unknown as () => boolean,
      }),
      InvalidArgumentError,
    );
    // a destination whose last component is "." or ".." names a directory
    // by another name, never an entry to create
    for (const d of [`${dir}/d/.`, `${dir}/d/sub/..`, `${dir}/empty/.`]) {
      await rejects(copy(join(dir, "f"), d), InvalidArgumentError, "EINVAL");
      await rejects(
        copy(join(dir, "d"), d, { overwrite: true }),
        InvalidArgumentError,
        "EINVAL",
      );
    }
    deepStrictEqual(snapshot(dir), before);
    // a directory replaces an EMPTY directory with overwrite
    const r = await copy(join(dir, "d"), join(dir, "empty"), {
      overwrite: true,
    });
    assertEquals(r.replaced, true);
    assert(Deno.statSync(join(dir, "empty/sub")).isDirectory);
  } finally {
    cleanup(dir);
  }
});

Deno.test({
  name: CAN_EXCHANGE
    ? "copy() with overwrite replaces a non-empty directory atomically (exchange), removing the old tree"
    : "copy() with overwrite refuses a non-empty directory with NotEmptyError where directories cannot be exchanged, changing nothing",
  fn: async () => {
    const dir = diskDir();
    try {
      makeTree(join(dir, "src"));
      Deno.mkdirSync(join(dir, "full/old-sub"), { recursive: true });
      Deno.writeTextFileSync(join(dir, "full/keep"), "k");
      Deno.writeTextFileSync(join(dir, "full/old-sub/o"), "o");
      const srcSnap = snapshot(join(dir, "src"), { times: true });
      const before = snapshot(dir);
      const { calls, result } = await recordCalls(() =>
        copy(join(dir, "src"), join(dir, "full"), { overwrite: true })
      );
      if (CAN_EXCHANGE) {
        assert(!(result instanceof Error), String(result));
        const r = result as CopyResult;
        assertEquals(r.replaced, true);
        assertEquals(r.publish, "exchange");
        deepStrictEqual(snapshot(join(dir, "full"), { times: true }), srcSnap);
        deepStrictEqual(snapshot(join(dir, "src"), { times: true }), srcSnap);
        deepStrictEqual(temps(dir), [], "the old tree was removed");
        const why = showCalls(calls);
        const ex = calls.filter((c) =>
          c.op === "renameAt" && c.dest === join(dir, "full")
        );
        assertEquals(ex.length, 1, why);
        assertEquals(ex[0].how, "exchange", why);
        const exi = calls.indexOf(ex[0]);
        assert(
          calls.slice(exi + 1).every((c) => c.op !== "renameAt"),
          `a rename after the exchange:\n${why}`,
        );
        assert(
          indexOf(calls, (c) => isDirFsync(c, dir), exi + 1) > exi,
          `the directory is made durable after the exchange:\n${why}`,
        );
      } else {
        const e = await rejects(
          Promise.reject(result),
          NotEmptyError,
          "ENOTEMPTY",
        );
        assertEquals(e.dest, join(dir, "full"));
        deepStrictEqual(snapshot(dir), before);
        deepStrictEqual(temps(dir), []);
      }
    } finally {
      cleanup(dir);
    }
  },
});

Deno.test({
  name: CAN_EXCHANGE
    ? "copy() with overwrite onto a non-empty directory: a reader in another process never sees it missing or mixed"
    : "copy() with overwrite onto a non-empty directory fails with NotEmptyError: a reader in another process sees it unchanged throughout",
  fn: async () => {
    const dir = diskDir();
    try {
      const dest = join(dir, "dest"), src = join(dir, "src");
      Deno.mkdirSync(dest);
      for (let i = 0; i < 40; i++) {
        Deno.writeTextFileSync(join(dest, `old-${i}`), `old ${i}`);
      }
      Deno.mkdirSync(join(src, "new-sub"), { recursive: true });
      Deno.writeTextFileSync(join(src, "new-sub/f"), "in the new tree");
      for (let i = 0; i < 29; i++) {
        Deno.writeTextFileSync(join(src, `new-${i}`), `new ${i}`);
      }
      const oldSnap = snapshot(dest), newSnap = snapshot(src);
      const { report, result } = await pollDirectory(
        dest,
        Deno.statSync(dest).ino!,
        30,
        () => copy(src, dest, { overwrite: true }),
      );
      const why = JSON.stringify(report);
      assertEquals(report.missing, 0, `the destination went missing: ${why}`);
      assertEquals(report.mixed, 0, `a mix of both trees: ${why}`);
      assertEquals(report.partialNew, 0, `a partial new tree: ${why}`);
      deepStrictEqual(report.errors, [], why);
      assert(report.polls >= 2 && report.sawOld >= 1, why);
      if (CAN_EXCHANGE) {
        assert(!(result instanceof Error), String(result));
        assertEquals((result as CopyResult).publish, "exchange");
        assert(report.sawNew >= 1, why);
        deepStrictEqual(snapshot(dest), newSnap);
      } else {
        assert(result instanceof NotEmptyError, String(result));
        assertEquals(report.sawNew, 0, why);
        deepStrictEqual(snapshot(dest), oldSnap);
      }
      deepStrictEqual(snapshot(src), newSnap);
      deepStrictEqual(temps(dir), []);
    } finally {
      cleanup(dir);
    }
  },
});

Deno.test("copies running at once keep every small file's own bytes (the small-file buffer is shared)", async () => {
  const dir = diskDir();
  try {
    // Files of 1 byte to 64 KiB (one read and one write each) and a few
    // over 1 MiB (read off-thread on the path backend, where copies then
    // interleave): three trees and three single files copied at once, all
    // with distinct contents.
    const sizes = [1, 100, 4095, 4096, 65535, 65536, 65537, 1_300_000];
    for (let t = 0; t < 3; t++) {
      for (let k = 0; k < 40; k++) {
        const size = sizes[k % sizes.length];
        const b = new Uint8Array(size);
        for (let j = 0; j < size; j += 997) b[j] = (t * 41 + k + j) % 251 + 1;
        b[size - 1] = t * 50 + k + 1;
        Deno.mkdirSync(join(dir, `t${t}`, `d${k % 4}`), { recursive: true });
        Deno.writeFileSync(join(dir, `t${t}`, `d${k % 4}`, `f${k}`), b);
      }
    }
    const src = [0, 1, 2].map((t) => snapshot(join(dir, `t${t}`)));
    await Promise.all([
      ...[0, 1, 2].map((t) =>
        copy(join(dir, `t${t}`), join(dir, `c${t}`), { durable: false })
      ),
      ...[0, 1, 2].map((t) =>
        copy(join(dir, `t${t}`, "d1", "f1"), join(dir, `s${t}`))
      ),
    ]);
    for (let t = 0; t < 3; t++) {
      deepStrictEqual(snapshot(join(dir, `c${t}`)), src[t]);
      deepStrictEqual(
        Deno.readFileSync(join(dir, `s${t}`)),
        Deno.readFileSync(join(dir, `t${t}`, "d1", "f1")),
      );
    }
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() accepts file: URLs", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "a"), "url");
    const r = await copy(
      new URL(`file://${dir}/a`),
      new URL(`file://${dir}/b`),
    );
    assertEquals(r.dest, join(dir, "b"));
    assertEquals(Deno.readTextFileSync(join(dir, "b")), "url");
    // Percent-encoded names are decoded as node's fileURLToPath does.
    Deno.writeTextFileSync(join(dir, "a b€%"), "enc");
    const e = await copy(
      new URL(`file://${dir}/a%20b%E2%82%AC%25`),
      new URL(`file://localhost${dir}/c`),
    );
    assertEquals(e.src, join(dir, "a b€%"));
    assertEquals(Deno.readTextFileSync(join(dir, "c")), "enc");
    // A host, an encoded '/' or bytes that are not UTF-8 name no local path.
    const before = snapshot(dir);
    for (
      const [url, why] of [
        [`file://host${dir}/a`, "names a host"],
        [`file://${dir}/x%2Fa`, "encodes a '/'"],
        [`file://${dir}/%FF`, "not valid percent-encoded UTF-8"],
      ]
    ) {
      const err = await rejects(
        copy(new URL(url), join(dir, "d")),
        InvalidArgumentError,
        "EINVAL",
      );
      assert(err.message.includes(why), err.message);
    }
    deepStrictEqual(snapshot(dir), before);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() takes a trailing slash to require a directory, and a source ending in '.' to copy a directory's content", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "f"), "f");
    Deno.mkdirSync(join(dir, "d/sub"), { recursive: true });
    Deno.writeTextFileSync(join(dir, "d/sub/x"), "x");
    const before = snapshot(dir);
    await rejects(
      copy(`${dir}/f/`, join(dir, "g")),
      NotADirectoryError,
      "ENOTDIR",
    );
    await rejects(
      copy(join(dir, "f"), `${dir}/g/`),
      NotADirectoryError,
      "ENOTDIR",
    );
    deepStrictEqual(snapshot(dir), before);
    const r = await copy(`${dir}/d/`, `${dir}/d2/`);
    assertEquals(r.dest, join(dir, "d2"));
    deepStrictEqual(snapshot(join(dir, "d2")), snapshot(join(dir, "d")));
    // "d/." and "d/sub/.." name d itself as a source
    await copy(`${dir}/d/.`, join(dir, "d3"));
    deepStrictEqual(snapshot(join(dir, "d3")), snapshot(join(dir, "d")));
    await copy(`${dir}/d/sub/..`, join(dir, "d4"));
    deepStrictEqual(snapshot(join(dir, "d4")), snapshot(join(dir, "d")));
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() resolves '..' after a symlink as the kernel does, not by text", async () => {
  const dir = diskDir();
  try {
    // g/outlink -> other/deep: g/outlink/.. is other, not g.
    Deno.mkdirSync(join(dir, "g"));
    Deno.mkdirSync(join(dir, "other/deep"), { recursive: true });
    Deno.symlinkSync(join(dir, "other/deep"), join(dir, "g/outlink"));
    Deno.writeTextFileSync(join(dir, "f"), "f");
    Deno.writeTextFileSync(join(dir, "other/src"), "from other");
    const r = await copy(join(dir, "f"), `${dir}/g/outlink/../copied`);
    assertEquals(r.dest, `${dir}/g/outlink/../copied`);
    assertEquals(Deno.readTextFileSync(join(dir, "other/copied")), "f");
    assertEquals(snapshot(join(dir, "g/copied")), null);
    // and as a source
    await copy(`${dir}/g/outlink/../src`, join(dir, "got"));
    assertEquals(Deno.readTextFileSync(join(dir, "got")), "from other");
    deepStrictEqual(temps(join(dir, "other")), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() with verify: sha256 catches a corrupted temp and publishes nothing", async () => {
  const dir = diskDir();
  try {
    writeBytes(join(dir, "a"), 3_000_000, 4);
    // Corrupt what reached the disk: flip byte 77 of the temp once its
    // data is written, before anything else is done with it (the re-read of
    // verify, or setting its mode without verify).
    let flipped = "";
    let temp = "";
    const corrupt = (c: SysCall): void => {
      if (c.op === "openAt" && c.how === "create") temp = c.path!;
      if (c.op === "renameAt" && c.path === temp) temp = c.dest!; // claim -> temp
      if (
        flipped === "" && temp !== "" && c.path === temp &&
        ((c.op === "read") || c.op === "chmod")
      ) {
        flipped = c.op;
        const f = Deno.openSync(temp, { read: true, write: true });
        try {
          const b = new Uint8Array(1);
          f.seekSync(77, Deno.SeekMode.Start);
          f.readSync(b);
          b[0] ^= 0xff;
          f.seekSync(77, Deno.SeekMode.Start);
          f.writeSync(b);
        } finally {
          f.close();
        }
      }
    };
    let restore = setSysHook(corrupt);
    let e: SafeFsError;
    try {
      e = await rejects(
        copy(join(dir, "a"), join(dir, "b"), { verify: "sha256" }),
        SafeFsError,
        "EIO",
      );
    } finally {
      restore();
    }
    assertEquals(flipped, "read", "corrupted before the verification read");
    assert(e.message.includes("sha256"), e.message);
    assertEquals(snapshot(join(dir, "b")), null);
    deepStrictEqual(temps(dir), []);
    // The same corruption without verify is published: the check is what
    // caught it.
    flipped = "";
    temp = "";
    restore = setSysHook(corrupt);
    try {
      await copy(join(dir, "a"), join(dir, "c"), { durable: false });
    } finally {
      restore();
    }
    assertEquals(flipped, "chmod");
    assertNotEquals(sha(join(dir, "c")), sha(join(dir, "a")));
    // and with an honest write path verify passes
    await copy(join(dir, "a"), join(dir, "d"), { verify: "sha256" });
    assertEquals(sha(join(dir, "d")), sha(join(dir, "a")));
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() copies a symlink as a symlink, and its target with dereference", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "target"), "pointed at");
    Deno.symlinkSync("target", join(dir, "l"));
    Deno.symlinkSync("/nonexistent", join(dir, "dangling"));
    await copy(join(dir, "l"), join(dir, "l2"));
    assertEquals(Deno.readLinkSync(join(dir, "l2")), "target");
    await copy(join(dir, "dangling"), join(dir, "d2"));
    assertEquals(Deno.readLinkSync(join(dir, "d2")), "/nonexistent");
    await copy(join(dir, "l"), join(dir, "f"), { dereference: true });
    assert(Deno.lstatSync(join(dir, "f")).isFile);
    assertEquals(Deno.readTextFileSync(join(dir, "f")), "pointed at");
    await rejects(
      copy(join(dir, "dangling"), join(dir, "x"), { dereference: true }),
      NotFoundError,
    );
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() with dereference copies the directories symlinks lead to, at the top and inside a tree", async () => {
  const dir = diskDir();
  try {
    Deno.mkdirSync(join(dir, "real/sub"), { recursive: true });
    Deno.writeTextFileSync(join(dir, "real/sub/f"), "f");
    Deno.symlinkSync("real", join(dir, "top-link"));
    Deno.mkdirSync(join(dir, "t"));
    Deno.writeTextFileSync(join(dir, "t/own"), "own");
    Deno.symlinkSync("../real", join(dir, "t/dir-link"));
    const real = snapshot(join(dir, "real"));
    await copy(join(dir, "top-link"), join(dir, "c1"), { dereference: true });
    assert(Deno.lstatSync(join(dir, "c1")).isDirectory);
    deepStrictEqual(snapshot(join(dir, "c1")), real);
    await copy(join(dir, "t"), join(dir, "c2"), { dereference: true });
    assert(Deno.lstatSync(join(dir, "c2/dir-link")).isDirectory);
    deepStrictEqual(snapshot(join(dir, "c2/dir-link")), real);
    assertEquals(Deno.readTextFileSync(join(dir, "c2/own")), "own");
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

// ---------------------------------------------------------------------------
// Trees
// ---------------------------------------------------------------------------

Deno.test("copy() copies a tree: symlinks stay symlinks, hard links stay hard links, modes and times kept", async () => {
  const dir = diskDir();
  try {
    makeTree(join(dir, "t"));
    Deno.utimeSync(
      join(dir, "t/sub"),
      new Date(1_300_000_000_000),
      new Date(1_300_000_000_000),
    );
    Deno.utimeSync(
      join(dir, "t"),
      new Date(1_200_000_000_000),
      new Date(1_200_000_000_000),
    );
    const before = snapshot(join(dir, "t"), { times: true });
    const progress: number[] = [];
    const r = await copy(join(dir, "t"), join(dir, "c"), {
      onProgress: (p) => progress.push(p.filesDone),
    });
    deepStrictEqual(snapshot(join(dir, "c"), { times: true }), before);
    deepStrictEqual(
      snapshot(join(dir, "t"), { times: true }),
      before,
      "source untouched",
    );
    assertEquals(
      Deno.lstatSync(join(dir, "c/a.txt")).ino,
      Deno.lstatSync(join(dir, "c/sub/a-hard.txt")).ino,
    );
    assertNotEquals(
      Deno.lstatSync(join(dir, "c/a.txt")).ino,
      Deno.lstatSync(join(dir, "t/a.txt")).ino,
    );
    assertEquals(r.entries, Object.keys(before!).length);
    assertEquals(progress.at(-1), r.entries);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test({
  name:
    "copy() copies a tree across filesystems (/tmp to /dev/shm), durably, publishing it in one rename",
  ...noShm,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    try {
      makeTree(join(a, "t"));
      const before = snapshot(join(a, "t"), { times: true });
      const { calls, result } = await recordCalls(() =>
        copy(join(a, "t"), join(b, "t"))
      );
      assert(!(result instanceof Error), String(result));
      const r = result as CopyResult;
      deepStrictEqual(snapshot(join(b, "t"), { times: true }), before);
      const why = showCalls(calls);
      // Exactly one call makes the tree appear at dest, after every fsync of
      // it; the others naming dest only look (no-clobber checks).
      const pub = calls.filter((c) =>
        c.dest === join(b, "t") || c.path === join(b, "t")
      );
      const publishing = pub.filter((c) => isPublishAt(c, join(b, "t")));
      assertEquals(publishing.length, 1, why);
      assertEquals(publishing[0].op, "renameAt", why);
      assert(
        pub.every((c) => c === publishing[0] || c.op === "statAt"),
        `a call other than a look or the publish names the destination:\n${why}`,
      );
      assertEquals(pub.at(-1), publishing[0], why);
      // No-clobber for a non-empty tree: renameat2 NOREPLACE on ffi; on the
      // path backend a check then a rename (said in the result).
      assertEquals(
        publishing[0].how,
        BACKEND === "ffi" ? "noreplace" : "replace",
      );
      assertEquals(r.publish, BACKEND === "ffi" ? "noreplace" : "checked");
      const ri = calls.indexOf(publishing[0]);
      // 10 entries: every file and directory fsynced (on ffi too: one syncfs
      // only from 32 entries).
      assertEquals(r.entries, 10);
      assertEquals(treeDurability(r.entries, b), "each");
      const files = calls.filter((c) => isFileFsync(c));
      assertEquals(
        files.length,
        4,
        "every regular file (hard link once) fsynced",
      );
      assert(files.every((c) => calls.indexOf(c) < ri), why);
      assertEquals(
        calls.slice(0, ri).filter((c) => isDirFsync(c)).length,
        3,
        `every directory of the copy fsynced before the publish:\n${why}`,
      );
      assert(calls.slice(ri).some((c) => isDirFsync(c, b)), why);
      // files + directories + the publish directory, nothing else
      assertEquals(calls.filter(isDurabilityCall).length, 4 + 3 + 1, why);
      assertEquals(calls.filter(isSyncfs).length, 0, why);
      deepStrictEqual(temps(b), []);
    } finally {
      cleanup(a, b);
    }
  },
});

Deno.test({
  name:
    "copy() of a tree of 32 or more entries is made durable as its mode says: one syncfs (ffi, local filesystem) or every file and directory fsynced",
  fn: async () => {
    const dir = diskDir();
    try {
      Deno.mkdirSync(join(dir, "t/d1/d2"), { recursive: true });
      for (let i = 0; i < 20; i++) {
        Deno.writeTextFileSync(join(dir, "t", `f${i}`), `f${i}`);
        Deno.writeTextFileSync(join(dir, "t/d1", `g${i}`), `g${i}`);
      }
      Deno.writeTextFileSync(join(dir, "t/d1/d2/h"), "h");
      const { calls, result } = await recordCalls(() =>
        copy(join(dir, "t"), join(dir, "c"))
      );
      assert(!(result instanceof Error), String(result));
      const r = result as CopyResult;
      assertEquals(r.entries, 1 + 2 + 41);
      deepStrictEqual(snapshot(join(dir, "c")), snapshot(join(dir, "t")));
      const why = showCalls(calls);
      const ri = indexOf(calls, (c) => isPublishAt(c, join(dir, "c")));
      assert(ri >= 0, why);
      const mode = treeDurability(r.entries, dir);
      assertEquals(mode, BACKEND === "ffi" ? "syncfs" : "each");
      if (mode === "syncfs") {
        // One syncfs of the copy before the publish, no fsync of any file
        // or directory of it; then the publish directory.
        const sf = calls.filter(isSyncfs);
        assertEquals(sf.length, 1, why);
        assert(calls.indexOf(sf[0]) < ri, why);
        assert(
          calls.every((c) => !isFileFsync(c)),
          `a file fsynced in syncfs mode:\n${why}`,
        );
        assertEquals(calls.filter((c) => isDirFsync(c)).length, 1, why);
      } else {
        assertEquals(calls.filter((c) => isFileFsync(c)).length, 41, why);
        assertEquals(
          calls.slice(0, ri).filter((c) => isDirFsync(c)).length,
          3,
          why,
        );
        assertEquals(calls.filter(isSyncfs).length, 0, why);
      }
      assert(
        indexOf(calls, (c) => isDirFsync(c, dir), ri + 1) > ri,
        `the publish directory is made durable after the publish:\n${why}`,
      );
      assertEquals(
        calls.filter(isDurabilityCall).length,
        mode === "syncfs" ? 2 : 41 + 3 + 1,
        why,
      );
      // durable: false: none of it
      const quiet = await recordCalls(() =>
        copy(join(dir, "t"), join(dir, "q"), { durable: false })
      );
      assertEquals(quiet.calls.filter(isDurabilityCall).length, 0);
    } finally {
      cleanup(dir);
    }
  },
});

Deno.test("copy() handles 1,000 levels of nesting and 10,000 files", async () => {
  // On tmpfs when there is one: creating 10,000 files on this ext4 costs ~7 s
  // in the kernel alone (cp -a too).
  const dir = HAS_SHM ? shmDir() : diskDir();
  try {
    // deep: built with relative mkdirs
    let p = join(dir, "deep");
    Deno.mkdirSync(p);
    const parts: string[] = [];
    for (let i = 0; i < 1000; i++) parts.push("d");
    Deno.mkdirSync(join(p, ...parts), { recursive: true });
    Deno.writeTextFileSync(join(p, ...parts, "bottom"), "deepest");
    await copy(p, join(dir, "deep2"), { durable: false });
    assertEquals(
      Deno.readTextFileSync(join(dir, "deep2", ...parts, "bottom")),
      "deepest",
    );
    // wide: 10,000 files in 100 directories
    p = join(dir, "wide");
    Deno.mkdirSync(p);
    for (let d = 0; d < 100; d++) {
      Deno.mkdirSync(join(p, `d${d}`));
      for (let f = 0; f < 100; f++) {
        Deno.writeTextFileSync(join(p, `d${d}`, `f${f}`), `${d}/${f}`);
      }
    }
    const t0 = performance.now();
    const r = await copy(p, join(dir, "wide2"), { durable: false });
    const ms = performance.now() - t0;
    assertEquals(r.entries, 1 + 100 + 10_000);
    deepStrictEqual(snapshot(join(dir, "wide2")), snapshot(p));
    console.log(`10,000 files copied in ${ms.toFixed(0)} ms`);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() reports a tree that changes while it is copied, publishing nothing", async () => {
  for (const change of ["add", "remove", "replace", "modify"] as const) {
    const dir = diskDir();
    try {
      makeTree(join(dir, "t"));
      let done = false;
      const restore = setSysHook((c) => {
        // Strike once the copy has begun: at its first mkdir inside the temp.
        if (done || c.op !== "mkdirAt" || !c.path!.includes("safefs-tmp/")) {
          return;
        }
        done = true;
        if (change === "add") {
          Deno.writeTextFileSync(join(dir, "t/sub/new"), "new");
        }
        if (change === "remove") {
          Deno.removeSync(join(dir, "t/sub/deeper/c.txt"));
        }
        if (change === "replace") {
          Deno.writeTextFileSync(join(dir, "t/x"), "x");
          Deno.renameSync(join(dir, "t/x"), join(dir, "t/empty"));
        }
        if (change === "modify") {
          Deno.writeTextFileSync(join(dir, "t/sub/deeper/c.txt"), "more");
        }
      });
      try {
        await rejects(
          copy(join(dir, "t"), join(dir, "c")),
          SourceChangedError,
          "ESRCCHANGED",
        );
      } finally {
        restore();
      }
      assert(done, change);
      assertEquals(snapshot(join(dir, "c")), null, change);
      deepStrictEqual(temps(dir), [], change);
    } finally {
      cleanup(dir);
    }
  }
});

Deno.test("copy() with dereference reports a symlink loop instead of following it forever", async () => {
  const dir = diskDir();
  try {
    Deno.mkdirSync(join(dir, "t/a"), { recursive: true });
    Deno.writeTextFileSync(join(dir, "t/a/f"), "f");
    Deno.symlinkSync("..", join(dir, "t/a/up"));
    await rejects(
      copy(join(dir, "t"), join(dir, "c"), { dereference: true }),
      SafeFsError,
      "ELOOP",
    );
    assertEquals(snapshot(join(dir, "c")), null);
    deepStrictEqual(temps(dir), []);
    // without dereference the loop is just a symlink
    await copy(join(dir, "t"), join(dir, "c"));
    assertEquals(Deno.readLinkSync(join(dir, "c/a/up")), "..");
  } finally {
    cleanup(dir);
  }
});

Deno.test({
  name:
    "copy() with oneFileSystem skips a mount point inside the tree and reports it",
  ...noMount,
  fn: async () => {
    const dir = diskDir();
    const mnt = join(dir, "t/mnt");
    Deno.mkdirSync(mnt, { recursive: true });
    mountTmpfs(mnt, "size=1m");
    try {
      Deno.writeTextFileSync(join(mnt, "inside"), "other fs");
      Deno.writeTextFileSync(join(dir, "t/f"), "f");
      const r = await copy(join(dir, "t"), join(dir, "c"), {
        oneFileSystem: true,
      });
      deepStrictEqual(r.skippedMounts, [mnt]);
      assertEquals(snapshot(join(dir, "c/mnt")), null);
      assertEquals(Deno.readTextFileSync(join(dir, "c/f")), "f");
      // by default the mounted content is copied
      const r2 = await copy(join(dir, "t"), join(dir, "c2"));
      deepStrictEqual(r2.skippedMounts, []);
      assertEquals(
        Deno.readTextFileSync(join(dir, "c2/mnt/inside")),
        "other fs",
      );
    } finally {
      umount(mnt);
      cleanup(dir);
    }
  },
});

Deno.test("copy() of many files honours an abort raised by a timer while it builds (it yields to the event loop), and leaves nothing", async () => {
  // A timer (a macrotask, like AbortSignal.timeout's) is armed at the 200th
  // file written: it can only fire if the build yields to the event loop
  // between files, which it does once every few entries.
  const dir = diskDir();
  try {
    for (let a = 0; a < 20; a++) {
      Deno.mkdirSync(join(dir, "t", `d${a}`), { recursive: true });
      for (let f = 0; f < 100; f++) {
        Deno.writeTextFileSync(join(dir, "t", `d${a}`, `f${f}`), `${a}/${f}`);
      }
    }
    const ac = new AbortController();
    const t = abortTimer(ac, 200, (c) => isDataWrite(c));
    await onEverySysCall(t.hook, () =>
      rejects(
        copy(join(dir, "t"), join(dir, "u"), { signal: ac.signal }),
        AbortedError,
        "ABORT_ERR",
      ));
    assert(t.armed, "the copy wrote fewer than 200 files");
    assert(t.fired, "the timer never fired while copy() ran");
    assert(
      t.calls < 2000,
      `all ${t.calls} files were written before the abort`,
    );
    // Once the signal has fired, the next file's check stops the build.
    assert(t.after <= 1, `${t.after} files written after the abort`);
    assertEquals(snapshot(join(dir, "u")), null);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("a durable copy whose third file fsync fails closes every file it held, synced or not, under both drivers", async () => {
  // 20 files: one batch of fsyncs, 16 at once under the async driver, so
  // files 17-20 are never started after the failure and must be closed too.
  const dir = diskDir();
  try {
    Deno.mkdirSync(join(dir, "t"));
    for (let f = 0; f < 20; f++) {
      Deno.writeTextFileSync(join(dir, "t", `f${f}`), `${f}`);
    }
    for (const driver of ["async", "sync"]) {
      const before = fds();
      let fileSyncs = 0;
      const failed = await onEverySysCall((c) => {
        if (isFileFsync(c) && ++fileSyncs === 3) {
          throw Object.assign(new Error("injected EIO"), { code: "EIO" });
        }
      }, () =>
        rejects(
          driver === "async"
            ? copy(join(dir, "t"), join(dir, driver))
            : Promise.resolve().then(() =>
              copySync(join(dir, "t"), join(dir, driver))
            ),
          SafeFsError,
        ));
      assert(fileSyncs >= 3, `${driver}: only ${fileSyncs} file fsyncs`);
      assert(failed.code !== undefined, `${driver}: ${failed.message}`);
      deepStrictEqual(fds(), before, `${driver}: descriptors left open`);
      assertEquals(snapshot(join(dir, driver)), null);
      deepStrictEqual(temps(dir), []);
    }
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() aborted mid-copy leaves no temp and no destination", async () => {
  const dir = diskDir();
  try {
    writeBytes(join(dir, "big"), 20_000_000);
    makeTree(join(dir, "t"));
    for (const src of ["big", "t"]) {
      const ac = new AbortController();
      // Abort once the data is being copied into the temp: at the first
      // data call (copy_file_range on ffi, write on the path backend).
      let tempSeen: string[] = [];
      const restore = setSysHook((c) => {
        if (ac.signal.aborted || !isDataWrite(c)) return;
        tempSeen = temps(dir);
        ac.abort(new Error("stop"));
      });
      let progressed = 0;
      try {
        await rejects(
          copy(join(dir, src), join(dir, `${src}-copy`), {
            signal: ac.signal,
            onProgress: () => progressed++,
          }),
          AbortedError,
          "ABORT_ERR",
        );
      } finally {
        restore();
      }
      assert(ac.signal.aborted, `${src}: the copy never reached its data`);
      assertEquals(
        tempSeen.length,
        1,
        `${src}: aborted while the temp existed`,
      );
      assert(progressed > 0);
      assertEquals(snapshot(join(dir, `${src}-copy`)), null);
      deepStrictEqual(temps(dir), []);
    }
    // An abort from the progress callback, as a caller would: at the first
    // report of the copy phase.
    const ac = new AbortController();
    await rejects(
      copy(join(dir, "big"), join(dir, "cb-copy"), {
        signal: ac.signal,
        onProgress: (p) => {
          if (p.phase === "copy") ac.abort(new Error("stop"));
        },
      }),
      AbortedError,
      "ABORT_ERR",
    );
    assertEquals(snapshot(join(dir, "cb-copy")), null);
    deepStrictEqual(temps(dir), []);
    const pre = new AbortController();
    pre.abort();
    await rejects(
      copy(join(dir, "t"), join(dir, "x"), { signal: pre.signal }),
      AbortedError,
    );
    assertEquals(snapshot(join(dir, "x")), null);
  } finally {
    cleanup(dir);
  }
});

Deno.test({
  name:
    "copy() keeps set-user-ID bits only with the owner, never on a copy owned by the copier (root only)",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    const dir = diskDir();
    try {
      Deno.writeTextFileSync(join(dir, "a"), "#!/bin/sh\n");
      Deno.chownSync(join(dir, "a"), 1234, 5678);
      Deno.chmodSync(join(dir, "a"), 0o4755);
      await copy(join(dir, "a"), join(dir, "b"), { preserve: { owner: true } });
      const st = Deno.statSync(join(dir, "b"));
      deepStrictEqual([st.uid, st.gid, st.mode! & 0o7777], [
        1234,
        5678,
        0o4755,
      ]);
      // Without the owner, the set-user/group-ID bits go: the copy belongs
      // to the copier and must not run as it. Nor does its temp carry them
      // while its data is written.
      const modes: number[] = [];
      const restore = setSysHook((c) => {
        if (isDataWrite(c)) {
          modes.push(Deno.lstatSync(dataTarget(c)).mode! & 0o7777);
        }
      });
      try {
        await copy(join(dir, "a"), join(dir, "c"));
      } finally {
        restore();
      }
      const sc = Deno.statSync(join(dir, "c"));
      deepStrictEqual([sc.uid, sc.gid, sc.mode! & 0o7777], [0, 0, 0o755]);
      assert(modes.length > 0, "no data call seen");
      assert(modes.every((m) => (m & 0o6000) === 0), modes.join(","));
    } finally {
      cleanup(dir);
    }
  },
});

Deno.test({
  name:
    "copy() with preserve.owner chowns a file only when its copy's owner or group differs, and keeps both (root only)",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    const dir = diskDir();
    try {
      Deno.mkdirSync(join(dir, "t"));
      for (const n of ["mine", "other-group", "other-owner"]) {
        Deno.writeTextFileSync(join(dir, "t", n), n);
        Deno.chmodSync(join(dir, "t", n), 0o640);
      }
      Deno.chownSync(join(dir, "t", "other-group"), 0, 4321);
      Deno.chownSync(join(dir, "t", "other-owner"), 1234, 0);
      const chowned: string[] = [];
      const restore = setSysHook((c) => {
        if (c.op === "chown" && c.how === "file") {
          chowned.push(basename(c.path!));
        }
      });
      try {
        await copy(join(dir, "t"), join(dir, "u"), {
          preserve: { owner: true },
        });
      } finally {
        restore();
      }
      // The copy is made by root (uid 0, gid 0): the file that already has
      // its source's owner and group needs no chown.
      deepStrictEqual(chowned.sort(), ["other-group", "other-owner"]);
      for (
        const [n, uid, gid] of [
          ["mine", 0, 0],
          ["other-group", 0, 4321],
          ["other-owner", 1234, 0],
        ] as const
      ) {
        const st = Deno.statSync(join(dir, "u", n));
        deepStrictEqual([n, st.uid, st.gid, st.mode! & 0o7777], [
          n,
          uid,
          gid,
          0o640,
        ]);
      }
    } finally {
      cleanup(dir);
    }
  },
});

Deno.test("copy() with overwrite: a reader looking before every filesystem call never sees a partial file or tree", async () => {
  // The reader runs before every seam call of the copies (and after them):
  // it sees every state of the destinations a concurrent reader could see.
  const dir = diskDir();
  try {
    writeBytes(join(dir, "big"), 32 * 1024 * 1024, 3);
    Deno.writeTextFileSync(join(dir, "dest"), "old");
    makeTree(join(dir, "tree"));
    for (let i = 0; i < 200; i++) {
      Deno.writeTextFileSync(join(dir, "tree", `n${i}`), `${i}`);
    }
    const bigSha = sha(join(dir, "big"));
    const treeSnap = snapshot(join(dir, "tree"));
    const bad: string[] = [];
    const seen = { old: 0, new: 0, noTree: 0, tree: 0 };
    // The content of each inode seen at dest is checked once.
    const checked = new Map<number, string>();
    const look = (): void => {
      const st = Deno.lstatSync(join(dir, "dest"));
      let v = checked.get(st.ino!);
      if (v === undefined) {
        v = st.size === 3
          ? (Deno.readTextFileSync(join(dir, "dest")) === "old" ? "old" : "bad")
          : sha(join(dir, "dest")) === bigSha
          ? "new"
          : `bad size ${st.size}`;
        checked.set(st.ino!, v);
      }
      if (v === "old" || v === "new") seen[v]++;
      else bad.push(`dest: ${v}`);
      const t = snapshot(join(dir, "tree-copy"));
      if (t === null) seen.noTree++;
      else if (JSON.stringify(t) === JSON.stringify(treeSnap)) seen.tree++;
      else bad.push(`tree: ${Object.keys(t).length} entries`);
    };
    let looks = 0;
    await onEverySysCall(() => {
      looks++;
      look();
    }, async () => {
      await copy(join(dir, "big"), join(dir, "dest"), { overwrite: true });
      await copy(join(dir, "tree"), join(dir, "tree-copy"));
    });
    look();
    deepStrictEqual(bad.slice(0, 5), [], JSON.stringify(seen));
    assert(seen.old > 0 && seen.new > 0, JSON.stringify(seen));
    assert(seen.noTree > 200 && seen.tree > 0, JSON.stringify(seen));
    assert(looks > 200, `${looks} looks`);
    assertEquals(sha(join(dir, "dest")), bigSha);
  } finally {
    cleanup(dir);
  }
});

/**
 * Fails each seam call of a copy in turn (in `dir`, from `dir/s` to
 * `dir/out/d`) and checks, on the real filesystem: a typed error with the
 * errno; no temp left; the source unchanged; the destination old or
 * complete, and when complete after an error, the error says so. Returns
 * the number of fault points tried.
 */
async function copyFaultSweep(
  dir: string,
  label: string,
  setup: () => void,
  opts: { overwrite?: boolean },
): Promise<number> {
  let tried = 0;
  const reset = (): void => {
    cleanup(join(dir, "s"), join(dir, "out"));
    Deno.mkdirSync(join(dir, "out"));
    setup();
  };
  reset();
  const srcSnap = snapshot(join(dir, "s"));
  const destSnap = snapshot(join(dir, "out/d"));
  // Forget what was learned about the filesystem (symlinks, renameat2
  // flags, hard links) before every run: each run then makes the same
  // calls, probes included.
  resetCaps();
  const { calls } = await recordCalls(() =>
    copy(join(dir, "s"), join(dir, "out/d"), opts)
  );
  deepStrictEqual(
    snapshot(join(dir, "out/d")),
    srcSnap,
    `${label}: clean run`,
  );
  for (let i = 0; i < calls.length; i++) {
    reset();
    resetCaps();
    const { hit, result } = await failingAt(
      { calls, n: i },
      EIO,
      () => copy(join(dir, "s"), join(dir, "out/d"), opts),
    );
    const where = `${label}: failing call ${i} ${JSON.stringify(hit)}`;
    assert(hit !== null, `${where}: the call was not made again`);
    tried++;
    deepStrictEqual(temps(join(dir, "out")), [], `${where}: temp left`);
    deepStrictEqual(
      snapshot(join(dir, "s")),
      srcSnap,
      `${where}: source changed`,
    );
    const now = JSON.stringify(snapshot(join(dir, "out/d")));
    if (!(result instanceof Error)) {
      // Only two failures may be absorbed: the unlink of the temp's
      // second name after a link publish, and the advisory lock on the
      // temp (taken best-effort: a filesystem may have no flock; it only
      // keeps sweep() away).
      assertEquals(
        now,
        JSON.stringify(srcSnap),
        `${where}: resolved but incomplete`,
      );
      const h = hit as SysCall;
      assert(
        h.op === "lock" ||
          (h.op === "unlinkAt" && isTempName(basename(h.path!))),
        `${where}: the failure went unreported`,
      );
      continue;
    }
    assert(result instanceof SafeFsError, `${where}: ${result}`);
    assertEquals((result as SafeFsError).code, "EIO", where);
    assert(
      now === JSON.stringify(destSnap) || now === JSON.stringify(srcSnap),
      `${where}: destination is neither old nor complete: ${now}`,
    );
    if (now !== JSON.stringify(destSnap)) {
      // Published, then failed: the error says where the copy is.
      assertEquals(
        (result as SafeFsError).published,
        join(dir, "out/d"),
        `${where}: an error after the publish without 'published'`,
      );
    }
  }
  return tried;
}

const COPY_FAULT_CASES: [
  string,
  (dir: string) => void,
  { overwrite?: boolean },
][] = [
  ["a file", (dir) => writeBytes(join(dir, "s"), 1_500_000), {}],
  ["a file over a file", (dir) => {
    writeBytes(join(dir, "s"), 10_000);
    Deno.writeTextFileSync(join(dir, "out/d"), "old");
  }, { overwrite: true }],
  ["a tree", (dir) => makeTree(join(dir, "s")), {}],
];

for (const [label, setup, opts] of COPY_FAULT_CASES) {
  Deno.test(`copy() of ${label} survives a failure at every seam call: typed error, no temp, destination old or complete`, async () => {
    const dir = diskDir();
    try {
      const n = await copyFaultSweep(dir, label, () => setup(dir), opts);
      console.log(`${label}: ${n} fault points tried`);
      assert(n > 10, `only ${n} fault points`);
    } finally {
      cleanup(dir);
    }
  });
}

Deno.test("copy() checks permissions first and names the missing flag", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "a"), "x");
    Deno.mkdirSync(join(dir, "out"));
    const r = await runDeno(
      [
        `--allow-read=${dir}`,
        `--allow-write=${join(dir, "out/b")}`,
        ...backendFlags(),
      ],
      `import { copy } from ${
        JSON.stringify(new URL("../src/copy.ts", import.meta.url).href)
      };
       import { backendInfo } from ${
        JSON.stringify(new URL("../src/backend_info.ts", import.meta.url).href)
      };
       console.log(backendInfo().name);
       try { await copy(Deno.args[0], Deno.args[1]); console.log("copied"); }
       catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, flag: e.flag })); }`,
      [join(dir, "a"), join(dir, "out/b")],
    );
    const [backend, line] = r.stdout.trim().split("\n");
    assertEquals(
      backend,
      BACKEND,
      "the subprocess runs on the backend under test",
    );
    deepStrictEqual(JSON.parse(line), {
      name: PermissionError.name,
      code: "ENOTCAPABLE",
      flag: `--allow-write=${join(dir, "out")}`,
    }, r.stderr);
    deepStrictEqual(Array.from(Deno.readDirSync(join(dir, "out"))), []);
    // A tree with a symlink. On the path backend Deno.symlink needs
    // unscoped read and write: refused before anything is created, naming
    // the flag and the link. The ffi backend creates links itself (checking
    // the write grant for the link's location): copied, as a link.
    Deno.mkdirSync(join(dir, "t"));
    Deno.writeTextFileSync(join(dir, "t/f"), "f");
    Deno.symlinkSync("f", join(dir, "t/l"));
    const t = await runDeno(
      [
        `--allow-read=${dir}`,
        `--allow-write=${join(dir, "out")}`,
        ...backendFlags(),
      ],
      `import { copy } from ${
        JSON.stringify(new URL("../src/copy.ts", import.meta.url).href)
      };
       try { await copy(Deno.args[0], Deno.args[1]); console.log(JSON.stringify("copied")); }
       catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, flag: e.flag, path: e.path })); }`,
      [join(dir, "t"), join(dir, "out/t")],
    );
    if (BACKEND === "path") {
      deepStrictEqual(JSON.parse(t.stdout), {
        name: PermissionError.name,
        code: "ENOTCAPABLE",
        flag: "--allow-read",
        path: join(dir, "t/l"),
      }, t.stderr);
      deepStrictEqual(Array.from(Deno.readDirSync(join(dir, "out"))), []);
    } else {
      assertEquals(JSON.parse(t.stdout), "copied", t.stdout + t.stderr);
      assertEquals(Deno.readLinkSync(join(dir, "out/t/l")), "f");
      deepStrictEqual(temps(join(dir, "out")), []);
    }
  } finally {
    cleanup(dir);
  }
});

// ---------------------------------------------------------------------------
// Modes of files in trees
// ---------------------------------------------------------------------------

Deno.test("copy() of a tree without a preserved mode gives its small files the umask's default mode", async () => {
  const dir = diskDir();
  const saved = process.umask(0o027);
  try {
    Deno.mkdirSync(join(dir, "s/sub"), { recursive: true });
    for (const rel of ["a", "sub/b"]) {
      Deno.writeTextFileSync(join(dir, "s", rel), rel);
      Deno.chmodSync(join(dir, "s", rel), 0o666);
    }
    for (const durable of [false, true]) {
      const d = join(dir, `d-${durable}`);
      await copy(join(dir, "s"), d, { durable, preserve: { mode: false } });
      for (const rel of ["a", "sub/b"]) {
        assertEquals(
          (Deno.statSync(join(d, rel)).mode! & 0o7777).toString(8),
          (0o666 & ~0o027).toString(8),
          `${rel}, durable: ${durable}`,
        );
      }
    }
  } finally {
    process.umask(saved);
    cleanup(dir);
  }
});

Deno.test("copy() never lets another user reach the data of a private file while its copy is built", async () => {
  // At every seam call of the copy, each copied file that exists must be
  // unreadable to others: either its mode grants them no read, or a
  // directory above it (up to the destination's directory) refuses them
  // search (x).
  const dir = diskDir();
  const saved = process.umask(0o022);
  try {
    Deno.mkdirSync(join(dir, "s/sub"), { recursive: true });
    Deno.mkdirSync(join(dir, "out"));
    for (const rel of ["k1", "sub/k2"]) {
      Deno.writeTextFileSync(join(dir, "s", rel), "secret");
      Deno.chmodSync(join(dir, "s", rel), 0o600);
    }
    Deno.writeTextFileSync(join(dir, "one"), "secret");
    Deno.chmodSync(join(dir, "one"), 0o600);
    const exposed: string[] = [];
    const check = (): void => {
      const walk = (p: string, reachable: boolean): void => {
        const i = Deno.lstatSync(p);
        const mode = i.mode! & 0o777;
        if (i.isFile && reachable && (mode & 0o044) !== 0) {
          exposed.push(`${p} ${mode.toString(8)}`);
        }
        if (i.isDirectory) {
          for (const e of Deno.readDirSync(p)) {
            walk(join(p, e.name), reachable && (mode & 0o011) !== 0);
          }
        }
      };
      walk(join(dir, "out"), true);
    };
    for (const durable of [false, true]) {
      const restore = setSysHook(check);
      try {
        await copy(join(dir, "s"), join(dir, `out/tree-${durable}`), {
          durable,
        });
        await copy(join(dir, "one"), join(dir, `out/one-${durable}`), {
          durable,
        });
      } finally {
        restore();
      }
      check();
    }
    deepStrictEqual(exposed, []);
    assertEquals(
      Deno.statSync(join(dir, "out/tree-false/sub/k2")).mode! & 0o777,
      0o600,
    );
  } finally {
    process.umask(saved);
    cleanup(dir);
  }
});

Deno.test("copy() of a tree waits for every fsync in flight before it removes its temp after a failure", async () => {
  // A durable tree copy of fewer than 32 entries fsyncs its files together,
  // several at a time. One file's fsync fails while the others (one with
  // megabytes to write back) are in flight: the temp tree must be removed
  // only after every started fsync has finished, so that nothing is left
  // behind and no call lands on a removed temp.
  const dir = diskDir();
  try {
    Deno.mkdirSync(join(dir, "s/d"), { recursive: true });
    for (let i = 0; i < 20; i++) {
      Deno.writeTextFileSync(join(dir, `s/d/f${i}`), `file ${i}`);
    }
    writeBytes(join(dir, "s/d/f1"), 16_000_000);
    const started = new Set<string>();
    const finished = new Set<string>();
    let failed = "";
    let failedAt = -1;
    const restore = setSysHook((c) => {
      if (!isFileFsync(c)) return;
      const name = c.path!.slice(c.path!.lastIndexOf("/") + 1);
      if (name === "f3") {
        failed = c.path!;
        failedAt = started.size;
        throw EIO();
      }
      started.add(name);
      return () => finished.add(name);
    });
    try {
      await rejects(copy(join(dir, "s"), join(dir, "out")), SafeFsError, "EIO");
    } finally {
      restore();
    }
    assert(failed !== "", "the failing fsync was never called");
    assert(started.has("f1"), "the slow fsync never started");
    assert(failedAt > 0, "no fsync was in flight when one failed");
    deepStrictEqual(
      [...started].filter((n) => !finished.has(n)),
      [],
      "copy() returned with fsyncs still in flight",
    );
    deepStrictEqual(temps(dir), [], "temp left behind");
    assertEquals(snapshot(join(dir, "out")), null);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() of a tree reports a file written to after it was read, publishing nothing", async () => {
  // In a tree the per-file fstat after the read is skipped: the re-check of
  // the whole tree at the end of the build must catch the write instead.
  for (const durable of [false, true]) {
    const dir = diskDir();
    try {
      makeTree(join(dir, "t"));
      const victim = join(dir, "t/sub/deeper/c.txt");
      let done = false;
      const restore = setSysHook((c) => {
        // Once the data of c.txt has been read (read, or copy_file_range
        // from it), before the tree is examined again.
        if (done || !isDataRead(c, victim)) return;
        return () => {
          if (done) return;
          done = true;
          Deno.writeTextFileSync(victim, "written after the read");
        };
      });
      try {
        await rejects(
          copy(join(dir, "t"), join(dir, "c"), { durable }),
          SourceChangedError,
          "ESRCCHANGED",
        );
      } finally {
        restore();
      }
      assert(done, `durable: ${durable}`);
      assertEquals(snapshot(join(dir, "c")), null);
      deepStrictEqual(temps(dir), []);
    } finally {
      cleanup(dir);
    }
  }
});

// ---------------------------------------------------------------------------
// The filter option
// ---------------------------------------------------------------------------

/** A tree with things to leave out: *.log files and a deep node_modules. */
function filterTree(t: string): void {
  Deno.mkdirSync(join(t, "node_modules/x/y"), { recursive: true });
  Deno.mkdirSync(join(t, "sub/deeper"), { recursive: true });
  Deno.writeTextFileSync(join(t, "keep.txt"), "keep");
  Deno.writeTextFileSync(join(t, "skip.log"), "skip");
  Deno.writeTextFileSync(join(t, "node_modules/x/y/z.js"), "z");
  Deno.writeTextFileSync(join(t, "sub/a.txt"), "a");
  Deno.writeTextFileSync(join(t, "sub/b.log"), "b");
  Deno.writeTextFileSync(join(t, "sub/deeper/c.txt"), "c");
  Deno.symlinkSync("keep.txt", join(t, "link"));
}

/** What the copy of `filterTree` with the filter below must hold. */
const FILTERED = [
  "",
  "keep.txt",
  "link",
  "sub",
  "sub/a.txt",
  "sub/deeper",
  "sub/deeper/c.txt",
];

const leaveOut = (src: string): boolean =>
  !src.endsWith(".log") && !src.endsWith("/node_modules");

Deno.test("copy() with filter leaves out entries and whole subtrees, never asking about or listing anything inside a skipped directory", async () => {
  const dir = diskDir();
  try {
    const t = join(dir, "t");
    filterTree(t);
    const before = snapshot(t);
    const asked: string[] = [];
    const infos: Record<string, Deno.FileInfo> = {};
    const { calls, result } = await recordCalls(() =>
      copy(t, join(dir, "c"), {
        filter: (src, info) => {
          asked.push(src);
          infos[src] = info;
          return leaveOut(src);
        },
      })
    );
    assert(!(result instanceof Error), String(result));
    const r = result as CopyResult;
    deepStrictEqual(Object.keys(snapshot(join(dir, "c"))!).sort(), FILTERED);
    assertEquals(r.entries, FILTERED.length);
    assertEquals(r.bytes, "keep".length + "a".length + "c".length);
    // every entry below the root asked about once, with its absolute path;
    // nothing inside node_modules, and never the root itself
    deepStrictEqual(
      asked.slice().sort(),
      [
        "keep.txt",
        "link",
        "node_modules",
        "skip.log",
        "sub",
        "sub/a.txt",
        "sub/b.log",
        "sub/deeper",
        "sub/deeper/c.txt",
      ].map((p) => join(t, p)),
    );
    assert(infos[join(t, "node_modules")].isDirectory);
    assert(infos[join(t, "link")].isSymlink, "the link itself, not followed");
    assert(infos[join(t, "keep.txt")].isFile);
    assertEquals(infos[join(t, "keep.txt")].size, 4);
    // a skipped directory is not even listed or opened
    const inside = calls.filter((c) =>
      (c.path ?? "").startsWith(join(t, "node_modules"))
    );
    assert(
      inside.every((c) => c.op === "statAt"),
      `calls inside a skipped directory:\n${showCalls(inside)}`,
    );
    deepStrictEqual(snapshot(t), before, "source untouched");
    deepStrictEqual(temps(dir), []);
    // a filter is about entries below the root: a file source is copied
    let called = 0;
    await copy(join(t, "skip.log"), join(dir, "one.log"), {
      filter: () => (called++, false),
    });
    assertEquals(called, 0);
    assertEquals(Deno.readTextFileSync(join(dir, "one.log")), "skip");
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() awaits an async filter, one entry at a time", async () => {
  const dir = diskDir();
  try {
    const t = join(dir, "t");
    filterTree(t);
    let running = 0, most = 0, asked = 0;
    const r = await copy(t, join(dir, "c"), {
      filter: async (src) => {
        running++;
        most = Math.max(most, running);
        asked++;
        await new Promise((res) => setTimeout(res, 2));
        running--;
        return leaveOut(src);
      },
    });
    deepStrictEqual(Object.keys(snapshot(join(dir, "c"))!).sort(), FILTERED);
    assertEquals(r.entries, FILTERED.length);
    assertEquals(asked, 9);
    assertEquals(most, 1);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() with a filter that throws fails with its error and leaves nothing", async () => {
  const dir = diskDir();
  try {
    const t = join(dir, "t");
    filterTree(t);
    const boom = new Error("no thanks");
    for (
      const filter of [
        (src: string): boolean => {
          if (src.endsWith("/sub/a.txt")) throw boom;
          return true;
        },
        (src: string): Promise<boolean> =>
          src.endsWith("/sub/a.txt")
            ? Promise.reject(boom)
            : Promise.resolve(true),
      ]
    ) {
      await assert.rejects(
        copy(t, join(dir, "c"), { filter }),
        (e) => e === boom,
      );
      assertEquals(snapshot(join(dir, "c")), null);
      deepStrictEqual(temps(dir), []);
    }
  } finally {
    cleanup(dir);
  }
});

Deno.test("copySync() with an async filter throws TypeError and leaves nothing; with a boolean one it filters as copy() does", async () => {
  const dir = diskDir();
  try {
    const t = join(dir, "t");
    filterTree(t);
    const before = snapshot(dir);
    let asked = 0;
    assert.throws(
      () =>
        copySync(t, join(dir, "c"), {
          filter: (src) => (asked++, Promise.resolve(leaveOut(src))),
        }),
      TypeError,
    );
    assert(asked > 0, "the filter was never called");
    deepStrictEqual(snapshot(dir), before, "something was left");
    // let a stray rejection surface, if there were one
    await new Promise((r) => setTimeout(r, 10));
    const r = copySync(t, join(dir, "c"), { filter: leaveOut });
    deepStrictEqual(Object.keys(snapshot(join(dir, "c"))!).sort(), FILTERED);
    assertEquals(r.entries, FILTERED.length);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

// ---------------------------------------------------------------------------
// copySync
// ---------------------------------------------------------------------------

/** The outcome of a call, comparable between two runs in the same place. */
function outcome(r: unknown): unknown {
  if (r instanceof Error) {
    const e = r as SafeFsError;
    return {
      error: e.name,
      code: e.code,
      message: e.message.replace(/[0-9a-f-]{36}/g, "<uuid>"),
      path: e.path,
      dest: e.dest,
      published: e.published,
    };
  }
  return r;
}

/** The seam calls of a run as a sorted list of keys. */
function callSet(calls: SysCall[]): string[] {
  return calls.map((c) => `${callKey(c)} ${c.how ?? ""}`).sort();
}

Deno.test("copySync() gives the same results, errors, end states and seam calls as copy()", async () => {
  const base = diskDir();
  const other = HAS_SHM ? shmDir() : null;
  type Scenario = [
    string,
    (w: string, x: string) => void,
    string,
    string,
    Record<string, unknown>,
  ];
  const scenarios: Scenario[] = [
    ["a file", (w) => writeBytes(join(w, "a"), 3_000_000), "a", "b", {}],
    ["a tree", (w) => makeTree(join(w, "t")), "t", "sub/t", {}],
    ["a tree, verified", (w) => makeTree(join(w, "t")), "t", "c", {
      verify: "sha256",
    }],
    [
      "a tree of 44 entries",
      (w) => {
        Deno.mkdirSync(join(w, "t/d1/d2"), { recursive: true });
        for (let i = 0; i < 20; i++) {
          Deno.writeTextFileSync(join(w, "t", `f${i}`), `f${i}`);
          Deno.writeTextFileSync(join(w, "t/d1", `g${i}`), `g${i}`);
        }
        Deno.writeTextFileSync(join(w, "t/d1/d2/h"), "h");
      },
      "t",
      "c",
      {},
    ],
    ["a filtered tree", (w) => filterTree(join(w, "t")), "t", "c", {
      filter: leaveOut,
    }],
    [
      "a file over a file",
      (w) => {
        Deno.writeTextFileSync(join(w, "a"), "new");
        Deno.writeTextFileSync(join(w, "b"), "old");
      },
      "a",
      "b",
      { overwrite: true },
    ],
    [
      "a tree over a non-empty tree",
      (w) => {
        makeTree(join(w, "t"));
        Deno.mkdirSync(join(w, "full"));
        Deno.writeTextFileSync(join(w, "full/x"), "x");
      },
      "t",
      "full",
      { overwrite: true },
    ],
    [
      "onto an existing file",
      (w) => {
        Deno.writeTextFileSync(join(w, "a"), "a");
        Deno.writeTextFileSync(join(w, "b"), "b");
      },
      "a",
      "b",
      {},
    ],
    ["a missing source", () => {}, "nope", "b", {}],
    [
      "a directory into itself",
      (w) => makeTree(join(w, "t")),
      "t",
      "t/sub/x",
      {},
    ],
    [
      "a FIFO",
      (w) => {
        new Deno.Command("mkfifo", { args: [join(w, "p")] }).outputSync();
      },
      "p",
      "q",
      {},
    ],
  ];
  if (other !== null) {
    scenarios.push(
      [
        "a tree across filesystems",
        (w) => makeTree(join(w, "t")),
        "t",
        "X/t",
        {},
      ],
    );
  }
  try {
    for (const [label, setup, s, d, opts] of scenarios) {
      const w = join(base, "w");
      const x = other === null ? w : join(other, "x");
      const path = (p: string): string =>
        p.startsWith("X/") ? join(x, p.slice(2)) : join(w, p);
      const fresh = (): void => {
        cleanup(w);
        if (other !== null) cleanup(x);
        Deno.mkdirSync(join(w, "sub"), { recursive: true });
        Deno.mkdirSync(x, { recursive: true });
        setup(w, x);
        resetCaps();
      };
      fresh();
      const a = await recordCalls(() => copy(path(s), path(d), opts));
      const aState = [snapshot(w, { times: true }), snapshot(x)];
      fresh();
      const b = await recordCalls(() => {
        try {
          return Promise.resolve(copySync(path(s), path(d), opts));
        } catch (e) {
          return Promise.reject(e);
        }
      });
      const bState = [snapshot(w, { times: true }), snapshot(x)];
      deepStrictEqual(outcome(b.result), outcome(a.result), label);
      deepStrictEqual(
        JSON.stringify(bState).replace(/:\d+"/g, '"'),
        JSON.stringify(aState).replace(/:\d+"/g, '"'),
        label,
      );
      deepStrictEqual(callSet(b.calls), callSet(a.calls), label);
    }
  } finally {
    cleanup(base);
    if (other !== null) cleanup(other);
  }
});

// ---------------------------------------------------------------------------
// Filesystems without symlinks; errors while checking the copy
// ---------------------------------------------------------------------------

Deno.test({
  name:
    "copy() refuses to copy symlinks onto a filesystem without them, naming the first link, leaving nothing",
  ignore: !CAN_EXFAT,
  fn: async () => {
    const dir = diskDir();
    const mnt = join(dir, "mnt");
    Deno.mkdirSync(mnt);
    const unmount = mountExfat(mnt);
    try {
      const t = join(dir, "t");
      Deno.mkdirSync(join(t, "sub"), { recursive: true });
      Deno.writeTextFileSync(join(t, "a.txt"), "a");
      Deno.symlinkSync("a.txt", join(t, "b-link"));
      Deno.symlinkSync("../a.txt", join(t, "sub/c-link"));
      Deno.symlinkSync("t/a.txt", join(dir, "top-link"));
      resetCaps();
      for (
        const [src, first] of [
          [t, join(t, "b-link")],
          [join(dir, "top-link"), join(dir, "top-link")],
        ]
      ) {
        const e = await rejects(
          copy(src, join(mnt, "c")),
          SafeFsError,
          "EOPNOTSUPP",
        );
        assertEquals(e.path, first);
        assert(e.message.includes(`'${first}'`), e.message);
        assertEquals(snapshot(join(mnt, "c")), null);
        deepStrictEqual(Array.from(Deno.readDirSync(mnt)), [], "left behind");
      }
      // Without symlinks the same tree copies, published with the narrowest
      // check the filesystem allows (no hard links, no RENAME_NOREPLACE).
      Deno.removeSync(join(t, "b-link"));
      Deno.removeSync(join(t, "sub/c-link"));
      const r = await copy(t, join(mnt, "c"), { preserve: { mode: false } });
      assertEquals(r.publish, "checked");
      assertEquals(Deno.readTextFileSync(join(mnt, "c/a.txt")), "a");
      const f = await copy(join(t, "a.txt"), join(mnt, "f"), {
        preserve: { mode: false },
      });
      assertEquals(f.publish, "checked");
      deepStrictEqual(temps(mnt), []);
    } finally {
      unmount();
      cleanup(dir);
    }
  },
});

Deno.test("copy() reports an I/O error met while checking its copy with its errno, not as another process's change", async () => {
  const dir = diskDir();
  try {
    makeTree(join(dir, "t"));
    // The copy's root is listed only by the check of the built copy against
    // the plan, before the publish.
    let hit = "";
    const restore = setSysHook((c) => {
      if (
        hit === "" && c.op === "list" &&
        /\.safefs-tmp$/.test(c.path ?? "")
      ) {
        hit = c.path!;
        throw EIO();
      }
    });
    let result: unknown;
    try {
      result = await copy(join(dir, "t"), join(dir, "c"));
    } catch (e) {
      result = e;
    } finally {
      restore();
    }
    assert(hit !== "", "the check of the copy was never made");
    const e = await rejects(Promise.reject(result), SafeFsError);
    assertEquals(e.code, "EIO", e.message);
    assertEquals(snapshot(join(dir, "c")), null);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});
