// Copyright 2026 the safefs authors. MIT license.
// kill -9 torture, bounded CI form (issue 7, part 3): SIGKILLs at random
// instants of a child moving files and trees between the disk and /dev/shm,
// copying them (trees of 56 entries: one syncfs on the ffi backend), copying
// them again over the first copy (an exchange of non-empty trees where the
// backend has one) and removing the copies. The long form: `deno task
// torture` (scripts/torture.ts --iterations 1000, 64 MiB files included).
// See tests/_torture.ts for the checks.
import assert from "node:assert/strict";
import { HAS_SHM } from "./_helpers.ts";
import { summary, torture } from "./_torture.ts";

const KILLS = Number(Deno.env.get("SAFEFS_KILLS") ?? 24);

if (!HAS_SHM) {
  console.warn(
    "SKIPPED: /dev/shm is not a separate filesystem: the kill -9 torture is skipped",
  );
}

Deno.test({
  name:
    `a process SIGKILLed at ${KILLS} random instants of moves, copies, overwriting copies and removals never loses or half-publishes an item, and sweep() removes exactly its temps`,
  ignore: !HAS_SHM,
  fn: async () => {
    const r = await torture({
      kills: KILLS,
      seed: 1,
      maxDelayMs: 200,
      lanes: 2,
      big: false,
    });
    console.log(summary(r));
    assert.deepEqual(r.violations, []);
    assert.equal(r.kills, KILLS);
    // The kills must land inside operations, not only between them.
    const mid = Object.values(r.midStep).reduce((a, b) => a + b, 0);
    assert(mid >= KILLS / 2, `only ${mid} of ${KILLS} kills landed mid-step`);
    assert(r.stepsDone > 0, "the children completed no step");
  },
});
