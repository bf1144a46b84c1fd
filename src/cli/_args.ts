// Copyright 2026 the safefs authors. MIT license.
/**
 * The CLI's argument parser: GNU-style options (clusters such as `-fv`,
 * `-tDIR`, `--opt=VALUE`, `--opt VALUE`, options after operands, `--` to end
 * them) and usage errors in plain words.
 *
 * @module
 */

/** One option a command accepts. */
export interface OptionSpec {
  /** Long name, without the dashes: `"target-directory"` (`-p` has none). */
  long?: string;
  /** One-letter name: `"t"`. */
  short?: string;
  /** Other long names for the same option (GNU spellings). */
  aliases?: string[];
  /** Placeholder of the value (`"DIR"`); absent for a switch. */
  value?: string;
  /**
   * The value when the option is given without one (`--preserve`); only the
   * `--opt=VALUE` form then takes a value.
   */
  optional?: string;
  /** Where the result is stored; several options may share a key. */
  key?: string;
  /** What a switch stores (`-n` and `-f` share a key with other values). */
  set?: string | boolean;
  /** Keep every value given, in order, instead of the last one. */
  multiple?: boolean;
}

/** Parsed option values by key. */
export type Values = Record<string, string | boolean | string[] | undefined>;

/** A command line the parser (or a command) cannot accept. Exit status 2. */
export class UsageError extends Error {
  /** Creates a usage error; `message` is plain words, without the usage line. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** What {@linkcode parse} found. */
export interface Parsed {
  /** Option values by key. */
  values: Values;
  /** Operands, in order. */
  positionals: string[];
}

function store(values: Values, spec: OptionSpec, v: string | boolean): void {
  const key = spec.key ?? spec.long ?? spec.short!;
  if (spec.multiple && typeof v === "string") {
    const list = values[key];
    values[key] = Array.isArray(list) ? [...list, v] : [v];
  } else values[key] = v;
}

/** `--name` as the user should read it, with its value placeholder. */
function spelled(spec: OptionSpec, short: boolean): string {
  if (short && spec.short) return `-${spec.short} ${spec.value}`;
  return `--${spec.long}=${spec.value}`;
}

/**
 * Parses `args` against `specs`. Throws {@linkcode UsageError} with a plain
 * sentence for an unknown option, a missing value, or a value given to a
 * switch.
 *
 * @param args The arguments after the command name.
 * @param specs The options the command accepts.
 */
export function parse(args: string[], specs: OptionSpec[]): Parsed {
  const longs = new Map<string, OptionSpec>();
  const shorts = new Map<string, OptionSpec>();
  for (const s of specs) {
    for (const name of [s.long, ...(s.aliases ?? [])]) {
      if (name) longs.set(name, s);
    }
    if (s.short) shorts.set(s.short, s);
  }
  const values: Values = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const spec = longs.get(name);
      if (spec === undefined) {
        throw new UsageError(`unknown option '--${name}'`);
      }
      if (spec.value === undefined) {
        if (eq >= 0) throw new UsageError(`option '--${name}' takes no value`);
        store(values, spec, spec.set ?? true);
      } else if (eq >= 0) {
        store(values, spec, arg.slice(eq + 1));
      } else if (spec.optional !== undefined) {
        store(values, spec, spec.optional);
      } else if (i + 1 < args.length) {
        store(values, spec, args[++i]);
      } else {
        throw new UsageError(
          `option '--${name}' needs a value: ${spelled(spec, false)}`,
        );
      }
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const c = arg[j];
        const spec = shorts.get(c);
        if (spec === undefined) {
          throw new UsageError(
            `unknown option '-${c}'${arg.length > 2 ? ` (in '${arg}')` : ""}` +
              `; a file whose name begins with '-' can be named './${arg}' ` +
              `or given after '--'`,
          );
        }
        if (spec.value === undefined) {
          store(values, spec, spec.set ?? true);
          continue;
        }
        const rest = arg.slice(j + 1);
        if (rest !== "") store(values, spec, rest);
        else if (i + 1 < args.length) store(values, spec, args[++i]);
        else {
          throw new UsageError(
            `option '-${c}' needs a value: ${spelled(spec, true)}`,
          );
        }
        break;
      }
      continue;
    }
    positionals.push(arg);
  }
  return { values, positionals };
}

/** The options every command accepts. */
export const COMMON: OptionSpec[] = [
  { long: "json" },
  { long: "quiet", short: "q" },
  { long: "verbose", short: "v" },
  { long: "progress" },
  { long: "help", short: "h" },
  { long: "version" },
];

/**
 * True when `--json` is among the options of `args` (before any `--`),
 * looked up without parsing, so that a usage error can be reported as JSON.
 *
 * @param args The whole command line.
 */
export function wantsJson(args: string[]): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).includes("--json");
}
