// Copyright 2026 the safefs authors. MIT license.
// sweep() never takes the temp of a live operation, and does take the temp
// of a dead one (issue 12 item 1; G7 as amended: liveness must not rest on
// mtime, and copies keep the source's old times).
//
// With real processes:
// - other processes loop sweep(destDir), one with the default options, one
//   with `olderThan: 0`, while this one moves and copies trees of 10 dirs x
//   100 files whose times are two days old, and copies an old 32 MiB file,
//   into destDir: every call resolves with the complete destination, and
//   the sweepers, shown to have swept (and the `olderThan: 0` one to have
//   found the temps live), removed nothing;
// - a process parked in the middle of a copy (a seam hook in it blocks at a
//   chosen call) holds its temp: sweep({ olderThan: 0 }) leaves it, as live;
//   once the process is killed with -9 the same sweep removes it, and the
//   default sweep removes it once its ctime is old (faked: a small
//   `olderThan` after a short wait);
// - parked in the instant between creating its temp and locking it, the
//   operation must still complete when a sweep runs then.
// SAFEFS_SWEEP_RUNS sets the rounds of the first test (2 in CI, 8 with
// SAFEFS_RELIABILITY=full).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { copy } from "../src/copy.ts";
import { move } from "../src/move.ts";
import { sweep } from "../src/sweep.ts";
import { isClaimName, isTempName } from "../src/_temp.ts";
import { cleanup, DENO, diskDir, HAS_SHM, shmDir } from "./_helpers.ts";
import { BACKEND, FULL } from "./_reliability.ts";
import { data } from "./_scenarios.ts";

const RUNS = Number(Deno.env.get("SAFEFS_SWEEP_RUNS") ?? (FULL ? 8 : 2));
const TWO_DAYS_S = 2 * 24 * 3600;
const SWEEP_URL = new URL("../src/sweep.ts", import.meta.url).href;
const COPY_URL = new URL("../src/copy.ts", import.meta.url).href;
const SYS_URL = new URL("../src/_sys.ts", import.meta.url).href;
const TEMP_URL = new URL("../src/_temp.ts", import.meta.url).href;

if (!HAS_SHM) {
  console.warn(
    "SKIPPED: /dev/shm is not a separate filesystem: the sweep liveness tests (cross-filesystem moves) are skipped",
  );
}

/** Content of file f of dir d in the test trees. */
function content(d: number, f: number): string {
  return `dir ${d} file ${f}\n`.repeat((f % 7) + 1);
}

/** A tree of 10 dirs x 100 files at `root`, every time two days old. */
function oldTree(root: string): void {
  const t = Date.now() / 1000 - TWO_DAYS_S;
  Deno.mkdirSync(root);
  for (let d = 0; d < 10; d++) {
    const dir = join(root, `d${d}`);
    Deno.mkdirSync(dir);
    for (let f = 0; f < 100; f++) {
      const p = join(dir, `f${f}`);
      Deno.writeTextFileSync(p, content(d, f));
      Deno.utimeSync(p, t, t);
    }
    Deno.utimeSync(dir, t, t);
  }
  Deno.utimeSync(root, t, t);
}

/** Checks the tree at `root` is complete: every entry, the right content, nothing else. */
function checkTree(root: string): void {
  const dirs = [...Deno.readDirSync(root)].map((e) => e.name).sort();
  assert.deepEqual(dirs, Array.from({ length: 10 }, (_, d) => `d${d}`).sort());
  for (let d = 0; d < 10; d++) {
    const names = [...Deno.readDirSync(join(root, `d${d}`))].map((e) => e.name);
    assert.equal(names.length, 100, `${root}/d${d} has ${names.length} files`);
    for (let f = 0; f < 100; f++) {
      assert.equal(
        Deno.readTextFileSync(join(root, `d${d}`, `f${f}`)),
        content(d, f),
        `${root}/d${d}/f${f}`,
      );
    }
  }
}

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Writes a script to a temp file and returns its path. */
function script(code: string): string {
  const file = Deno.makeTempFileSync({ prefix: "safefs-sub-", suffix: ".ts" });
  Deno.writeTextFileSync(file, code);
  return file;
}

/** Reads a child's stdout until `word` appears on it. */
async function waitFor(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  word: string,
  seen: { text: string },
): Promise<void> {
  const dec = new TextDecoder();
  while (!seen.text.includes(word)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the child ended before '${word}': ${seen.text}`);
    seen.text += dec.decode(value);
  }
}

const SWEEPER = `
import { sweep } from "${SWEEP_URL}";
import { isTempName } from "${TEMP_URL}";
const [dir, older, stop] = Deno.args;
const opts = older === "default" ? {} : { olderThan: Number(older) };
let sweeps = 0, live = 0, seen = 0;
const removed = [], errors = [];
while (true) {
  try { Deno.statSync(stop); break; } catch { /* go on */ }
  seen += [...Deno.readDirSync(dir)].filter((e) => isTempName(e.name)).length;
  try {
    const r = await sweep(dir, opts);
    sweeps++;
    live += r.live.length;
    removed.push(...r.removed);
  } catch (e) {
    errors.push(String(e));
  }
  if (sweeps === 1) console.log("ready");
}
console.log(JSON.stringify({ sweeps, live, seen, removed, errors }));
`;

interface SweeperReport {
  sweeps: number;
  live: number;
  seen: number;
  removed: string[];
  errors: string[];
}

Deno.test({
  name:
    `sweep() looping in other processes (default options, and olderThan: 0) never takes the temp of a live move or copy of old-dated trees and an old 32 MiB file, over ${RUNS} rounds (${BACKEND} backend)`,
  ignore: !HAS_SHM,
  fn: async () => {
    const dest = diskDir();
    const shm = shmDir();
    const stop = join(shm, "stop");
    const file = script(SWEEPER);
    const big = data(32 << 20, 9);
    const bigPath = join(shm, "big.bin");
    Deno.writeFileSync(bigPath, big);
    const old = Date.now() / 1000 - TWO_DAYS_S;
    Deno.utimeSync(bigPath, old, old);
    const children = ["default", "0"].map((older) =>
      new Deno.Command(DENO, {
        args: ["run", "-A", "--no-prompt", "--quiet", file, dest, older, stop],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn()
    );
    const outs = children.map(() => ({ text: "" }));
    const statuses: (Deno.CommandStatus | undefined)[] = [];
    const errs: string[] = [];
    const readers = children.map((c) => c.stdout.getReader());
    try {
      // Both sweepers are looping before the first operation starts.
      for (let i = 0; i < 2; i++) await waitFor(readers[i], "ready", outs[i]);
      for (let run = 0; run < RUNS; run++) {
        const t1 = join(shm, `move-src-${run}`);
        const t2 = join(shm, `copy-src-${run}`);
        oldTree(t1);
        oldTree(t2);
        const results = await Promise.allSettled([
          move(t1, join(dest, "moved")),
          copy(t2, join(dest, "copied")),
          copy(bigPath, join(dest, "big.bin")),
        ]);
        for (const [i, r] of results.entries()) {
          assert.equal(
            r.status,
            "fulfilled",
            `round ${run}: operation ${i} failed: ${
              r.status === "rejected" ? r.reason : ""
            }`,
          );
        }
        checkTree(join(dest, "moved"));
        checkTree(join(dest, "copied"));
        assert.equal(sha(Deno.readFileSync(join(dest, "big.bin"))), sha(big));
        // The copies kept the old times: only the locks and ctimes kept
        // the sweepers off them.
        const mt = Deno.statSync(join(dest, "big.bin")).mtime!.getTime();
        assert(
          mt < Date.now() - 86_400_000,
          "the copy did not keep the old mtime",
        );
        for (const n of ["moved", "copied", "big.bin"]) {
          Deno.removeSync(join(dest, n), { recursive: true });
        }
        Deno.removeSync(t2, { recursive: true });
      }
    } finally {
      Deno.writeTextFileSync(stop, "");
      // The sweepers stop at their next turn; their reports follow.
      for (let i = 0; i < 2; i++) {
        const dec = new TextDecoder();
        while (true) {
          const { value, done } = await readers[i].read();
          if (done) break;
          outs[i].text += dec.decode(value);
        }
        statuses[i] = await children[i].status;
        errs[i] = new TextDecoder().decode(
          await new Response(children[i].stderr).arrayBuffer(),
        );
      }
      Deno.removeSync(file);
      cleanup(dest, shm);
    }
    const reports: SweeperReport[] = [];
    for (let i = 0; i < 2; i++) {
      assert(statuses[i]?.success, `sweeper ${i} failed: ${errs[i]}`);
      const line = outs[i].text.trim().split("\n").pop()!;
      reports.push(JSON.parse(line));
    }
    console.log(
      `sweepers over ${RUNS} rounds: default options: ${
        reports[0].sweeps
      } sweeps, ` +
        `${reports[0].seen} temps seen (too young to take), ${
          reports[0].live
        } live, ` +
        `${reports[0].removed.length} removed; olderThan 0: ${
          reports[1].sweeps
        } sweeps, ` +
        `${reports[1].seen} temps seen, ${
          reports[1].live
        } found live (locked), ` +
        `${reports[1].removed.length} removed`,
    );
    for (const [i, r] of reports.entries()) {
      assert(r.sweeps > RUNS, `sweeper ${i} swept only ${r.sweeps} times`);
      assert.deepEqual(r.removed, [], `sweeper ${i} removed a live temp`);
      assert.deepEqual(r.errors, [], `sweeper ${i} failed`);
    }
    // The olderThan: 0 sweeper met the operations' temps and left them as live.
    assert(reports[1].seen > 0, "the olderThan: 0 sweeper never met a temp");
    assert(
      reports[1].live > 0,
      "the olderThan: 0 sweeper never found a temp live",
    );
  },
});

/**
 * A child that copies `src` to `dest` and parks (blocks for good, or until
 * the file `go` exists) just before its `n`-th seam call `op`, printing
 * "parked" then; "done" or "failed: ..." once the copy settles.
 */
function parkedCopy(op: string, n: number): string {
  return script(`
import { setSysHook } from "${SYS_URL}";
import { copy } from "${COPY_URL}";
const [src, dest, go] = Deno.args;
let seen = 0;
const cell = new Int32Array(new SharedArrayBuffer(4));
setSysHook((c) => {
  if (c.op !== ${JSON.stringify(op)} || ++seen !== ${n}) return;
  console.log("parked");
  while (true) {
    try { Deno.statSync(go); return; } catch { /* not yet */ }
    Atomics.wait(cell, 0, 0, 5);
  }
});
try {
  await copy(src, dest);
  console.log("done");
} catch (e) {
  console.log("failed: " + e);
}
`);
}

function tempsIn(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter(isTempName)
    .sort();
}

Deno.test({
  name:
    `sweep() leaves the temp of a process parked mid-copy as live, and removes it once the process is killed with -9: at once with olderThan: 0, by age with the default (${BACKEND} backend)`,
  ignore: !HAS_SHM,
  fn: async () => {
    const dest = diskDir();
    const shm = shmDir();
    const scripts: string[] = [];
    try {
      oldTree(join(shm, "tree"));
      Deno.writeTextFileSync(join(dest, "keep"), "not a temp");
      for (const kill of ["olderThan: 0", "default, once old"]) {
        // Parked at its 500th openAt: half-way through the tree's files.
        const file = parkedCopy("openAt", 500);
        scripts.push(file);
        const child = new Deno.Command(DENO, {
          args: [
            "run",
            "-A",
            "--no-prompt",
            "--quiet",
            file,
            join(shm, "tree"),
            join(dest, "copy"),
            join(shm, "never"),
          ],
          stdin: "null",
          stdout: "piped",
          stderr: "null",
        }).spawn();
        const reader = child.stdout.getReader();
        await waitFor(reader, "parked", { text: "" });
        const temp = tempsIn(dest);
        assert.equal(temp.length, 1, `one temp while parked: ${temp}`);
        const tempPath = join(dest, temp[0]);
        // Its mtime may be anything; it is live: no sweep takes it.
        const live = await sweep(dest, { olderThan: 0 });
        assert.deepEqual(live.removed, []);
        assert.deepEqual(live.live, [tempPath]);
        child.kill("SIGKILL");
        const status = await child.status;
        assert.equal(status.signal, "SIGKILL");
        reader.releaseLock();
        await child.stdout.cancel();
        assert.deepEqual(tempsIn(dest), temp, "the killed copy left its temp");
        // Dead, but young: the default sweep leaves it (ctime < 1 h).
        const young = await sweep(dest);
        assert.deepEqual(young.removed, []);
        assert.deepEqual(young.live, []);
        assert.deepEqual(tempsIn(dest), temp);
        if (kill === "olderThan: 0") {
          const r = await sweep(dest, { olderThan: 0 });
          assert.deepEqual(r.removed, [tempPath]);
        } else {
          // "Old": a small olderThan once the temp's ctime is older than it.
          // (Deno's lstat gives ctime in whole seconds: +1 s bounds it.)
          const ctime = Deno.lstatSync(tempPath).ctime!.getTime() + 1_000;
          const notYet = await sweep(dest, { olderThan: 60_000 });
          assert.deepEqual(notYet.removed, []);
          while (Date.now() - ctime <= 1_200) {
            await new Promise((r) => setTimeout(r, 100));
          }
          const r = await sweep(dest, { olderThan: 1_000 });
          assert.deepEqual(r.removed, [tempPath]);
        }
        assert.deepEqual(
          [...Deno.readDirSync(dest)].map((e) => e.name),
          ["keep"],
          "sweep removed exactly the temp",
        );
      }
    } finally {
      cleanup(dest, shm, ...scripts);
    }
  },
});

Deno.test({
  name:
    `a copy paused between creating its temp and locking it loses nothing to sweep(), even with olderThan: 0: the unlocked temp has a claim name (.safefs-new) sweep() leaves alone, and the copy completes (${BACKEND} backend)`,
  ignore: !HAS_SHM,
  fn: async () => {
    const dest = diskDir();
    const shm = shmDir();
    const scripts: string[] = [];
    try {
      oldTree(join(shm, "tree"));
      const outcomes: string[] = [];
      for (const olderThan of [3_600_000, 0]) {
        const go = join(shm, `go-${olderThan}`);
        const file = parkedCopy("lock", 1);
        scripts.push(file);
        const child = new Deno.Command(DENO, {
          args: [
            "run",
            "-A",
            "--no-prompt",
            "--quiet",
            file,
            join(shm, "tree"),
            join(dest, `copy-${olderThan}`),
            go,
          ],
          stdin: "null",
          stdout: "piped",
          stderr: "null",
        }).spawn();
        const reader = child.stdout.getReader();
        const out = { text: "" };
        await waitFor(reader, "parked", out);
        const unlocked = tempsIn(dest);
        assert.equal(unlocked.length, 1, "the temp exists, not locked yet");
        assert(isClaimName(unlocked[0]), `not a claim name: ${unlocked[0]}`);
        const r = await sweep(dest, { olderThan });
        assert.deepEqual(r.removed, [], "sweep() took the unlocked temp");
        Deno.writeTextFileSync(go, "");
        const dec = new TextDecoder();
        while (!/done|failed/.test(out.text)) {
          const { value, done } = await reader.read();
          if (done) break;
          out.text += dec.decode(value);
        }
        await child.status;
        reader.releaseLock();
        await child.stdout.cancel();
        outcomes.push(
          `olderThan ${olderThan}: sweep removed ${r.removed.length}; copy ${
            out.text.split("\n").filter((l) => /done|failed/.test(l))[0]
          }`,
        );
      }
      console.log(outcomes.join("\n"));
      for (const o of outcomes) {
        assert.match(o, /copy done/, `the copy did not complete: ${o}`);
      }
      checkTree(join(dest, "copy-3600000"));
      checkTree(join(dest, "copy-0"));
    } finally {
      cleanup(dest, shm, ...scripts);
    }
  },
});
