// Copyright 2026 the safefs authors. MIT license.
/**
 * Path arguments: turning a user's `string | URL` into what the seam needs, a
 * directory to open and a name in it.
 *
 * `..` is never resolved by text: `g/outlink/../x` names `x` in the parent of
 * wherever `g/outlink` leads, as the kernel, the shell and every other tool
 * read it. So a path is only made absolute (the working directory prefixed),
 * its repeated slashes collapsed and a trailing slash noted; the directory
 * part is handed to the kernel as it is.
 *
 * @module
 */
import { InvalidArgumentError } from "./errors.ts";

/** A path argument: a string or a `file:` URL. */
export type PathLike = string | URL;

/** A path split for the seam. */
export interface Loc {
  /** The path, absolute, slashes collapsed, without a trailing slash. */
  abs: string;
  /** Its directory part ("/" at the top), to open and let the kernel resolve. */
  parent: string;
  /** Its last component ("" only for "/"; "." or ".." where allowed). */
  name: string;
  /** The path ended with "/": it must be a directory. */
  slash: boolean;
}

/**
 * The working directory, asked of Deno at every call: a program may change
 * it between two calls of one synchronous stretch (`copySync`, `chdir`,
 * `copySync`), so it is never remembered. A call locating many paths asks
 * once and hands it to {@linkcode locate}.
 */
export function workingDir(): string {
  return Deno.cwd();
}

/**
 * The path of a `file:` URL, as `node:url`'s `fileURLToPath` gives it on
 * POSIX (which costs every process milliseconds to import): no host, no
 * encoded `/`, the rest percent-decoded.
 */
function urlPath(url: URL, op: string): string {
  let bad = url.hostname !== ""
    ? `names a host ('${url.hostname}')`
    : /%2f/i.test(url.pathname)
    ? "encodes a '/' in its path"
    : null;
  if (bad === null) {
    try {
      return decodeURIComponent(url.pathname);
    } catch {
      bad = "is not valid percent-encoded UTF-8";
    }
  }
  throw new InvalidArgumentError(`Path URL '${url.href}' ${bad}`, {
    code: "EINVAL",
    op,
    path: url.href,
  });
}

/** The user's path as a string, or `InvalidArgumentError`. */
function text(p: PathLike, op: string): string {
  let s: string;
  if (p instanceof URL) {
    if (p.protocol !== "file:") {
      throw new InvalidArgumentError(
        `Path URL '${p.href}' is not a file: URL`,
        { code: "EINVAL", op, path: p.href },
      );
    }
    s = urlPath(p, op);
  } else if (typeof p === "string") {
    s = p;
  } else {
    throw new InvalidArgumentError(
      `Path must be a string or a file: URL, got ${typeof p}`,
      { code: "EINVAL", op },
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
      { code: "EINVAL", op, path: s },
    );
  }
  return s;
}

/**
 * Splits a path argument, made absolute against `here` (default: the
 * working directory now). A last component of `.` or `..` is refused with
 * `InvalidArgumentError` unless `dots` (it names a directory through another
 * name, never an entry to create, replace or remove).
 */
export function locate(
  p: PathLike,
  op: string,
  dots = false,
  here?: string,
): Loc {
  const s = text(p, op);
  let abs = s.startsWith("/") ? s : `${here ?? workingDir()}/${s}`;
  abs = abs.replace(/\/{2,}/g, "/");
  let slash = false;
  while (abs.length > 1 && abs.endsWith("/")) {
    abs = abs.slice(0, -1);
    slash = true;
  }
  if (abs === "/") return { abs, parent: "/", name: "", slash };
  const cut = abs.lastIndexOf("/");
  const parent = cut === 0 ? "/" : abs.slice(0, cut);
  const name = abs.slice(cut + 1);
  if (!dots && (name === "." || name === "..")) {
    throw new InvalidArgumentError(
      `Refusing to ${op} '${s}': its last component is '${name}', which names ` +
        `a directory by another name, not an entry of its own`,
      { code: "EINVAL", op, path: abs },
    );
  }
  return { abs, parent, name, slash };
}

/** `dir/name` for a directory path and an entry name. */
export function under(dir: string, name: string): string {
  if (name === "") return dir;
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

/** True when `child` is `parent` itself or lies beneath it (by text). */
export function isWithin(parent: string, child: string): boolean {
  if (parent === child) return true;
  const p = parent.endsWith("/") ? parent : parent + "/";
  return child.startsWith(p);
}
