// Copyright 2026 the safefs authors. MIT license.
/**
 * The `safefs` command line (`mv`, `cp`, `rm`, `write`, `sweep`).
 *
 * Not yet implemented: running it prints so and exits with status 2.
 *
 * @example
 * ```sh
 * deno run jsr:@safefs/safefs/cli --help
 * ```
 *
 * @module
 */

/**
 * Runs the CLI with `args` and returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { main } from "@safefs/safefs/cli";
 * Deno.exit(await main(Deno.args));
 * ```
 *
 * @param _args The command line arguments.
 * @returns The exit status (2: not yet implemented).
 */
export function main(_args: string[]): Promise<number> {
  console.error(
    "safefs: the command line is not yet implemented (use the library API)",
  );
  return Promise.resolve(2);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
