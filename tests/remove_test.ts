// Copyright 2026 the safefs authors. MIT license.
// remove() (issue 4, contract G6), on real filesystems. Concurrency is real:
// other deleters, creators and the swap attacker are other processes; the
// _sys hook only chooses the precise instant at which they act. Every test
// fails if its guarantee breaks. Tests that need root (mounts, another user)
// are skipped visibly when it is not available.
import assert from "node:assert/strict";
import { basename, dirname, join } from "node:path";
import { type AfterCall, setSysHook, type SysCall } from "../src/_sys.ts";
import { isTempName } from "../src/_temp.ts";
import {
  AbortedError,
  InvalidArgumentError,
  MountPointError,
  NotEmptyError,
  NotFoundError,
  SafeFsError,
} from "../src/errors.ts";
import { remove } from "../src/remove.ts";
import {
  abortTimer,
  BACKEND,
  backendFlags,
  CAN_MOUNT,
  cleanup,
  diskDir,
  HAS_SHM,
  isDurabilityCall,
  isNameGone,
  mountTmpfs,
  rejects,
  shmDir,
  showCalls,
  snapshot,
  umount,
} from "./_helpers.ts";
import {
  deepChain,
  depthOf,
  files,
  finished,
  listing,
  mkdirs,
  naiveRemove,
  rmRfSync,
  spawnDeno,
  SWAP_ATTACKER,
  tempsUnder,
  touchSync,
} from "./_remove_helpers.ts";
import { NOBODY, runAsNobody } from "./_nobody.ts";
import { type Actor, spawnActor, spawnCommandActor } from "./_actor.ts";

const REMOVE_URL = new URL("../src/remove.ts", import.meta.url).href;
const SYS_URL = new URL("../src/_sys.ts", import.meta.url).href;
const ESTALE = (): Error => new Error("Stale file handle (os error 116)");
const EIO = (): Error => new Error("Input/output error (os error 5)");

/** A temp dir on tmpfs when there is one (fast for big trees), else on disk. */
function fastDir(): string {
  return HAS_SHM ? shmDir() : diskDir();
}

if (!CAN_MOUNT) {
  console.warn(
    "SKIPPED: cannot mount tmpfs (needs root): mount point tests of remove() are skipped",
  );
}

/** Runs `fn` with `hook` installed on the seam. */
async function withHook<T>(
  hook: (c: SysCall) => void | AfterCall,
  fn: () => Promise<T>,
): Promise<T> {
  const restore = setSysHook(hook);
  try {
    return await fn();
  } finally {
    restore();
  }
}

/** A subset check: what is left is part of the original tree, under original names. */
function assertRemnant(
  now: string[] | null,
  before: string[],
  what: string,
): void {
  if (now === null) return;
  const orig = new Set(before);
  for (const p of now) {
    assert(orig.has(p), `${what}: '${p}' was not in the original tree`);
  }
}

/** koji's tree: some-dir/a/b/c/d/e/f/g/h/i/j/k. */
function kojiChain(root: string): void {
  mkdirs(root, "a/b/c/d/e/f/g/h/i/j/k");
}

// ---------------------------------------------------------------------------
// Basics

Deno.test("remove() deletes a tree of files, directories, symlinks, hard links and a FIFO, counting every entry", async () => {
  const w = diskDir();
  try {
    const root = join(w, "t");
    mkdirs(root, "sub/deeper", "empty-dir");
    files(root, "a.txt", "sub/b.txt", "sub/deeper/c.txt");
    Deno.linkSync(join(root, "a.txt"), join(root, "sub/a-hard.txt"));
    Deno.symlinkSync("sub/deeper", join(root, "link-to-dir"));
    Deno.symlinkSync("/nonexistent", join(root, "dangling"));
    assert(
      new Deno.Command("mkfifo", { args: [join(root, "sub/fifo")] })
        .outputSync().success,
    );
    Deno.chmodSync(join(root, "sub/b.txt"), 0o400);
    const entries = listing(root)!.length + 1;
    const r = await remove(root);
    assert.equal(r.path, root);
    assert.equal(r.entriesRemoved, entries);
    assert.equal(listing(root), null);
    assert.deepEqual(listing(w), []);
  } finally {
    cleanup(w);
  }
});

Deno.test("remove() accepts a file: URL, removes a single file, and resolves an empty directory", async () => {
  const w = diskDir();
  try {
    files(w, "f");
    mkdirs(w, "empty");
    assert.deepEqual(await remove(new URL(`file://${w}/f`)), {
      path: join(w, "f"),
      entriesRemoved: 1,
    });
    assert.deepEqual(await remove(join(w, "empty")), {
      path: join(w, "empty"),
      entriesRemoved: 1,
    });
    assert.deepEqual(listing(w), []);
  } finally {
    cleanup(w);
  }
});

Deno.test("remove() of a symlink to a directory unlinks the link and leaves the directory's content", async () => {
  const w = diskDir();
  try {
    mkdirs(w, "real/inner");
    files(w, "real/inner/x");
    Deno.symlinkSync(join(w, "real"), join(w, "link"));
    const r = await remove(join(w, "link"));
    assert.equal(r.entriesRemoved, 1);
    assert.deepEqual(listing(w), ["real/", "real/inner/", "real/inner/x"]);
  } finally {
    cleanup(w);
  }
});

Deno.test("remove() never follows symlinks inside the tree: outside directories and files keep their content", async () => {
  const w = diskDir();
  try {
    mkdirs(w, "outside/dir/deep", "t/a/b");
    files(w, "outside/file", "outside/dir/x", "outside/dir/deep/y", "t/a/b/z");
    const root = join(w, "t");
    Deno.symlinkSync(join(w, "outside/dir"), join(root, "abs-dir-link"));
    Deno.symlinkSync("../../../outside/dir", join(root, "a/b/rel-dir-link"));
    Deno.symlinkSync(join(w, "outside/file"), join(root, "a/file-link"));
    Deno.symlinkSync(join(w, "outside"), join(root, "a/b/outside-root-link"));
    // A leaf big enough to be removed whole through a descriptor (removeTree).
    mkdirs(root, "leaf");
    for (let i = 0; i < 40; i++) files(root, `leaf/f${i}`);
    Deno.symlinkSync(join(w, "outside/dir"), join(root, "leaf/dir-link"));
    Deno.symlinkSync(join(w, "outside/file"), join(root, "leaf/file-link"));
    const before = listing(join(w, "outside"));
    await remove(root);
    assert.equal(listing(root), null);
    assert.deepEqual(listing(join(w, "outside")), before);
    assert.equal(
      Deno.readTextFileSync(join(w, "outside/dir/deep/y")),
      "content of outside/dir/deep/y",
    );
  } finally {
    cleanup(w);
  }
});

Deno.test("remove() of a missing path throws NotFoundError; with missingOk it resolves and does nothing", async () => {
  const w = diskDir();
  try {
    const e = await rejects(remove(join(w, "nope")), NotFoundError);
    assert.equal(e.code, "ENOENT");
    assert.match(e.message, /^Cannot remove '.*\/nope': it does not exist$/);
    assert.deepEqual(await remove(join(w, "nope"), { missingOk: true }), {
      path: join(w, "nope"),
      entriesRemoved: 0,
    });
    await rejects(remove(join(w, "no/such/parent")), NotFoundError);
  } finally {
    cleanup(w);
  }
});

Deno.test("remove() refuses '/', empty paths and NUL bytes before any filesystem call", async () => {
  // A hook that fails every seam call: if a refusal were missing, nothing
  // could be deleted anyway.
  const calls: SysCall[] = [];
  await withHook((c) => {
    calls.push(c);
    throw EIO();
  }, async () => {
    for (const p of ["/", "//", "/..", "", "/tmp/a\0b"]) {
      const e = await rejects(remove(p), InvalidArgumentError);
      assert.equal(e.code, "EINVAL");
    }
  });
  assert.deepEqual(calls, []);
});

Deno.test("remove() refuses a path whose last component is '.' or '..', before any filesystem call", async () => {
  const w = diskDir();
  try {
    mkdirs(w, "t/a");
    files(w, "t/a/f");
    const before = listing(w);
    const calls: SysCall[] = [];
    await withHook((c) => {
      calls.push(c);
    }, async () => {
      for (
        const p of [`${w}/t/.`, `${w}/t/..`, `${w}/t/a/..`, `${w}/t/./.`, "."]
      ) {
        const e = await rejects(remove(p), InvalidArgumentError, "EINVAL");
        assert(e.message.includes("last component"), e.message);
        // Even where nothing is there to remove.
        await rejects(
          remove(p, { missingOk: true }),
          InvalidArgumentError,
          "EINVAL",
        );
      }
    });
    assert.deepEqual(calls, []);
    assert.deepEqual(listing(w), before);
    // '..' inside a path is the kernel's business: t/a/../a is t/a.
    await remove(`${w}/t/a/../a`);
    assert.deepEqual(listing(w), ["t/"]);
  } finally {
    cleanup(w);
  }
});

Deno.test("remove() is durable: one fsync of the directory that held the path, after it is gone; none with durable: false or when nothing was removed", async () => {
  const w = diskDir();
  try {
    mkdirs(w, "t/a/b");
    files(w, "t/a/b/f", "t/g", "file");
    Deno.symlinkSync("/etc", join(w, "link"));
    for (const name of ["t", "file", "link"]) {
      const calls: SysCall[] = [];
      await withHook((c) => {
        calls.push(c);
      }, () => remove(join(w, name)));
      const syncs = calls.filter(isDurabilityCall);
      assert.deepEqual(
        syncs.map((c) => [c.op, c.how, c.path]),
        [["fsync", "dir", w]],
        showCalls(calls),
      );
      // The fsync comes after the last removal (the root itself).
      assert.equal(calls.at(-1), syncs[0], showCalls(calls));
      assert(
        isNameGone(calls.at(-2)!, join(w, name)),
        showCalls(calls),
      );
    }
    mkdirs(w, "u/v");
    const quiet: SysCall[] = [];
    await withHook((c) => {
      quiet.push(c);
    }, async () => {
      await remove(join(w, "u"), { durable: false });
      await remove(join(w, "missing"), { missingOk: true });
    });
    assert.deepEqual(quiet.filter(isDurabilityCall), [], showCalls(quiet));
    assert.deepEqual(listing(w), []);
  } finally {
    cleanup(w);
  }
});

// ---------------------------------------------------------------------------
// Filesystem boundaries

Deno.test({
  name:
    "remove() leaves a tmpfs mounted inside the tree and reports it with MountPointError, removing everything else",
  ignore: !CAN_MOUNT,
  fn: async () => {
    const w = diskDir();
    const mnt = join(w, "t/x/y/mnt");
    mkdirs(w, "t/x/y/mnt", "t/other/deep");
    files(w, "t/x/y/f", "t/x/f", "t/other/deep/f", "t/top");
    mountTmpfs(mnt, "size=1m");
    try {
      mkdirs(mnt, "inside");
      files(mnt, "inside/keep", "keep2");
      const e = await rejects(remove(join(w, "t")), MountPointError);
      assert(e instanceof NotEmptyError);
      assert.deepEqual(e.mountPoints, [mnt]);
      assert.equal(e.code, "EBUSY");
      assert(e.message.includes(`'${mnt}'`), e.message);
      // The mount survives with its files, at its path; everything else is gone,
      // and no temp name is left: the directories leading to it have their names.
      assert.deepEqual(listing(join(w, "t")), [
        "x/",
        "x/y/",
        "x/y/mnt/",
        "x/y/mnt/inside/",
        "x/y/mnt/inside/keep",
        "x/y/mnt/keep2",
      ]);
      assert.equal(
        Deno.readTextFileSync(join(mnt, "inside/keep")),
        "content of inside/keep",
      );
      assert.notEqual(Deno.statSync(mnt).dev, Deno.statSync(w).dev);
    } finally {
      umount(mnt);
      cleanup(w);
    }
  },
});

Deno.test({
  name:
    "remove() with oneFileSystem: false empties a mounted tmpfs, never follows its symlinks, and reports the mount point",
  ignore: !CAN_MOUNT,
  fn: async () => {
    const w = diskDir();
    const mnt = join(w, "t/x/mnt");
    mkdirs(w, "t/x/mnt", "outside");
    files(w, "outside/o", "t/x/f");
    mountTmpfs(mnt, "size=1m");
    try {
      mkdirs(mnt, "a/b/c");
      files(mnt, "a/b/c/f", "a/f");
      Deno.symlinkSync(join(w, "outside"), join(mnt, "a/b/out-link"));
      const e = await rejects(
        remove(join(w, "t"), { oneFileSystem: false }),
        MountPointError,
      );
      assert.deepEqual(e.mountPoints, [mnt]);
      assert.deepEqual(listing(join(w, "t")), ["x/", "x/mnt/"]);
      assert.deepEqual(listing(join(w, "outside")), ["o"]);
    } finally {
      umount(mnt);
      cleanup(w);
    }
  },
});

Deno.test({
  name:
    "remove() does not enter a bind mount of the same filesystem (same st_dev) and leaves its source intact",
  ignore: !CAN_MOUNT,
  fn: async () => {
    const w = diskDir();
    const bind = join(w, "t/a/bind");
    mkdirs(w, "t/a/bind", "precious/sub");
    files(w, "precious/sub/p", "t/a/f");
    const ok =
      new Deno.Command("mount", { args: ["--bind", join(w, "precious"), bind] })
        .outputSync().success;
    assert(ok, "mount --bind failed");
    try {
      assert.equal(Deno.statSync(bind).dev, Deno.statSync(w).dev);
      const e = await rejects(remove(join(w, "t")), MountPointError);
      assert.deepEqual(e.mountPoints, [bind]);
      assert.deepEqual(listing(join(w, "precious")), ["sub/", "sub/p"]);
    } finally {
      umount(bind);
      cleanup(w);
    }
  },
});

Deno.test({
  name:
    "remove() refuses a path that is itself a mount point (tmpfs or bind mount) with nothing removed; oneFileSystem: false empties it and reports it",
  ignore: !CAN_MOUNT,
  fn: async () => {
    const w = diskDir();
    const mnt = join(w, "mnt");
    const bind = join(w, "bind");
    mkdirs(w, "mnt", "bind", "precious/sub");
    files(w, "precious/sub/p");
    mountTmpfs(mnt, "size=1m");
    const ok = new Deno.Command("mount", {
      args: ["--bind", join(w, "precious"), bind],
    }).outputSync().success;
    try {
      assert(ok, "mount --bind failed");
      mkdirs(mnt, "inside");
      files(mnt, "inside/keep");
      const refused = async (m: string): Promise<void> => {
        const before = listing(m);
        const calls: SysCall[] = [];
        const e = await withHook((c) => {
          calls.push(c);
        }, () => rejects(remove(m), MountPointError));
        assert.equal(e.code, "EBUSY");
        assert.deepEqual(e.mountPoints, [m]);
        assert(e.message.includes(`'${m}'`), e.message);
        assert.deepEqual(listing(m), before, `${m} was emptied`);
        assert.deepEqual(
          calls.filter((c) =>
            ["unlinkAt", "rmdirAt", "renameAt", "chmod", "chmodAt"].includes(
              c.op,
            )
          ),
          [],
        );
      };
      await refused(mnt);
      // Asked to cross: the mounted tmpfs is emptied, its root reported.
      const e = await rejects(
        remove(mnt, { oneFileSystem: false }),
        MountPointError,
      );
      assert.deepEqual(e.mountPoints, [mnt]);
      assert.deepEqual(listing(mnt), []);
      // A bind mount of the same filesystem (same st_dev): refused too.
      await refused(bind);
      assert.deepEqual(listing(join(w, "precious")), ["sub/", "sub/p"]);
      assert.notEqual(Deno.statSync(mnt).dev, Deno.statSync(w).dev);
    } finally {
      umount(mnt);
      if (ok) umount(bind);
      cleanup(w);
    }
  },
});

// ---------------------------------------------------------------------------
// koji PR #2699, TestRmtree2: the same scenarios, with another process doing
// the removing at the instant koji's mocks chose.

Deno.test("koji parallel_chdir_down_failure: another process removes the whole tree while remove() descends", async () => {
  const w = diskDir();
  try {
    const root = join(w, "some-dir");
    kojiChain(root);
    let n = 0;
    let removedByOther = false;
    // Descending = opening the next subdirectory (openDirAt). At the 4th,
    // `rm -rf` removes the whole tree.
    const r = await withHook((c) => {
      if (c.op === "openDirAt" && ++n === 4) {
        rmRfSync(root);
        removedByOther = true;
      }
    }, () => remove(root));
    assert(removedByOther, "the other deleter never ran");
    assert.equal(listing(root), null);
    assert(
      r.entriesRemoved < 12,
      `counted entries the other process removed: ${r.entriesRemoved}`,
    );
  } finally {
    cleanup(w);
  }
});

Deno.test("koji parallel_chdir_down_complex: a subtree removed by another process under remove() is skipped, the rest is removed", async () => {
  const w = fastDir();
  try {
    const root = join(w, "some-dir");
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 8; j++) {
        for (let k = 0; k < 8; k++) {
          mkdirs(root, `a/${i}/c/d/${j}/e/f/${k}/g/h`);
        }
      }
    }
    let removedByOther = "";
    const r = await withHook((c) => {
      // When we first descend into an `f`, another process removes that subtree.
      if (
        c.op === "openDirAt" && removedByOther === "" &&
        basename(c.path!) === "f"
      ) {
        rmRfSync(c.path!);
        removedByOther = c.path!;
      }
    }, () => remove(root));
    assert.notEqual(removedByOther, "", "the other deleter never ran");
    assert.equal(listing(root), null);
    // 8 `f` subtrees of 8 x (k, g, h) + f = 25 directories each were not ours to remove.
    const total = 1 + 1 + 8 * (1 + 1 + 1 + 8 * (1 + 1 + 1 + 8 * 3));
    assert.equal(r.entriesRemoved, total - 25);
  } finally {
    cleanup(w);
  }
});

Deno.test("koji parallel_chdir_up_failure: the tree is removed by another process as remove() ascends, with ESTALE", async () => {
  const w = diskDir();
  try {
    const root = join(w, "some-dir");
    kojiChain(root);
    let removedByOther = false;
    await withHook((c) => {
      // The first rmdir is the first step back up.
      if (c.op === "rmdirAt" && !removedByOther) {
        rmRfSync(root);
        removedByOther = true;
        throw ESTALE(); // what NFS says for a directory removed under us
      }
    }, () => remove(root));
    assert(removedByOther, "the other deleter never ran");
    assert.equal(listing(root), null);
  } finally {
    cleanup(w);
  }
});

Deno.test("koji parallel_listdir_fails: a listing fails with ESTALE because another process removed the tree", async () => {
  const w = diskDir();
  try {
    const root = join(w, "some-dir");
    kojiChain(root);
    let n = 0;
    let removedByOther = false;
    await withHook((c) => {
      if (c.op === "list" && ++n === 4) {
        rmRfSync(root);
        removedByOther = true;
        throw ESTALE();
      }
    }, () => remove(root));
    assert(removedByOther, "the other deleter never ran");
    assert.equal(listing(root), null);
  } finally {
    cleanup(w);
  }
});

Deno.test("koji parallel_new_file: a file another process creates in a directory after it was listed makes remove() fail with NotEmptyError naming it", async () => {
  const w = diskDir();
  try {
    const root = join(w, "some-dir");
    kojiChain(root);
    let created = "";
    // Right after `a` (which holds `b`) is listed, another process creates a
    // file in it: not in the listing remove() works from.
    const e = await withHook((c) => {
      if (c.op === "list" && c.path === join(root, "a") && created === "") {
        return (err) => {
          if (err !== null) return;
          created = join(root, "a/extra_file");
          touchSync(created);
        };
      }
    }, () => rejects(remove(root), NotEmptyError));
    assert.notEqual(created, "", "the creator never ran");
    assert(!(e instanceof MountPointError));
    assert.equal(e.code, "ENOTEMPTY");
    // Reported (and left) where it was created: nothing is ever renamed.
    assert.equal(e.path, join(root, "a/extra_file"));
    assert(e.message.includes(`'${join(root, "a/extra_file")}'`), e.message);
    assert.deepEqual(listing(root), ["a/", "a/extra_file"]);
  } finally {
    cleanup(w);
  }
});

Deno.test("remove() retries the root's listing after a transient ESTALE while the root is still there", async () => {
  const w = diskDir();
  try {
    const root = join(w, "t");
    mkdirs(root, "a/b");
    files(root, "a/b/f");
    let n = 0;
    await withHook((c) => {
      if (c.op === "list" && c.path === root && ++n === 1) throw ESTALE();
    }, () => remove(root));
    assert.equal(n, 2);
    assert.equal(listing(root), null);
  } finally {
    cleanup(w);
  }
});

// ---------------------------------------------------------------------------
// Real concurrency

function concurrentTree(root: string): number {
  for (let d = 0; d < 12; d++) {
    mkdirs(root, `d${d}/e/f`);
    for (let f = 0; f < 30; f++) files(root, `d${d}/e/f/x${f}`, `d${d}/y${f}`);
  }
  deepChain(join(root, "chain"), 60);
  return listing(root)!.length + 1;
}

Deno.test("remove() racing `rm -rf` on the same tree finishes cleanly and the tree is gone (10 rounds)", async () => {
  const w = fastDir();
  try {
    let rmFailed = 0, rmEntries = 0, ours = 0;
    for (let round = 0; round < 10; round++) {
      const root = join(w, `t${round}`);
      const total = concurrentTree(root);
      // `rm -rfv` prints one line per entry it removed: its count. It starts
      // at remove()'s first filesystem call (of round 0, 3, 6, 9) or its
      // tenth, and remove() goes on only once rm has removed something: the
      // two really delete the same tree at the same time, every round.
      let rm: Actor | null = null;
      let result: string;
      let calls = 0;
      try {
        const r = await withHook(() => {
          if (++calls === (round % 3 === 0 ? 1 : 10)) {
            rm = spawnCommandActor("rm -rf", "rm", ["-rfv", "--", root]);
            rm.waitForSync(1);
          }
        }, () => remove(root));
        assert(r.entriesRemoved <= total);
        ours += r.entriesRemoved;
        result = "ok";
      } catch (e) {
        result = e instanceof SafeFsError ? `${e.name}:${e.code}` : String(e);
      }
      assert(rm !== null, `round ${round}: rm never started (${calls} calls)`);
      const out = await (rm as Actor).done();
      assert(
        out.count > 0,
        `round ${round}: rm removed nothing: ${out.stderr}`,
      );
      rmEntries += out.count;
      // rm -rf itself may fail ("Directory not empty", "fts_read failed"):
      // it does not expect another deleter. remove() must finish, whoever
      // removed what.
      if (out.code !== 0) rmFailed++;
      assert(
        result === "ok" || result === "NotFoundError:ENOENT",
        `round ${round}: ${result}`,
      );
      assert.equal(listing(root), null);
    }
    console.log(
      `rm -rf removed ${rmEntries} entries and gave up in ${rmFailed} of 10 rounds; remove() removed ${ours} and finished in all`,
    );
  } finally {
    cleanup(w);
  }
});

Deno.test("8 processes running remove() on the same tree at once all return cleanly and the tree is gone", async () => {
  const w = fastDir();
  try {
    const root = join(w, "t");
    concurrentTree(root);
    const go = join(w, "go");
    const ready = join(w, "ready");
    Deno.mkdirSync(ready);
    const script = `
      const { remove } = await import(${JSON.stringify(REMOVE_URL)});
      const [root, go, ready] = Deno.args;
      Deno.writeTextFileSync(ready + "/" + Deno.pid, "");
      while (true) { try { Deno.lstatSync(go); break; } catch { await new Promise((r) => setTimeout(r, 1)); } }
      try { const r = await remove(root); console.log("ok " + r.entriesRemoved); }
      catch (e) { console.log(e.name + ":" + e.code + " " + e.message); }`;
    const kids = Array.from(
      { length: 8 },
      () => spawnDeno(script, [root, go, ready]),
    );
    // Release them together once all 8 are loaded (or one has exited: its
    // output below says why).
    let exited = 0;
    for (const k of kids) k.status.then(() => exited++);
    while (Array.from(Deno.readDirSync(ready)).length < 8 && exited === 0) {
      await new Promise((r) => setTimeout(r, 5));
    }
    Deno.writeTextFileSync(go, "");
    const outs = await Promise.all(kids.map(finished));
    const said = outs.map((o) =>
      o.stdout.trim() || `exit ${o.code}: ${o.stderr}`
    );
    for (const s of said) {
      assert(
        /^ok \d+$/.test(s) || s.startsWith("NotFoundError:ENOENT"),
        said.join("\n"),
      );
    }
    assert.equal(listing(root), null, said.join("\n"));
    // The removers shared the work; no temp name is left anywhere.
    assert.deepEqual(listing(w)!.filter((p) => !p.startsWith("ready/")), [
      "go",
    ]);
  } finally {
    cleanup(w);
  }
});

Deno.test("remove() fails loudly with NotEmptyError, in bounded work, while another process keeps creating files in the tree", async () => {
  const w = diskDir();
  try {
    const root = join(w, "t");
    concurrentTree(root);
    const creator = spawnActor(
      "the creator",
      `const d = Deno.args[0];
       for (let i = 0; ; i++) { try { Deno.writeTextFileSync(d + "/new" + i, "x"); act(); } catch { break; } }`,
      [root],
    );
    // A bound on work, not on time: far more calls than any honest removal of
    // this tree needs, whatever the machine's load.
    const BUDGET = 100_000;
    let calls = 0, atStart = 0, during = 0;
    let outcome: unknown;
    try {
      await creator.waitFor(6); // new0..new5 exist
      outcome = await withHook((c) => {
        if (++calls === 1) atStart = creator.count();
        if (calls > BUDGET) throw new Error(`over ${BUDGET} calls (${c.op})`);
      }, () => remove(root)).then(() => "resolved", (e) => e);
      during = creator.count() - atStart;
    } finally {
      if (creator.alive()) await creator.stop();
      else await creator.done();
    }
    assert(
      calls <= BUDGET,
      `remove() made over ${BUDGET} calls: it does not end`,
    );
    assert(
      outcome instanceof NotEmptyError,
      `expected NotEmptyError, got ${outcome}`,
    );
    // What it names was created while it worked: the creator acted then.
    assert.match(
      outcome.message,
      /entries were created while it was being removed and were left: '.*\/t\/new\d+'/,
    );
    assert(during > 0, "the creator made nothing while remove() ran");
    console.log(
      `remove() vs a creator: ${calls} calls, ${during} files created meanwhile`,
    );
  } finally {
    cleanup(w);
  }
});

Deno.test("remove() never chases entries that keep appearing (temp-named ones too): it lists once more, reports them with NotEmptyError, and never loops", async () => {
  const w = diskDir();
  try {
    const root = join(w, "t");
    mkdirs(root, "a/b");
    files(root, "a/b/f");
    let rootRmdirs = 0;
    const made: string[] = [];
    const e = await withHook((c) => {
      // Before each attempt to remove the root, a new safefs-style temp file
      // appears in it (as if safefs writers kept working there).
      if (c.op === "rmdirAt" && c.path === root) {
        rootRmdirs++;
        const name = `.w.${crypto.randomUUID()}.safefs-tmp`;
        Deno.writeTextFileSync(join(root, name), "x");
        made.push(name);
      }
    }, () => rejects(remove(root), NotEmptyError));
    assert(!(e instanceof MountPointError));
    // New entries are left and reported, not chased: one attempt.
    assert.equal(rootRmdirs, 1);
    assert.equal(e.path, join(root, made[0]));
    assert.match(
      e.message,
      /entries were created while it was being removed and were left: '.*\/t\/\.w\..*\.safefs-tmp'/,
    );
    // Everything else is gone; the new entry is left as it was.
    assert.deepEqual(listing(root), made);
  } finally {
    cleanup(w);
  }
});

// ---------------------------------------------------------------------------
// Race safety (CVE-2022-21658)

Deno.test(
  `a symlink-swap attacker process never makes remove() change anything outside the tree${
    BACKEND === "ffi"
      ? " nor delete anything there"
      : " (path backend: deletions outside are its documented window, counted)"
  }, while a naive check-then-act remover deletes there`,
  async () => {
    const ROUNDS = 400;
    const w = fastDir();
    try {
      const outside = join(w, "outside");
      Deno.mkdirSync(outside);
      const secrets = (): void => {
        for (let i = 0; i < 10; i++) {
          Deno.writeTextFileSync(join(outside, `x${i}`), `secret ${i}`);
        }
      };
      let changedOutside = 0;
      const missing = (): number => {
        let n = 0;
        for (let i = 0; i < 10; i++) {
          try {
            if (
              Deno.readTextFileSync(join(outside, `x${i}`)) !== `secret ${i}`
            ) {
              changedOutside++;
              n++;
            }
          } catch {
            n++;
          }
        }
        return n;
      };
      secrets();
      const tally = {
        safefs: 0,
        naive: 0,
        safefsRounds: 0,
        naiveRounds: 0,
        swaps: 0,
        hit: 0,
        naiveLost: 0,
      };
      const outcomes: Record<string, number> = {};
      // Two attackers: one swaps a directory nested in the tree, one a direct child of the root.
      for (const rel of ["a/sub", "sub"]) {
        const t = join(w, "t");
        const attacker = spawnActor("the attacker", SWAP_ATTACKER, [
          join(t, rel),
          outside,
        ]);
        let stopped = false;
        try {
          let prevStart = 0;
          // ROUNDS / 2 rounds per attacker, one in four by the naive remover;
          // then, while the naive remover has not lost a file yet, more naive
          // rounds (it loses in about one round in six here): the control
          // ends on an event, with a cap far beyond any plausible need.
          for (
            let n = 0;
            n < ROUNDS / 2 || (tally.naiveLost === 0 && n < ROUNDS / 2 + 2000);
            n++
          ) {
            const staging = join(w, `staging`);
            mkdirs(staging, rel);
            // 10 files: unlinked one by one; 24: a leaf removed through a descriptor.
            for (let i = 0; i < (n % 2 ? 10 : 24); i++) {
              files(staging, `${rel}/x${i}`);
            }
            files(staging, "top");
            try {
              Deno.renameSync(t, join(w, "old"));
            } catch {
              // already gone
            }
            cleanup(join(w, "old"));
            Deno.renameSync(staging, t);
            const naive = n % 4 === 0 || n >= ROUNDS / 2;
            // At least one swap since the previous round began (an event, not
            // a delay): the attacker is alive and at work on every round.
            await attacker.waitFor(prevStart + 1);
            const start = attacker.count();
            prevStart = start;
            let outcome = "ok";
            try {
              if (naive) naiveRemove(t);
              else await remove(t);
            } catch (e) {
              outcome = naive
                ? "naive-failed"
                : e instanceof SafeFsError
                ? `${e.name}:${e.code}`
                : `untyped ${e}`;
            }
            if (!naive) outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
            if (!naive && attacker.count() > start) tally.hit++;
            const lost = missing();
            if (naive) {
              tally.naive += lost;
              tally.naiveRounds++;
              if (lost > 0) tally.naiveLost++;
            } else {
              tally.safefs += lost;
              tally.safefsRounds++;
            }
            if (lost > 0) secrets();
          }
          tally.swaps += await attacker.stop(); // throws if it died
          stopped = true;
        } finally {
          if (!stopped) await attacker.stop().catch(() => {});
        }
      }
      console.log(
        `swap attacker: ${tally.swaps} swaps; safefs ${tally.safefsRounds} rounds (attacker swapping during ${tally.hit}), ${tally.safefs} outside files deleted (${
          JSON.stringify(outcomes)
        }); ` +
          `naive ${tally.naiveRounds} rounds, ${tally.naive} deleted (in ${tally.naiveLost} rounds)`,
      );
      assert(
        tally.swaps >= tally.safefsRounds + tally.naiveRounds,
        `only ${tally.swaps} swaps in ${
          tally.safefsRounds + tally.naiveRounds
        } rounds`,
      );
      assert(
        tally.hit >= Math.ceil(tally.safefsRounds / 100),
        `the attacker swapped during only ${tally.hit} of ${tally.safefsRounds} removals`,
      );
      assert.equal(changedOutside, 0, "a file outside was changed");
      if (BACKEND === "ffi") {
        assert.equal(
          tally.safefs,
          0,
          "remove() deleted files outside the tree",
        );
      } else if (tally.safefs > 0) {
        // Each path-backend call names a path the kernel walks again: between
        // the identity check of a directory and the unlink in it, a swap of a
        // directory on the way redirects that unlink (src/_sys_path.ts).
        console.warn(
          `KNOWN LIMITATION (path backend, not asserted): remove() deleted ${tally.safefs} outside files in ${tally.safefsRounds} rounds against a directory-swap attacker (check-then-unlink by path; the ffi backend closes it)`,
        );
      }
      // ENOTDIR: a directory emptied through its descriptor had been replaced
      // by the attacker's symlink when its own rmdir came: typed, and nothing
      // outside touched.
      for (const o of Object.keys(outcomes)) {
        assert(
          /^(ok|NotEmptyError:ENOTEMPTY|SourceChangedError:ESRCCHANGED|NotFoundError:ENOENT|NotADirectoryError:ENOTDIR)$/
            .test(o),
          o,
        );
      }
      assert(
        tally.naive > 0,
        "the attacker never beat the naive remover: the test proves nothing",
      );
    } finally {
      cleanup(w);
    }
  },
);

/**
 * The instants at which a directory of the tree (`t/a/sub`, 30 files) is
 * swapped for a symlink to outside (which holds files of the same names),
 * staged through the seam: before the call named, the real directory is
 * moved out of the tree and the symlink put at its name. `leaf`: `sub` holds
 * files only, so it is removed whole (`removeLeaf`); otherwise it also holds
 * an empty directory, so it is removed entry by entry.
 */
const SWAP_POINTS: {
  name: string;
  at: (c: SysCall, sub: string) => boolean;
  n: number;
  leaf?: boolean;
}[] = [
  {
    name: "between its stat and its open",
    at: (c, sub) => c.op === "openDirAt" && c.path === sub,
    n: 1,
  },
  {
    name: "after its open, before it is listed",
    at: (c, sub) => c.op === "list" && c.path === sub,
    n: 1,
  },
  {
    name: "before the 3rd unlink in it",
    at: (c, sub) => c.op === "unlinkAt" && dirname(c.path!) === sub,
    n: 3,
  },
  {
    name: "after it was emptied, before its rmdir",
    at: (c, sub) => c.op === "rmdirAt" && c.path === sub,
    n: 1,
  },
  {
    name: "right before it is removed whole (a directory of files only)",
    at: (c, sub) => c.op === "removeLeaf" && c.path === sub,
    n: 1,
    leaf: true,
  },
];

for (const point of SWAP_POINTS) {
  Deno.test(`remove() deletes and changes nothing outside when a directory of the tree is swapped for a symlink to outside ${point.name}`, async () => {
    const w = diskDir();
    try {
      mkdirs(w, "outside", "t/a/sub");
      for (let i = 0; i < 30; i++) files(w, `outside/x${i}`, `t/a/sub/x${i}`);
      if (!point.leaf) mkdirs(w, "t/a/sub/nested");
      files(w, "t/a/other", "t/top");
      const sub = join(w, "t/a/sub");
      const before = listing(join(w, "t"))!;
      const outside = snapshot(join(w, "outside"), { times: true });
      let seen = 0;
      let swapped = false;
      const result = await withHook((c) => {
        if (!swapped && point.at(c, sub) && ++seen === point.n) {
          Deno.renameSync(sub, join(w, "sub-moved-by-attacker"));
          Deno.symlinkSync(join(w, "outside"), sub);
          swapped = true;
        }
      }, () => remove(join(w, "t"))).then(
        () => "ok",
        (e) =>
          e instanceof SafeFsError ? `${e.name}:${e.code}` : `untyped ${e}`,
      );
      assert(swapped, "the swap was never staged");
      console.log(`swap ${point.name}: ${result}`);
      assert.deepEqual(
        snapshot(join(w, "outside"), { times: true }),
        outside,
        `${result}: something outside changed`,
      );
      assert.deepEqual(listing(join(w, "outside"))!.length, 30);
      assert(
        /^(ok|SourceChangedError:ESRCCHANGED|NotEmptyError:ENOTEMPTY|NotADirectoryError:ENOTDIR)$/
          .test(result),
        result,
      );
      // What is left of the tree is part of it (the symlink is the
      // attacker's: removed as a link, or left).
      assertRemnant(
        (listing(join(w, "t")) ?? []).filter((p) => p !== "a/sub"),
        before,
        result,
      );
      if (result === "ok") assert.equal(listing(join(w, "t")), null);
    } finally {
      cleanup(w);
    }
  });
}

Deno.test("remove(): a swap staged right before an unlink is caught before that unlink on both backends (no outside file deleted, where the old path engine allowed up to 64)", async () => {
  // The old engine had no unlinkat: a swap between its identity checks (one
  // per 64 entries) and an unlink cost up to 64 unlinks outside. Now every
  // unlink is relative to the held directory (ffi) or preceded by an
  // identity check of its directory (path): a swap made before the call
  // reaches nothing outside.
  const w = diskDir();
  try {
    mkdirs(w, "outside", "t/big/zz");
    for (let i = 0; i < 200; i++) files(w, `outside/x${i}`, `t/big/x${i}`);
    let unlinks = 0;
    let swapped = false;
    const result = await withHook((c) => {
      if (
        c.op === "unlinkAt" && dirname(c.path!) === join(w, "t/big") &&
        ++unlinks === 3 && !swapped
      ) {
        const dir = dirname(c.path!);
        Deno.renameSync(dir, join(w, "big-away"));
        Deno.symlinkSync(join(w, "outside"), dir);
        swapped = true;
      }
    }, () => remove(join(w, "t"))).then(
      () => "ok",
      (e) => e instanceof SafeFsError ? `${e.name}:${e.code}` : `untyped ${e}`,
    );
    assert(swapped);
    const lost = 200 - listing(join(w, "outside"))!.length;
    console.log(
      `swap before an unlink: ${result}, ${lost} outside files deleted`,
    );
    assert.equal(lost, 0, `${lost} outside files deleted`);
    // ffi carries on in the directory it holds (now outside the tree, the
    // attacker's doing), then finds the symlink at its name; path stops.
    assert.equal(
      result,
      BACKEND === "ffi"
        ? "NotADirectoryError:ENOTDIR"
        : "SourceChangedError:ESRCCHANGED",
    );
  } finally {
    cleanup(w);
  }
});

// ---------------------------------------------------------------------------
// Depth

Deno.test(
  BACKEND === "ffi"
    ? "remove() removes a 10,000-level tree (paths far beyond PATH_MAX) without recursion or long paths"
    : "remove() of a 10,000-level tree fails cleanly with ENAMETOOLONG on the path backend (documented: it names paths, and never renames to shorten them)",
  async () => {
    const w = fastDir();
    try {
      const root = join(w, "d");
      deepChain(root, 10_000);
      files(w, "marker");
      const depth = depthOf(root);
      assert.equal(depth.dirs, 10_000);
      assert(
        depth.longestPath > 4 * 4096,
        `deepest path is only ${depth.longestPath} bytes`,
      );
      const absolute: SysCall[] = [];
      const ops = new Set<string>();
      const result = await withHook((c) => {
        ops.add(c.op);
        // The calls that take a path rather than (directory, name).
        if (c.op === "openDir" || c.op === "realPath") absolute.push(c);
      }, () => remove(root)).catch((e) => e);
      if (BACKEND === "ffi") {
        assert(!(result instanceof Error), String(result));
        assert.equal(result.entriesRemoved, 10_000);
        assert.equal(listing(root), null);
        assert.deepEqual(listing(w), ["marker"]);
        // The kernel only ever got a short path (the parent's) and names
        // relative to held descriptors; nothing was renamed.
        assert(absolute.length >= 1);
        for (const c of absolute) {
          assert(
            c.path!.length <= w.length + 1,
            `a ${c.path!.length}-byte path`,
          );
        }
        assert(!ops.has("renameAt"), [...ops].join(","));
      } else {
        // Deno's path calls stop at PATH_MAX: typed, and nothing outside
        // the chain touched; what is left is the chain's own remnant.
        assert(result instanceof SafeFsError, String(result));
        assert.equal(result.code, "ENAMETOOLONG");
        assert.deepEqual(
          listing(w)!.filter((p) => !p.startsWith("d/")),
          ["marker"],
        );
        assert.equal(depthOf(root).dirs, 10_000, "a partial removal");
        assert(!ops.has("renameAt"), [...ops].join(","));
        console.warn(
          "KNOWN LIMITATION (path backend): a tree deeper than PATH_MAX cannot be removed without --allow-ffi (ENAMETOOLONG, nothing removed)",
        );
      }
    } finally {
      cleanup(w);
    }
  },
);

// ---------------------------------------------------------------------------
// Permissions

Deno.test({
  name:
    "remove() as a non-root user empties directories it owns that deny read, write or search, like rm -rf would want",
  ignore: !NOBODY.ok,
  fn: async () => {
    const w = Deno.makeTempDirSync({ prefix: "safefs-test-" });
    try {
      Deno.chmodSync(w, 0o755);
      const root = join(w, "t");
      mkdirs(
        root,
        "ro/inner",
        "noaccess/x",
        "writeonly",
        "searchonly",
        "empty-locked",
      );
      files(
        root,
        "ro/f",
        "ro/inner/g",
        "noaccess/x/h",
        "writeonly/i",
        "searchonly/j",
        "rofile",
      );
      new Deno.Command("chown", { args: ["-R", "65534:65534", w] })
        .outputSync();
      Deno.chmodSync(join(root, "rofile"), 0o444);
      Deno.chmodSync(join(root, "ro/inner"), 0o500);
      Deno.chmodSync(join(root, "ro"), 0o555);
      Deno.chmodSync(join(root, "noaccess/x"), 0o000);
      Deno.chmodSync(join(root, "noaccess"), 0o000);
      Deno.chmodSync(join(root, "writeonly"), 0o300);
      Deno.chmodSync(join(root, "searchonly"), 0o100);
      Deno.chmodSync(join(root, "empty-locked"), 0o000);
      Deno.chmodSync(root, 0o555);
      const entries = listing(root)!.length + 1;
      const out = await runAsNobody(
        (mod) =>
          `import { remove } from ${JSON.stringify(mod)};
try { const r = await remove(Deno.args[0]); console.log("ok " + r.entriesRemoved); }
catch (e) { console.log(e.name + ":" + e.code + " " + e.message); }`,
        [root],
      );
      assert.equal(out.stdout.trim(), `ok ${entries}`, out.stdout + out.stderr);
      assert.equal(listing(root), null);
    } finally {
      new Deno.Command("chmod", { args: ["-R", "u+rwx", w] }).outputSync();
      cleanup(w);
    }
  },
});

// ---------------------------------------------------------------------------
// Abort, progress, failure

function bigTree(root: string, dirs: number, perDir: number): void {
  for (let d = 0; d < dirs; d++) {
    mkdirs(root, `d${d}/e`);
    for (let f = 0; f < perDir; f++) {
      Deno.writeFileSync(join(root, `d${d}/e/f${f}`), new Uint8Array());
    }
  }
}

Deno.test("remove() with an already aborted signal throws AbortedError and changes nothing", async () => {
  const w = diskDir();
  try {
    const root = join(w, "t");
    bigTree(root, 3, 3);
    const before = listing(root);
    const ac = new AbortController();
    ac.abort(new Error("stop"));
    const e = await rejects(remove(root, { signal: ac.signal }), AbortedError);
    assert.equal(e.code, "ABORT_ERR");
    assert.deepEqual(listing(root), before);
  } finally {
    cleanup(w);
  }
});

Deno.test("remove() aborted midway stops at the next entry, leaving the rest of the tree under its original names", async () => {
  const w = diskDir();
  try {
    const root = join(w, "t");
    bigTree(root, 20, 50);
    // An empty directory in each: removed entry by entry, not whole.
    for (let d = 0; d < 20; d++) mkdirs(root, `d${d}/e/empty`);
    const before = listing(root)!;
    const ac = new AbortController();
    let unlinks = 0, rmdirs = 0;
    const after: SysCall[] = [];
    const e = await withHook((c) => {
      if (ac.signal.aborted) after.push(c);
      if (c.op === "rmdirAt") rmdirs++;
      // Abort in the middle of the removal (the 300th of 1000 files).
      if (c.op === "unlinkAt" && ++unlinks === 300) ac.abort();
    }, () => rejects(remove(root, { signal: ac.signal }), AbortedError));
    assert.equal(e.code, "ABORT_ERR");
    const now = listing(root)!;
    assert(
      now.length > 0 && now.length < before.length,
      `${now.length} of ${before.length} left`,
    );
    // The unlink in flight when the signal fired ran; after it, at most the
    // rmdir of directories that unlink left empty (one per level), then
    // nothing: no other entry is touched, no fsync made.
    assert(after.length <= 3, showCalls(after));
    for (const c of after) assert.equal(c.op, "rmdirAt", showCalls(after));
    assert.equal(unlinks, 300);
    assert.equal(before.length - now.length, unlinks + rmdirs);
    assert.deepEqual(tempsUnder(w), []);
    assertRemnant(now, before, "after abort");
    // Whole directories that were not reached are intact.
    assert(now.includes("d0/e/f49") || now.includes("d19/e/f49"));
  } finally {
    cleanup(w);
  }
});

Deno.test("remove() aborted while it removes directories of files whole starts no other removal, and leaves the directories not reached intact", async () => {
  const w = diskDir();
  try {
    const root = join(w, "t");
    bigTree(root, 40, 20);
    const before = listing(root)!;
    const ac = new AbortController();
    let leaves = 0;
    const after: SysCall[] = [];
    const e = await withHook((c) => {
      if (ac.signal.aborted) after.push(c);
      if (c.op === "removeLeaf" && ++leaves === 10) ac.abort();
    }, () => rejects(remove(root, { signal: ac.signal }), AbortedError));
    assert.equal(e.code, "ABORT_ERR");
    assert.equal(leaves, 10, "the directories were not removed whole");
    // After the abort, at most the rmdir of the directory the last whole
    // removal left empty (as after an unlink), and nothing else.
    assert(after.length <= 1, showCalls(after));
    for (const c of after) assert.equal(c.op, "rmdirAt", showCalls(after));
    const now = listing(root)!;
    assertRemnant(now, before, "after abort");
    // Directories removed whole are gone whole; the others are untouched.
    let intact = 0;
    for (let d = 0; d < 40; d++) {
      const files = now.filter((p) => p.startsWith(`d${d}/e/f`)).length;
      assert(files === 0 || files === 20, `d${d}/e holds ${files} files`);
      if (files === 20) intact++;
    }
    assert.equal(intact, 40 - 10);
  } finally {
    cleanup(w);
  }
});

Deno.test("remove() honours an abort raised by a timer while it works (it yields to the event loop), and stops within a bounded number of calls", async () => {
  // A timer (a macrotask, like AbortSignal.timeout's) is armed mid-removal:
  // it can only fire if remove() yields to the event loop.
  // Promptness is counted in filesystem calls made after the abort, not in
  // milliseconds, so it holds on a loaded machine.
  const w = fastDir();
  try {
    const root = join(w, "t");
    bigTree(root, 100, 300);
    const total = listing(root)!.length + 1;
    const ac = new AbortController();
    // The timer is armed at the 300th filesystem call (not at a progress
    // report: a fast removal may end before its first one, 100 ms in).
    const t = abortTimer(ac, 300);
    const e = await withHook(t.hook, () =>
      rejects(
        remove(root, { signal: ac.signal }),
        AbortedError,
      ));
    const callsAfter = t.after;
    assert.equal(e.code, "ABORT_ERR");
    assert(t.armed, "remove() made fewer than 300 calls");
    assert(t.fired, "the timer never fired while remove() ran");
    const left = listing(root);
    assert(
      left !== null && left.length > 0,
      "the removal finished before the timer fired: remove() does not yield",
    );
    console.log(
      `aborted by a timer: ${callsAfter} calls after the abort, ${
        left.length + 1
      } of ${total} entries left`,
    );
    // After an abort, remove() only settles what is in flight (the rmdir of
    // a directory just emptied): a few calls per directory at most.
    const dirs = 1 + 100 * 2;
    assert(
      callsAfter <= 5 * dirs,
      `remove() made ${callsAfter} filesystem calls after the abort (${dirs} directories)`,
    );
    assert.deepEqual(tempsUnder(w), []);
  } finally {
    cleanup(w);
  }
});

Deno.test("remove() reports progress with a growing count that ends at the result's count", async () => {
  const w = fastDir();
  try {
    const root = join(w, "t");
    bigTree(root, 40, 250);
    const seen: number[] = [];
    const r = await remove(root, {
      onProgress: (p) => {
        seen.push(p.entriesRemoved);
        assert(p.path.startsWith(root), p.path);
      },
    });
    assert(seen.length >= 1);
    for (let i = 1; i < seen.length; i++) assert(seen[i] >= seen[i - 1]);
    assert.equal(seen.at(-1), r.entriesRemoved);
    assert.equal(r.entriesRemoved, 40 * 252 + 1);
  } finally {
    cleanup(w);
  }
});

Deno.test("remove() killed with SIGKILL midway leaves only original names (it never renames anything); running it again finishes", async () => {
  const w = fastDir();
  try {
    const root = join(w, "t");
    for (let d = 0; d < 30; d++) {
      mkdirs(root, `d${d}/e/f`);
      for (let f = 0; f < 150; f++) {
        Deno.writeFileSync(join(root, `d${d}/e/f/x${f}`), new Uint8Array());
        Deno.writeFileSync(join(root, `d${d}/e/y${f}`), new Uint8Array());
      }
    }
    const before = new Set(listing(root));
    // The child freezes (its whole isolate, so no more calls are started)
    // right before its 300th filesystem call, counted as an action; the kill
    // lands there: in the middle of the removal, on every run, however fast
    // the removal goes (a progress report, every 100 ms, may never come
    // before the end of a fast one).
    const child = spawnActor(
      "the remover",
      `const { remove } = await import(${JSON.stringify(REMOVE_URL)});
       const { setSysHook } = await import(${JSON.stringify(SYS_URL)});
       const nap = new Int32Array(new SharedArrayBuffer(4));
       let calls = 0;
       setSysHook(() => {
         if (++calls === Number(Deno.args[1])) {
           act();
           while (true) Atomics.wait(nap, 0, 0);
         }
       });
       await remove(Deno.args[0]);`,
      [root, "300"],
    );
    await child.waitFor(1);
    await child.stop();
    const left = listing(root)!;
    assert(left.length > 0, "nothing was left");
    for (const p of left) {
      const parts = p.replace(/\/$/, "").split("/");
      assert(!parts.some(isTempName), `a temp name: ${p}`);
      assert(before.has(p), `not an original path: ${p}`);
    }
    const r = await remove(root);
    assert(r.entriesRemoved > 0);
    assert.equal(listing(root), null);
  } finally {
    cleanup(w);
  }
});

Deno.test("remove() failing (EIO) at any of its calls throws a typed error and leaves the rest of the tree under its original names", async () => {
  const w = fastDir();
  try {
    const root = join(w, "t");
    bigTree(root, 4, 20);
    mkdirs(root, "d1/e/deeper/still", "d2/x");
    files(root, "d1/e/deeper/still/z", "d2/x/y", "top");
    Deno.symlinkSync("/etc", join(root, "d2/etc-link"));
    const before = listing(root)!;
    const copy = (to: string): void => {
      assert(
        new Deno.Command("cp", { args: ["-a", root, to] }).outputSync().success,
      );
    };
    // A clean run gives the sequence of seam calls.
    const calls: string[] = [];
    copy(join(w, "clean"));
    await withHook(
      (c) => void calls.push(c.op),
      () => remove(join(w, "clean")),
    );
    // Every kind of call a removal makes, and never a rename.
    for (const op of ["openDirAt", "list", "statAt", "unlinkAt", "rmdirAt"]) {
      assert(calls.includes(op), `${op} not in ${calls}`);
    }
    assert(!calls.includes("renameAt"));
    // The removal is made durable: one fsync, of the parent, at the end.
    assert.equal(calls.filter((op) => op === "fsync").length, 1);
    assert.equal(calls.at(-1), "fsync");
    let tried = 0;
    for (let i = 0; i < calls.length; i++) {
      const t = join(w, `t${i}`);
      copy(t);
      let n = 0;
      let hit = "";
      const fail = (c: SysCall): void => {
        if (n++ === i) {
          hit = c.op;
          throw EIO();
        }
      };
      tried++;
      if (calls[i] === "removeLeaf") {
        // A directory of files that fails to go whole is removed entry by
        // entry instead: the removal completes.
        await withHook(fail, () => remove(t));
        assert.equal(hit, "removeLeaf");
        assert.equal(listing(t), null, `call ${i}: the tree is still there`);
        continue;
      }
      const e = await withHook(fail, () => rejects(remove(t), SafeFsError));
      assert.equal(
        hit,
        calls[i],
        `call ${i}: the calls differ from the clean run`,
      );
      assert.equal(e.code, "EIO", `call ${i} (${calls[i]}): ${e.message}`);
      assert.deepEqual(
        tempsUnder(w),
        [],
        `call ${i} (${calls[i]}): temp names left`,
      );
      assertRemnant(listing(t), before, `call ${i} (${calls[i]})`);
      cleanup(t);
    }
    assert.equal(tried, calls.length);
  } finally {
    cleanup(w);
  }
});

Deno.test("remove() checks Deno permissions for the path and its parent before changing anything (G8)", async () => {
  const w = diskDir();
  try {
    const root = join(w, "t");
    bigTree(root, 3, 20);
    const before = listing(root);
    // The subprocess runs on this test's backend (backendFlags), and says so.
    const script = `const { remove } = await import(${
      JSON.stringify(REMOVE_URL)
    });
      const { feat } = await import(${JSON.stringify(SYS_URL)});
      if (feat.name !== ${
      JSON.stringify(BACKEND)
    }) throw new Error("backend " + feat.name);
      try { const r = await remove(Deno.args[0]); console.log("ok " + r.entriesRemoved); }
      catch (e) { console.log(e.name + ":" + e.code + " " + (e.flag ?? "")); }`;
    const run = async (flags: string[]): Promise<string> => {
      const file = join(diskDir(), "script.ts");
      Deno.writeTextFileSync(file, script);
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--no-prompt",
          `--allow-read=${file}`,
          ...backendFlags(),
          ...flags,
          file,
          root,
        ],
        stdin: "null",
      }).output().finally(() => cleanup(dirname(file)));
      return new TextDecoder().decode(out.stdout).trim() ||
        new TextDecoder().decode(out.stderr);
    };
    // Write on the tree but not on its parent: refused up front, nothing removed.
    assert.equal(
      await run([`--allow-read=${w}`, `--allow-write=${root}`]),
      `PermissionError:ENOTCAPABLE --allow-write=${w}`,
    );
    assert.deepEqual(listing(root), before);
    assert.equal(
      await run([`--allow-read=${w}`]),
      `PermissionError:ENOTCAPABLE --allow-write=${root}`,
    );
    assert.deepEqual(listing(root), before);
    // Scoped to the parent: enough.
    assert.equal(
      await run([`--allow-read=${w}`, `--allow-write=${w}`]),
      `ok ${before!.length + 1}`,
    );
    assert.equal(listing(root), null);
  } finally {
    cleanup(w);
  }
});
