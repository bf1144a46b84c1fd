// Copyright 2026 the safefs authors. MIT license.
/**
 * The checks `move()` and `copy()` share before their first change: the
 * destination's directory exists, a directory is not put inside itself, source
 * and destination are not the same file, and an existing destination may be
 * replaced at all (rename(2) could not do it atomically otherwise).
 *
 * @module
 */
import { basename, dirname, isWithin, join } from "./_path.ts";
import { specialKind } from "./_copy.ts";
import { type FileInfo, sys } from "./_sys.ts";
import {
  AlreadyExistsError,
  InvalidArgumentError,
  NotEmptyError,
  NotFoundError,
  SafeFsError,
} from "./errors.ts";

/** lstat, or null when nothing is there. */
export async function lstatOrNull(path: string): Promise<FileInfo | null> {
  try {
    return await sys.lstat(path);
  } catch (e) {
    if (e instanceof NotFoundError) return null;
    throw e;
  }
}

/** `lstatOrNull`, synchronous (for paced loops, see `_pace.ts`). */
export function lstatOrNullSync(path: string): FileInfo | null {
  try {
    return sys.lstatSync(path);
  } catch (e) {
    if (e instanceof NotFoundError) return null;
    throw e;
  }
}

function typeName(info: FileInfo): string {
  if (info.isDirectory) return "a directory";
  if (info.isSymlink) return "a symlink";
  if (info.isFile) return "a file";
  return specialKind(info);
}

/** The error for a destination that exists without `overwrite`. */
export function alreadyExists(
  op: string,
  s: string,
  d: string,
  cause?: unknown,
): AlreadyExistsError {
  return new AlreadyExistsError(
    `Cannot ${op} '${s}' to '${d}': the destination exists (use overwrite to replace it)`,
    { code: "EEXIST", op, path: s, dest: d, cause },
  );
}

/**
 * Checks the destination of `op` (`"move"` or `"copy"`) from `s` (whose info
 * is `sInfo`) to `d`. Returns the stat of `d`'s directory.
 */
export async function checkDestination(
  op: string,
  s: string,
  sInfo: FileInfo,
  d: string,
  overwrite: boolean,
): Promise<FileInfo> {
  const dDir = dirname(d);
  let dDirInfo: FileInfo;
  try {
    dDirInfo = await sys.stat(dDir);
  } catch (e) {
    if (e instanceof NotFoundError) {
      throw new NotFoundError(
        `Cannot ${op} '${s}' to '${d}': the directory '${dDir}' does not exist`,
        { code: "ENOENT", op, path: s, dest: d, cause: e },
      );
    }
    throw e;
  }
  if (!dDirInfo.isDirectory) {
    throw new SafeFsError(
      `Cannot ${op} '${s}' to '${d}': '${dDir}' is not a directory`,
      { code: "ENOTDIR", op, path: s, dest: d },
    );
  }
  if (sInfo.isDirectory) {
    // Real locations: `dest` may reach into `src` through a symlink.
    const realS = await sys.realPath(s);
    const realD = join(await sys.realPath(dDir), basename(d));
    if (isWithin(realS, realD)) {
      throw new InvalidArgumentError(
        `Cannot ${op} directory '${s}' into itself ('${d}')`,
        { code: "EINVAL", op, path: s, dest: d },
      );
    }
  }
  const dInfo = await lstatOrNull(d);
  if (dInfo === null) return dDirInfo;
  if (
    dInfo.dev === sInfo.dev && dInfo.ino === sInfo.ino &&
    dInfo.isDirectory === sInfo.isDirectory
  ) {
    throw new InvalidArgumentError(
      `Cannot ${op} '${s}' to '${d}': they are the same file`,
      { code: "EINVAL", op, path: s, dest: d },
    );
  }
  if (!overwrite) throw alreadyExists(op, s, d);
  // Replacements rename(2) would refuse, refused before anything is built.
  if (dInfo.isDirectory && !sInfo.isDirectory) {
    throw new SafeFsError(
      `Cannot replace directory '${d}' with ${typeName(sInfo)} '${s}'`,
      { code: "EISDIR", op, path: s, dest: d },
    );
  }
  if (sInfo.isDirectory && !dInfo.isDirectory) {
    throw new SafeFsError(
      `Cannot replace ${typeName(dInfo)} '${d}' with directory '${s}'`,
      { code: "ENOTDIR", op, path: s, dest: d },
    );
  }
  if (sInfo.isDirectory && (await sys.readDir(d)).length > 0) {
    throw new NotEmptyError(
      `Cannot replace directory '${d}': it is not empty and cannot be replaced atomically`,
      { code: "ENOTEMPTY", op, path: s, dest: d },
    );
  }
  return dDirInfo;
}
