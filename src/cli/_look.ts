// Copyright 2026 the safefs authors. MIT license.
/**
 * The CLI's only look-ups on the filesystem (through the library's seam):
 * what a path is, to name destinations, ask `-i` questions and refuse
 * trailing slashes. They decide how to call the library, which checks
 * everything again, atomically.
 *
 * @module
 */
import { type FileInfo, sys } from "../_sys.ts";
import { resolve } from "../_path.ts";
import { SafeFsError } from "../errors.ts";

/**
 * What is at `path` (following a symlink at its end when `follow`), or null
 * when nothing is (ENOENT, or ENOTDIR: a file where a directory should be).
 * Other failures (permissions, I/O) are thrown as `SafeFsError`.
 *
 * @param path The path, as given.
 * @param follow Follow a symlink at the last component.
 */
export async function look(
  path: string,
  follow: boolean,
): Promise<FileInfo | null> {
  const abs = resolve(path);
  try {
    return follow ? await sys.stat(abs) : await sys.lstat(abs);
  } catch (e) {
    if (
      e instanceof SafeFsError && (e.code === "ENOENT" || e.code === "ENOTDIR")
    ) return null;
    throw e;
  }
}

/**
 * The real location of `path`, every symlink followed.
 *
 * @param path An existing path.
 */
export function realPath(path: string): Promise<string> {
  return sys.realPath(resolve(path));
}

/** True when `p` ends in `/` and is not `/` itself. */
export function hasTrailingSlash(p: string): boolean {
  return p.endsWith("/") && /[^/]/.test(p);
}

/** `p` without its trailing slashes (`/` stays `/`). */
export function stripSlashes(p: string): string {
  const s = p.replace(/\/+$/, "");
  return s === "" && p.startsWith("/") ? "/" : s;
}
