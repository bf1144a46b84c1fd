// Copyright 2026 the safefs authors. MIT license.
/**
 * The CLI's only look-ups on the filesystem (through the library's seam):
 * what a path is, to name destinations, ask `-i` questions and refuse
 * trailing slashes. They decide how to call the library, which checks
 * everything again, atomically. `..` is left to the kernel, as the library
 * does: `link/..` is the parent of where `link` leads.
 *
 * @module
 */
import { sys } from "../_sys.ts";
import { toFileInfo } from "../_copy/walk.ts";
import { SafeFsError } from "../errors.ts";
import { cwd } from "./_paths.ts";

function absolute(path: string): string {
  const abs = path.startsWith("/") ? path : `${cwd()}/${path}`;
  return abs.replace(/\/{2,}/g, "/");
}

/**
 * What is at `path` (following a symlink at its end when `follow`), or null
 * when nothing is (ENOENT, or ENOTDIR: a file where a directory should be).
 * Other failures (permissions, I/O) are thrown as `SafeFsError`.
 *
 * @param path The path, as given.
 * @param follow Follow a symlink at the last component.
 */
export function look(
  path: string,
  follow: boolean,
): Promise<Deno.FileInfo | null> {
  try {
    let abs = absolute(path);
    while (abs.length > 1 && abs.endsWith("/")) abs = abs.slice(0, -1);
    const cut = abs.lastIndexOf("/");
    const name = abs.slice(cut + 1);
    if (abs === "/" || name === "." || name === "..") {
      const d = sys.openDir(abs, true);
      try {
        return Promise.resolve(toFileInfo(sys.fstat(d)));
      } finally {
        sys.close(d);
      }
    }
    if (follow) {
      // A directory (the usual question) is looked at by itself, which
      // needs no permission on its parent.
      try {
        const d = sys.openDir(abs, true);
        try {
          return Promise.resolve(toFileInfo(sys.fstat(d)));
        } finally {
          sys.close(d);
        }
      } catch (e) {
        if (!(e instanceof SafeFsError && e.code === "ENOTDIR")) throw e;
      }
    }
    const dir = sys.openDir(cut === 0 ? "/" : abs.slice(0, cut), true);
    try {
      return Promise.resolve(toFileInfo(sys.statAt(dir, name, follow)));
    } finally {
      sys.close(dir);
    }
  } catch (e) {
    if (
      e instanceof SafeFsError && (e.code === "ENOENT" || e.code === "ENOTDIR")
    ) return Promise.resolve(null);
    return Promise.reject(e);
  }
}

/**
 * The real location of `path`, every symlink followed.
 *
 * @param path An existing path.
 */
export function realPath(path: string): Promise<string> {
  try {
    return Promise.resolve(sys.realPath(absolute(path)));
  } catch (e) {
    return Promise.reject(e);
  }
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
