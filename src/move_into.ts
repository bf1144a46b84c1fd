// Copyright 2026 the safefs authors. MIT license.
/**
 * `moveInto()`: move many entries into one directory as one job.
 *
 * @module
 */
import type { PathLike } from "./_path.ts";
import { type Gen, runAsync } from "./_run.ts";
import { type BatchFailure, runBatch } from "./_batch.ts";
import { moveAt, type MoveOptions, type MoveResult } from "./move.ts";

export type { BatchFailure } from "./_batch.ts";

/** What {@linkcode moveInto} did. */
export interface MoveIntoResult {
  /** The directory moved into, absolute. */
  dir: string;
  /** The sources moved, in the order given. */
  moved: MoveResult[];
  /** The sources not moved (each left where it was), with why. */
  failed: BatchFailure[];
}

/**
 * Moves each of `srcs` into the existing directory `dir`, keeping its name
 * (`mv -t dir -- srcs...`), as one job: every permission is checked before
 * anything moves (one `PermissionError` naming every missing flag), the
 * directories are opened once, each source is moved with the same contract
 * as {@linkcode move} (no clobber unless `overwrite`, atomic, across
 * filesystems too), and the directories touched are made durable once at the
 * end instead of after every entry: on one filesystem, 10,000 moves cost
 * 10,000 renames and a handful of fsyncs.
 *
 * A crash in the middle leaves every entry at its source or at its
 * destination, never neither and never half (each is moved by one atomic
 * rename, or copied and published before its source is removed). A source
 * that cannot be moved (missing, taken destination, two sources with one
 * name, ...) is reported in `failed` and the others go on; the call rejects
 * only when nothing could be tried (`dir` missing, a permission missing) or
 * when the final fsync fails.
 *
 * @example
 * ```ts
 * import { moveInto } from "@safefs/safefs";
 * import { equal as assertEquals } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/inbox`);
 * await Deno.mkdir(`${dir}/done`);
 * for (const n of ["a", "b", "c"]) await Deno.writeTextFile(`${dir}/inbox/${n}`, n);
 * const r = await moveInto(["a", "b", "c"].map((n) => `${dir}/inbox/${n}`), `${dir}/done`);
 * assertEquals(r.moved.length, 3);
 * assertEquals(r.failed.length, 0);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param srcs The files, symlinks or directories to move.
 * @param dir The existing directory to move them into.
 * @param options See {@linkcode MoveOptions} (progress is reported per source).
 * @returns What was moved, and what was not and why.
 * @throws {PermissionError} A Deno permission is missing for any source (nothing moved).
 * @throws {NotFoundError} `dir` does not exist.
 * @throws {NotADirectoryError} `dir` is not a directory.
 */
export function moveInto(
  srcs: PathLike[],
  dir: PathLike,
  options: MoveOptions = {},
): Promise<MoveIntoResult> {
  return runAsync((function* (): Gen<MoveIntoResult> {
    const r = yield* runBatch(
      "move",
      srcs,
      dir,
      options.durable ?? true,
      options.signal,
      (s, d) => [
        { kind: "read", path: s.parent, followLast: true },
        { kind: "write", path: s.abs },
        { kind: "write", path: d.abs },
      ],
      (item, batch) => moveAt(item, options, batch),
    );
    return { dir: r.dir, moved: r.done, failed: r.failed };
  })());
}
