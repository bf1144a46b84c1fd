// Copyright 2026 the safefs authors. MIT license.
/**
 * What `move()`, `copy()`, `writeFile()` and `symlink()` check before their
 * first change: the directories exist, a directory is not put inside itself,
 * source and destination are not the same file, and an existing destination
 * may be replaced at all, by something of a compatible type.
 *
 * @module
 */
import { type Dir, type Stat, sys } from "./_sys.ts";
import { isWithin, type Loc, under } from "./_path.ts";
import { errorFor } from "./_errno.ts";
import {
  AlreadyExistsError,
  InvalidArgumentError,
  NotFoundError,
  SafeFsError,
} from "./errors.ts";
import { kindName } from "./_copy/walk.ts";

/**
 * True when `name` in `dir` is (not followed) the inode `id`: a name still
 * holds what was made or locked through it.
 */
export function holds(
  dir: Dir,
  name: string,
  id: { dev: number; ino: number },
): boolean {
  const st = sys.tryStatAt(dir, name, false);
  return st !== null && st.dev === id.dev && st.ino === id.ino;
}

/** Opens the directory holding `loc` (symlinks in it followed, as every tool does). */
export function openParent(loc: Loc, op: string, subject: string): Dir {
  try {
    return sys.openDir(loc.parent, true);
  } catch (e) {
    if (e instanceof NotFoundError) {
      throw new NotFoundError(
        `Cannot ${op} ${subject}: the directory '${loc.parent}' does not exist`,
        { code: "ENOENT", op, path: loc.abs, cause: e },
      );
    }
    if (e instanceof SafeFsError && e.code === "ENOTDIR") {
      throw errorFor(
        "ENOTDIR",
        `Cannot ${op} ${subject}: '${loc.parent}' is not a directory`,
        { code: "ENOTDIR", op, path: loc.abs, cause: e },
      );
    }
    throw e;
  }
}

/** statAt without following, or null when nothing is there. */
export function statOrNull(
  dir: Dir,
  name: string,
  follow = false,
): Stat | null {
  return sys.tryStatAt(dir, name, follow);
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

/** The error for a path with a trailing slash that is not a directory. */
export function notADirectory(op: string, path: string): SafeFsError {
  return errorFor(
    "ENOTDIR",
    `Cannot ${op} '${path}/': it is not a directory (a trailing slash names a directory)`,
    { code: "ENOTDIR", op, path },
  );
}

/** What the destination check found. */
export interface DestState {
  /** What is at the destination now (not followed), or null. */
  existing: Stat | null;
  /** The destination is the source itself (same inode): rename(2) does nothing. */
  same: boolean;
}

/**
 * Checks the destination of `op` (`"move"` or `"copy"`) from the source at
 * `src` (path and stat) to `dest` (located, its directory open).
 */
export function checkDestination(
  op: string,
  src: { path: string; st: Stat },
  dest: { loc: Loc; dir: Dir },
  overwrite: boolean,
): DestState {
  const s = src.path;
  const d = dest.loc.abs;
  const sIsDir = src.st.kind === "dir";
  const existing = statOrNull(dest.dir, dest.loc.name);
  const same = existing !== null && existing.dev === src.st.dev &&
    existing.ino === src.st.ino && existing.kind === src.st.kind;
  if (same && overwrite) {
    // rename(2) of an entry onto itself (or another name of it) does
    // nothing: neither does a move with overwrite (a copy refuses it).
    return { existing, same: true };
  }
  if (sIsDir) {
    // Real locations: `dest` may reach into `src` through a symlink.
    const realS = sys.realPath(s);
    const realD = under(sys.realPath(dest.loc.parent), dest.loc.name);
    if (isWithin(realS, realD)) {
      throw new InvalidArgumentError(
        `Cannot ${op} directory '${s}' into itself ('${d}')`,
        { code: "EINVAL", op, path: s, dest: d },
      );
    }
  }
  if (dest.loc.slash) {
    if (existing !== null ? existing.kind !== "dir" : !sIsDir) {
      throw notADirectory(op, d);
    }
  }
  if (existing === null) return { existing, same: false };
  if (same && op === "copy") return { existing, same: true };
  if (same) throw alreadyExists(op, s, d);
  if (!overwrite) throw alreadyExists(op, s, d);
  // Replacements rename(2) would refuse, refused before anything is built.
  if (existing.kind === "dir" && !sIsDir) {
    throw errorFor(
      "EISDIR",
      `Cannot replace directory '${d}' with ${kindName(src.st)} '${s}'`,
      { code: "EISDIR", op, path: s, dest: d },
    );
  }
  if (sIsDir && existing.kind !== "dir") {
    throw errorFor(
      "ENOTDIR",
      `Cannot replace ${kindName(existing)} '${d}' with directory '${s}'`,
      { code: "ENOTDIR", op, path: s, dest: d },
    );
  }
  return { existing, same: false };
}
