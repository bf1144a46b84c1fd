// Copyright 2026 the safefs authors. MIT license.
// sweep() (issue 4, contract G7): removes the leftovers of crashed safefs
// operations, and nothing else. Leftovers are aged by their ctime (which no
// copy can set to the past, unlike the mtime), and a temp a live operation
// holds (flock) is never removed, whatever its age.
import assert from "node:assert/strict";
import * as nodeFs from "node:fs";
import { join } from "node:path";
import { setSysHook } from "../src/_sys.ts";
import {
  InvalidArgumentError,
  MountPointError,
  NotFoundError,
  SafeFsError,
} from "../src/errors.ts";
import { sweep } from "../src/sweep.ts";
import {
  backendFlags,
  CAN_MOUNT,
  cleanup,
  DENO,
  diskDir,
  isDirFsync,
  isDurabilityCall,
  makeTree,
  mountTmpfs,
  recordCalls,
  umount,
} from "./_helpers.ts";
import { files, listing, mkdirs, rmRfSync } from "./_remove_helpers.ts";

const HOUR = 3_600_000;

/** The ctime of `path` (not followed) in milliseconds, to the nanosecond. */
function ctimeMs(path: string): number {
  return Number(nodeFs.lstatSync(path, { bigint: true }).ctimeNs) / 1e6;
}

/**
 * Runs `fn` with the clock (`Date.now`, which sweep() ages leftovers by)
 * set to `at` (milliseconds since the epoch). Leftovers get their ctime
 * when they are made and no one can set it to the past: the clock is moved
 * instead.
 */
async function at<T>(at: number, fn: () => Promise<T>): Promise<T> {
  const real = Date.now;
  Date.now = () => at;
  try {
    return await fn();
  } finally {
    Date.now = real;
  }
}

/**
 * Waits until the ctime of a new file in `dir` is more than `ms` after
 * `after` (the kernel's clock, as the filesystem stamps it).
 */
async function ctimeAfter(
  dir: string,
  after: number,
  ms: number,
): Promise<void> {
  const probe = join(dir, ".probe");
  for (;;) {
    Deno.writeTextFileSync(probe, "");
    const c = ctimeMs(probe);
    Deno.removeSync(probe);
    if (c - after > ms) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A safefs temp name for `name`. */
function temp(name: string): string {
  return `.${name}.${crypto.randomUUID()}.safefs-tmp`;
}

/** Sets the entry's own mtime (not a symlink's target's) to `msAgo` in the past. */
function age(path: string, msAgo: number): void {
  const secs = Math.floor((Date.now() - msAgo) / 1000);
  const out = new Deno.Command("touch", {
    args: ["-h", "-d", `@${secs}`, "--", path],
    stdin: "null",
  }).outputSync();
  assert(out.success, `touch -h ${path} failed`);
}

Deno.test("sweep() removes old safefs temp files, symlinks and whole temp trees, and nothing else", async () => {
  const w = diskDir();
  try {
    const dir = join(w, "d");
    mkdirs(w, "d", "outside/sub");
    files(w, "outside/o", "outside/sub/p");
    // Leftovers: a file, a symlink to an outside directory, a whole tree
    // (holding a symlink that leads outside).
    const tf = temp("report.pdf");
    const tl = temp("link");
    const tt = temp("photos");
    files(dir, tf);
    Deno.symlinkSync(join(w, "outside"), join(dir, tl));
    mkdirs(dir, `${tt}/2024/01`);
    files(dir, `${tt}/2024/01/a.jpg`);
    Deno.symlinkSync(join(w, "outside/sub"), join(dir, `${tt}/2024/out`));
    // Not leftovers: real files, look-alikes, and temps below the top level.
    files(
      dir,
      "report.pdf",
      ".report.pdf.not-a-uuid.safefs-tmp",
      "x.safefs-tmp",
    );
    files(dir, `.x.${crypto.randomUUID()}.safefs-tmp.bak`);
    mkdirs(dir, "nested");
    files(dir, `nested/${temp("deep")}`);
    // Two hours later (by the ctime, which is what sweep() ages by).
    const later = ctimeMs(join(dir, "report.pdf")) + 2 * HOUR;
    const keep = listing(dir)!.filter((p) =>
      ![tf, tl, tt].includes(p.split("/")[0].replace(/\/$/, ""))
    );
    const outsideBefore = listing(join(w, "outside"));

    const r = await at(later, () => sweep(dir));
    assert.deepEqual(r.live, []);
    assert.deepEqual(
      r.removed,
      [join(dir, tf), join(dir, tl), join(dir, tt)].sort(),
    );
    assert.deepEqual(listing(dir), keep);
    assert.deepEqual(listing(join(w, "outside")), outsideBefore);
  } finally {
    cleanup(w);
  }
});

Deno.test("sweep() leaves temps younger than olderThan (1 hour by default) by their ctime; olderThan: 0 removes every temp", async () => {
  const w = diskDir();
  try {
    // Made over two seconds or so, a second and more apart (the path
    // backend sees ctimes to the second): old, then oldish, then young.
    const young = temp("young");
    const oldish = temp("oldish");
    const old = temp("old");
    files(w, old);
    const cOld = ctimeMs(join(w, old));
    await ctimeAfter(w, cOld, 1_100);
    files(w, oldish);
    const cOldish = ctimeMs(join(w, oldish));
    await ctimeAfter(w, cOldish, 1_100);
    files(w, young);
    const cYoung = ctimeMs(join(w, young));
    // The clock is set so that every age is at least a second away from the
    // bound, whichever precision the backend reads ctimes with.
    // An hour after oldish was made, less a second: only old is older.
    const t1 = cOldish + HOUR - 1_000;
    assert.deepEqual((await at(t1, () => sweep(w))).removed, [join(w, old)]);
    // Ten seconds after young was made, less a second: oldish is older.
    const t2 = cYoung + 10_000 - 1_000;
    assert.deepEqual(
      (await at(t2, () => sweep(w, { olderThan: 10_000 }))).removed,
      [join(w, oldish)],
    );
    assert.deepEqual(
      (await at(t2, () => sweep(w, { olderThan: 10_000 }))).removed,
      [],
    );
    assert.deepEqual(listing(w), [young]);
    assert.deepEqual((await sweep(w, { olderThan: 0 })).removed, [
      join(w, young),
    ]);
    assert.deepEqual(listing(w), []);
  } finally {
    cleanup(w);
  }
});

Deno.test("sweep() ages leftovers by their ctime, not their mtime: a copy's temp keeps the source's old times", async () => {
  const w = diskDir();
  try {
    const t = temp("copied");
    const d = temp("copied-tree");
    files(w, t);
    mkdirs(w, `${d}/sub`);
    files(w, `${d}/sub/f`);
    // Times a copy gives its temp: a source's, years old.
    for (const p of [t, d, `${d}/sub`, `${d}/sub/f`]) {
      age(join(w, p), 5 * 365 * 24 * HOUR);
    }
    assert(Deno.lstatSync(join(w, t)).mtime!.getTime() < Date.now() - HOUR);
    const r = await sweep(w);
    assert.deepEqual(r.removed, [], "a fresh leftover was taken by its mtime");
    assert.deepEqual(listing(w)!.length, 4);
    // and two hours later by the ctime, it is a leftover
    const later = Math.max(ctimeMs(join(w, t)), ctimeMs(join(w, d))) +
      2 * HOUR;
    assert.deepEqual(
      (await at(later, () => sweep(w))).removed,
      [join(w, t), join(w, d)].sort(),
    );
    assert.deepEqual(listing(w), []);
  } finally {
    cleanup(w);
  }
});

Deno.test("sweep() with dryRun lists what it would remove and changes nothing", async () => {
  const w = diskDir();
  try {
    const a = temp("a");
    const b = temp("b");
    files(w, a, "keep");
    mkdirs(w, `${b}/x`);
    const before = listing(w);
    const r = await sweep(w, { olderThan: 0, dryRun: true });
    assert.deepEqual(r.removed, [join(w, a), join(w, b)].sort());
    assert.deepEqual(listing(w), before);
  } finally {
    cleanup(w);
  }
});

Deno.test("sweep() of a missing directory throws NotFoundError, of a file ENOTDIR, and refuses a bad olderThan", async () => {
  const w = diskDir();
  try {
    await assert.rejects(sweep(join(w, "nope")), NotFoundError);
    files(w, "f");
    await assert.rejects(
      sweep(join(w, "f")),
      (e) => e instanceof SafeFsError && e.code === "ENOTDIR",
    );
    for (const bad of [-1, NaN, "10" as unknown as number]) {
      await assert.rejects(sweep(w, { olderThan: bad }), InvalidArgumentError);
    }
    assert.deepEqual(listing(w), ["f"]);
  } finally {
    cleanup(w);
  }
});

Deno.test("sweep() skips leftovers another process removes first, and does not list them", async () => {
  const w = diskDir();
  try {
    const a = temp("a");
    const b = temp("b");
    const c = temp("c");
    files(w, a, c);
    mkdirs(w, `${b}/deep/er`);
    let n = 0;
    const restore = setSysHook((call) => {
      // Another sweeper (`rm -rf`, another process) takes `b` and `c` just
      // before we look at them.
      if (
        call.op === "statAt" &&
        (call.path === join(w, b) || call.path === join(w, c)) && n++ < 2
      ) {
        rmRfSync(call.path!);
      }
    });
    let r;
    try {
      r = await sweep(w, { olderThan: 0 });
    } finally {
      restore();
    }
    assert.equal(n, 2);
    assert.deepEqual(r.removed, [join(w, a)]);
    assert.deepEqual(listing(w), []);
  } finally {
    cleanup(w);
  }
});

Deno.test({
  name:
    "sweep() removes every other leftover, then reports a temp tree it could not finish because of a mount point inside",
  ignore: !CAN_MOUNT,
  fn: async () => {
    const w = diskDir();
    const t1 = temp("with-mount");
    const t2 = temp("plain");
    mkdirs(w, `${t1}/m`, `${t1}/other`, `${t2}/x`);
    files(w, `${t1}/other/f`, `${t2}/x/f`);
    const mnt = join(w, t1, "m");
    mountTmpfs(mnt, "size=1m");
    try {
      files(mnt, "inside");
      await assert.rejects(sweep(w, { olderThan: 0 }), MountPointError);
      assert.deepEqual(listing(w), [`${t1}/`, `${t1}/m/`, `${t1}/m/inside`]);
    } finally {
      umount(mnt);
      cleanup(w);
    }
  },
});

Deno.test("sweep() checks Deno permissions before removing anything; dryRun needs only read (G8)", async () => {
  const w = diskDir();
  let scriptDir = "";
  try {
    const t = temp("left");
    files(w, t);
    const url = new URL("../src/sweep.ts", import.meta.url).href;
    scriptDir = Deno.makeTempDirSync({ prefix: "safefs-test-" });
    const script = join(scriptDir, "script.ts");
    Deno.writeTextFileSync(
      script,
      `const { sweep } = await import(${JSON.stringify(url)});
       try { const r = await sweep(Deno.args[0], { olderThan: 0, dryRun: Deno.args[1] === "dry" }); console.log("ok " + r.removed.length); }
       catch (e) { console.log(e.name + ":" + e.code + " " + (e.flag ?? "")); }`,
    );
    const run = async (flags: string[], dry: boolean): Promise<string> => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--no-prompt",
          `--allow-read=${script}`,
          ...backendFlags(),
          ...flags,
          script,
          w,
          dry ? "dry" : "wet",
        ],
        stdin: "null",
      }).output();
      return new TextDecoder().decode(out.stdout).trim() ||
        new TextDecoder().decode(out.stderr);
    };
    assert.equal(await run([`--allow-read=${w}`], true), "ok 1");
    assert.equal(
      await run([`--allow-read=${w}`], false),
      `PermissionError:ENOTCAPABLE --allow-write=${w}`,
    );
    assert.deepEqual(listing(w), [t]);
    assert.equal(
      await run([`--allow-read=${w}`, `--allow-write=${w}`], false),
      "ok 1",
    );
    assert.deepEqual(listing(w), []);
  } finally {
    cleanup(w, scriptDir);
  }
});

/** Reads `child`'s stdout until a line equal to `want` (or the end). */
async function until(
  lines: ReadableStreamDefaultReader<string>,
  want: string,
): Promise<string> {
  let text = "";
  while (!text.split("\n").includes(want)) {
    const { value, done } = await lines.read();
    if (done) break;
    text += value;
  }
  return text;
}

Deno.test("sweep() leaves a temp another process holds locked, lists it in live, and removes it once that process is gone", async () => {
  const w = diskDir();
  try {
    const f = temp("held-file");
    const d = temp("held-tree");
    const free = temp("free");
    files(w, f, free);
    mkdirs(w, `${d}/sub`);
    files(w, `${d}/sub/x`);
    const holder = new Deno.Command(DENO, {
      args: [
        "eval",
        `const held = Deno.args.map((p) => { const h = Deno.openSync(p, { read: true }); h.lockSync(true); return h; });
         console.log("locked");
         Deno.stdin.readSync(new Uint8Array(1));`,
        join(w, f),
        join(w, d),
      ],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const lines = holder.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    try {
      assert((await until(lines, "locked")).includes("locked"));
      // Whatever their age.
      const later = ctimeMs(join(w, f)) + 10 * 365 * 24 * HOUR;
      const r = await at(later, () => sweep(w, { olderThan: 0 }));
      assert.deepEqual(r.removed, [join(w, free)]);
      assert.deepEqual(r.live, [join(w, f), join(w, d)].sort());
      assert.deepEqual(
        listing(w),
        [f, `${d}/`, `${d}/sub/`, `${d}/sub/x`].sort(),
      );
      const dry = await at(
        later,
        () => sweep(w, { olderThan: 0, dryRun: true }),
      );
      assert.deepEqual(dry.removed, []);
      assert.deepEqual(dry.live, [join(w, f), join(w, d)].sort());
    } finally {
      await holder.stdin.close();
      await until(lines, "");
      await holder.status;
    }
    // The holder is gone: so are its locks.
    const r = await sweep(w, { olderThan: 0 });
    assert.deepEqual(r.removed, [join(w, f), join(w, d)].sort());
    assert.deepEqual(r.live, []);
    assert.deepEqual(listing(w), []);
  } finally {
    cleanup(w);
  }
});

/**
 * A copy in another process (on this process's backend: -A), held still
 * once its data is being written into its temp.
 */
const BLOCKED_COPY = `import { copy } from ${
  JSON.stringify(new URL("../mod.ts", import.meta.url).href)
};
import { setSysHook } from ${
  JSON.stringify(new URL("../src/_sys.ts", import.meta.url).href)
};
let held = false;
setSysHook((c) => {
  if (!held && (c.op === "write" || c.op === "copyRange")) {
    held = true;
    console.log("building");
    Deno.stdin.readSync(new Uint8Array(1));
  }
});
const r = await copy(Deno.args[0], Deno.args[1]);
console.log(r.entries);
console.log("done");`;

Deno.test("sweep() never removes the temp of a live copy, however old its copied times and however late the clock; once the copy dies, it does", async () => {
  const w = diskDir();
  try {
    makeTree(join(w, "src"));
    // Years-old times: the temp's root gets them too.
    for (const p of ["src", "src/sub", "src/sub/deeper"]) {
      Deno.utimeSync(join(w, p), new Date(1e12), new Date(1e12));
    }
    const script = join(w, "copier.ts");
    Deno.writeTextFileSync(script, BLOCKED_COPY);
    const out = join(w, "out");
    Deno.mkdirSync(out);
    for (const ending of ["finishes", "is killed"]) {
      const child = new Deno.Command(DENO, {
        args: ["run", "-A", "--quiet", script, join(w, "src"), join(out, "c")],
        stdin: "piped",
        stdout: "piped",
      }).spawn();
      const lines = child.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      let text = "";
      try {
        text = await until(lines, "building");
        assert(text.includes("building"), `the copy never started: ${text}`);
        const tmp = Array.from(Deno.readDirSync(out), (e) => e.name);
        assert.equal(tmp.length, 1, `one temp: ${tmp}`);
        const held = join(out, tmp[0]);
        const later = Date.now() + 10 * 365 * 24 * HOUR;
        for (const dryRun of [true, false]) {
          const r = await at(later, () => sweep(out, { olderThan: 0, dryRun }));
          assert.deepEqual(r.removed, [], `${ending}: a live temp was taken`);
          assert.deepEqual(r.live, [held]);
        }
        assert(Deno.lstatSync(held).isDirectory);
        if (ending === "is killed") child.kill("SIGKILL");
        else {
          const wr = child.stdin.getWriter();
          await wr.write(new Uint8Array([1]));
          await wr.close();
        }
        text += await until(lines, "done");
      } finally {
        if (ending === "is killed") {
          try {
            await child.stdin.close();
          } catch {
            // gone with the process
          }
        }
        await child.status;
      }
      if (ending === "finishes") {
        assert(text.includes("done"), text);
        assert.deepEqual(
          listing(join(out, "c")),
          listing(join(w, "src")),
          "the copy completed",
        );
        assert.deepEqual((await sweep(out, { olderThan: 0 })).removed, []);
        Deno.removeSync(join(out, "c"), { recursive: true });
      } else {
        // Its lock died with it: a leftover now, which sweep() takes.
        const [left] = Array.from(Deno.readDirSync(out), (e) => e.name);
        const r = await sweep(out, { olderThan: 0 });
        assert.deepEqual(r.removed, [join(out, left)]);
        assert.deepEqual(r.live, []);
        assert.deepEqual(listing(out), []);
      }
    }
  } finally {
    cleanup(w);
  }
});

Deno.test("sweep() makes its removals durable with one fsync of the directory, and fsyncs nothing when it removes nothing", async () => {
  const w = diskDir();
  try {
    files(w, temp("a"), temp("b"), "keep");
    mkdirs(w, `${temp("c")}/x/y`);
    const dry = await recordCalls(() =>
      sweep(w, { olderThan: 0, dryRun: true })
    );
    assert.equal(dry.calls.filter(isDurabilityCall).length, 0);
    const { calls, result } = await recordCalls(() =>
      sweep(w, { olderThan: 0 })
    );
    assert.equal((result as { removed: string[] }).removed.length, 3);
    const syncs = calls.filter(isDurabilityCall);
    assert.equal(syncs.length, 1);
    assert(isDirFsync(syncs[0], w));
    assert.equal(calls.at(-1), syncs[0], "the fsync comes last");
    const none = await recordCalls(() => sweep(w, { olderThan: 0 }));
    assert.deepEqual((none.result as { removed: string[] }).removed, []);
    assert.equal(none.calls.filter(isDurabilityCall).length, 0);
    assert.deepEqual(listing(w), ["keep"]);
  } finally {
    cleanup(w);
  }
});

Deno.test("sweep() leaves a temp that its operation publishes between sweep's open and sweep's lock, and reports no error", async () => {
  const w = diskDir();
  try {
    const name = temp("racing");
    mkdirs(w, `${name}/sub`);
    files(w, `${name}/sub/f`);
    let published = false;
    // Right after sweep locked the temp, its operation publishes it (a
    // rename away) and lets go of its own lock.
    const restore = setSysHook((c) => {
      if (c.op !== "lock" || published || !c.path?.endsWith(name)) return;
      return (err) => {
        if (err !== null) return;
        Deno.renameSync(join(w, name), join(w, "published"));
        published = true;
      };
    });
    let r;
    try {
      r = await sweep(w, { olderThan: 0 });
    } finally {
      restore();
    }
    assert(published, "the operation never published");
    assert.deepEqual(r.removed, []);
    assert.deepEqual(listing(w), [
      "published/",
      "published/sub/",
      "published/sub/f",
    ]);
  } finally {
    cleanup(w);
  }
});
