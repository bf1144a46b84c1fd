// Copyright 2026 the safefs authors. MIT license.
// Helpers for the CLI tests: the CLI in a subprocess (real stdin, stdout,
// permissions, working directory), the CLI in-process through main(args, io),
// and GNU coreutils for comparison.
import { DENO } from "./_helpers.ts";
import { main } from "../src/cli.ts";

/** The CLI's entry file. */
export const CLI: string = new URL("../src/cli.ts", import.meta.url).pathname;

const dec = new TextDecoder();

/** What a run printed and returned. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** How to run the CLI in a subprocess. */
export interface CliOptions {
  /** Directories for --allow-read and --allow-write; "all" for -A; or raw flags. */
  perms?: string[] | "all" | { flags: string[] };
  /** Bytes on stdin (closed after them); absent: stdin is /dev/null. */
  stdin?: Uint8Array;
  /** Working directory. */
  cwd?: string;
}

function permFlags(perms: CliOptions["perms"]): string[] {
  if (perms === undefined || perms === "all") return ["-A"];
  if (!Array.isArray(perms)) return perms.flags;
  return [
    `--allow-read=${perms.join(",")}`,
    `--allow-write=${perms.join(",")}`,
  ];
}

/** Runs the CLI in a subprocess, stdin closed or piped. */
export async function cli(args: string[], o: CliOptions = {}): Promise<Run> {
  const child = new Deno.Command(DENO, {
    args: [
      "run",
      "--no-prompt",
      "--quiet",
      ...permFlags(o.perms),
      CLI,
      ...args,
    ],
    stdin: o.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    ...(o.cwd ? { cwd: o.cwd } : {}),
  }).spawn();
  if (o.stdin) {
    const w = child.stdin.getWriter();
    await w.write(o.stdin);
    await w.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** The deno command line that runs the CLI with -A (for sh -c and script). */
export function cliLine(args: string[]): string {
  const q = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
  return [DENO, "run", "-A", "--quiet", CLI, ...args].map(q).join(" ");
}

/** Runs main() in this process with captured streams; -i has nobody to ask unless `ask` is given. */
export async function inProcess(
  args: string[],
  o: {
    stdin?: Uint8Array;
    ask?: (q: string) => Promise<boolean>;
    tty?: boolean;
  } = {},
): Promise<Run & { questions: string[] }> {
  const out: string[] = [], err: string[] = [], questions: string[] = [];
  const sink = (into: string[]) => ({
    writeSync(p: Uint8Array): number {
      into.push(dec.decode(p));
      return p.length;
    },
    isTerminal: () => o.tty ?? false,
  });
  const code = await main(args, {
    stdout: sink(out),
    stderr: sink(err),
    stdin: ReadableStream.from(o.stdin ? [o.stdin] : []),
    ask: o.ask
      ? (q) => {
        questions.push(q);
        return o.ask!(q);
      }
      : null,
  });
  return { code, stdout: out.join(""), stderr: err.join(""), questions };
}

/** Runs a program (GNU mv, cp, rm) in `cwd`. */
export async function tool(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<Run> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { LC_ALL: "C" },
  }).output();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** True when mv, cp and rm here are GNU coreutils. */
export const HAS_GNU: boolean = (() => {
  try {
    const out = new Deno.Command("mv", { args: ["--version"], stdout: "piped" })
      .outputSync();
    return dec.decode(out.stdout).includes("GNU coreutils");
  } catch {
    return false;
  }
})();

/** True when script(1) can give a command a pseudo-terminal. */
export const HAS_SCRIPT: boolean = (() => {
  try {
    return new Deno.Command("script", { args: ["--version"], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** Lines of `s` (no trailing empty line). */
export function lines(s: string): string[] {
  return s === "" ? [] : s.replace(/\n$/, "").split("\n");
}
