// Copyright 2026 the safefs authors. MIT license.
// kill -9 torture, bounded CI form (issue 7, part 3): 200 SIGKILLs at random
// instants of a child moving and copying files (0 B to 64 MiB) and trees
// between the disk and /dev/shm. The long form: `deno task torture`
// (scripts/torture.ts --iterations 1000). See tests/_torture.ts for the checks.
import assert from "node:assert/strict";
import { HAS_SHM } from "./_helpers.ts";
import { summary, torture } from "./_torture.ts";

const KILLS = Number(Deno.env.get("SAFEFS_KILLS") ?? 200);

if (!HAS_SHM) {
  console.warn(
    "SKIPPED: /dev/shm is not a separate filesystem: the kill -9 torture is skipped",
  );
}

Deno.test({
  name:
    `a process SIGKILLed at ${KILLS} random instants of cross-filesystem moves and copies never loses or half-publishes an item, and sweep() cleans up`,
  ignore: !HAS_SHM,
  fn: async () => {
    const r = await torture({
      kills: KILLS,
      seed: 1,
      maxDelayMs: 250,
      lanes: 2,
      big: true,
    });
    console.log(summary(r));
    assert.deepEqual(r.violations, []);
    assert.equal(r.kills, KILLS);
    // The kills must land inside operations, not only between them.
    const mid = Object.values(r.midStep).reduce((a, b) => a + b, 0);
    assert(mid >= KILLS / 2, `only ${mid} of ${KILLS} kills landed mid-step`);
  },
});
