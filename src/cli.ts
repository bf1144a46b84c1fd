// Copyright 2026 the safefs authors. MIT license.
/**
 * The `safefs` command line: `mv`, `cp`, `rm`, `write`, `sweep`, a thin layer
 * over the library with the same guarantees.
 *
 * ```sh
 * deno run --allow-read=. --allow-write=. jsr:@safefs/safefs/cli mv a.txt b.txt
 * deno install -g -n safefs --allow-read --allow-write jsr:@safefs/safefs/cli
 * safefs cp -r --verify=sha256 photos /mnt/backup/
 * ```
 *
 * Exit status: 0 success, 1 an operation failed (one line per failure on
 * stderr, naming the path and the errno), 2 usage error, 130 interrupted
 * (Ctrl-C aborts the running operation, which removes its temp files).
 *
 * @example Run the CLI from a script
 * ```ts ignore
 * import { main } from "@safefs/safefs/cli";
 * Deno.exit(await main(["mv", "a.txt", "b.txt"]));
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { basename, join, resolve } from "node:path";
import { VERSION } from "./_version.ts";
import { sys } from "./_sys.ts";
import { move } from "./move.ts";
import { copy } from "./copy.ts";
import { remove } from "./remove.ts";
import { writeFile } from "./write_file.ts";
import { sweep } from "./sweep.ts";
import { AbortedError, PermissionError, SafeFsError } from "./errors.ts";
import type { Progress } from "./_copy/options.ts";

/** Where the CLI reads and writes; tests may pass their own. */
export interface CliIo {
  /**
   * Standard output (the `--json` document, `sweep` listings).
   * @default {Deno.stdout}
   */
  stdout?: { writeSync(p: Uint8Array): number };
  /**
   * Standard error (messages, the progress bar).
   * @default {Deno.stderr}
   */
  stderr?: { writeSync(p: Uint8Array): number; isTerminal(): boolean };
  /**
   * Standard input, for `write`.
   * @default {Deno.stdin.readable}
   */
  stdin?: ReadableStream<Uint8Array>;
}

const HELP: Record<string, string> = {
  main: `safefs ${VERSION}: move, copy, delete and write files safely

Usage: safefs <command> [options] <paths...>

Commands:
  mv     SRC... DEST   move files or trees (atomic, durable, across filesystems)
  cp     SRC... DEST   copy files or trees (identity-checked, atomic publish)
  rm     PATH...       remove files or trees (never follows symlinks or mounts)
  write  DEST          write standard input to DEST atomically
  sweep  DIR           remove temp leftovers of crashed safefs operations

Options for every command:
  --json        print one JSON document describing every operation on stdout
  --quiet, -q   print nothing but errors
  --verbose     report progress on stderr even when it is not a terminal
  --help, -h    help for a command (safefs mv --help)
  --version     print the version

Exit status: 0 success, 1 an operation failed, 2 usage error, 130 interrupted.`,
  mv: `Usage: safefs mv [options] SRC DEST
       safefs mv [options] SRC... DIR

Moves SRC to DEST, or each SRC into the existing directory DIR. Across
filesystems the source is copied beside the destination, fsynced, published
with one rename, and only then removed.

Options:
  -f, --overwrite          replace an existing destination (file or empty dir)
  -T, --no-target-directory
                           treat DEST as the new name even if it is a directory
      --no-durable         skip fsyncs (scratch data)
      --no-cross-device    fail instead of copying across filesystems
      --json, --quiet, --verbose

Examples:
  safefs mv draft.txt final.txt
  safefs mv -f build/app.js /srv/www/app.js
  safefs mv photos/ /mnt/usb/        # across filesystems, atomic
  safefs mv a.txt b.txt docs/`,
  cp: `Usage: safefs cp [options] SRC DEST
       safefs cp [options] SRC... DIR

Copies SRC (a file or a whole tree) to DEST, or into the existing directory
DIR. The copy is built under a temp name and published with one rename.

Options:
  -f, --overwrite          replace an existing destination (file or empty dir)
  -T, --no-target-directory
                           treat DEST as the new name even if it is a directory
  -L, --dereference        follow symlinks (default: copy them as symlinks)
      --preserve=LIST      what to keep: mode,times,owner (default mode,times)
      --verify=sha256      re-read the copy and compare hashes before publishing
      --one-file-system    skip mount points inside a tree (they are reported)
      --no-durable         skip fsyncs (scratch data)
      --json, --quiet, --verbose

Examples:
  safefs cp report.pdf backup/report.pdf
  safefs cp --verify=sha256 disk.img /mnt/backup/
  safefs cp --preserve=mode,times,owner -f config/ /etc/myapp/`,
  rm: `Usage: safefs rm [options] PATH...

Removes files, symlinks (never their targets) and whole trees. Never crosses
into another filesystem unless told to; mount points are reported.

Options:
  -f, --missing-ok         a missing PATH is not an error
      --one-file-system    do not enter other filesystems (default)
      --cross-file-systems also empty mounted filesystems inside the tree
      --json, --quiet, --verbose

Examples:
  safefs rm build/
  safefs rm -f cache/tmp-*`,
  write: `Usage: safefs write [options] DEST

Writes standard input to DEST atomically: readers see the old file or the
complete new one, never a partial write.

Options:
  -n, --no-clobber         fail if DEST exists (default: replace it)
      --mode=OCTAL         file mode, e.g. 0644 (default: DEST's mode, else 0666 & ~umask)
      --no-durable         skip fsyncs (scratch data)
      --json, --quiet

Examples:
  generate-config | safefs write /etc/myapp.conf
  curl -s https://example.com/data.json | safefs write --mode=0600 data.json`,
  sweep: `Usage: safefs sweep [options] DIR

Removes temp leftovers of crashed safefs operations (.NAME.UUID.safefs-tmp)
directly inside DIR that are older than --older-than.

Options:
      --older-than=AGE     only leftovers at least this old: 90s, 10m, 1h, 2d or
                           milliseconds (default 1h; 0 removes all)
      --dry-run            list them, remove nothing
      --json, --quiet

Examples:
  safefs sweep /srv/cache
  safefs sweep --older-than=0 --dry-run /data/incoming`,
};

const COMMON = {
  json: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const SPECS = {
  mv: {
    ...COMMON,
    overwrite: { type: "boolean", short: "f" },
    "no-target-directory": { type: "boolean", short: "T" },
    "no-durable": { type: "boolean" },
    "no-cross-device": { type: "boolean" },
  },
  cp: {
    ...COMMON,
    overwrite: { type: "boolean", short: "f" },
    "no-target-directory": { type: "boolean", short: "T" },
    dereference: { type: "boolean", short: "L" },
    preserve: { type: "string" },
    verify: { type: "string" },
    "one-file-system": { type: "boolean" },
    "no-durable": { type: "boolean" },
    recursive: { type: "boolean", short: "r" },
  },
  rm: {
    ...COMMON,
    "missing-ok": { type: "boolean", short: "f" },
    "one-file-system": { type: "boolean" },
    "cross-file-systems": { type: "boolean" },
    recursive: { type: "boolean", short: "r" },
  },
  write: {
    ...COMMON,
    "no-clobber": { type: "boolean", short: "n" },
    mode: { type: "string" },
    "no-durable": { type: "boolean" },
  },
  sweep: {
    ...COMMON,
    "older-than": { type: "string" },
    "dry-run": { type: "boolean" },
  },
} as const;

type Command = keyof typeof SPECS;

/** One operation's outcome, as printed by `--json`. */
interface OpReport {
  op: string;
  src?: string;
  dest?: string;
  path?: string;
  ok: boolean;
  bytes?: number;
  entries?: number;
  crossDevice?: boolean;
  removed?: string[];
  durationMs: number;
  error?: { name: string; code: string; message: string; flag?: string };
}

class UsageError extends Error {}

const enc = new TextEncoder();

/** Short reasons for the errno names users meet most. */
const REASONS: Record<string, string> = {
  EEXIST: "destination exists",
  ENOENT: "no such file or directory",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  ENOTEMPTY: "directory not empty",
  EXDEV: "on different filesystems",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only filesystem",
  EIO: "input/output error",
  ENAMETOOLONG: "file name too long",
  ELOOP: "too many levels of symbolic links",
  EBUSY: "device or resource busy",
  ESTALE: "stale file handle",
  EFTYPE: "unsupported file type",
  ESRCCHANGED: "the source changed while it was read",
  ABORT_ERR: "interrupted",
};

const HINTS: Record<string, Record<string, string>> = {
  EEXIST: {
    mv: "; use --overwrite to replace it",
    cp: "; use --overwrite to replace it",
    write: "; drop --no-clobber to replace it",
  },
  EXDEV: { mv: "; drop --no-cross-device to copy across filesystems" },
  ENOENT: { rm: "; use --missing-ok to ignore missing paths" },
};

function describeError(
  cmd: Command,
  verb: string,
  subject: string,
  e: unknown,
): string {
  if (e instanceof PermissionError && e.code === "ENOTCAPABLE") {
    return `safefs: cannot ${verb} ${subject}: ${e.message} (${e.code})`;
  }
  if (e instanceof SafeFsError) {
    // EINVAL, ELOOP-as-loop and the like are best told by the library's own words.
    const own = e.message.replace(/^Cannot [a-z]+ .*?: /, "");
    const reason = REASONS[e.code] && !["EINVAL"].includes(e.code)
      ? REASONS[e.code]
      : own;
    const detail =
      e.code === "ESRCCHANGED" || e.code === "EXDEV" || e.code === "ELOOP"
        ? ` (${e.code}): ${own}`
        : ` (${e.code})`;
    return `safefs: cannot ${verb} ${subject}: ${reason}${detail}${
      HINTS[e.code]?.[cmd] ?? ""
    }`;
  }
  return `safefs: cannot ${verb} ${subject}: ${
    e instanceof Error ? e.message : String(e)
  }`;
}

function parseAge(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(s.trim());
  if (!m) {
    throw new UsageError(
      `invalid --older-than '${s}': use e.g. 90s, 10m, 1h, 2d or milliseconds`,
    );
  }
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] ?? "ms"]!;
  return n * unit;
}

function fmtBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** A progress bar on a terminal, drawn only for operations longer than 300 ms. */
class ProgressView {
  #start = performance.now();
  #last = 0;
  #drawn = false;
  #latest: Progress | null = null;
  constructor(
    private out: { writeSync(p: Uint8Array): number },
    private tty: boolean,
    private verbose: boolean,
  ) {}

  update = (p: Progress): void => {
    this.#latest = p;
    const now = performance.now();
    if (now - this.#start < 300) return;
    if (now - this.#last < (this.tty ? 100 : 1000)) return;
    this.#last = now;
    this.#draw(p, false);
  };

  #draw(p: Progress, final: boolean): void {
    if (!this.tty && !this.verbose) return;
    const secs = (performance.now() - this.#start) / 1000;
    const useBytes = p.bytesTotal > 0;
    const done = useBytes ? p.bytesDone : p.filesDone;
    const total = useBytes ? p.bytesTotal : p.filesTotal;
    const frac = total > 0 ? Math.min(1, done / total) : final ? 1 : 0;
    const pct = Math.floor(frac * 100);
    const rate = secs > 0 ? p.bytesDone / secs : 0;
    const eta = frac > 0 && frac < 1 ? (secs / frac) * (1 - frac) : 0;
    const files = p.filesTotal > 0
      ? ` ${p.filesDone}/${p.filesTotal} files`
      : ` ${p.filesDone} entries`;
    const bytes = useBytes
      ? ` ${fmtBytes(p.bytesDone)}/${fmtBytes(p.bytesTotal)} ${
        fmtBytes(rate)
      }/s`
      : "";
    const tail = final ? " done" : ` ETA ${Math.ceil(eta)}s`;
    if (this.tty) {
      const width = 24;
      const fill = Math.round(frac * width);
      const bar = "#".repeat(fill) + "-".repeat(width - fill);
      this.out.writeSync(
        enc.encode(
          `\r\x1b[2K[${bar}] ${
            String(pct).padStart(3)
          }%${bytes}${files}${tail}`,
        ),
      );
    } else {
      this.out.writeSync(
        enc.encode(`safefs: ${pct}%${bytes}${files}${tail}\n`),
      );
    }
    this.#drawn = true;
  }

  /** Draws the final 100% line if a bar was shown, and ends the line. */
  finish(ok: boolean): void {
    if (!this.#drawn) return;
    if (ok && this.#latest) {
      const p = this.#latest;
      this.#draw({
        ...p,
        bytesDone: p.bytesTotal,
        filesDone: Math.max(p.filesDone, p.filesTotal),
      }, true);
    }
    if (this.tty) this.out.writeSync(enc.encode("\n"));
  }
}

function resolveTargets(
  srcs: string[],
  dest: string,
  noTargetDir: boolean,
  into: boolean,
): { src: string; dest: string }[] {
  if (noTargetDir) {
    if (srcs.length !== 1) {
      throw new UsageError("-T takes exactly one SRC and one DEST");
    }
    return [{ src: srcs[0], dest }];
  }
  if (srcs.length > 1 && !into) {
    throw new UsageError(
      `target '${dest}' is not an existing directory (needed for several sources)`,
    );
  }
  return srcs.map((src) => ({
    src,
    dest: into ? join(dest, basename(resolve(src))) : dest,
  }));
}

/**
 * True when `p` is an existing directory (following symlinks, like mv(1)).
 * This only decides how to name the destination; the primitive checks
 * everything again, atomically.
 */
function isDirectory(p: string): Promise<boolean> {
  try {
    sys.close(sys.openDir(resolve(p), true));
    return Promise.resolve(true);
  } catch {
    return Promise.resolve(false);
  }
}

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
 * @returns The exit status: 0, 1 (an operation failed), 2 (usage), 130 (interrupted).
 */
export async function main(args: string[], io: CliIo = {}): Promise<number> {
  const stdout = io.stdout ?? Deno.stdout;
  const stderr = io.stderr ?? Deno.stderr;
  const say = (s: string): void => {
    stderr.writeSync(enc.encode(s + "\n"));
  };
  if (
    args.length === 0 || args[0] === "--help" || args[0] === "-h" ||
    args[0] === "help"
  ) {
    const out = args.length === 0 ? stderr : stdout;
    out.writeSync(enc.encode(HELP.main + "\n"));
    return args.length === 0 ? 2 : 0;
  }
  if (args[0] === "--version" || args[0] === "-V") {
    stdout.writeSync(enc.encode(`safefs ${VERSION}\n`));
    return 0;
  }
  const cmd = args[0] as Command;
  if (!(cmd in SPECS)) {
    say(`safefs: unknown command '${args[0]}'\n\n${HELP.main}`);
    return 2;
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: args.slice(1),
      options: SPECS[cmd],
      allowPositionals: true,
      strict: true,
    }) as {
      values: Record<string, string | boolean | undefined>;
      positionals: string[];
    });
  } catch (e) {
    say(
      `safefs ${cmd}: ${
        e instanceof Error ? e.message : e
      }\nTry 'safefs ${cmd} --help'.`,
    );
    return 2;
  }
  if (values.help) {
    stdout.writeSync(enc.encode(HELP[cmd] + "\n"));
    return 0;
  }

  const json = values.json === true;
  const quiet = values.quiet === true || json;
  const reports: OpReport[] = [];
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

  const progress = (): ProgressView | null =>
    quiet
      ? null
      : new ProgressView(stderr, stderr.isTerminal(), values.verbose === true);

  let interrupted = false;
  const run = async (
    report: Omit<OpReport, "ok" | "durationMs">,
    verb: string,
    subject: string,
    f: (view: ProgressView | null) => Promise<Partial<OpReport>>,
  ): Promise<void> => {
    const view = progress();
    const t0 = performance.now();
    const r: OpReport = { ...report, ok: false, durationMs: 0 };
    try {
      Object.assign(r, await f(view));
      r.ok = true;
      view?.finish(true);
    } catch (e) {
      view?.finish(false);
      if (e instanceof AbortedError) interrupted = true;
      const err = e instanceof SafeFsError ? e : null;
      r.error = {
        name: e instanceof Error ? e.name : "Error",
        code: err?.code ?? "EUNKNOWN",
        message: e instanceof Error ? e.message : String(e),
      };
      if (e instanceof PermissionError && e.flag) r.error.flag = e.flag;
      if (!json) say(describeError(cmd, verb, subject, e));
    }
    r.durationMs = Math.round((performance.now() - t0) * 1000) / 1000;
    reports.push(r);
  };

  try {
    const durable = values["no-durable"] !== true;
    switch (cmd) {
      case "mv":
      case "cp": {
        if (positionals.length < 2) {
          throw new UsageError(`${cmd} needs SRC and DEST`);
        }
        const dest = positionals[positionals.length - 1];
        const pairs = resolveTargets(
          positionals.slice(0, -1),
          dest,
          values["no-target-directory"] === true,
          await isDirectory(dest),
        );
        let preserve:
          | { mode: boolean; times: boolean; owner: boolean }
          | undefined;
        if (typeof values.preserve === "string") {
          const list = values.preserve.split(",").map((s) => s.trim()).filter(
            Boolean,
          );
          for (const k of list) {
            if (!["mode", "times", "owner", "all"].includes(k)) {
              throw new UsageError(
                `invalid --preserve item '${k}': use mode, times, owner`,
              );
            }
          }
          const all = list.includes("all");
          preserve = {
            mode: all || list.includes("mode"),
            times: all || list.includes("times"),
            owner: all || list.includes("owner"),
          };
        }
        if (
          values.verify !== undefined && values.verify !== "sha256" &&
          values.verify !== "none"
        ) {
          throw new UsageError(
            `invalid --verify '${values.verify}': use sha256`,
          );
        }
        for (const { src, dest: to } of pairs) {
          if (controller.signal.aborted) break;
          if (cmd === "mv") {
            await run(
              { op: "move", src, dest: to },
              "move",
              `'${src}' to '${to}'`,
              async (view) => {
                const r = await move(src, to, {
                  overwrite: values.overwrite === true,
                  durable,
                  crossDevice: values["no-cross-device"] ? "fail" : "copy",
                  signal: controller.signal,
                  ...(view ? { onProgress: view.update } : {}),
                });
                return {
                  bytes: r.bytes,
                  entries: r.entries,
                  crossDevice: r.crossDevice,
                };
              },
            );
          } else {
            await run(
              { op: "copy", src, dest: to },
              "copy",
              `'${src}' to '${to}'`,
              async (view) => {
                const r = await copy(src, to, {
                  overwrite: values.overwrite === true,
                  durable,
                  dereference: values.dereference === true,
                  ...(preserve ? { preserve } : {}),
                  verify: values.verify === "sha256" ? "sha256" : "none",
                  oneFileSystem: values["one-file-system"] === true,
                  signal: controller.signal,
                  ...(view ? { onProgress: view.update } : {}),
                });
                return { bytes: r.bytes, entries: r.entries };
              },
            );
          }
        }
        break;
      }
      case "rm": {
        if (positionals.length < 1) {
          throw new UsageError("rm needs at least one PATH");
        }
        if (values["one-file-system"] && values["cross-file-systems"]) {
          throw new UsageError(
            "--one-file-system and --cross-file-systems exclude each other",
          );
        }
        for (const path of positionals) {
          if (controller.signal.aborted) break;
          await run(
            { op: "remove", path },
            "remove",
            `'${path}'`,
            async (view) => {
              const r = await remove(path, {
                oneFileSystem: values["cross-file-systems"] !== true,
                missingOk: values["missing-ok"] === true,
                signal: controller.signal,
                ...(view
                  ? {
                    onProgress: (p: { entriesRemoved: number; path: string }) =>
                      view.update({
                        phase: "remove",
                        bytesDone: 0,
                        bytesTotal: 0,
                        filesDone: p.entriesRemoved,
                        filesTotal: 0,
                        path: p.path,
                      }),
                  }
                  : {}),
              });
              return { entries: r.entriesRemoved };
            },
          );
        }
        break;
      }
      case "write": {
        if (positionals.length !== 1) {
          throw new UsageError("write needs exactly one DEST");
        }
        const dest = positionals[0];
        let mode: number | undefined;
        if (typeof values.mode === "string") {
          if (!/^0?[0-7]{3,4}$/.test(values.mode)) {
            throw new UsageError(
              `invalid --mode '${values.mode}': use an octal mode such as 0644`,
            );
          }
          mode = parseInt(values.mode, 8);
        }
        const stdin = io.stdin ?? Deno.stdin.readable;
        await run({ op: "writeFile", dest }, "write", `'${dest}'`, async () => {
          const r = await writeFile(dest, stdin, {
            overwrite: values["no-clobber"] !== true,
            durable,
            signal: controller.signal,
            ...(mode !== undefined ? { mode } : {}),
          });
          return { bytes: r.bytes };
        });
        break;
      }
      case "sweep": {
        if (positionals.length !== 1) {
          throw new UsageError("sweep needs exactly one DIR");
        }
        const dir = positionals[0];
        const olderThan = typeof values["older-than"] === "string"
          ? parseAge(values["older-than"])
          : undefined;
        const dryRun = values["dry-run"] === true;
        await run({ op: "sweep", path: dir }, "sweep", `'${dir}'`, async () => {
          const r = await sweep(dir, {
            dryRun,
            ...(olderThan !== undefined ? { olderThan } : {}),
          });
          if (!json) {
            for (const p of r.removed) {
              stdout.writeSync(
                enc.encode(`${dryRun ? "would remove" : "removed"} ${p}\n`),
              );
            }
          }
          return { removed: r.removed, entries: r.removed.length };
        });
        break;
      }
    }
  } catch (e) {
    if (listening) Deno.removeSignalListener("SIGINT", onSigint);
    if (e instanceof UsageError) {
      say(`safefs ${cmd}: ${e.message}\nTry 'safefs ${cmd} --help'.`);
      return 2;
    }
    throw e;
  }
  if (listening) Deno.removeSignalListener("SIGINT", onSigint);

  const ok = reports.every((r) => r.ok);
  if (json) {
    const doc = { command: cmd, ok, interrupted, operations: reports };
    stdout.writeSync(enc.encode(JSON.stringify(doc, null, 2) + "\n"));
  } else if (!quiet && cmd !== "sweep" && reports.length > 1) {
    say(
      `safefs: ${
        reports.filter((r) => r.ok).length
      } of ${reports.length} operations succeeded`,
    );
  }
  if (interrupted || controller.signal.aborted) return 130;
  return ok ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
