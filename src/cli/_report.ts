// Copyright 2026 the safefs authors. MIT license.
/**
 * The reporter: every command tells it what it does, and it alone decides
 * what reaches the user: text lines on stderr, `-v` lines on stdout, the
 * progress view, or one `--json` document on stdout (the same schema for
 * every command). It also owns the exit status, and survives a stdout that
 * cannot be written (`> /dev/full`, a closed pipe).
 *
 * @module
 */
import { AbortedError } from "../errors.ts";
import { type Io, writeAll } from "./_io.ts";
import { describeError, type ErrorJson, errorJson } from "./_messages.ts";
import { ProgressView, type ViewProgress } from "./_progress.ts";

/** One operation in the `--json` document. */
export interface OpReport {
  /** `move`, `copy`, `symlink`, `remove`, `write` or `sweep`. */
  op: string;
  /** The source, for `move` and `copy`; the link's target for `symlink`. */
  src?: string;
  /** The path acted on or produced (rm: removed; write: written; sweep: swept). */
  dest: string;
  /** True when the operation succeeded (or was skipped on request). */
  ok: boolean;
  /** True when it was not attempted: `-i` answered no. */
  skipped?: boolean;
  /** Bytes of file data copied or written. */
  bytes?: number;
  /** Entries moved, copied, removed (or leftovers swept). */
  entries?: number;
  /** `move`: it copied across filesystems. */
  crossDevice?: boolean;
  /** `move`, `copy`, `symlink`, `write`: an existing destination was replaced. */
  replaced?: boolean;
  /** `sweep`: the leftovers removed (or, with --dry-run, to remove). */
  removed?: string[];
  /** `cp --one-file-system`: mount points left out. */
  skippedMounts?: string[];
  /** Wall time of the operation. */
  durationMs: number;
  /** Why it failed. */
  error?: ErrorJson;
}

/** What an operation is: its report fields and how messages name it. */
export interface OpBase {
  op: string;
  src?: string;
  dest: string;
  /** Verb and subject for messages: `move 'a' to 'b'`. */
  what: string;
}

/** How the reporter prints. */
export interface ReportMode {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  progress: boolean;
}

const enc = new TextEncoder();

/** Collects what a command did and prints it. */
export class Reporter {
  readonly ops: OpReport[] = [];
  #io: Io;
  #cmd: string | null;
  #mode: ReportMode;
  #usage = false;
  #fatal: ErrorJson | null = null;
  #interrupted = false;
  #stdoutError: { code: string; message: string } | null = null;

  /**
   * @param io The streams.
   * @param cmd The command (`null` when it is unknown).
   * @param mode How to print.
   */
  constructor(io: Io, cmd: string | null, mode: ReportMode) {
    this.#io = io;
    this.#cmd = cmd;
    this.#mode = mode;
  }

  /** Prints to stdout; a failure is remembered, reported once at the end. */
  out(text: string): void {
    if (this.#stdoutError) return;
    try {
      writeAll(this.#io.stdout, enc.encode(text));
    } catch (e) {
      const err = e as { code?: string; message?: string };
      this.#stdoutError = {
        code: err.code ?? "EIO",
        message: String(err.message ?? e).replace(/ \(os error \d+\)$/, ""),
      };
    }
  }

  /** Prints one line on stderr (never fails). */
  err(line: string): void {
    try {
      writeAll(this.#io.stderr, enc.encode(line + "\n"));
    } catch {
      // stderr is gone: nothing to tell anyone.
    }
  }

  /** A message on stderr, unless --quiet or --json. */
  notice(line: string): void {
    if (!this.#mode.quiet && !this.#mode.json) this.err(line);
  }

  /** A listing line on stdout (`sweep`), unless --json. */
  listing(text: string): void {
    if (!this.#mode.json) this.out(text);
  }

  /** A `-v` line on stdout (GNU's `'src' -> 'dest'`), unless --json/--quiet. */
  verbose(line: string): void {
    if (this.#mode.verbose && !this.#mode.quiet && !this.#mode.json) {
      this.out(line + "\n");
    }
  }

  /** A usage error: exit status 2, plain words plus the usage lines. */
  usage(message: string, usage: string): void {
    this.#usage = true;
    const e = { name: "UsageError", code: "EUSAGE", message, usage };
    if (this.#mode.json) this.#fatal = e;
    else {
      const who = this.#cmd ? `safefs ${this.#cmd}` : "safefs";
      const help = this.#cmd ? `safefs ${this.#cmd} --help` : "safefs --help";
      this.err(`${who}: ${message}\n${usage}\nTry '${help}' for more.`);
    }
  }

  /** A refusal before any operation ran (missing permissions): exit 1. */
  refuse(e: unknown): void {
    this.#fatal = errorJson(e);
    if (!this.#mode.json) {
      const msg = e instanceof Error ? e.message : String(e);
      this.err(`safefs ${this.#cmd}: ${msg}; nothing was done`);
    }
  }

  /** A progress view for one operation, or null when none is drawn. */
  view(mode: "bytes" | "entries", durable: boolean): ProgressView | null {
    if (this.#mode.quiet || this.#mode.json) return null;
    const tty = this.#io.stderr.isTerminal();
    if (!tty && !this.#mode.progress) return null;
    return new ProgressView(this.#io.stderr, {
      tty,
      force: this.#mode.progress,
      mode,
      durable,
    });
  }

  /**
   * Runs one operation and records its outcome; a failure is printed (text
   * mode) and never thrown.
   *
   * @param base What the operation is.
   * @param f Does it; gets the progress callback, returns report fields.
   * @param view The progress view, if any.
   */
  async run(
    base: OpBase,
    f: (
      onProgress: ((p: ViewProgress) => void) | undefined,
    ) => Promise<Partial<OpReport>>,
    view: ProgressView | null = null,
  ): Promise<OpReport> {
    const t0 = performance.now();
    const r = this.#record(base);
    try {
      Object.assign(r, await f(view?.update), { ok: true });
      view?.finish(true);
    } catch (e) {
      view?.finish(false);
      this.#failure(r, base, e);
    }
    r.durationMs = Math.round((performance.now() - t0) * 1000) / 1000;
    return r;
  }

  /**
   * Records an operation that failed before it could start.
   *
   * @param base What the operation is.
   * @param e Why it failed.
   * @param line The text-mode line, when it must be worded otherwise.
   */
  failed(base: OpBase, e: unknown, line?: string, durationMs = 0): void {
    const r = this.#record(base);
    this.#failure(r, base, e, line);
    r.durationMs = Math.round(durationMs * 1000) / 1000;
  }

  /**
   * Records an operation that succeeded as part of a batch.
   *
   * @param base What the operation is.
   * @param fields What it did.
   * @param durationMs Its share of the batch's wall time.
   */
  succeeded(base: OpBase, fields: Partial<OpReport>, durationMs: number): void {
    const r = this.#record(base);
    Object.assign(r, fields, { ok: true });
    r.durationMs = Math.round(durationMs * 1000) / 1000;
  }

  /** Records an operation skipped on request (-i answered no). */
  skipped(base: OpBase): void {
    Object.assign(this.#record(base), { ok: true, skipped: true });
  }

  #record(base: OpBase): OpReport {
    const r: OpReport = {
      op: base.op,
      dest: base.dest,
      ok: false,
      durationMs: 0,
    };
    if (base.src !== undefined) r.src = base.src;
    this.ops.push(r);
    return r;
  }

  #failure(r: OpReport, base: OpBase, e: unknown, line?: string): void {
    if (e instanceof AbortedError) this.#interrupted = true;
    r.ok = false;
    r.error = errorJson(e);
    if (!this.#mode.json) {
      this.err(line ?? describeError(this.#cmd ?? "", base.what, e));
    }
  }

  /**
   * Prints the `--json` document or the summary, reports a stdout that could
   * not be written, and returns the exit status: 2 usage, 130 interrupted,
   * 1 a failure, 141 stdout was a closed pipe (1 another stdout error),
   * else 0.
   *
   * @param aborted The command line was interrupted (SIGINT).
   */
  finish(aborted: boolean): number {
    const interrupted = this.#interrupted || aborted;
    const ok = !this.#usage && this.#fatal === null &&
      this.ops.every((r) => r.ok);
    if (this.#mode.json) {
      const doc: Record<string, unknown> = {
        command: this.#cmd,
        ok,
        interrupted,
        operations: this.ops,
      };
      if (this.#fatal) doc.error = this.#fatal;
      this.out(JSON.stringify(doc, null, 2) + "\n");
    } else if (this.ops.length > 1 && this.#cmd !== "sweep") {
      const done = this.ops.filter((r) => r.ok).length;
      this.notice(`safefs: ${done} of ${this.ops.length} operations succeeded`);
    }
    let status = this.#usage ? 2 : interrupted ? 130 : ok ? 0 : 1;
    if (this.#stdoutError) {
      const { code, message } = this.#stdoutError;
      const done = this.ops.filter((r) => r.ok).length;
      const outcome = this.ops.length === 0
        ? ""
        : done === this.ops.length
        ? `; the ${
          this.ops.length === 1 ? "operation" : "operations"
        } succeeded`
        : `; ${done} of ${this.ops.length} operations succeeded`;
      this.err(
        `safefs: cannot write to standard output: ${message} (${code})${outcome}`,
      );
      if (status === 0) status = code === "EPIPE" ? 141 : 1;
    }
    return status;
  }
}
