// Copyright 2026 the safefs authors. MIT license.
/**
 * The POSIX path helpers the CLI needs, by text, as `node:path` computes
 * them (importing `node:path` costs every `safefs` process milliseconds at
 * start-up). These name things for messages and permission checks the way
 * Deno's own grants read paths (`..` resolved by text); the library itself
 * never resolves `..` by text.
 *
 * @module
 */
import { workingDir } from "../_path.ts";

let cwdNow: string | null = null;

/**
 * The working directory, asked of Deno once per synchronous run of CLI code
 * (planning 10,000 operands asks once) and forgotten at the next microtask.
 * That is safe here and nowhere else: the CLI never changes directory, and
 * no other code runs inside one of its synchronous stretches. (The library
 * asks at every call: a program may `chdir` between two sync calls.)
 */
export function cwd(): string {
  if (cwdNow === null) {
    cwdNow = workingDir();
    queueMicrotask(() => cwdNow = null);
  }
  return cwdNow;
}

/** The segments of `path` with `.` dropped and `..` applied, by text. */
function segments(path: string, absolute: boolean): string[] {
  const out: string[] = [];
  for (const s of path.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
    } else {
      out.push(s);
    }
  }
  return out;
}

/**
 * `path` normalised: `.` and empty segments dropped, `..` applied, a
 * trailing slash kept (`"."` for nothing).
 */
export function normalize(path: string): string {
  if (path === "") return ".";
  const absolute = path.startsWith("/");
  const trailing = path.endsWith("/");
  const body = segments(path, absolute).join("/");
  if (absolute) return body === "" ? "/" : `/${body}${trailing ? "/" : ""}`;
  if (body === "") return trailing ? "./" : ".";
  return trailing ? `${body}/` : body;
}

/** `path` absolute, against the working directory, normalised, no trailing slash. */
export function resolve(path: string): string {
  if (plain(path)) {
    if (path.startsWith("/")) return path;
    const dir = cwd();
    return dir === "/" ? `/${path}` : `${dir}/${path}`;
  }
  const full = path.startsWith("/") ? path : `${cwd()}/${path}`;
  return `/${segments(full, true).join("/")}`;
}

/**
 * True for a path normalising would not change (no `.` or `..` component,
 * no repeated or trailing slash): what a shell glob of 10,000 names gives,
 * resolved by prefixing the working directory alone.
 */
function plain(path: string): boolean {
  return path !== "" && path !== "/" && !path.endsWith("/") &&
    !path.includes("//") && !/(?:^|\/)\.\.?(?:\/|$)/.test(path);
}

/** The parts joined with `/` and normalised (`"."` for nothing). */
export function join(...parts: string[]): string {
  const given = parts.filter((p) => p !== "");
  return given.length === 0 ? "." : normalize(given.join("/"));
}

/** The last component of `path`, trailing slashes ignored (`""` for `/`). */
export function basename(path: string): string {
  let end = path.length;
  while (end > 0 && path[end - 1] === "/") end--;
  return path.slice(path.lastIndexOf("/", end - 1) + 1, end);
}

/**
 * The directory part of `path`, trailing slashes ignored: what is before its
 * last slash (`"/"` at the top, `"."` for a bare name; only that one slash
 * is dropped, as `node:path` does).
 */
export function dirname(path: string): string {
  let end = path.length;
  while (end > 1 && path[end - 1] === "/") end--;
  const cut = path.lastIndexOf("/", end - 1);
  if (cut < 0) return ".";
  if (cut === 0) return "/";
  return cut === 1 && path[0] === "/" ? "//" : path.slice(0, cut);
}
