// Copyright 2026 the safefs authors. MIT license.
/**
 * `sweep()`: remove what crashed safefs operations left behind.
 *
 * @module
 */
import { type PathLike, toAbsolute } from "./_path.ts";
import { preflight } from "./_perm.ts";
import { lstatOrNull } from "./_dest.ts";
import { type FileInfo, sys } from "./_sys.ts";
import { isTempName } from "./_temp.ts";
import { InvalidArgumentError, NotFoundError, SafeFsError } from "./errors.ts";
import { remove } from "./remove.ts";

/** Options for {@linkcode sweep}. */
export interface SweepOptions {
  /**
   * Only remove leftovers whose modification time (of the entry itself,
   * never of a symlink's target) is more than this many milliseconds in the
   * past, so that the temp files of operations still running are left alone.
   * It must be longer than the longest safefs operation that may run in
   * `dir`. `0` removes every leftover, whatever its age.
   * @default {3_600_000}
   */
  olderThan?: number;
  /**
   * List what would be removed, and remove nothing.
   * @default {false}
   */
  dryRun?: boolean;
}

/** What {@linkcode sweep} did. */
export interface SweepResult {
  /**
   * Absolute paths of the leftovers removed (with `dryRun`: that would be
   * removed), sorted. Leftovers another process removed first are not listed.
   */
  removed: string[];
}

const HOUR = 3_600_000;

/**
 * Removes the leftovers of crashed safefs operations found directly in `dir`:
 * entries named like safefs temp files (`.<name>.<uuid>.safefs-tmp`), whether
 * files, symlinks (the link only, never its target) or whole directory trees
 * (removed with {@linkcode remove}: no symlink is followed, no other
 * filesystem entered), when they are older than `olderThan`.
 *
 * Guarantees: it never touches an entry whose name is not a safefs temp name,
 * never looks below `dir` for them (temps are always created directly beside
 * their destination), and with `dryRun` changes nothing. Entries that vanish
 * meanwhile (another sweep) are skipped.
 *
 * Does not guarantee: an operation running longer than `olderThan` can lose
 * its temp (the age is the entry's own mtime, which a long copy into a temp
 * directory does not refresh); keep `olderThan` above your longest operation.
 *
 * @example Clean a directory after a crash
 * ```ts
 * import { sweep } from "@safefs/safefs";
 * import { deepEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const leftover = `${dir}/.report.pdf.0b5f4a3e-8a59-4a55-9d7e-5bd1c0f1f9a1.safefs-tmp`;
 * await Deno.writeTextFile(leftover, "half a report");
 * await Deno.writeTextFile(`${dir}/report.pdf`, "the report");
 *
 * const { removed } = await sweep(dir, { olderThan: 0 });
 * deepEqual(removed, [leftover]);
 * deepEqual(await Deno.readTextFile(`${dir}/report.pdf`), "the report");
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param dir The directory to clean (not recursively).
 * @param options See {@linkcode SweepOptions}.
 * @returns The leftovers removed (or, with `dryRun`, found).
 * @throws {NotFoundError} `dir` does not exist.
 * @throws {PermissionError} A Deno permission is missing, or the OS refused.
 * @throws {InvalidArgumentError} `dir` is empty, has a NUL byte, or `olderThan` is not a number >= 0.
 * @throws {SafeFsError} A leftover could not be removed (the first such
 * failure, thrown after every other leftover was dealt with), or `dir` is
 * not a directory (`ENOTDIR`).
 */
export async function sweep(
  dir: PathLike,
  options: SweepOptions = {},
): Promise<SweepResult> {
  const op = "sweep";
  const abs = toAbsolute(dir, op);
  const olderThan = options.olderThan ?? HOUR;
  if (typeof olderThan !== "number" || !(olderThan >= 0)) {
    throw new InvalidArgumentError(
      `Cannot sweep '${abs}': olderThan must be a number of milliseconds >= 0, got ${olderThan}`,
      { code: "EINVAL", op, path: abs },
    );
  }
  const dryRun = options.dryRun ?? false;
  // `dir` is checked where it really is: a symlink to a directory outside the
  // grant is refused as a symlink escape (and any other symlink is refused
  // below as not a directory).
  await preflight(
    op,
    dryRun ? [{ kind: "read", path: abs, followLast: true }] : [
      { kind: "read", path: abs, followLast: true },
      { kind: "write", path: abs, followLast: true },
    ],
  );
  const info = await lstatOrNull(abs);
  if (info === null) {
    throw new NotFoundError(`Cannot sweep '${abs}': it does not exist`, {
      code: "ENOENT",
      op,
      path: abs,
    });
  }
  if (!info.isDirectory) {
    throw new SafeFsError(`Cannot sweep '${abs}': it is not a directory`, {
      code: "ENOTDIR",
      op,
      path: abs,
    });
  }
  const names = (await sys.readDir(abs))
    .map((e) => e.name)
    .filter(isTempName)
    .sort();
  const now = Date.now();
  const removed: string[] = [];
  let firstError: unknown = null;
  for (const name of names) {
    const path = `${abs === "/" ? "" : abs}/${name}`;
    let entry: FileInfo;
    try {
      entry = await sys.lstat(path);
    } catch (e) {
      if (e instanceof NotFoundError) continue; // swept by someone else
      firstError ??= e;
      continue;
    }
    const mtime = entry.mtime?.getTime() ?? 0;
    if (olderThan > 0 && !(now - mtime > olderThan)) continue;
    if (dryRun) {
      removed.push(path);
      continue;
    }
    try {
      const r = await remove(path, { missingOk: true });
      if (r.entriesRemoved > 0) removed.push(path);
    } catch (e) {
      firstError ??= e;
    }
  }
  if (firstError !== null) throw firstError;
  return { removed };
}
