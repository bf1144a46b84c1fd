// Copyright 2026 the safefs authors. MIT license.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
  notEqual as assertNotEquals,
} from "node:assert/strict";
import { basename, join } from "node:path";
import {
  AbortedError,
  AlreadyExistsError,
  CrossDeviceError,
  InvalidArgumentError,
  IsADirectoryError,
  move,
  type MoveResult,
  moveSync,
  NotADirectoryError,
  NotEmptyError,
  NotFoundError,
  SafeFsError,
  SourceChangedError,
  UnsupportedFileTypeError,
} from "../mod.ts";
import { setSysHook, type SysCall } from "../src/_sys.ts";
import { resetCaps } from "../src/_caps.ts";
import { isTempName } from "../src/_temp.ts";
import {
  BACKEND,
  callKey,
  CAN_EXCHANGE,
  CAN_MOUNT,
  cleanup,
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
  isNameGone,
  isNoClobberPublishAt,
  isPublishAt,
  isSyncfs,
  makeTree,
  mountTmpfs,
  onEverySysCall,
  pollDirectory,
  recordCalls,
  rejects,
  shmDir,
  showCalls,
  snapshot,
  temps,
  treeDurability,
  umount,
  writeBytes,
} from "./_helpers.ts";

const noShm = { ignore: !HAS_SHM };
const noMount = { ignore: !CAN_MOUNT };
if (!HAS_SHM) {
  console.warn(
    "SKIPPED: /dev/shm is not a separate filesystem: cross-device tests are skipped",
  );
}
if (!CAN_MOUNT) {
  console.warn(
    "SKIPPED: cannot mount tmpfs (needs root): mount-based tests are skipped",
  );
}

/**
 * The durability order of a no-clobber move of one file on one filesystem,
 * from `src` to `dest`, in recorded seam calls. The publish is one call that
 * cannot replace anything (renameat2 RENAME_NOREPLACE on ffi; link on the
 * path backend, the source name then unlinked). The destination's directory
 * is durable before the source name goes (so no crash loses both names), the
 * source's directory after it, and nothing more is fsynced: one fsync per
 * directory for a rename (which changes both names in one step), the
 * destination's directory twice when it is also the source's (link, fsync,
 * unlink, fsync).
 */
function assertDurableRename(
  calls: SysCall[],
  src: string,
  dest: string,
): void {
  const why = showCalls(calls);
  const srcDir = src.slice(0, src.lastIndexOf("/"));
  const destDir = dest.slice(0, dest.lastIndexOf("/"));
  const pub = indexOf(calls, (c) => isNoClobberPublishAt(c, dest));
  assert(pub >= 0, `no no-clobber publish at ${dest}:\n${why}`);
  assertEquals(
    calls.filter((c) => isPublishAt(c, dest)).length,
    1,
    `one publishing call:\n${why}`,
  );
  assertEquals(
    calls.some((c) => c.op === "renameAt" && c.how === "replace"),
    false,
    `a plain rename could clobber:\n${why}`,
  );
  const gone = indexOf(calls, (c) => isNameGone(c, src));
  assert(gone >= pub, `the source name went before the publish:\n${why}`);
  if (gone > pub) {
    assert(
      calls.slice(pub, gone).some((c) => isDirFsync(c, destDir)),
      `the destination's directory is made durable before the source name goes:\n${why}`,
    );
  }
  assert(
    indexOf(calls, (c) => isDirFsync(c, srcDir), gone + 1) > gone,
    `the source's directory is made durable after the source name goes:\n${why}`,
  );
  const expected = gone > pub ? 2 : srcDir === destDir ? 1 : 2;
  assertEquals(
    calls.filter(isDurabilityCall).length,
    expected,
    `fsyncs: the destination's directory and the source's:\n${why}`,
  );
}

Deno.test("move() renames a file on one filesystem, durably", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "a"), "hello");
    const { calls, result } = await recordCalls(() =>
      move(join(dir, "a"), join(dir, "b"))
    );
    const r = result as MoveResult;
    assertEquals(r.crossDevice, false);
    assertEquals(r.replaced, false);
    assertEquals(r.entries, 1);
    assertEquals(r.publish, BACKEND === "ffi" ? "noreplace" : "link");
    assertEquals(Deno.readTextFileSync(join(dir, "b")), "hello");
    assertEquals(snapshot(join(dir, "a")), null);
    assertDurableRename(calls, join(dir, "a"), join(dir, "b"));
  } finally {
    cleanup(dir);
  }
});

Deno.test("move() between two directories of one filesystem makes the destination durable before the source name goes", async () => {
  const dir = diskDir();
  try {
    Deno.mkdirSync(join(dir, "from"));
    Deno.mkdirSync(join(dir, "to"));
    Deno.writeTextFileSync(join(dir, "from/a"), "hello");
    const { calls, result } = await recordCalls(() =>
      move(join(dir, "from/a"), join(dir, "to/a"))
    );
    assert(!(result instanceof Error), String(result));
    assertEquals(Deno.readTextFileSync(join(dir, "to/a")), "hello");
    assertEquals(snapshot(join(dir, "from/a")), null);
    assertDurableRename(calls, join(dir, "from/a"), join(dir, "to/a"));
    // durable: false makes no fsync at all
    Deno.writeTextFileSync(join(dir, "from/b"), "x");
    const quiet = await recordCalls(() =>
      move(join(dir, "from/b"), join(dir, "to/b"), { durable: false })
    );
    assertEquals(quiet.calls.filter(isDurabilityCall).length, 0);
    assertEquals(Deno.readTextFileSync(join(dir, "to/b")), "x");
  } finally {
    cleanup(dir);
  }
});

Deno.test("move() keeps the source when the destination exists", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "a"), "new");
    Deno.writeTextFileSync(join(dir, "b"), "old");
    await rejects(
      move(join(dir, "a"), join(dir, "b")),
      AlreadyExistsError,
      "EEXIST",
    );
    assertEquals(Deno.readTextFileSync(join(dir, "a")), "new");
    assertEquals(Deno.readTextFileSync(join(dir, "b")), "old");
    Deno.mkdirSync(join(dir, "d1"));
    Deno.mkdirSync(join(dir, "d2"));
    await rejects(move(join(dir, "d1"), join(dir, "d2")), AlreadyExistsError);
    assert(Deno.statSync(join(dir, "d1")).isDirectory);
  } finally {
    cleanup(dir);
  }
});

Deno.test("move() with overwrite replaces a file and an empty directory", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "a"), "new");
    Deno.writeTextFileSync(join(dir, "b"), "old");
    const r = await move(join(dir, "a"), join(dir, "b"), { overwrite: true });
    assertEquals(Deno.readTextFileSync(join(dir, "b")), "new");
    assertEquals(snapshot(join(dir, "a")), null);
    assertEquals(r.replaced, true);
    assertEquals(r.publish, "rename");
    Deno.mkdirSync(join(dir, "src"));
    Deno.writeTextFileSync(join(dir, "src/f"), "x");
    Deno.mkdirSync(join(dir, "dst"));
    const d = await move(join(dir, "src"), join(dir, "dst"), {
      overwrite: true,
    });
    assertEquals(Deno.readTextFileSync(join(dir, "dst/f")), "x");
    assertEquals(snapshot(join(dir, "src")), null);
    assertEquals(d.replaced, true);
    // A directory replaces a directory by exchanging the two where the
    // backend can (the old one is then removed), else by a rename onto it.
    assertEquals(d.publish, CAN_EXCHANGE ? "exchange" : "rename");
    deepStrictEqual(temps(dir), []);
    // overwrite with nothing there replaces nothing
    Deno.writeTextFileSync(join(dir, "c"), "c");
    const n = await move(join(dir, "c"), join(dir, "fresh"), {
      overwrite: true,
    });
    assertEquals(n.replaced, false);
    assertEquals(Deno.readTextFileSync(join(dir, "fresh")), "c");
  } finally {
    cleanup(dir);
  }
});

Deno.test("move() never replaces a directory with a file nor a file with a directory", async () => {
  const dir = diskDir();
  try {
    Deno.mkdirSync(join(dir, "src"));
    Deno.mkdirSync(join(dir, "full"));
    Deno.writeTextFileSync(join(dir, "full/keep"), "k");
    Deno.mkdirSync(join(dir, "empty"));
    Deno.writeTextFileSync(join(dir, "file"), "f");
    const before = snapshot(dir);
    for (const target of ["full", "empty"]) {
      const e = await rejects(
        move(join(dir, "file"), join(dir, target), { overwrite: true }),
        IsADirectoryError,
        "EISDIR",
      );
      assert(e instanceof SafeFsError);
    }
    const e = await rejects(
      move(join(dir, "src"), join(dir, "file"), { overwrite: true }),
      NotADirectoryError,
      "ENOTDIR",
    );
    assert(e instanceof SafeFsError);
    deepStrictEqual(snapshot(dir), before);
  } finally {
    cleanup(dir);
  }
});

Deno.test({
  name: CAN_EXCHANGE
    ? "move() with overwrite replaces a non-empty directory atomically (exchange), removing the old tree"
    : "move() with overwrite refuses a non-empty directory with NotEmptyError where directories cannot be exchanged, changing nothing",
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
        move(join(dir, "src"), join(dir, "full"), { overwrite: true })
      );
      if (CAN_EXCHANGE) {
        assert(!(result instanceof Error), String(result));
        const r = result as MoveResult;
        assertEquals(r.replaced, true);
        assertEquals(r.publish, "exchange");
        deepStrictEqual(snapshot(join(dir, "full"), { times: true }), srcSnap);
        assertEquals(snapshot(join(dir, "src")), null, "old tree removed");
        deepStrictEqual(temps(dir), []);
        // One exchange, at once followed by the rename of the old tree (now
        // at the source's name) to a temp name (so that neither a crash nor
        // a failure leaves it under the user's name), both made durable
        // before the deletion engine touches the old tree.
        const why = showCalls(calls);
        const ex = calls.filter((c) =>
          c.op === "renameAt" && c.dest === join(dir, "full")
        );
        assertEquals(ex.length, 1, why);
        assertEquals(ex[0].how, "exchange", why);
        const exi = calls.indexOf(ex[0]);
        const later = calls.slice(exi + 1).filter((c) => c.op === "renameAt");
        assertEquals(later.length, 1, `renames after the exchange:\n${why}`);
        assertEquals(later[0].path, join(dir, "src"), why);
        assert(isTempName(basename(later[0].dest!)), why);
        assertEquals(calls.indexOf(later[0]), exi + 1, why);
        const fs = indexOf(calls, (c) => isDirFsync(c, dir), exi + 1);
        const touched = indexOf(
          calls,
          (c) =>
            (c.op === "unlinkAt" || c.op === "rmdirAt" ||
              c.op === "removeLeaf") &&
            c.path!.startsWith(later[0].dest! + "/"),
          exi + 1,
        );
        assert(
          fs > exi && fs < touched,
          `the exchange is made durable before the old tree is touched:\n${why}`,
        );
      } else {
        const e = await rejects(
          Promise.reject(result),
          NotEmptyError,
          "ENOTEMPTY",
        );
        assertEquals(e.path, join(dir, "src"));
        assertEquals(e.dest, join(dir, "full"));
        deepStrictEqual(snapshot(dir), before);
        deepStrictEqual(temps(dir), []);
      }
    } finally {
      cleanup(dir);
    }
  },
});

Deno.test("move() moves a symlink as a symlink, not its target", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "target"), "t");
    Deno.symlinkSync("target", join(dir, "ln"));
    Deno.mkdirSync(join(dir, "sub"));
    await move(join(dir, "ln"), join(dir, "sub/ln2"));
    assertEquals(Deno.readLinkSync(join(dir, "sub/ln2")), "target");
    assertEquals(Deno.readTextFileSync(join(dir, "target")), "t");
  } finally {
    cleanup(dir);
  }
});

Deno.test("move() refuses bad input with typed errors and changes nothing", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "a"), "a");
    Deno.linkSync(join(dir, "a"), join(dir, "a-hard"));
    Deno.mkdirSync(join(dir, "d/e"), { recursive: true });
    Deno.symlinkSync(join(dir, "d"), join(dir, "d-link"));
    const before = snapshot(dir);
    await rejects(
      move(join(dir, "missing"), join(dir, "x")),
      NotFoundError,
      "ENOENT",
    );
    await rejects(
      move(join(dir, "a"), join(dir, "no/such/dir/x")),
      NotFoundError,
      "ENOENT",
    );
    // A file onto itself, or onto another name of itself, without
    // overwrite: the destination exists (rename(2) semantics, issue 17).
    await rejects(
      move(join(dir, "a"), join(dir, "a")),
      AlreadyExistsError,
      "EEXIST",
    );
    await rejects(
      move(join(dir, "a"), join(dir, "a-hard")),
      AlreadyExistsError,
      "EEXIST",
    );
    // A directory onto itself is a move into itself.
    await rejects(
      move(join(dir, "d"), join(dir, "d")),
      InvalidArgumentError,
      "EINVAL",
    );
    await rejects(
      move(join(dir, "d"), join(dir, "d/e/inside")),
      InvalidArgumentError,
      "EINVAL",
    );
    await rejects(
      move(join(dir, "d"), join(dir, "d-link/inside")),
      InvalidArgumentError,
      "EINVAL",
    );
    await rejects(move("", join(dir, "x")), InvalidArgumentError, "EINVAL");
    await rejects(
      move(join(dir, "a\0b"), join(dir, "x")),
      InvalidArgumentError,
      "EINVAL",
    );
    await rejects(
      move(join(dir, "a"), join(dir, "a/x")),
      NotADirectoryError,
      "ENOTDIR",
    );
    // A last component "." or ".." names a directory by another name, never
    // an entry to move or to create.
    for (
      const [s, d] of [
        [`${dir}/d/.`, join(dir, "x")],
        [`${dir}/d/e/..`, join(dir, "x")],
        [join(dir, "a"), `${dir}/d/.`],
        [join(dir, "a"), `${dir}/d/e/..`],
        [join(dir, "a"), `${dir}/d/e/../.`],
      ]
    ) {
      await rejects(move(s, d), InvalidArgumentError, "EINVAL");
      await rejects(move(s, d, { overwrite: true }), InvalidArgumentError);
    }
    deepStrictEqual(snapshot(dir), before);
  } finally {
    cleanup(dir);
  }
});

Deno.test("move() with overwrite of a path onto itself, or onto another name of the same file, succeeds and changes nothing", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "a"), "a");
    Deno.linkSync(join(dir, "a"), join(dir, "a-hard"));
    Deno.mkdirSync(join(dir, "d/e"), { recursive: true });
    Deno.writeTextFileSync(join(dir, "d/e/f"), "f");
    Deno.symlinkSync("a", join(dir, "l"));
    const before = snapshot(dir);
    const ino = Deno.lstatSync(join(dir, "a")).ino;
    for (
      const [s, d] of [
        ["a", "a"],
        ["a", "a-hard"],
        ["a-hard", "a"],
        ["l", "l"],
      ]
    ) {
      const r = await move(join(dir, s), join(dir, d), { overwrite: true });
      assertEquals(r.src, join(dir, s));
      assertEquals(r.dest, join(dir, d));
      assertEquals(r.entries, 0, `${s} -> ${d}: nothing moved`);
      assertEquals(r.bytes, 0);
      assertEquals(r.crossDevice, false);
      deepStrictEqual(snapshot(dir), before, `${s} -> ${d}`);
    }
    // both names of the hard-linked file are still there, still one file
    assertEquals(Deno.lstatSync(join(dir, "a-hard")).ino, ino);
    assertEquals(Deno.lstatSync(join(dir, "a")).nlink, 2);
  } finally {
    cleanup(dir);
  }
});

Deno.test("move() with overwrite of a directory onto itself succeeds and changes nothing, as rename(2) does", async () => {
  const dir = diskDir();
  try {
    Deno.mkdirSync(join(dir, "d/e"), { recursive: true });
    Deno.writeTextFileSync(join(dir, "d/e/f"), "f");
    const before = snapshot(dir);
    const r = await move(join(dir, "d"), join(dir, "d"), { overwrite: true });
    assertEquals(r.entries, 0, "nothing moved");
    assertEquals(r.replaced, false);
    deepStrictEqual(snapshot(dir), before);
  } finally {
    cleanup(dir);
  }
});

Deno.test("move() takes a trailing slash to require a directory", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "f"), "f");
    Deno.mkdirSync(join(dir, "d"));
    Deno.writeTextFileSync(join(dir, "d/x"), "x");
    Deno.mkdirSync(join(dir, "empty"));
    const before = snapshot(dir);
    // a file named with a trailing slash, as a source or as a destination
    await rejects(
      move(`${dir}/f/`, join(dir, "g")),
      NotADirectoryError,
      "ENOTDIR",
    );
    await rejects(
      move(join(dir, "f"), `${dir}/g/`),
      NotADirectoryError,
      "ENOTDIR",
    );
    await rejects(
      move(join(dir, "f"), `${dir}/empty/`, { overwrite: true }),
      IsADirectoryError,
      "EISDIR",
    );
    deepStrictEqual(snapshot(dir), before);
    // a directory with one: moved as usual
    const r = await move(`${dir}/d/`, `${dir}/d2/`);
    assertEquals(r.src, join(dir, "d"));
    assertEquals(r.dest, join(dir, "d2"));
    assertEquals(Deno.readTextFileSync(join(dir, "d2/x")), "x");
    assertEquals(snapshot(join(dir, "d")), null);
    await move(`${dir}/d2`, `${dir}/empty/`, { overwrite: true });
    assertEquals(Deno.readTextFileSync(join(dir, "empty/x")), "x");
  } finally {
    cleanup(dir);
  }
});

Deno.test("move() resolves '..' after a symlink as the kernel does, not by text", async () => {
  const dir = diskDir();
  try {
    // g/outlink -> other/deep: g/outlink/.. is other (the shell's view), not g.
    Deno.mkdirSync(join(dir, "g"));
    Deno.mkdirSync(join(dir, "other/deep"), { recursive: true });
    Deno.symlinkSync(join(dir, "other/deep"), join(dir, "g/outlink"));
    Deno.writeTextFileSync(join(dir, "f"), "f");
    const r = await move(join(dir, "f"), `${dir}/g/outlink/../moved`);
    assertEquals(r.dest, `${dir}/g/outlink/../moved`);
    assertEquals(Deno.readTextFileSync(join(dir, "other/moved")), "f");
    assertEquals(snapshot(join(dir, "g/moved")), null);
    assertEquals(snapshot(join(dir, "f")), null);
    // and as a source
    await move(`${dir}/g/outlink/../moved`, join(dir, "back"));
    assertEquals(Deno.readTextFileSync(join(dir, "back")), "f");
    assertEquals(snapshot(join(dir, "other/moved")), null);
  } finally {
    cleanup(dir);
  }
});

Deno.test("move() accepts file: URLs", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "a"), "u");
    const r = await move(
      new URL(`file://${dir}/a`),
      new URL(`file://${dir}/b`),
    );
    assertEquals(r.dest, join(dir, "b"));
    assertEquals(Deno.readTextFileSync(join(dir, "b")), "u");
  } finally {
    cleanup(dir);
  }
});

Deno.test({
  name:
    "move() moves a file across filesystems keeping content, mode and mtime, leaving no temp",
  ...noShm,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    try {
      writeBytes(join(a, "f"), 3_000_000);
      Deno.chmodSync(join(a, "f"), 0o604);
      Deno.utimeSync(
        join(a, "f"),
        new Date(1_500_000_000_000),
        new Date(1_500_000_000_000),
      );
      const before = snapshot(join(a, "f"), { times: true });
      const r = await move(join(a, "f"), join(b, "g"));
      assertEquals(r.crossDevice, true);
      assertEquals(r.bytes, 3_000_000);
      deepStrictEqual(snapshot(join(b, "g"), { times: true }), before);
      assertEquals(snapshot(join(a, "f")), null);
      deepStrictEqual(temps(b), []);
    } finally {
      cleanup(a, b);
    }
  },
});

Deno.test({
  name:
    "move() moves a directory tree across filesystems: symlinks, hard links, modes, times kept",
  ...noShm,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    try {
      makeTree(join(a, "t"));
      const before = snapshot(join(a, "t"), { times: true });
      const r = await move(join(a, "t"), join(b, "t"));
      assertEquals(r.crossDevice, true);
      deepStrictEqual(snapshot(join(b, "t"), { times: true }), before);
      assertEquals(
        Deno.lstatSync(join(b, "t/a.txt")).ino,
        Deno.lstatSync(join(b, "t/sub/a-hard.txt")).ino,
      );
      assertEquals(snapshot(join(a, "t")), null);
      deepStrictEqual(temps(b), []);
      // and back, with overwrite onto an empty directory
      Deno.mkdirSync(join(a, "t"));
      await move(join(b, "t"), join(a, "t"), { overwrite: true });
      deepStrictEqual(snapshot(join(a, "t"), { times: true }), before);
    } finally {
      cleanup(a, b);
    }
  },
});

Deno.test({
  name:
    "move() across filesystems fsyncs file data before publish and directories after",
  ...noShm,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    try {
      Deno.writeTextFileSync(join(a, "f"), "data");
      const { calls, result } = await recordCalls(() =>
        move(join(a, "f"), join(b, "f"))
      );
      assert(!(result instanceof Error), String(result));
      const r = result as MoveResult;
      assertEquals(r.crossDevice, true);
      assertEquals(r.publish, BACKEND === "ffi" ? "noreplace" : "link");
      const ops = showCalls(calls);
      // The temp's data is fsynced (a file fsync of the temp, in b) before
      // the one no-clobber call that publishes it at b/f.
      const fsyncData = indexOf(
        calls,
        (c) => isFileFsync(c) && c.path!.startsWith(b + "/"),
      );
      const publish = indexOf(
        calls,
        (c) =>
          isNoClobberPublishAt(c, join(b, "f")) && c.path!.startsWith(b + "/"),
      );
      const dirSync = indexOf(calls, (c) => isDirFsync(c, b), publish + 1);
      const unlinkSrc = indexOf(calls, (c) => isNameGone(c, join(a, "f")));
      const srcDirSync = indexOf(calls, (c) => isDirFsync(c, a), unlinkSrc + 1);
      assert(fsyncData >= 0 && publish > fsyncData, ops);
      assert(dirSync > publish, ops);
      assertEquals(
        calls.filter((c) => isPublishAt(c, join(b, "f"))).length,
        1,
        ops,
      );
      assert(
        unlinkSrc > dirSync,
        "source removed only after the destination is durable",
      );
      assertEquals(calls[unlinkSrc].op, "unlinkAt", ops);
      assert(srcDirSync > unlinkSrc, ops);
      // file + destination directory + source directory, nothing else
      assertEquals(calls.filter(isDurabilityCall).length, 3, ops);
      // durable: false makes no fsync at all
      Deno.writeTextFileSync(join(a, "g"), "data");
      const quiet = await recordCalls(() =>
        move(join(a, "g"), join(b, "g"), { durable: false })
      );
      assertEquals(quiet.calls.filter(isDurabilityCall).length, 0);
      assertEquals(Deno.readTextFileSync(join(b, "g")), "data");
    } finally {
      cleanup(a, b);
    }
  },
});

Deno.test({
  name:
    "move() of a tree across filesystems makes the copy durable before the publish (per its mode), then the destination's directory, then the source's",
  ...noShm,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    try {
      // 10 entries (fsynced one by one on both backends), then 44 (one
      // syncfs on ffi: tmpfs is local).
      const big = (t: string): void => {
        Deno.mkdirSync(join(t, "d1/d2"), { recursive: true });
        for (let i = 0; i < 20; i++) {
          Deno.writeTextFileSync(join(t, `f${i}`), `f${i}`);
          Deno.writeTextFileSync(join(t, "d1", `g${i}`), `g${i}`);
        }
        Deno.writeTextFileSync(join(t, "d1/d2/h"), "h");
      };
      for (
        const [name, make, files, dirs] of [
          ["small", makeTree, 4, 3],
          ["big", big, 41, 3],
        ] as const
      ) {
        const src = join(a, name), dest = join(b, name);
        make(src);
        const before = snapshot(src);
        const { calls, result } = await recordCalls(() => move(src, dest));
        assert(!(result instanceof Error), String(result));
        const r = result as MoveResult;
        deepStrictEqual(snapshot(dest), before);
        assertEquals(snapshot(src), null);
        const why = showCalls(calls);
        const pub = indexOf(calls, (c) => isPublishAt(c, dest));
        assert(pub >= 0, why);
        const mode = treeDurability(r.entries, b);
        if (mode === "syncfs") {
          assertEquals(calls.filter((c) => isSyncfs(c)).length, 1, why);
          assert(calls.indexOf(calls.find(isSyncfs)!) < pub, why);
          assertEquals(calls.filter((c) => isFileFsync(c)).length, 0, why);
          assertEquals(
            calls.slice(0, pub).filter((c) => isDirFsync(c)).length,
            0,
            why,
          );
        } else {
          assertEquals(calls.filter(isSyncfs).length, 0, why);
          const f = calls.filter((c) => isFileFsync(c));
          assertEquals(f.length, files, `every file fsynced:\n${why}`);
          assert(f.every((c) => calls.indexOf(c) < pub), why);
          assertEquals(
            calls.slice(0, pub).filter((c) => isDirFsync(c)).length,
            dirs,
            `every directory of the copy fsynced before the publish:\n${why}`,
          );
        }
        const destDir = indexOf(calls, (c) => isDirFsync(c, b), pub + 1);
        const gone = indexOf(calls, (c) => isNameGone(c, src), destDir + 1);
        const srcDir = indexOf(calls, (c) => isDirFsync(c, a), gone + 1);
        assert(destDir > pub && gone > destDir && srcDir > gone, why);
        // copy (files + directories, or one syncfs) + destination directory
        // + source directory, nothing more
        assertEquals(
          calls.filter(isDurabilityCall).length,
          (mode === "syncfs" ? 1 : files + dirs) + 2,
          why,
        );
      }
    } finally {
      cleanup(a, b);
    }
  },
});

Deno.test({
  name:
    'move() with crossDevice: "fail" throws CrossDeviceError and changes nothing',
  ...noShm,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    try {
      Deno.writeTextFileSync(join(a, "f"), "x");
      await rejects(
        move(join(a, "f"), join(b, "f"), { crossDevice: "fail" }),
        CrossDeviceError,
        "EXDEV",
      );
      assertEquals(Deno.readTextFileSync(join(a, "f")), "x");
      assertEquals(snapshot(join(b, "f")), null);
      deepStrictEqual(temps(b), []);
    } finally {
      cleanup(a, b);
    }
  },
});

Deno.test({
  name: "move() moves a FIFO on one filesystem but refuses to copy it across",
  ...noShm,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    try {
      new Deno.Command("mkfifo", { args: [join(a, "p")] }).outputSync();
      await move(join(a, "p"), join(a, "q"));
      assert(Deno.lstatSync(join(a, "q")).isFifo);
      await rejects(
        move(join(a, "q"), join(b, "q")),
        UnsupportedFileTypeError,
        "EFTYPE",
      );
      assert(Deno.lstatSync(join(a, "q")).isFifo);
      Deno.mkdirSync(join(a, "t"));
      new Deno.Command("mkfifo", { args: [join(a, "t/p")] }).outputSync();
      await rejects(move(join(a, "t"), join(b, "t")), UnsupportedFileTypeError);
      assert(Deno.lstatSync(join(a, "t/p")).isFifo);
      assertEquals(snapshot(join(b, "t")), null);
      deepStrictEqual(temps(b), []);
    } finally {
      cleanup(a, b);
    }
  },
});

Deno.test({
  name:
    "move() aborted mid-copy leaves no temp, the source intact and no destination",
  ...noShm,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    try {
      writeBytes(join(a, "big"), 20_000_000);
      const before = snapshot(join(a, "big"));
      const ac = new AbortController();
      // Abort once the data is being copied into the temp: at its first
      // data call (copy_file_range on ffi, write on the path backend).
      let tempSeen: string[] = [];
      const restore = setSysHook((c) => {
        if (
          !ac.signal.aborted && isDataWrite(c) &&
          (c.op === "copyRange" ? c.dest : c.path)!.startsWith(b + "/")
        ) {
          tempSeen = temps(b);
          ac.abort(new Error("stop"));
        }
      });
      let progressed = 0;
      try {
        await rejects(
          move(join(a, "big"), join(b, "big"), {
            signal: ac.signal,
            onProgress: () => progressed++,
          }),
          AbortedError,
          "ABORT_ERR",
        );
      } finally {
        restore();
      }
      assert(ac.signal.aborted, "the copy never reached its data");
      assertEquals(tempSeen.length, 1, "aborted while the temp existed");
      assert(progressed > 0);
      deepStrictEqual(snapshot(join(a, "big")), before);
      assertEquals(snapshot(join(b, "big")), null);
      deepStrictEqual(temps(b), []);
    } finally {
      cleanup(a, b);
    }
  },
});

Deno.test({
  name:
    "move() reports a source modified during a cross-device copy and publishes nothing",
  ...noShm,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    try {
      writeBytes(join(a, "f"), 5_000_000);
      let done = false;
      const restore = setSysHook((c) => {
        if (!done && isDataRead(c, join(a, "f"))) {
          done = true;
          const f = Deno.openSync(join(a, "f"), { append: true });
          f.writeSync(new Uint8Array(10));
          f.close();
        }
      });
      try {
        await rejects(
          move(join(a, "f"), join(b, "f")),
          SourceChangedError,
          "ESRCCHANGED",
        );
      } finally {
        restore();
      }
      assert(done, "the writer never struck");
      assertEquals(Deno.statSync(join(a, "f")).size, 5_000_010);
      assertEquals(snapshot(join(b, "f")), null);
      deepStrictEqual(temps(b), []);
    } finally {
      cleanup(a, b);
    }
  },
});

Deno.test({
  name:
    "move() leaves a source file that changed after it was copied, and says so",
  ...noShm,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    try {
      makeTree(join(a, "t"));
      // Modify a file right after the publish, before the source removal reaches it.
      let done = false;
      const restore = setSysHook((c) => {
        if (!done && isDirFsync(c, b)) {
          done = true;
          Deno.writeTextFileSync(
            join(a, "t/sub/deeper/c.txt"),
            "changed later",
          );
          Deno.writeTextFileSync(join(a, "t/new-file"), "appeared");
        }
      });
      let e: SourceChangedError;
      try {
        e = await rejects(move(join(a, "t"), join(b, "t")), SourceChangedError);
      } finally {
        restore();
      }
      assert(done, "the writer never struck");
      // An error after the publish says where the complete copy is.
      assertEquals(e.published, join(b, "t"));
      assertEquals(
        Deno.readTextFileSync(join(a, "t/sub/deeper/c.txt")),
        "changed later",
      );
      assertEquals(Deno.readTextFileSync(join(a, "t/new-file")), "appeared");
      assertEquals(
        Deno.readTextFileSync(join(b, "t/sub/deeper/c.txt")),
        "gamma",
      );
      assertEquals(
        snapshot(join(a, "t/a.txt")),
        null,
        "unchanged entries were removed",
      );
    } finally {
      cleanup(a, b);
    }
  },
});

/** Runs `count` movers from separate sources to one destination at once. */
async function race(
  srcDir: string,
  destDir: string,
  kind: "file" | "dir",
  count: number,
): Promise<void> {
  const srcs: string[] = [];
  for (let i = 0; i < count; i++) {
    const p = join(srcDir, `${kind}${i}`);
    if (kind === "file") writeBytes(p, 200_000, i + 1);
    else {
      Deno.mkdirSync(p);
      writeBytes(join(p, "f"), 50_000, i + 1);
      Deno.writeTextFileSync(join(p, "id"), String(i));
    }
    srcs.push(p);
  }
  const snaps = srcs.map((s) => snapshot(s));
  const dest = join(destDir, `dest-${kind}`);
  const results = await Promise.allSettled(srcs.map((s) => move(s, dest)));
  const won = results.map((r, i) => [r, i] as const).filter(([r]) =>
    r.status === "fulfilled"
  );
  assertEquals(won.length, 1, "exactly one mover wins");
  for (const [r, i] of results.map((r, i) => [r, i] as const)) {
    if (r.status === "rejected") {
      assert(r.reason instanceof AlreadyExistsError, String(r.reason));
      deepStrictEqual(
        snapshot(srcs[i]),
        snaps[i],
        "a loser's source is intact",
      );
    }
  }
  deepStrictEqual(
    snapshot(dest),
    snaps[won[0][1]],
    "dest is the winner's complete source",
  );
  deepStrictEqual(temps(destDir), []);
}

Deno.test("move() no-clobber race on one filesystem: exactly one of 16 movers wins", async () => {
  const a = diskDir();
  try {
    await race(a, a, "file", 16);
    await race(a, a, "dir", 16);
  } finally {
    cleanup(a);
  }
});

Deno.test({
  name:
    "move() no-clobber race across filesystems: exactly one of 16 movers wins",
  ...noShm,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    try {
      await race(a, b, "file", 16);
      const c = shmDir();
      await race(a, c, "dir", 16);
      cleanup(c);
    } finally {
      cleanup(a, b);
    }
  },
});

Deno.test({
  name:
    "move() no-clobber race between 8 processes: one wins, the others get AlreadyExistsError",
  ...noShm,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    try {
      const n = 8;
      for (let i = 0; i < n; i++) {
        writeBytes(join(a, `s${i}`), 1_000_000, i + 1);
      }
      const snaps = Array.from(
        { length: n },
        (_, i) => snapshot(join(a, `s${i}`)),
      );
      const script = `import { move } from ${
        JSON.stringify(new URL("../mod.ts", import.meta.url).href)
      };
try { await move(Deno.args[0], Deno.args[1]); console.log("won"); }
catch (e) { console.log(e.name); }`;
      const file = join(a, "mover.ts");
      Deno.writeTextFileSync(file, script);
      const outs = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "-A",
              "--quiet",
              file,
              join(a, `s${i}`),
              join(b, "dest"),
            ],
            stdin: "null",
            stdout: "piped",
          }).output()),
      );
      const said = outs.map((o) => new TextDecoder().decode(o.stdout).trim());
      assertEquals(said.filter((s) => s === "won").length, 1, said.join(","));
      assertEquals(
        said.filter((s) => s === "AlreadyExistsError").length,
        n - 1,
        said.join(","),
      );
      const w = said.indexOf("won");
      deepStrictEqual(snapshot(join(b, "dest")), snaps[w]);
      deepStrictEqual(temps(b), []);
    } finally {
      cleanup(a, b);
    }
  },
});

Deno.test({
  name:
    "move() across filesystems: a reader looking before every filesystem call never sees the destination partial",
  ...noShm,
  fn: async () => {
    // The reader runs before every seam call of the moves (and after them):
    // it sees every state a concurrent reader could see, at every step.
    const a = diskDir(), b = shmDir();
    try {
      writeBytes(join(a, "big"), 64 * 1024 * 1024, 3);
      makeTree(join(a, "tree"));
      for (let i = 0; i < 300; i++) {
        Deno.writeTextFileSync(join(a, "tree", `n${i}`), `file ${i}`);
      }
      const bigSnap = snapshot(join(a, "big"));
      const treeSnap = snapshot(join(a, "tree"));
      const bad: string[] = [];
      const seen = { fileAbsent: 0, file: 0, treeAbsent: 0, tree: 0 };
      // What is at a destination is compared in full once per inode seen
      // there (a name that is published never changes afterwards).
      const checked = new Map<number, boolean>();
      const at = (p: string, snap: unknown): "absent" | "whole" | "partial" => {
        let ino: number;
        try {
          ino = Deno.lstatSync(p).ino!;
        } catch {
          return "absent";
        }
        let ok = checked.get(ino);
        if (ok === undefined) {
          ok = JSON.stringify(snapshot(p)) === JSON.stringify(snap);
          checked.set(ino, ok);
        }
        return ok ? "whole" : "partial";
      };
      const look = (): void => {
        const f = at(join(b, "big"), bigSnap);
        if (f === "absent") seen.fileAbsent++;
        else if (f === "whole") seen.file++;
        else bad.push("file partial");
        const t = at(join(b, "tree"), treeSnap);
        if (t === "absent") seen.treeAbsent++;
        else if (t === "whole") seen.tree++;
        else bad.push("tree partial");
      };
      let looks = 0;
      await onEverySysCall(() => {
        looks++;
        look();
      }, async () => {
        await move(join(a, "big"), join(b, "big"));
        await move(join(a, "tree"), join(b, "tree"));
      });
      look();
      deepStrictEqual(bad.slice(0, 5), [], JSON.stringify(seen));
      assert(seen.fileAbsent > 0 && seen.file > 0, JSON.stringify(seen));
      assert(seen.treeAbsent > 300 && seen.tree > 0, JSON.stringify(seen));
      assert(looks > 300, `${looks} looks`);
      deepStrictEqual(snapshot(join(b, "tree")), treeSnap);
      assertEquals(snapshot(join(a, "big")), null);
      assertEquals(snapshot(join(a, "tree")), null);
    } finally {
      cleanup(a, b);
    }
  },
});

/**
 * Fails each seam call of a cross-device move in turn and checks, on the real
 * filesystem: a typed error; no temp left; the source intact and the
 * destination untouched when the failure came before the publish; the
 * destination complete when it came after (and no source file partial).
 */
async function faultSweep(
  label: string,
  setup: (a: string, b: string) => void,
  srcRel: string,
  opts: { overwrite?: boolean },
): Promise<number> {
  const a = diskDir(), b = shmDir();
  try {
    setup(a, b);
    const src = join(a, srcRel), dest = join(b, srcRel);
    const srcSnap = snapshot(src);
    const destSnap = snapshot(dest);
    // What the seam learns about a filesystem (symlinks, renameat2 flags,
    // hard links) is cached per process: forget it before every run, so
    // that each run makes the same calls, probes included.
    resetCaps();
    const { calls } = await recordCalls(() => move(src, dest, opts));
    deepStrictEqual(snapshot(dest), srcSnap, `${label}: clean run`);
    const n = calls.length;
    let absorbed = 0;
    for (let i = 0; i < n; i++) {
      cleanup(a, b);
      Deno.mkdirSync(a);
      Deno.mkdirSync(b);
      setup(a, b);
      resetCaps();
      const { hit, result } = await failingAt(
        { calls, n: i },
        EIO,
        () => move(src, dest, opts),
      );
      const where = `${label}: failing call ${i} (${JSON.stringify(hit)})`;
      assert(hit !== null, `${where}: the call was not made again`);
      deepStrictEqual(temps(b), [], `${where}: temp left`);
      if (!(result instanceof Error)) {
        // Failures the move may absorb: its advisory lock on the temp, and
        // the open of a directory about to be replaced to lock it (both
        // best-effort: a filesystem may have no flock; they only keep
        // sweep() away), the removal of its own temp name after a link
        // publish, and a call removing the tree an exchange replaced (now
        // under a temp name; its removal is tried twice). Then it must have
        // fully happened.
        const h = hit as SysCall;
        const inTemp = (p?: string): boolean =>
          p !== undefined && p.split("/").some((c) => isTempName(c));
        assert(
          h.op === "lock" ||
            (h.op === "openDirAt" && h.path === dest) ||
            (h.op === "unlinkAt" && isTempName(basename(h.path!))) ||
            (opts.overwrite === true && inTemp(h.path) &&
              h.op !== "renameAt" && h.op !== "fsync"),
          `${where}: the failure went unreported`,
        );
        deepStrictEqual(
          snapshot(dest),
          srcSnap,
          `${where}: resolved but dest incomplete`,
        );
        assertEquals(
          snapshot(src),
          null,
          `${where}: resolved but source still there`,
        );
        if (h.op !== "lock" && h.op !== "openDirAt") absorbed++;
        continue;
      }
      assert(result instanceof SafeFsError, `${where}: got ${result}`);
      assertEquals((result as SafeFsError).code, "EIO", where);
      deepStrictEqual(temps(b), [], `${where}: temp left`);
      const nowDest = snapshot(dest);
      if (JSON.stringify(nowDest) === JSON.stringify(srcSnap)) {
        // Published: the error says where the complete copy is.
        assertEquals(
          (result as SafeFsError).published,
          dest,
          `${where}: an error after the publish without 'published'`,
        );
        // Every source entry still there must be complete.
        const nowSrc = snapshot(src) ?? {};
        for (const [k, v] of Object.entries(nowSrc)) {
          if (!v.startsWith("d:")) {
            assertEquals(v, srcSnap![k], `${where}: partial source entry ${k}`);
          }
        }
      } else {
        deepStrictEqual(nowDest, destSnap, `${where}: destination touched`);
        deepStrictEqual(snapshot(src), srcSnap, `${where}: source not intact`);
      }
    }
    assert(
      absorbed <= (opts.overwrite ? n : 1),
      `${label}: ${absorbed} failures went unreported`,
    );
    return n;
  } finally {
    cleanup(a, b);
  }
}

const FAULT_CASES: [
  string,
  (a: string, b: string) => void,
  string,
  { overwrite?: boolean },
][] = [
  ["a file", (a) => writeBytes(join(a, "f"), 3_000_000), "f", {}],
  [
    "a file over a file",
    (a, b) => {
      writeBytes(join(a, "f"), 10_000);
      Deno.writeTextFileSync(join(b, "f"), "old");
    },
    "f",
    { overwrite: true },
  ],
  ["a tree", (a) => makeTree(join(a, "t")), "t", {}],
  [
    "a tree over an empty directory",
    (a, b) => {
      makeTree(join(a, "t"));
      Deno.mkdirSync(join(b, "t"));
    },
    "t",
    { overwrite: true },
  ],
];

for (const [label, setup, rel, opts] of FAULT_CASES) {
  Deno.test({
    name:
      `move() of ${label} across filesystems survives a failure at every seam call`,
    ...noShm,
    fn: async () => {
      const n = await faultSweep(label, setup, rel, opts);
      console.log(`${label}: ${n} fault points tried`);
      assert(n > 5);
    },
  });
}

Deno.test({
  name:
    "move() of a tree over a directory across filesystems: a failure right after the publish leaves no temp, the old tree gone, and says where the copy is",
  ...noShm,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    try {
      makeTree(join(a, "t"));
      Deno.mkdirSync(join(b, "t"));
      const snap = snapshot(join(a, "t"));
      // The first fsync of b after the publish (an exchange with the empty
      // directory on ffi, a rename onto it on path) fails.
      let published = false;
      let hit = false;
      const restore = setSysHook((c) => {
        if (isPublishAt(c, join(b, "t"))) published = true;
        else if (published && !hit && isDirFsync(c, b)) {
          hit = true;
          throw EIO();
        }
      });
      let e: SafeFsError;
      try {
        e = await rejects(
          move(join(a, "t"), join(b, "t"), { overwrite: true }),
          SafeFsError,
          "EIO",
        );
      } finally {
        restore();
      }
      assert(hit, "the fsync after the publish was never made");
      assertEquals(e.published, join(b, "t"));
      deepStrictEqual(snapshot(join(b, "t")), snap);
      deepStrictEqual(temps(b), [], "the replaced directory was left");
      deepStrictEqual(snapshot(join(a, "t")), snap, "the source is kept");
    } finally {
      cleanup(a, b);
    }
  },
});

Deno.test("move() on one filesystem survives a failure at every seam call", async () => {
  for (const overwrite of [false, true]) {
    for (const kind of ["file", "dir"]) {
      const a = diskDir();
      try {
        const setup = (): void => {
          if (kind === "file") Deno.writeTextFileSync(join(a, "s"), "payload");
          else makeTree(join(a, "s"));
          Deno.mkdirSync(join(a, "out"));
        };
        setup();
        const snap = snapshot(join(a, "s"));
        const { calls } = await recordCalls(() =>
          move(join(a, "s"), join(a, "out/d"), { overwrite })
        );
        for (let i = 0; i < calls.length; i++) {
          cleanup(join(a, "s"), join(a, "out"));
          setup();
          const { result } = await failingAt(
            i,
            EIO,
            () => move(join(a, "s"), join(a, "out/d"), { overwrite }),
          );
          assert(result instanceof SafeFsError, `call ${i}: ${result}`);
          const src = snapshot(join(a, "s")), dst = snapshot(join(a, "out/d"));
          if (src === null) {
            // Moved, then failed: the error says where it went.
            assertEquals(result.published, join(a, "out/d"), `call ${i}`);
          }
          // Either not moved (source whole, no destination) or moved (destination whole).
          assert(
            (JSON.stringify(src) === JSON.stringify(snap) && dst === null) ||
              JSON.stringify(dst) === JSON.stringify(snap),
            `${kind} overwrite=${overwrite} call ${i}: src=${
              JSON.stringify(src)
            } dst=${JSON.stringify(dst)}`,
          );
        }
      } finally {
        cleanup(a);
      }
    }
  }
});

Deno.test({
  name: "move() refuses a tree with a mount point inside when it must copy it",
  ...noMount,
  ignore: !CAN_MOUNT || !HAS_SHM,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    const mnt = join(a, "t/mnt");
    Deno.mkdirSync(mnt, { recursive: true });
    mountTmpfs(mnt, "size=1m");
    try {
      Deno.writeTextFileSync(join(mnt, "inside"), "keep me");
      Deno.writeTextFileSync(join(a, "t/f"), "f");
      await rejects(
        move(join(a, "t"), join(b, "t")),
        CrossDeviceError,
        "EXDEV",
      );
      assertEquals(Deno.readTextFileSync(join(mnt, "inside")), "keep me");
      assertEquals(Deno.readTextFileSync(join(a, "t/f")), "f");
      assertEquals(snapshot(join(b, "t")), null);
      deepStrictEqual(temps(b), []);
    } finally {
      umount(mnt);
      cleanup(a, b);
    }
  },
});

Deno.test({
  name: "move() into a full filesystem fails with ENOSPC and loses nothing",
  ...noMount,
  fn: async () => {
    const a = diskDir(), m = diskDir();
    mountTmpfs(m, "size=1m");
    try {
      writeBytes(join(a, "big"), 3_000_000);
      const snap = snapshot(join(a, "big"));
      await rejects(
        move(join(a, "big"), join(m, "big")),
        SafeFsError,
        "ENOSPC",
      );
      deepStrictEqual(snapshot(join(a, "big")), snap);
      assertEquals(snapshot(join(m, "big")), null);
      deepStrictEqual(temps(m), []);
    } finally {
      umount(m);
      cleanup(a, m);
    }
  },
});

Deno.test({
  name: "move() into a read-only filesystem fails with EROFS and loses nothing",
  ...noMount,
  fn: async () => {
    const a = diskDir(), m = diskDir();
    mountTmpfs(m, "size=1m,ro");
    try {
      Deno.writeTextFileSync(join(a, "f"), "data");
      await rejects(move(join(a, "f"), join(m, "f")), SafeFsError, "EROFS");
      assertEquals(Deno.readTextFileSync(join(a, "f")), "data");
      // and out of a read-only filesystem: the copy is not published over the source's loss
    } finally {
      umount(m);
      cleanup(a, m);
    }
  },
});

Deno.test("move() errors carry code, op, path and dest", async () => {
  const dir = diskDir();
  try {
    const e = await rejects(
      move(join(dir, "nope"), join(dir, "x")),
      NotFoundError,
    );
    assertEquals(e.op, "move");
    assertEquals(e.path, join(dir, "nope"));
    assertEquals(e.dest, join(dir, "x"));
    assert(e.message.includes(`'${join(dir, "nope")}'`));
    assertNotEquals(e.message[0], e.message[0].toLowerCase());
  } finally {
    cleanup(dir);
  }
});

/** An "old" directory of 40 entries (`old-*`) and a "new" one of 30 (`new-*`, one a subdirectory). */
function oldAndNew(dest: string, src: string): void {
  Deno.mkdirSync(dest);
  for (let i = 0; i < 40; i++) {
    Deno.writeTextFileSync(join(dest, `old-${i}`), `old ${i}`);
  }
  Deno.mkdirSync(join(src, "new-sub"), { recursive: true });
  Deno.writeTextFileSync(join(src, "new-sub/f"), "in the new tree");
  for (let i = 0; i < 29; i++) {
    Deno.writeTextFileSync(join(src, `new-${i}`), `new ${i}`);
  }
}

Deno.test({
  name: CAN_EXCHANGE
    ? "move() with overwrite onto a non-empty directory: a reader in another process never sees it missing or mixed"
    : "move() with overwrite onto a non-empty directory fails with NotEmptyError: a reader in another process sees it unchanged throughout",
  fn: async () => {
    const dir = diskDir();
    try {
      const dest = join(dir, "dest"), src = join(dir, "src");
      oldAndNew(dest, src);
      const oldSnap = snapshot(dest), newSnap = snapshot(src);
      const { report, result } = await pollDirectory(
        dest,
        Deno.statSync(dest).ino!,
        30,
        () => move(src, dest, { overwrite: true }),
      );
      const why = JSON.stringify(report);
      assertEquals(report.missing, 0, `the destination went missing: ${why}`);
      assertEquals(report.mixed, 0, `a mix of both trees: ${why}`);
      assertEquals(report.partialNew, 0, `a partial new tree: ${why}`);
      deepStrictEqual(report.errors, [], why);
      assert(report.polls >= 2 && report.sawOld >= 1, why);
      if (CAN_EXCHANGE) {
        assert(!(result instanceof Error), String(result));
        assertEquals((result as MoveResult).publish, "exchange");
        assertEquals((result as MoveResult).replaced, true);
        assert(report.sawNew >= 1, why);
        deepStrictEqual(snapshot(dest), newSnap);
        assertEquals(snapshot(src), null);
      } else {
        assert(result instanceof NotEmptyError, String(result));
        assertEquals(report.sawNew, 0, why);
        deepStrictEqual(snapshot(dest), oldSnap);
        deepStrictEqual(snapshot(src), newSnap);
      }
      deepStrictEqual(temps(dir), []);
    } finally {
      cleanup(dir);
    }
  },
});

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

/** The seam calls of a run as a sorted list of keys (the symlink probe, made once per filesystem and process, left out). */
function callSet(calls: SysCall[]): string[] {
  return calls.filter((c) => !(c.path ?? "").includes(".symlink-probe."))
    .map((c) => `${callKey(c)} ${c.how ?? ""}`).sort();
}

Deno.test("moveSync() gives the same results, errors, end states and seam calls as move()", async () => {
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
    ["a file", (w) => Deno.writeTextFileSync(join(w, "a"), "a"), "a", "b", {}],
    ["a tree", (w) => makeTree(join(w, "t")), "t", "sub/t", {}],
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
      "a file onto itself",
      (w) => Deno.writeTextFileSync(join(w, "a"), "a"),
      "a",
      "a",
      { overwrite: true },
    ],
  ];
  if (other !== null) {
    scenarios.push(
      [
        "a file across filesystems",
        (w) => writeBytes(join(w, "f"), 2_000_000),
        "f",
        "X/f",
        {},
      ],
      [
        "a tree across filesystems",
        (w) => makeTree(join(w, "t")),
        "t",
        "X/t",
        {},
      ],
      [
        "a tree across filesystems over an empty directory",
        (w, x) => {
          makeTree(join(w, "t"));
          Deno.mkdirSync(join(x, "t"));
        },
        "t",
        "X/t",
        { overwrite: true },
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
      };
      fresh();
      const a = await recordCalls(() => move(path(s), path(d), opts));
      const aState = [snapshot(w), snapshot(x)];
      fresh();
      const b = await recordCalls(() => {
        try {
          return Promise.resolve(moveSync(path(s), path(d), opts));
        } catch (e) {
          return Promise.reject(e);
        }
      });
      const bState = [snapshot(w), snapshot(x)];
      deepStrictEqual(outcome(b.result), outcome(a.result), label);
      deepStrictEqual(bState, aState, label);
      deepStrictEqual(callSet(b.calls), callSet(a.calls), label);
    }
  } finally {
    cleanup(base);
    if (other !== null) cleanup(other);
  }
});
