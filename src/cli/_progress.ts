// Copyright 2026 the safefs authors. MIT license.
/**
 * The progress view on stderr: a bar with bytes, rate and ETA for copies and
 * moves, then the phase after the data (syncing, publishing); a counter with
 * a rate for removals. Drawn on a terminal (or with `--progress`), only for
 * operations that last longer than 300 ms.
 *
 * @module
 */
import type { Phase, Progress } from "../_copy/options.ts";
import { type Sink, writeAll } from "./_io.ts";

export type { Phase } from "../_copy/options.ts";

/** What the view draws: the library's progress, phase included. */
export type ViewProgress = Progress;

/** How the view draws. */
export interface ViewOptions {
  /** stderr is a terminal: redraw one line in place. */
  tty: boolean;
  /** Draw even when stderr is not a terminal (one line per second). */
  force: boolean;
  /** `"bytes"`: a bar for copies and moves; `"entries"`: a counter (rm). */
  mode: "bytes" | "entries";
  /** The operation fsyncs after copying (names the phase after the data). */
  durable: boolean;
  /** Clock in milliseconds (tests pass their own). */
  now?: () => number;
  /** Redraw on a timer while no progress arrives (off in tests). */
  timer?: boolean;
}

const enc = new TextEncoder();

function fmtBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

const LABELS: Record<Phase, string> = {
  plan: "scanning",
  copy: "copying",
  sync: "syncing to disk",
  publish: "publishing",
  remove: "removing the source",
};

/** A progress view for one operation. */
export class ProgressView {
  #o: ViewOptions;
  #now: () => number;
  #start: number;
  #last = -Infinity;
  #drawn = false;
  #latest: ViewProgress | null = null;
  #phase: Phase | null = null;
  #phaseStart = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /**
   * @param out Where to draw (stderr).
   * @param options How to draw.
   */
  constructor(private out: Sink, options: ViewOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /** The library's progress callback. */
  update = (p: ViewProgress): void => {
    this.#latest = p;
    if (this.#timer === undefined && this.#o.timer !== false) {
      const timer = setInterval(() => this.tick(), 250);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
    this.tick();
  };

  /** Redraws when it is time to (called on updates and by the timer). */
  tick(): void {
    const p = this.#latest;
    if (p === null || (!this.#o.tty && !this.#o.force)) return;
    const now = this.#now();
    const phase = this.#phaseOf(p);
    const changed = phase !== this.#phase;
    if (changed) {
      this.#phase = phase;
      this.#phaseStart = now;
    }
    if (now - this.#start < 300) return;
    const every = this.#o.tty ? 100 : 1000;
    if (!(changed && this.#drawn) && now - this.#last < every) return;
    this.#last = now;
    this.#draw(this.#line(p, phase, now, false));
  }

  /** Draws the final line if anything was drawn, and ends the line. */
  finish(ok: boolean): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (!this.#drawn) return;
    const p = this.#latest;
    if (ok && p) this.#draw(this.#line(p, "copy", this.#now(), true));
    if (this.#o.tty) this.#write("\n");
  }

  #phaseOf(p: ViewProgress): Phase {
    return this.#o.mode === "entries" ? "remove" : p.phase;
  }

  #line(p: ViewProgress, phase: Phase, now: number, final: boolean): string {
    const secs = Math.max(0.001, (now - this.#start) / 1000);
    if (this.#o.mode === "entries") {
      const rate = Math.round(p.filesDone / secs);
      return final
        ? `removed ${p.filesDone} entries in ${
          secs.toFixed(1)
        }s (${rate} entries/s)`
        : `removing: ${p.filesDone} entries, ${rate} entries/s`;
    }
    const bytes = p.bytesTotal > 0;
    const total = bytes ? p.bytesTotal : p.filesTotal;
    const done = final
      ? total
      : Math.min(total, bytes ? p.bytesDone : p.filesDone);
    const frac = total > 0 ? done / total : final ? 1 : 0;
    const files = p.filesTotal > 0
      ? ` ${final ? p.filesTotal : p.filesDone}/${p.filesTotal} files`
      : "";
    // Without a byte total (a batch counts sources), the bytes copied so
    // far are shown alone, when there are any.
    const size = bytes
      ? ` ${fmtBytes(final ? total : p.bytesDone)}`
      : p.bytesDone > 0
      ? ` ${fmtBytes(p.bytesDone)}`
      : "";
    let tail: string;
    if (final) {
      tail = `${size}${files} done in ${secs.toFixed(1)}s`;
    } else if (phase === "copy") {
      const rate = p.bytesDone > 0 ? ` ${fmtBytes(p.bytesDone / secs)}/s` : "";
      const eta = frac > 0 && frac < 1 ? (secs / frac) * (1 - frac) : 0;
      const of = bytes ? `/${fmtBytes(p.bytesTotal)}` : "";
      tail = `${size}${of}${rate}${files} ETA ${Math.ceil(eta)}s`;
    } else {
      const inPhase = Math.floor((now - this.#phaseStart) / 1000);
      tail = `${size}${files} ${LABELS[phase]}... ${inPhase}s`;
    }
    const pct = String(Math.floor(frac * 100)).padStart(3);
    if (!this.#o.tty) return `${pct.trim()}%${tail}`;
    const fill = Math.round(frac * 24);
    return `[${"#".repeat(fill)}${"-".repeat(24 - fill)}] ${pct}%${tail}`;
  }

  #draw(line: string): void {
    this.#write(this.#o.tty ? `\r\x1b[2K${line}` : `safefs: ${line}\n`);
    this.#drawn = true;
  }

  #write(s: string): void {
    try {
      writeAll(this.out, enc.encode(s));
    } catch {
      // stderr is gone: nothing to tell anyone.
    }
  }
}

/**
 * The progress of a batch (many sources into one directory) as one view
 * draws it: sources done of all the sources (as "files"), and the bytes
 * copied by every source so far. The library reports each source on its
 * own, from its root's path first.
 *
 * @param roots The library's absolute path of every source of the batch.
 * @param update The view's callback.
 * @returns The library's progress callback.
 */
export function batchProgress(
  roots: string[],
  update: (p: ViewProgress) => void,
): (p: Progress) => void {
  const known = new Set(roots);
  let current: string | null = null;
  let started = 0;
  let bytesBefore = 0;
  let bytesNow = 0;
  return (p) => {
    if (known.has(p.path) && p.path !== current) {
      if (current !== null) bytesBefore += bytesNow;
      current = p.path;
      started++;
      bytesNow = 0;
    }
    bytesNow = p.bytesDone;
    const last = p.phase === "publish" || p.phase === "remove";
    const whole = last && p.filesDone >= p.filesTotal;
    update({
      phase: p.phase,
      bytesDone: bytesBefore + bytesNow,
      bytesTotal: 0,
      filesDone: Math.max(0, started - 1) + (whole ? 1 : 0),
      filesTotal: roots.length,
      path: p.path,
    });
  };
}
