// Copyright 2026 the safefs authors. MIT license.
/**
 * What a command module exports, and what it gets to run.
 *
 * @module
 */
import type { OptionSpec, Values } from "./_args.ts";
import type { Io } from "./_io.ts";
import type { Reporter } from "./_report.ts";

/** Everything a command needs to run. */
export interface Ctx {
  /** The command's name. */
  cmd: string;
  /** The streams. */
  io: Io;
  /** Where every outcome goes. */
  report: Reporter;
  /** Fires on SIGINT: stop after (or abort) the running operation. */
  signal: AbortSignal;
  /** Parsed options. */
  values: Values;
  /** Operands. */
  positionals: string[];
}

/** One `safefs` command. */
export interface Command {
  /** `mv`. */
  name: string;
  /** The usage lines (`Usage: safefs mv ...`), shown with usage errors. */
  usage: string;
  /** The rest of `--help`: what it does, options, examples. */
  help: string;
  /** The options it accepts (COMMON included). */
  options: OptionSpec[];
  /**
   * Runs it. Throws `UsageError` for a command line it cannot accept; every
   * other outcome goes to `ctx.report`.
   */
  run(ctx: Ctx): Promise<void>;
}

/** The options of `-f`, `-n`, `-i` (the last one given wins, as in GNU mv). */
export const CLOBBER: OptionSpec[] = [
  {
    long: "overwrite",
    short: "f",
    aliases: ["force"],
    key: "clobber",
    set: "overwrite",
  },
  { long: "no-clobber", short: "n", key: "clobber", set: "keep" },
  { long: "interactive", short: "i", key: "clobber", set: "ask" },
];

/** `--no-durable`. */
export const NO_DURABLE: OptionSpec = {
  long: "no-durable",
  key: "durable",
  set: false,
};

/** The lines of `--help` shared by every command. */
export const COMMON_HELP =
  `      --json               print one JSON document on stdout (safefs --help)
  -q, --quiet              print nothing but errors
  -v, --verbose            print what is done, one line per operation
      --progress           draw progress on stderr even when not a terminal`;
