// Copyright 2026 the safefs authors. MIT license.
/**
 * The options and progress reports of the copy engine, shared by `copy()`,
 * the cross-filesystem path of `move()` and `Root`.
 *
 * @module
 */
import { AbortedError } from "../errors.ts";

/** What a copy, move or write is doing, for {@linkcode Progress.phase}. */
export type Phase = "plan" | "copy" | "sync" | "publish" | "remove";

/** Progress of a copy, move or write. */
export interface Progress {
  /**
   * What the operation is doing: walking the source (`"plan"`: `filesTotal`
   * grows as entries are found), copying data (`"copy"`), waiting for the
   * data to reach the disk (`"sync"`), publishing (`"publish"`), removing a
   * moved source (`"remove"`).
   */
  phase: Phase;
  /** Bytes of file data copied so far. */
  bytesDone: number;
  /** Bytes of file data to copy in all (known once the plan is done). */
  bytesTotal: number;
  /** Entries (files, symlinks, directories) finished so far. */
  filesDone: number;
  /** Entries to copy in all (while planning: found so far). */
  filesTotal: number;
  /** The source path being worked on. */
  path: string;
}

/** What a copy keeps of the source's metadata. */
export interface PreserveOptions {
  /**
   * Copy the permission bits (else files get 0o666 and directories 0o777,
   * less the umask, applied by the kernel at creation).
   * @default {true}
   */
  mode?: boolean;
  /**
   * Copy access and modification times, to the nanosecond where the backend
   * and filesystem keep them (symlinks' own times too, on the ffi backend).
   * @default {true}
   */
  times?: boolean;
  /**
   * Copy owner and group. `true` fails when that is not permitted; `"try"`
   * copies them where permitted and ignores EPERM.
   * @default {false}
   */
  owner?: boolean | "try";
}

/**
 * Decides per entry whether a tree copy includes it: called with the
 * entry's absolute source path and its information; `false` leaves the entry
 * out (a directory with everything in it, which is then not even listed).
 */
export type CopyFilter = (
  src: string,
  info: Deno.FileInfo,
) => boolean | Promise<boolean>;

/** The engine's options, defaulted by the caller. */
export interface EngineOptions {
  op: string;
  durable: boolean;
  dereference: boolean;
  preserve: { mode: boolean; times: boolean; owner: boolean | "try" };
  verify: "none" | "sha256";
  /** A directory of another filesystem inside the tree. */
  mounts: "fail" | "skip" | "cross";
  filter?: CopyFilter | undefined;
  /**
   * The source will be removed after the copy (a move): the walk checks that
   * every entry can be, and refuses before anything is copied otherwise.
   */
  removable?: boolean;
  signal?: AbortSignal | undefined;
  onProgress?: ((p: Progress) => void) | undefined;
  /**
   * A batch into one directory: the destination directory's fsync after
   * the publish is left to the batch, which makes it once at its end.
   */
  batch?: { add(dir: import("../_sys.ts").Dir): void } | undefined;
}

/** Throws `AbortedError` when the signal has fired. */
export function checkAbort(
  signal: AbortSignal | undefined,
  op: string,
  path: string,
): void {
  if (signal?.aborted) {
    throw new AbortedError(`Operation ${op} on '${path}' was aborted`, {
      code: "ABORT_ERR",
      op,
      path,
      cause: signal.reason,
    });
  }
}

const PROGRESS_MS = 100;

/** Counts what was done and reports it now and then. */
export class Meter {
  phase: Phase = "plan";
  bytesDone = 0;
  filesDone = 0;
  bytesTotal = 0;
  filesTotal = 0;
  #last = 0;

  /** @param o The engine options (for `onProgress`). */
  constructor(readonly o: EngineOptions) {}

  /** Adds to the counts; reports when due (or always, with `force`). */
  tick(path: string, bytes: number, files: number, force = false): void {
    this.bytesDone += bytes;
    this.filesDone += files;
    const cb = this.o.onProgress;
    if (cb === undefined) return;
    const now = performance.now();
    if (!force && now - this.#last < PROGRESS_MS) return;
    this.#last = now;
    cb({
      phase: this.phase,
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      filesDone: this.filesDone,
      filesTotal: this.filesTotal,
      path,
    });
  }

  /** Enters a phase and reports it at once. */
  enter(phase: Phase, path: string): void {
    this.phase = phase;
    this.tick(path, 0, 0, true);
  }
}
