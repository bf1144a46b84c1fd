// Copyright 2026 the safefs authors. MIT license.
// sweep() (issue 4, contract G7): removes the leftovers of crashed safefs
// operations, and nothing else.
import assert from "node:assert/strict";
import { join } from "node:path";
import { setSysHook } from "../src/_sys.ts";
import {
  InvalidArgumentError,
  NotFoundError,
  SafeFsError,
} from "../src/errors.ts";
import { MountPointError } from "../src/remove.ts";
import { sweep } from "../src/sweep.ts";
import { CAN_MOUNT, cleanup, diskDir, mountTmpfs, umount } from "./_helpers.ts";
import { files, listing, mkdirs, rmRfSync } from "./_remove_helpers.ts";

const HOUR = 3_600_000;

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
    for (const e of Deno.readDirSync(dir)) age(join(dir, e.name), 2 * HOUR);
    for (const e of Deno.readDirSync(join(dir, "nested"))) {
      age(join(dir, "nested", e.name), 2 * HOUR);
    }
    const keep = listing(dir)!.filter((p) =>
      ![tf, tl, tt].includes(p.split("/")[0].replace(/\/$/, ""))
    );
    const outsideBefore = listing(join(w, "outside"));

    const r = await sweep(dir);
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

Deno.test("sweep() leaves temps younger than olderThan (1 hour by default); olderThan: 0 removes every temp", async () => {
  const w = diskDir();
  try {
    const young = temp("young");
    const oldish = temp("oldish");
    const old = temp("old");
    files(w, young, oldish, old);
    age(join(w, oldish), 20_000);
    age(join(w, old), HOUR + 60_000);
    assert.deepEqual((await sweep(w)).removed, [join(w, old)]);
    assert.deepEqual((await sweep(w, { olderThan: 10_000 })).removed, [
      join(w, oldish),
    ]);
    assert.deepEqual((await sweep(w, { olderThan: 10_000 })).removed, []);
    assert.deepEqual(listing(w), [young]);
    assert.deepEqual((await sweep(w, { olderThan: 0 })).removed, [
      join(w, young),
    ]);
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
        call.op === "lstat" &&
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
