// Copyright 2026 the safefs authors. MIT license.
// kill -9 torture, the long by-hand form of tests/kill_test.ts:
//
//   deno run -A scripts/torture.ts [--iterations 1000] [--seed 1] [--lanes 2]
//                                  [--max-delay 250] [--no-big] [--keep]
//
// A child moves files (0 B to 64 MiB) and trees between the disk and
// /dev/shm, copies them and removes the copies, and copies them again over
// the first copy with overwrite (an exchange of non-empty trees where the
// backend has one), in a loop; it is SIGKILLed at random instants; after each
// kill every item must exist completely at its source or its destination, no
// published name may be partial (but a copy remove() was removing), and
// sweep() must remove exactly the leftover temps. SAFEFS_BACKEND=path|ffi
// picks the backend (the child inherits it). Exits 1 on any violation
// (--keep keeps the failing lane's directories).
import { parseArgs } from "node:util";
import { summary, torture } from "../tests/_torture.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    iterations: { type: "string", default: "1000" },
    seed: { type: "string", default: String(Date.now() % 100000) },
    lanes: { type: "string", default: "2" },
    "max-delay": { type: "string", default: "250" },
    "no-big": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});
const opts = {
  kills: Number(values.iterations),
  seed: Number(values.seed),
  lanes: Number(values.lanes),
  maxDelayMs: Number(values["max-delay"]),
  big: !values["no-big"],
  keep: values.keep,
  log: (l: string) => console.log(l),
};
console.log(
  `torture: ${opts.kills} kills, seed ${opts.seed} (--seed ${opts.seed} repeats the same choices; kill instants vary), ${opts.lanes} lanes`,
);
const r = await torture(opts);
console.log(summary(r));
Deno.exit(r.violations.length === 0 ? 0 : 1);
