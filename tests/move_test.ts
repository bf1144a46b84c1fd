// Copyright 2026 the safefs authors. MIT license.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
  notEqual as assertNotEquals,
} from "node:assert/strict";
import { join } from "node:path";
import {
  AbortedError,
  AlreadyExistsError,
  CrossDeviceError,
  InvalidArgumentError,
  move,
  NotEmptyError,
  NotFoundError,
  SafeFsError,
  SourceChangedError,
  UnsupportedFileTypeError,
} from "../mod.ts";
import { setSysHook } from "../src/_sys.ts";
import {
  CAN_MOUNT,
  cleanup,
  diskDir,
  EIO,
  failingAt,
  HAS_SHM,
  makeTree,
  mountTmpfs,
  onEverySysCall,
  recordCalls,
  rejects,
  shmDir,
  snapshot,
  temps,
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

Deno.test("move() renames a file on one filesystem, durably", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "a"), "hello");
    const { calls, result } = await recordCalls(() =>
      move(join(dir, "a"), join(dir, "b"))
    );
    assertEquals((result as { crossDevice: boolean }).crossDevice, false);
    assertEquals(Deno.readTextFileSync(join(dir, "b")), "hello");
    assertEquals(snapshot(join(dir, "a")), null);
    const ops = calls.map((c) => c.op);
    // no-clobber on one fs: link, fsync dest dir, unlink source, fsync source dir
    const li = ops.indexOf("link"), ui = ops.indexOf("unlink");
    assert(li >= 0 && ui > li, ops.join(","));
    assert(
      ops.slice(li, ui).includes("fsyncDir"),
      "dest dir fsynced before the source name goes",
    );
    assertEquals(ops.lastIndexOf("fsyncDir") > ui, true);
    assertEquals(ops.includes("rename"), false);
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
    await move(join(dir, "a"), join(dir, "b"), { overwrite: true });
    assertEquals(Deno.readTextFileSync(join(dir, "b")), "new");
    assertEquals(snapshot(join(dir, "a")), null);
    Deno.mkdirSync(join(dir, "src"));
    Deno.writeTextFileSync(join(dir, "src/f"), "x");
    Deno.mkdirSync(join(dir, "dst"));
    await move(join(dir, "src"), join(dir, "dst"), { overwrite: true });
    assertEquals(Deno.readTextFileSync(join(dir, "dst/f")), "x");
  } finally {
    cleanup(dir);
  }
});

Deno.test("move() refuses to replace a non-empty directory, a directory with a file, a file with a directory", async () => {
  const dir = diskDir();
  try {
    Deno.mkdirSync(join(dir, "src"));
    Deno.mkdirSync(join(dir, "full"));
    Deno.writeTextFileSync(join(dir, "full/keep"), "k");
    Deno.writeTextFileSync(join(dir, "file"), "f");
    const before = snapshot(dir);
    await rejects(
      move(join(dir, "src"), join(dir, "full"), { overwrite: true }),
      NotEmptyError,
      "ENOTEMPTY",
    );
    await rejects(
      move(join(dir, "file"), join(dir, "full"), { overwrite: true }),
      SafeFsError,
      "EISDIR",
    );
    await rejects(
      move(join(dir, "src"), join(dir, "file"), { overwrite: true }),
      SafeFsError,
      "ENOTDIR",
    );
    deepStrictEqual(snapshot(dir), before);
  } finally {
    cleanup(dir);
  }
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
    await rejects(
      move(join(dir, "a"), join(dir, "a")),
      InvalidArgumentError,
      "EINVAL",
    );
    await rejects(
      move(join(dir, "a"), join(dir, "a-hard"), { overwrite: true }),
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
      SafeFsError,
      "ENOTDIR",
    );
    deepStrictEqual(snapshot(dir), before);
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
      const { calls } = await recordCalls(() =>
        move(join(a, "f"), join(b, "f"))
      );
      const ops = calls.map((c) => `${c.op}:${c.path}`);
      const fsyncData = calls.findIndex((c) => c.op === "fsync");
      const publish = calls.findIndex((c) =>
        c.op === "link" && c.dest === join(b, "f") && c.path!.startsWith(b)
      );
      const dirSync = calls.findIndex((c, i) =>
        i > publish && c.op === "fsyncDir" && c.path === b
      );
      const unlinkSrc = calls.findIndex((c) =>
        c.op === "unlink" && c.path === join(a, "f")
      );
      const srcDirSync = calls.findIndex((c, i) =>
        i > unlinkSrc && c.op === "fsyncDir" && c.path === a
      );
      assert(fsyncData >= 0 && publish > fsyncData, ops.join("\n"));
      assert(dirSync > publish, ops.join("\n"));
      assert(
        unlinkSrc > dirSync,
        "source removed only after the destination is durable",
      );
      assert(srcDirSync > unlinkSrc, ops.join("\n"));
      assertEquals(
        calls.filter((c) => c.op === "fsync" || c.op === "fsyncDir").length,
        3,
      );
      // durable: false makes no fsync at all
      Deno.writeTextFileSync(join(a, "g"), "data");
      const quiet = await recordCalls(() =>
        move(join(a, "g"), join(b, "g"), { durable: false })
      );
      assertEquals(
        quiet.calls.filter((c) => c.op.startsWith("fsync")).length,
        0,
      );
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
      let ticks = 0;
      await rejects(
        move(join(a, "big"), join(b, "big"), {
          signal: ac.signal,
          onProgress: (p) => {
            if (p.bytesDone > 0 && ticks++ === 2) ac.abort(new Error("stop"));
          },
        }),
        AbortedError,
        "ABORT_ERR",
      );
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
        if (
          !done && (c.op === "read" || c.op === "copyFile") &&
          c.path === join(a, "f")
        ) {
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
        if (!done && c.op === "fsyncDir" && c.path === b) {
          done = true;
          Deno.writeTextFileSync(
            join(a, "t/sub/deeper/c.txt"),
            "changed later",
          );
          Deno.writeTextFileSync(join(a, "t/new-file"), "appeared");
        }
      });
      try {
        await rejects(move(join(a, "t"), join(b, "t")), SourceChangedError);
      } finally {
        restore();
      }
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
    const { calls } = await recordCalls(() => move(src, dest, opts));
    deepStrictEqual(snapshot(dest), srcSnap, `${label}: clean run`);
    const n = calls.length;
    let absorbed = 0;
    for (let i = 0; i < n; i++) {
      cleanup(a, b);
      Deno.mkdirSync(a);
      Deno.mkdirSync(b);
      setup(a, b);
      const { hit, result } = await failingAt(
        { calls, n: i },
        EIO,
        () => move(src, dest, opts),
      );
      const where = `${label}: failing call ${i} (${JSON.stringify(hit)})`;
      deepStrictEqual(temps(b), [], `${where}: temp left`);
      if (!(result instanceof Error)) {
        // A failure the move may absorb (removing its own temp name after
        // the publish): then it must have fully happened.
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
        absorbed++;
        continue;
      }
      assert(result instanceof SafeFsError, `${where}: got ${result}`);
      assertEquals((result as SafeFsError).code, "EIO", where);
      deepStrictEqual(temps(b), [], `${where}: temp left`);
      const nowDest = snapshot(dest);
      if (JSON.stringify(nowDest) === JSON.stringify(srcSnap)) {
        // Published: every source entry still there must be complete.
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
    assert(absorbed <= 1, `${label}: ${absorbed} failures went unreported`);
    return n;
  } finally {
    cleanup(a, b);
  }
}

Deno.test({
  name: "move() across filesystems survives a failure at every seam call",
  ...noShm,
  fn: async () => {
    const counts: Record<string, number> = {};
    counts["file"] = await faultSweep(
      "file",
      (a) => writeBytes(join(a, "f"), 3_000_000),
      "f",
      {},
    );
    counts["file overwrite"] = await faultSweep(
      "file overwrite",
      (a, b) => {
        writeBytes(join(a, "f"), 10_000);
        Deno.writeTextFileSync(join(b, "f"), "old");
      },
      "f",
      { overwrite: true },
    );
    counts["tree"] = await faultSweep(
      "tree",
      (a) => makeTree(join(a, "t")),
      "t",
      {},
    );
    counts["tree overwrite"] = await faultSweep(
      "tree overwrite",
      (a, b) => {
        makeTree(join(a, "t"));
        Deno.mkdirSync(join(b, "t"));
      },
      "t",
      { overwrite: true },
    );
    console.log("fault points tried:", JSON.stringify(counts));
    for (const v of Object.values(counts)) assert(v > 5);
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
