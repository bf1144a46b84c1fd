// Copyright 2026 the safefs authors. MIT license.
// `deno task compile [--output PATH]`: builds the safefs CLI as one binary with
// only --allow-read and --allow-write baked in (no net, env, run or ffi).
// deno compile needs a `denort` runtime binary that cannot be downloaded on
// every machine: this uses DENORT_BIN when set and otherwise says it skipped.
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: { output: { type: "string", short: "o", default: "safefs" } },
});
const denort = Deno.env.get("DENORT_BIN");
if (!denort) {
  console.log(
    "compile: SKIPPED: DENORT_BIN is not set (deno compile needs a denort binary; " +
      "set DENORT_BIN=/path/to/denort to build)",
  );
  Deno.exit(0);
}
// A path, decoded (the checkout may live in a path with spaces).
const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const out = await new Deno.Command(Deno.execPath(), {
  args: [
    "compile",
    "--allow-read",
    "--allow-write",
    "--no-prompt",
    "--output",
    values.output!,
    cli,
  ],
  env: { DENORT_BIN: denort },
}).output();
Deno.exit(out.code);
