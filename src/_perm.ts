// Copyright 2026 the safefs authors. MIT license.
/**
 * Permission preflight (contract G8): before its first change, a primitive asks
 * Deno for every permission it will need, for every path, and fails with a
 * `PermissionError` naming the flag to add when one is missing. Nothing has
 * changed at that point.
 *
 * Deno's scopes are lexical: `--allow-write=/data` lets a write through
 * `/data/link/x` land wherever `link` points. So each path is also resolved
 * (the real path of its parent directory plus its own name; the last component
 * is never followed) and the permission is checked for that location too: a
 * path whose real location is outside the grant is refused as a symlink escape.
 *
 * @module
 */
import { PermissionError } from "./errors.ts";
import { sys } from "./_sys.ts";

/** One permission a call needs. */
export interface Need {
  /** Deno permission name. */
  kind: "read" | "write";
  /** Absolute path. */
  path: string;
  /**
   * Also check the real location of `path` itself (following a symlink at its
   * last component). Used where a call follows the link on purpose.
   * @default {false}
   */
  followLast?: boolean;
}

function granted(kind: "read" | "write", path: string): boolean {
  return sys.permission({ name: kind, path }) === "granted";
}

/** The refusal of a path whose real location is outside the grant. */
function symlinkEscape(
  op: string,
  kind: "read" | "write",
  path: string,
  real: string,
): PermissionError {
  const flag = `--allow-${kind}=${real}`;
  return new PermissionError(
    `Refusing to ${kind} '${path}': a symlink leads it to '${real}', ` +
      `outside the granted ${kind} permission (symlink escape; ${flag} would allow it)`,
    { code: "ENOTCAPABLE", op, path, dest: real, flag },
  );
}

function dirname(path: string): string {
  const cut = path.lastIndexOf("/");
  return cut <= 0 ? "/" : path.slice(0, cut);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Real location of `path`: realPath(parent) + name, or null when unknown. */
function resolvedLocation(
  path: string,
  followLast: boolean,
): string | null {
  try {
    if (followLast) {
      try {
        return sys.realPath(path);
      } catch {
        // The path itself may not exist yet: fall back to its parent.
      }
    }
    const parent = dirname(path);
    if (parent === path) return path;
    const real = sys.realPath(parent);
    return real === "/" ? `/${basename(path)}` : `${real}/${basename(path)}`;
  } catch {
    // The parent does not exist (the call will fail with NotFoundError), or we
    // may not read it (the lexical check below reports that flag).
    return null;
  }
}

/**
 * Checks every need. Throws `PermissionError` (code `"ENOTCAPABLE"`, `flag` set)
 * on the first one missing, lexically or after resolving symlinks. Of the
 * resolved locations, writes are checked before reads: a path that escapes
 * both ways is reported for the write, the one that could change something.
 *
 * @param op The primitive, for the error.
 * @param needs What the call will do, where.
 */
export function preflight(op: string, needs: Need[]): void {
  // Granted for every path (--allow-read / --allow-write without a list):
  // nothing to check, and no location can escape it.
  const everywhere = {
    read: sys.permission({ name: "read" }) === "granted",
    write: sys.permission({ name: "write" }) === "granted",
  };
  needs = needs.filter((n) => !everywhere[n.kind]);
  for (const need of needs) {
    if (!granted(need.kind, need.path)) {
      const flag = `--allow-${need.kind}=${need.path}`;
      throw new PermissionError(
        `Missing ${need.kind} permission for '${need.path}': run with ${flag}`,
        { code: "ENOTCAPABLE", op, path: need.path, flag },
      );
    }
  }
  const ordered = [
    ...needs.filter((n) => n.kind === "write"),
    ...needs.filter((n) => n.kind === "read"),
  ];
  for (const need of ordered) {
    const real = resolvedLocation(need.path, need.followLast ?? false);
    if (real === null || real === need.path) continue;
    if (!granted(need.kind, real)) {
      throw symlinkEscape(op, need.kind, need.path, real);
    }
  }
}

/**
 * For a call that follows a symlink on purpose (copy with `dereference`):
 * checks read permission on the real location of `path`, every symlink in it
 * followed, the last one included. Throws `PermissionError` (a symlink escape)
 * when it is outside the read grant. Nothing to check when read is granted
 * everywhere; a path that cannot be resolved (dangling, vanished) is left to
 * the call that follows it, which fails on its own.
 *
 * @param op The primitive, for the error.
 * @param path The link (or a path through links) about to be followed.
 */
export function checkFollowedLink(
  op: string,
  path: string,
): void {
  if (sys.permission({ name: "read" }) === "granted") return;
  let real: string;
  try {
    real = sys.realPath(path);
  } catch {
    return;
  }
  if (real !== path && !granted("read", real)) {
    throw symlinkEscape(op, "read", path, real);
  }
}
