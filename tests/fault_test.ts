// Copyright 2026 the safefs authors. MIT license.
// Fault injection at every seam call (issue 7, part 1).
//
// For every scenario (primitive x shape x options), a clean run counts the
// seam calls N; then, for every i < N and every errno that call can really
// return (EIO always; ENOSPC, EACCES, ESTALE where they fit), the run is
// repeated with call i failing. After each run, on the real filesystem:
// - the error is a SafeFsError carrying the injected code;
// - no safefs temp is left anywhere, nothing outside src/dest changed;
// - move: the source is intact and the destination untouched, or (failure
//   after the publish) the destination is complete and whatever is left of
//   the source is unchanged entries;
// - copy / writeFile: the source is intact; the destination is its old state
//   or the complete new one;
// - remove: what is left is an unchanged part of the original;
// - a failure the primitive absorbs (it resolves) means it fully happened.
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { SafeFsError } from "../src/errors.ts";
import {
  CAN_MOUNT,
  cleanup,
  diskDir,
  failingAt,
  HAS_SHM,
  mountTmpfs,
  recordCalls,
  shmDir,
  snapshot,
  umount,
} from "./_helpers.ts";
import {
  FAULTS,
  faultsFor,
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

interface Tally {
  scenario: string;
  primitive: string;
  calls: number;
  tried: number;
  runs: number;
  absorbed: number;
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

async function sweepScenario(sc: Scenario): Promise<Tally> {
  const { a, b, done } = scenarioDirs(sc.crossFs);
  const fresh = (): void => {
    emptyDir(a);
    emptyDir(b);
    sc.setup(a, b);
  };
  try {
    fresh();
    const src = sc.src?.(a, b);
    const dest = sc.dest(a, b);
    const srcSnap = src ? snapshot(src) : null;
    const destOld = snapshot(dest);
    const relA = relsOf(a, [src, dest]), relB = relsOf(b, [src, dest]);
    const restA = snapshotExcept(a, relA), restB = snapshotExcept(b, relB);

    // The clean run: it must do what it says, and it gives N and the new state.
    const { calls, result } = await recordCalls(() => sc.run(a, b));
    const n = calls.length;
    if (sc.expectCode !== undefined) {
      assert(
        result instanceof SafeFsError && result.code === sc.expectCode,
        `${sc.name}: clean run should fail with ${sc.expectCode}, got ${result}`,
      );
    } else {
      assert(
        !(result instanceof Error),
        `${sc.name}: clean run failed: ${result}`,
      );
    }
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

    const tally: Tally = {
      scenario: sc.name,
      primitive: sc.primitive,
      calls: n,
      tried: 0,
      runs: 0,
      absorbed: 0,
    };
    for (let i = 0; i < n; i++) {
      let hitThis = false;
      // Every call fails with EIO; durable scenarios also with every other
      // errno that call can return (non-durable ones only drop the fsyncs, so
      // their error paths are the same code).
      for (const code of sc.durable ? faultsFor(calls[i].op) : ["EIO"]) {
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
          hit.op,
          calls[i].op,
          `${where}: call sequence differs from the clean run`,
        );
        hitThis = true;

        // Nothing else changed, no temp anywhere.
        assert.deepEqual(
          tempsDeep(a).concat(tempsDeep(b)),
          [],
          `${where}: temp left`,
        );
        assert.equal(
          show(snapshotExcept(a, relA)),
          show(restA),
          `${where}: something outside src/dest changed in ${a}`,
        );
        assert.equal(
          show(snapshotExcept(b, relB)),
          show(restB),
          `${where}: something outside src/dest changed in ${b}`,
        );

        const nowSrc = src ? snapshot(src) : null;
        const nowDest = snapshot(dest);
        const state = `src=${show(nowSrc)}\n dest=${show(nowDest)}`;
        if (!(result instanceof Error)) {
          // Absorbed: the primitive says it succeeded, so it must have fully happened.
          assert(
            sc.expectCode === undefined,
            `${where}: resolved, but the clean run fails with ${sc.expectCode}`,
          );
          tally.absorbed++;
          assert(
            same(nowDest, destNew),
            `${where}: resolved but the destination is not the complete new state\n ${state}`,
          );
          if (sc.kind === "move") {
            assert.equal(
              nowSrc,
              null,
              `${where}: resolved but the source is still there`,
            );
          }
          if (sc.kind === "copy") {
            assert(
              same(nowSrc, srcSnap),
              `${where}: resolved but the source changed`,
            );
          }
          continue;
        }
        assert(
          result instanceof SafeFsError,
          `${where}: not a SafeFsError: ${result}`,
        );
        assert.equal(
          result.code,
          code,
          `${where}: wrong code (${result.name}: ${result.message})`,
        );

        switch (sc.kind) {
          case "move": {
            const untouched = same(nowSrc, srcSnap) && same(nowDest, destOld);
            const published = same(nowDest, destNew) &&
              isRemnantOf(nowSrc, srcSnap);
            assert(
              untouched || published,
              `${where}: neither untouched nor published-complete\n ${state}`,
            );
            break;
          }
          case "copy":
            assert(
              same(nowSrc, srcSnap),
              `${where}: source changed\n ${state}`,
            );
            assert(
              same(nowDest, destOld) || same(nowDest, destNew),
              `${where}: destination partial\n ${state}`,
            );
            break;
          case "write":
            assert(
              same(nowDest, destOld) || same(nowDest, destNew),
              `${where}: destination partial\n ${state}`,
            );
            break;
          case "remove":
            assert(
              isRemnantOf(nowDest, destOld),
              `${where}: what is left is not an unchanged part of the original\n ${state}`,
            );
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

Deno.test({
  name:
    "every primitive survives a failure (EIO, ENOSPC, EACCES, ESTALE) at every seam call of every scenario",
  fn: async (t) => {
    const tallies: Tally[] = [];
    for (const sc of scenarios()) {
      // Cross-filesystem scenarios need /dev/shm on its own filesystem:
      // elsewhere they are ignored steps that say so.
      const cannot = sc.crossFs && !HAS_SHM;
      await t.step({
        name: cannot
          ? `${sc.name} (SKIPPED: /dev/shm is not a separate filesystem)`
          : sc.name,
        ignore: cannot,
        fn: async () => {
          const tally = await sweepScenario(sc);
          assert.equal(
            tally.tried,
            tally.calls,
            `${sc.name}: fault points tried != seam calls`,
          );
          assert(tally.calls > 0);
          tallies.push(tally);
        },
      });
    }
    printTable("Fault injection (every seam call, every fitting errno)", [
      ["scenario", "seam calls N", "points tried", "runs", "absorbed"],
      ...tallies.map((
        t,
      ) => [
        t.scenario,
        String(t.calls),
        String(t.tried),
        String(t.runs),
        String(t.absorbed),
      ]),
    ]);
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
    printTable("Fault points tried per primitive", [
      ["primitive", "scenarios", "fault points (= seam calls)", "faulted runs"],
      ...[...per].map((
        [k, v],
      ) => [k, String(v.scenarios), String(v.points), String(v.runs)]),
    ]);
  },
});
