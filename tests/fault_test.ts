// Copyright 2026 the safefs authors. MIT license.
// Fault injection at every seam call (issue 7, part 1; issue 13: the
// (directory, name) seam).
//
// For every scenario (primitive x shape x options, tests/_scenarios.ts), a
// clean run records its seam calls (N); then for every i < N the run is
// repeated with call i failing (matched by key and occurrence, so calls made
// concurrently are hit whatever order they come in). The CI form fails each
// call with EIO, for the core scenarios; SAFEFS_RELIABILITY=full (`deno task
// test:reliability`) runs every scenario with every errno each call can
// really return (EIO always; ENOSPC, EACCES, ESTALE where they fit).
//
// After each run, on the real filesystem:
// - the error is a SafeFsError carrying the injected code;
// - no safefs temp is left anywhere (sweep() not needed), nothing outside
//   src/dest changed;
// - move: the source is intact and the destination untouched, or (failure
//   after the publish) the destination is complete and whatever is left of
//   the source is unchanged entries;
// - copy / writeFile / symlink: the source is intact; the destination is its
//   old state or the complete new one;
// - remove: what is left is an unchanged part of the original;
// - an error thrown once the destination is complete carries `published`
//   (the destination's path), and only then;
// - a failure the primitive absorbs (it resolves) means it fully happened.
// A fault in the cleanup after the scenario's own expected failure (a
// double failure) may leave the temp for sweep(): it must be a temp, and
// sweep() must remove it and nothing else; so may an fsync failing after an
// exchange (the replaced tree, kept whole, see `dropExchanged`). The clean
// run must take the path its scenario names: one syncfs in the "syncfs"
// mode, file fsyncs and no syncfs in the "each" mode, an exchange where the
// backend has one, no fsync at all with durable: false.
//
// SAFEFS_FAULT_ONLY=<part of a name> runs just those scenarios;
// SAFEFS_FAULT_LOG=<file> appends every broken run to that file.
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { SafeFsError } from "../src/errors.ts";
import { sweep } from "../src/sweep.ts";
import { resetCaps } from "../src/_caps.ts";
import {
  callKey,
  CAN_MOUNT,
  cleanup,
  diskDir,
  failingAt,
  HAS_SHM,
  mountTmpfs,
  recordCalls,
  type RecordedCall,
  shmDir,
  snapshot,
  umount,
} from "./_helpers.ts";
import {
  BACKEND,
  FAULTS,
  faultsFor,
  FULL,
  isRemnantOf,
  printTable,
  same,
  show,
  snapshotExcept,
  tempsDeep,
} from "./_reliability.ts";
import { type Scenario, scenarios } from "./_scenarios.ts";

if (!HAS_SHM) {
  console.warn(
    "SKIPPED: /dev/shm is not a separate filesystem: cross-filesystem fault sweeps are skipped",
  );
}
console.log(
  `fault sweep on the ${BACKEND} backend, ${
    FULL
      ? "full form (every scenario, every errno)"
      : "CI form (core scenarios, EIO; SAFEFS_RELIABILITY=full for all)"
  }`,
);

/** SAFEFS_FAULT_ONLY=<part of a scenario name>: run just those (any form). */
const ONLY = Deno.env.get("SAFEFS_FAULT_ONLY") || undefined;

interface Tally {
  scenario: string;
  primitive: string;
  calls: number;
  tried: number;
  runs: number;
  absorbed: number;
  published: number;
  leftForSweep: number;
}

function contentOnly(s: Record<string, string> | null): string {
  if (s === null) return "null";
  return JSON.stringify(
    Object.entries(s).map((
      [k, v],
    ) => [
      k,
      v.startsWith("f:")
        ? `f:${v.split(":")[2]}`
        : v.startsWith("d:")
        ? "d"
        : v,
    ]),
  );
}

function relsOf(root: string, paths: (string | undefined)[]): string[] {
  return paths.filter((p): p is string =>
    p !== undefined && (p + "/").startsWith(root + "/")
  )
    .map((p) => relative(root, p));
}

/** Removes everything inside `d` (which may be a mount point). */
function emptyDir(d: string): void {
  for (const e of Deno.readDirSync(d)) cleanup(join(d, e.name));
}

/**
 * Scenario dirs on tmpfs, so thousands of runs cost little (the fault points
 * are the same on any filesystem): same-fs scenarios use two dirs in /dev/shm;
 * cross-fs ones a dir in /dev/shm and a tmpfs of their own (or the disk,
 * without root).
 */
function scenarioDirs(
  crossFs: boolean,
): { a: string; b: string; done: () => void } {
  const a = HAS_SHM ? shmDir() : diskDir();
  if (!crossFs) {
    const b = HAS_SHM ? shmDir() : diskDir();
    return { a, b, done: () => cleanup(a, b) };
  }
  const b = diskDir();
  if (!CAN_MOUNT) return { a, b, done: () => cleanup(a, b) };
  mountTmpfs(b, "size=64m");
  return {
    a,
    b,
    done: () => {
      umount(b);
      cleanup(a, b);
    },
  };
}

/** Only directories (the chain `made` creates) under `p`, or nothing. */
function onlyDirs(p: string): boolean {
  const s = snapshot(p);
  return s === null || Object.values(s).every((v) => v.startsWith("d:"));
}

/** What the clean run must have done, beyond its result (the paths it took). */
function checkCleanCalls(sc: Scenario, calls: RecordedCall[]): void {
  const ops = calls.map((c) => `${c.op}${c.how ? ":" + c.how : ""}`);
  if (sc.mode === "syncfs" && sc.durable && sc.expectCode === undefined) {
    assert(ops.includes("syncfs"), `${sc.name}: no syncfs in ${ops}`);
  }
  if (sc.mode === "each" && sc.durable && sc.expectCode === undefined) {
    assert(!ops.includes("syncfs"), `${sc.name}: a syncfs in the each mode`);
    assert(ops.includes("fsync:file"), `${sc.name}: no file fsync`);
  }
  if (sc.exchange && sc.expectCode === undefined) {
    assert(
      ops.includes("renameAt:exchange"),
      `${sc.name}: no exchange in ${ops}`,
    );
  }
  for (const op of sc.expectOps ?? []) {
    assert(ops.some((o) => o.split(":")[0] === op), `${sc.name}: no ${op}`);
  }
  if (!sc.durable) {
    assert(
      !ops.includes("syncfs") && !ops.some((o) => o.startsWith("fsync")),
      `${sc.name}: durable: false made an fsync`,
    );
  }
}

async function sweepScenario(
  sc: Scenario,
  problems: string[],
): Promise<Tally> {
  const { a, b, done } = scenarioDirs(sc.crossFs);
  const fresh = (): void => {
    emptyDir(a);
    emptyDir(b);
    sc.setup(a, b);
    // What the filesystem supports is learned by the calls themselves
    // (symlink probe, noreplace, link): forget it, so every run makes them.
    resetCaps();
  };
  const bad = (msg: string): void => {
    problems.push(msg);
  };
  try {
    fresh();
    const src = sc.src?.(a, b);
    const dest = sc.dest(a, b);
    const made = sc.made?.(a, b);
    const srcSnap = src ? snapshot(src) : null;
    const destOld = snapshot(dest);
    const touched = [src, made ?? dest];
    const relA = relsOf(a, touched), relB = relsOf(b, touched);
    const restA = snapshotExcept(a, relA), restB = snapshotExcept(b, relB);

    // The clean run: it must do what it says, and it gives N and the new state.
    const { calls, result } = await recordCalls(() => sc.run(a, b));
    const n = calls.length;
    if (sc.expectCode !== undefined) {
      assert(
        result instanceof SafeFsError && result.code === sc.expectCode,
        `${sc.name}: clean run should fail with ${sc.expectCode}, got ${result}`,
      );
      assert(
        same(snapshot(dest), destOld) && (!src || same(snapshot(src), srcSnap)),
        `${sc.name}: the clean run failed and changed something`,
      );
    } else {
      assert(
        !(result instanceof Error),
        `${sc.name}: clean run failed: ${result}`,
      );
    }
    checkCleanCalls(sc, calls);
    const destNew = snapshot(dest);
    if (sc.expectCode === undefined) {
      if (sc.kind === "move" || sc.kind === "copy") {
        assert.equal(
          contentOnly(destNew),
          contentOnly(srcSnap),
          `${sc.name}: clean run: destination is not the source's content`,
        );
      }
      if (sc.kind === "move") {
        assert.equal(
          snapshot(src!),
          null,
          `${sc.name}: clean run left the source`,
        );
      }
      if (sc.kind === "remove") {
        assert.equal(destNew, null, `${sc.name}: clean run left the target`);
      }
    }
    assert.deepEqual(tempsDeep(a).concat(tempsDeep(b)), []);
    // Where the clean run fails on its own, faults after that point hit its cleanup.
    const failedAt = lastFailing(calls, sc.expectCode);

    const tally: Tally = {
      scenario: sc.name,
      primitive: sc.primitive,
      calls: n,
      tried: 0,
      runs: 0,
      absorbed: 0,
      published: 0,
      leftForSweep: 0,
    };
    for (let i = 0; i < n; i++) {
      let hitThis = false;
      for (
        const code of FULL && sc.durable ? faultsFor(calls[i].op) : ["EIO"]
      ) {
        fresh();
        const { hit, result } = await failingAt(
          { calls, n: i },
          FAULTS[code],
          () => sc.run(a, b),
        );
        tally.runs++;
        const where = `${sc.name}: call ${i}/${n} ${
          JSON.stringify(hit ?? calls[i])
        } failing with ${code}`;
        assert(
          hit !== null,
          `${where}: the run made fewer calls than the clean run`,
        );
        assert.equal(
          callKey(hit),
          callKey(calls[i]),
          `${where}: call sequence differs from the clean run`,
        );
        hitThis = true;

        const nowSrc = src ? snapshot(src) : null;
        const nowDest = snapshot(dest);
        const state = `src=${show(nowSrc)}\n dest=${show(nowDest)}`;
        // The scenario's own failure (ENOTEMPTY, EEXIST): the fault was
        // absorbed before it, or hit the cleanup after it (a double failure).
        const ownFailure = result instanceof SafeFsError &&
          result.code === sc.expectCode && result.code !== code;
        const doubleFailure = ownFailure && i > failedAt;

        // An fsync failing after an exchange: the exchange may not be on
        // disk, so the replaced tree is kept whole under its temp name (its
        // removal first could bring half of it back at the destination after
        // a crash). It must be exactly the old destination, and the error
        // must say the destination was published.
        const keptReplaced = (hit?.op === "fsync" || hit?.op === "syncfs") &&
          calls.slice(0, i).some((c) =>
            c.op === "renameAt" && c.how === "exchange"
          ) && result instanceof SafeFsError && result.published !== undefined;

        // No temp anywhere (but after a double failure, or the replaced tree
        // kept, where sweep() must remove exactly the temps), nothing else
        // changed.
        const left = tempsDeep(a).concat(tempsDeep(b));
        if (left.length > 0) {
          if (
            keptReplaced &&
            !(left.length === 1 && same(snapshot(left[0]), destOld))
          ) {
            bad(
              `${where}: what is left is not the replaced destination, whole: ${left}`,
            );
          }
          if (doubleFailure || keptReplaced) {
            tally.leftForSweep++;
            for (const d of [a, b]) await sweep(d, { olderThan: 0 });
            if (tempsDeep(a).concat(tempsDeep(b)).length > 0) {
              bad(`${where}: sweep() did not remove the temps ${left}`);
            }
          } else {
            bad(`${where}: temp left: ${left.join(", ")}`);
          }
        }
        if (show(snapshotExcept(a, relA)) !== show(restA)) {
          bad(`${where}: something outside src/dest changed in ${a}`);
        }
        if (show(snapshotExcept(b, relB)) !== show(restB)) {
          bad(`${where}: something outside src/dest changed in ${b}`);
        }
        if (made !== undefined && !same(snapshot(dest), destNew)) {
          if (!onlyDirs(made)) {
            bad(`${where}: '${made}' holds more than the directories made`);
          }
        }

        if (!(result instanceof Error)) {
          // Absorbed: the primitive says it succeeded, so it fully happened.
          if (sc.expectCode !== undefined) {
            bad(`${where}: resolved, but the clean run fails`);
            continue;
          }
          tally.absorbed++;
          if (!same(nowDest, destNew)) {
            bad(
              `${where}: resolved but the destination is not the new state\n ${state}`,
            );
          }
          if (sc.kind === "move" && nowSrc !== null) {
            bad(`${where}: resolved but the source is still there`);
          }
          if (sc.kind === "copy" && !same(nowSrc, srcSnap)) {
            bad(`${where}: resolved but the source changed`);
          }
          continue;
        }
        if (!(result instanceof SafeFsError)) {
          bad(`${where}: not a SafeFsError: ${result}`);
          continue;
        }
        if (result.code !== code && !ownFailure) {
          bad(
            `${where}: wrong code ${result.code} (${result.name}: ${result.message})`,
          );
        }

        // Published: only once the destination is complete, and then always said.
        const complete = sc.kind !== "remove" && destNew !== null &&
          same(nowDest, destNew) && !same(destNew, destOld);
        if (result.published !== undefined) {
          tally.published++;
          if (!complete) {
            bad(
              `${where}: says published, but the destination is not complete\n ${state}`,
            );
          }
          if (result.published !== dest) {
            bad(`${where}: published '${result.published}', not '${dest}'`);
          }
        } else if (complete && sc.expectCode === undefined) {
          bad(
            `${where}: failed after the publish without saying so (no 'published')\n ${result.message}`,
          );
        }

        switch (sc.kind) {
          case "move": {
            const untouched = same(nowSrc, srcSnap) && same(nowDest, destOld);
            const published = same(nowDest, destNew) &&
              isRemnantOf(nowSrc, srcSnap);
            if (!untouched && !published) {
              bad(
                `${where}: neither untouched nor published-complete\n ${state}`,
              );
            }
            break;
          }
          case "copy":
            if (!same(nowSrc, srcSnap)) {
              bad(`${where}: source changed\n ${state}`);
            }
            if (!same(nowDest, destOld) && !same(nowDest, destNew)) {
              bad(`${where}: destination partial\n ${state}`);
            }
            break;
          case "write":
            if (!same(nowDest, destOld) && !same(nowDest, destNew)) {
              bad(`${where}: destination partial\n ${state}`);
            }
            break;
          case "remove":
            if (!isRemnantOf(nowDest, destOld)) {
              bad(
                `${where}: what is left is not an unchanged part of the original\n ${state}`,
              );
            }
            break;
        }
      }
      if (hitThis) tally.tried++;
    }
    return tally;
  } finally {
    done();
  }
}

/** Index of the call of a clean run that failed with `code` (the last one), or N. */
function lastFailing(calls: RecordedCall[], code: string | undefined): number {
  for (let i = calls.length - 1; i >= 0; i--) {
    if (calls[i].ok === false && calls[i].code === code) return i;
  }
  return calls.length;
}

Deno.test({
  name:
    "every primitive survives a failure at every seam call of every scenario: typed error, no temp, source intact, destination old or complete",
  fn: async (t) => {
    const tallies: Tally[] = [];
    const problems: string[] = [];
    for (const sc of scenarios()) {
      if (!FULL && !sc.core && ONLY === undefined) continue;
      if (ONLY !== undefined && !sc.name.includes(ONLY)) continue;
      // Cross-filesystem scenarios need /dev/shm on its own filesystem:
      // elsewhere they are ignored steps that say so.
      const cannot = sc.crossFs && !HAS_SHM;
      await t.step({
        name: cannot
          ? `${sc.name} (SKIPPED: /dev/shm is not a separate filesystem)`
          : sc.name,
        ignore: cannot,
        fn: async () => {
          const before = problems.length;
          const tally = await sweepScenario(sc, problems);
          assert.equal(
            tally.tried,
            tally.calls,
            `${sc.name}: fault points tried != seam calls`,
          );
          assert(tally.calls > 0);
          tallies.push(tally);
          const mine = problems.slice(before);
          const log = Deno.env.get("SAFEFS_FAULT_LOG");
          if (log && mine.length > 0) {
            Deno.writeTextFileSync(log, mine.join("\n") + "\n", {
              append: true,
            });
          }
          assert.deepEqual(
            mine.slice(0, 8),
            [],
            `${sc.name}: ${mine.length} broken runs (first 8 shown)`,
          );
        },
      });
    }
    if (tallies.length === 0) return;
    printTable(
      `Fault injection on the ${BACKEND} backend (every seam call${
        FULL ? ", every fitting errno" : ", EIO"
      })`,
      [
        [
          "scenario",
          "seam calls N",
          "points tried",
          "runs",
          "absorbed",
          "published",
          "left for sweep",
        ],
        ...tallies.map((t) => [
          t.scenario,
          String(t.calls),
          String(t.tried),
          String(t.runs),
          String(t.absorbed),
          String(t.published),
          String(t.leftForSweep),
        ]),
      ],
    );
    const per = new Map<
      string,
      { points: number; runs: number; scenarios: number }
    >();
    for (const t of tallies) {
      const p = per.get(t.primitive) ?? { points: 0, runs: 0, scenarios: 0 };
      p.points += t.tried;
      p.runs += t.runs;
      p.scenarios++;
      per.set(t.primitive, p);
    }
    const sum = [...per.values()].reduce(
      (s, v) => ({
        points: s.points + v.points,
        runs: s.runs + v.runs,
        scenarios: s.scenarios + v.scenarios,
      }),
      { points: 0, runs: 0, scenarios: 0 },
    );
    printTable(`Fault points per primitive (${BACKEND} backend)`, [
      ["primitive", "scenarios", "fault points (= seam calls)", "faulted runs"],
      ...[...per].map((
        [k, v],
      ) => [k, String(v.scenarios), String(v.points), String(v.runs)]),
      ["all", String(sum.scenarios), String(sum.points), String(sum.runs)],
    ]);
  },
});
