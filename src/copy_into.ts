// Copyright 2026 the safefs authors. MIT license.
/**
 * `copyInto()`: copy many entries into one directory as one job.
 *
 * @module
 */
import type { PathLike } from "./_path.ts";
import { type Gen, runAsync } from "./_run.ts";
import { type BatchFailure, runBatch } from "./_batch.ts";
import { copyAt, type CopyOptions, type CopyResult } from "./copy.ts";

/** What {@linkcode copyInto} did. */
export interface CopyIntoResult {
  /** The directory copied into, absolute. */
  dir: string;
  /** The sources copied, in the order given. */
  copied: CopyResult[];
  /** The sources not copied (nothing published for them), with why. */
  failed: BatchFailure[];
}

/**
 * Copies each of `srcs` into the existing directory `dir`, keeping its name
 * (`cp -R -t dir -- srcs...`), as one job: every permission is checked before
 * anything is written (one `PermissionError` naming every missing flag), the
 * directories are opened once, each source is copied and published with the
 * same contract as {@linkcode copy} (no clobber unless `overwrite`, atomic,
 * identity-checked), and the destination directory is made durable once at
 * the end instead of after every entry.
 *
 * A crash in the middle leaves each entry published whole or not at all
 * (the sources are never touched). A source that cannot be copied is
 * reported in `failed` and the others go on; the call rejects only when
 * nothing could be tried (`dir` missing, a permission missing) or when the
 * final fsync fails.
 *
 * @example
 * ```ts
 * import { copyInto } from "@safefs/safefs";
 * import { equal as assertEquals } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/backup`);
 * await Deno.writeTextFile(`${dir}/a.txt`, "a");
 * await Deno.writeTextFile(`${dir}/b.txt`, "b");
 * const r = await copyInto([`${dir}/a.txt`, `${dir}/b.txt`], `${dir}/backup`);
 * assertEquals(r.copied.length, 2);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param srcs The files, symlinks or directories to copy.
 * @param dir The existing directory to copy them into.
 * @param options See {@linkcode CopyOptions} (progress is reported per source).
 * @returns What was copied, and what was not and why.
 * @throws {PermissionError} A Deno permission is missing for any source (nothing copied).
 * @throws {NotFoundError} `dir` does not exist.
 * @throws {NotADirectoryError} `dir` is not a directory.
 */
export function copyInto(
  srcs: PathLike[],
  dir: PathLike,
  options: CopyOptions = {},
): Promise<CopyIntoResult> {
  return runAsync((function* (): Gen<CopyIntoResult> {
    const r = yield* runBatch(
      "copy",
      srcs,
      dir,
      options.durable ?? true,
      options.signal,
      (s) => [
        { kind: "read", path: s.abs, followLast: options.dereference ?? false },
        { kind: "read", path: s.parent, followLast: true },
      ],
      (item, batch) => copyAt(item, options, batch),
    );
    return { dir: r.dir, copied: r.done, failed: r.failed };
  })());
}
