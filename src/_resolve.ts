// Copyright 2026 the safefs authors. MIT license.
/**
 * Confined resolution for `openRoot()`: a path relative to a held root
 * directory, resolved one component at a time, each directory opened
 * relative to the one before it without following a symlink (`openDirAt`),
 * as Go's `os.Root` does with `openat`. On the ffi backend the walk holds a
 * descriptor at every step, so a directory on the way swapped for a symlink
 * (even to outside) cannot redirect it: the open of a symlink fails, and
 * what was opened stays what is used. A root renamed while open is
 * followed, like any descriptor.
 *
 * Rules (those of `openat2(RESOLVE_BENEATH)`): `..` leaves the directory
 * reached last and may not climb above the root; a symlink's target is
 * read and spliced in (an absolute target is refused, even one pointing
 * inside: the root's location is not part of its contents), at most
 * `maxSymlinks` per path (then ELOOP); every component before the last must
 * be a directory. The last component is followed only when asked.
 *
 * @module
 */
import { type Dir, feat, type Stat, sys } from "./_sys.ts";
import {
  InvalidArgumentError,
  NotFoundError,
  PermissionError,
  SafeFsError,
  SourceChangedError,
} from "./errors.ts";
import { fsync } from "./_copy/sync.ts";
import type { Gen } from "./_run.ts";

/** Where a confined path led. */
export interface Resolved {
  /**
   * The directory holding the entry (open: the caller closes it with
   * {@linkcode release}), or the directory itself when the path named a
   * directory by `.`/`..` or the root (then `name` is "").
   */
  dir: Dir;
  /** The entry's name in `dir`; "" when `dir` is what the path names. */
  name: string;
  /** The resolved components below the root (no symlinks, no `..`). */
  names: string[];
  /** The root's path plus `names`: for messages and Deno permissions. */
  abs: string;
  /** The stat of what the path names (followed when asked); null when nothing is there or not followed. */
  st: Stat | null;
}

/** How to resolve. */
export interface Walk {
  /** Follow a symlink at the last component (confined). */
  follow: boolean;
  /** Create missing directories on the way (mkdir -p). */
  create?: { mode: number; durable: boolean };
  /** The operation, for errors. */
  op: string;
  /** The path as the caller gave it, for errors. */
  given: string;
}

/** A held root. */
export interface RootDir {
  dir: Dir;
  path: string;
  dev: number;
  ino: number;
  maxSymlinks: number;
}

function escape(op: string, given: string, why: string): PermissionError {
  return new PermissionError(`Refusing to ${op} '${given}': ${why}`, {
    code: "ENOTCAPABLE",
    op,
    path: given,
  });
}

/** Splits a root-relative path; refuses absolute, empty and NUL-holding paths. */
export function split(root: RootDir, op: string, given: string): string[] {
  if (typeof given !== "string") {
    throw new InvalidArgumentError(
      `Cannot ${op}: a root takes paths as strings relative to it, got ${typeof given}`,
      { code: "EINVAL", op },
    );
  }
  if (given.length === 0) {
    throw new InvalidArgumentError(
      `Cannot ${op}: the path is empty (use '.' for the root itself)`,
      { code: "EINVAL", op, path: given },
    );
  }
  if (given.includes("\0")) {
    throw new InvalidArgumentError(
      `Cannot ${op} '${given.replaceAll("\0", "\\0")}': it contains a NUL byte`,
      { code: "EINVAL", op, path: given },
    );
  }
  if (given.startsWith("/")) {
    throw escape(
      op,
      given,
      `it is an absolute path, and a root takes only paths relative to it ('${root.path}')`,
    );
  }
  return given.split("/").filter((c) => c !== "" && c !== ".");
}

function absOf(root: RootDir, names: string[]): string {
  if (names.length === 0) return root.path;
  return `${root.path === "/" ? "" : root.path}/${names.join("/")}`;
}

/** Closes what a resolution opened (never the root itself). */
export function release(root: RootDir, r: Resolved): void {
  if (r.dir !== root.dir) sys.close(r.dir);
}

interface Part {
  name: string;
  via?: string;
  target?: string;
}

/** Resolves `given` beneath `root`; see the module doc. */
export function* resolve(root: RootDir, how: Walk): Gen<Resolved> {
  const { op, given } = how;
  const queue: Part[] = split(root, op, given).map((name) => ({ name }));
  const stack: { dir: Dir; st: Stat; name: string }[] = [];
  const top = (): Dir =>
    stack.length === 0 ? root.dir : stack[stack.length - 1].dir;
  const names = (): string[] => stack.map((s) => s.name);
  let hops = 0;
  let keep: Dir | null = null;
  const done = (name: string, here: string[], st: Stat | null): Resolved => {
    keep = top();
    return { dir: keep, name, names: here, abs: absOf(root, here), st };
  };
  try {
    while (queue.length > 0) {
      const part = queue.shift()!;
      if (part.name === "..") {
        if (stack.length === 0) {
          throw escape(
            op,
            given,
            part.via === undefined
              ? `'..' climbs above the root '${root.path}'`
              : `the symlink '${part.via}' (-> '${part.target}') climbs above the root '${root.path}'`,
          );
        }
        sys.close(stack.pop()!.dir);
        continue;
      }
      const last = queue.length === 0;
      const here = [...names(), part.name];
      if (last && !how.follow) return done(part.name, here, null);
      let st: Stat;
      try {
        st = sys.statAt(top(), part.name, false);
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
        if (last) return done(part.name, here, null);
        if (how.create === undefined) {
          throw new NotFoundError(
            `Cannot ${op} '${given}': '${absOf(root, here)}' does not exist`,
            { code: "ENOENT", op, path: absOf(root, here), cause: e },
          );
        }
        try {
          sys.mkdirAt(top(), part.name, how.create.mode);
          if (how.create.durable) yield* fsync(top());
        } catch (err) {
          if (!(err instanceof SafeFsError && err.code === "EEXIST")) throw err;
        }
        st = sys.statAt(top(), part.name, false);
      }
      if (st.kind === "symlink") {
        const link = here.join("/");
        if (++hops > root.maxSymlinks) {
          throw new SafeFsError(
            `Cannot ${op} '${given}': more than ${root.maxSymlinks} symlinks ` +
              `on the way (the last one '${link}'; a loop of links?)`,
            { code: "ELOOP", op, path: absOf(root, here) },
          );
        }
        let target: string;
        try {
          target = sys.readLinkAt(top(), part.name);
        } catch (e) {
          if (
            e instanceof SafeFsError &&
            (e.code === "EINVAL" || e.code === "ENOENT")
          ) {
            throw new SourceChangedError(
              `Cannot ${op} '${given}': '${
                absOf(root, here)
              }' was replaced while the path was resolved`,
              { code: "ESRCCHANGED", op, path: absOf(root, here), cause: e },
            );
          }
          throw e;
        }
        if (target.startsWith("/")) {
          throw escape(
            op,
            given,
            `the symlink '${link}' has the absolute target '${target}', and a root ` +
              `follows only relative symlinks that stay beneath it ('${root.path}')`,
          );
        }
        queue.unshift(
          ...target.split("/").filter((c) => c !== "" && c !== ".").map((
            name,
          ) => ({ name, via: link, target })),
        );
        continue;
      }
      if (last) return done(part.name, here, st);
      if (st.kind !== "dir") {
        throw new SafeFsError(
          `Cannot ${op} '${given}': '${absOf(root, here)}' is not a directory`,
          { code: "ENOTDIR", op, path: absOf(root, here) },
        );
      }
      let d: Dir;
      try {
        d = sys.openDirAt(top(), part.name);
      } catch (e) {
        if (
          e instanceof SafeFsError &&
          (e.code === "ELOOP" || e.code === "ENOTDIR")
        ) {
          throw changedOnTheWay(op, given, absOf(root, here), e);
        }
        throw e;
      }
      const now = sys.fstat(d);
      if (now.dev !== st.dev || now.ino !== st.ino) {
        sys.close(d);
        throw changedOnTheWay(op, given, absOf(root, here));
      }
      stack.push({ dir: d, st: now, name: part.name });
    }
    // Ended on the root, `.`, `..` or a symlink to a directory: the directory
    // reached last is what the path names.
    return done("", names(), sys.fstat(top()));
  } finally {
    // Every directory opened on the way but the one returned.
    for (const s of stack) if (s.dir !== keep) sys.close(s.dir);
  }
}

function changedOnTheWay(
  op: string,
  given: string,
  path: string,
  cause?: unknown,
): PermissionError {
  return new PermissionError(
    `Refusing to ${op} '${given}': the directory '${path}' was replaced while ` +
      `the path was resolved; nothing was done`,
    { code: "ENOTCAPABLE", op, path, cause },
  );
}

/**
 * On the path backend, a root is a path: it must still name the directory
 * that was opened (on the ffi backend the descriptor follows it).
 */
export function checkRoot(root: RootDir, op: string, given: string): void {
  if (feat.fdRelative) return;
  let st: Stat | null = null;
  try {
    const d = sys.openDir(root.path, false);
    try {
      st = sys.fstat(d);
    } finally {
      sys.close(d);
    }
  } catch {
    st = null;
  }
  if (
    st === null || st.kind !== "dir" || st.dev !== root.dev ||
    st.ino !== root.ino
  ) {
    throw new PermissionError(
      `Refusing to ${op} '${given}': the root '${root.path}' was moved or replaced ` +
        `since openRoot(); nothing was done`,
      { code: "ENOTCAPABLE", op, path: root.path },
    );
  }
}
