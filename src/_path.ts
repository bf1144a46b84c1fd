// Copyright 2026 the safefs authors. MIT license.
/**
 * Path handling, behind one small module (node:path is the only path library
 * safefs uses; `jsr:@std/path` is not reachable from every machine).
 *
 * @module
 */
import {
  basename,
  dirname,
  isAbsolute,
  join,
  relative,
  resolve,
  sep,
} from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidArgumentError } from "./errors.ts";

export { basename, dirname, isAbsolute, join, relative, resolve, sep };

/**
 * `dir/rel` for an absolute, normalised `dir` and a relative `rel` made of
 * directory entry names (no `.`, `..` or empty parts): what `join()` would
 * return, without its normalisation pass (a measurable cost per entry in
 * walks of large trees).
 */
export function under(dir: string, rel: string): string {
  if (rel === "") return dir;
  return dir.endsWith("/") ? dir + rel : `${dir}/${rel}`;
}

/** A path argument: a string or a `file:` URL. */
export type PathLike = string | URL;

/**
 * Turns a user's path argument into an absolute, normalised path. Empty paths
 * and paths with a NUL byte are refused with `InvalidArgumentError`.
 */
export function toAbsolute(p: PathLike, op: string): string {
  let s: string;
  if (p instanceof URL) {
    if (p.protocol !== "file:") {
      throw new InvalidArgumentError(
        `Path URL '${p.href}' is not a file: URL`,
        {
          code: "EINVAL",
          op,
          path: p.href,
        },
      );
    }
    s = fileURLToPath(p);
  } else if (typeof p === "string") {
    s = p;
  } else {
    throw new InvalidArgumentError(
      `Path must be a string or a file: URL, got ${typeof p}`,
      {
        code: "EINVAL",
        op,
      },
    );
  }
  if (s.length === 0) {
    throw new InvalidArgumentError("Path is empty", {
      code: "EINVAL",
      op,
      path: s,
    });
  }
  if (s.includes("\0")) {
    throw new InvalidArgumentError(
      `Path '${s.replaceAll("\0", "\\0")}' contains a NUL byte`,
      {
        code: "EINVAL",
        op,
        path: s,
      },
    );
  }
  return resolve(s);
}

/** True when `child` is `parent` itself or lies beneath it (lexically). */
export function isWithin(parent: string, child: string): boolean {
  if (parent === child) return true;
  const p = parent.endsWith(sep) ? parent : parent + sep;
  return child.startsWith(p);
}
