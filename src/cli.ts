// Copyright 2026 the safefs authors. MIT license.
/**
 * The `safefs` command line: `mv`, `cp`, `ln`, `rm`, `write`, `sweep`, a thin layer
 * over the library with the same guarantees, and GNU's habits where they do
 * not weaken them (no clobber by default).
 *
 * ```sh
 * deno run --allow-read=. --allow-write=. jsr:@safefs/safefs/cli mv a.txt b.txt
 * deno install -g -n safefs --allow-read --allow-write jsr:@safefs/safefs/cli
 * safefs cp -v --verify=sha256 photos /mnt/backup/
 * ```
 *
 * Exit status: 0 success, 1 an operation failed (one line per failure on
 * stderr, naming the path and the errno) or standard output could not be
 * written, 2 usage error, 130 interrupted (Ctrl-C aborts the running
 * operation, which removes its temp files), 141 standard output was a closed
 * pipe (the operations themselves completed). `--json` prints one document
 * with the same schema for every command; `safefs --help` describes it.
 *
 * @example Run the CLI from a script
 * ```ts ignore
 * import { main } from "@safefs/safefs/cli";
 * Deno.exit(await main(["mv", "a.txt", "b.txt"]));
 * ```
 *
 * @module
 */
import { VERSION } from "./_version.ts";
import { parse, UsageError, wantsJson } from "./cli/_args.ts";
import type { Command } from "./cli/_command.ts";
import { type CliIo, resolveIo } from "./cli/_io.ts";
import { Reporter } from "./cli/_report.ts";
import { HELP, USAGE } from "./cli/_help.ts";
import { mv } from "./cli/mv.ts";
import { cp } from "./cli/cp.ts";
import { ln } from "./cli/ln.ts";
import { rm } from "./cli/rm.ts";
import { write } from "./cli/write.ts";
import { sweep } from "./cli/sweep.ts";

export type { CliIo };

const COMMANDS: Record<string, Command> = { mv, cp, ln, rm, write, sweep };

/**
 * Runs the CLI with `args` and returns the exit status.
 *
 * @example
 * ```ts
 * import { main } from "@safefs/safefs/cli";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hi");
 * const status = await main(["mv", "--quiet", `${dir}/a.txt`, `${dir}/b.txt`]);
 * console.log(status); // 0
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param args The command line arguments, without the program name.
 * @param io Where to read and write (defaults to the process's streams).
 * @returns The exit status: 0, 1 (an operation failed), 2 (usage), 130
 * (interrupted), 141 (stdout was a closed pipe).
 */
export async function main(args: string[], io: CliIo = {}): Promise<number> {
  const streams = resolveIo(io);
  const name = args[0];
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  const mode = { json: false, quiet: false, verbose: false, progress: false };
  const plain = new Reporter(streams, null, mode);
  const end = args.indexOf("--");
  const options = end < 0 ? args : args.slice(0, end);
  if (options.includes("--version") || name === "-V") {
    plain.out(`safefs ${VERSION}\n`);
    return plain.finish(false);
  }
  if (args.length === 0) {
    plain.err(HELP);
    return 2;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    const sub = Object.hasOwn(COMMANDS, args[1]) ? COMMANDS[args[1]] : null;
    plain.out((sub ? `${sub.usage}\n\n${sub.help}` : HELP) + "\n");
    return plain.finish(false);
  }
  const early = new Reporter(streams, command ? name : null, {
    ...mode,
    json: wantsJson(args),
  });
  if (command === undefined) {
    early.usage(`unknown command '${name}'`, USAGE);
    return early.finish(false);
  }
  let parsed;
  try {
    parsed = parse(args.slice(1), command.options);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    early.usage(e.message, command.usage);
    return early.finish(false);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    plain.out(`${command.usage}\n\n${command.help}\n`);
    return plain.finish(false);
  }
  const run = new Reporter(streams, name, {
    json: values.json === true,
    quiet: values.quiet === true,
    verbose: values.verbose === true,
    progress: values.progress === true,
  });
  const controller = new AbortController();
  const onSigint = (): void =>
    controller.abort(new Error("interrupted (SIGINT)"));
  let listening = false;
  try {
    Deno.addSignalListener("SIGINT", onSigint);
    listening = true;
  } catch {
    // No signals on this platform: Ctrl-C ends the process the usual way.
  }
  try {
    await command.run({
      cmd: name,
      io: streams,
      report: run,
      signal: controller.signal,
      values,
      positionals,
    });
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    run.usage(e.message, command.usage);
  } finally {
    if (listening) Deno.removeSignalListener("SIGINT", onSigint);
  }
  return run.finish(controller.signal.aborted);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
