// Copyright 2026 the safefs authors. MIT license.
/**
 * Permission preflight (contract G8): before its first change, a primitive asks
 * Deno for every permission it will need, for every path, and fails with one
 * `PermissionError` naming every flag to add when some are missing (and
 * `--allow-all` at once for the paths Deno reserves to it). Nothing has
 * changed at that point. The CLI uses the same pieces to check all the
 * operations of one command line before running the first.
 *
 * Deno's scopes are lexical: `--allow-write=/data` lets a write through
 * `/data/link/x` land wherever `link` points. So each path is also resolved
 * (the real path of its parent directory plus its own name; the last component
 * is never followed) and the permission is checked for that location too: a
 * path whose real location is outside the grant is refused as a symlink escape.
 *
 * @module
 */
import { isWithin, under } from "./_path.ts";
import { PermissionError } from "./errors.ts";
import { feat, sys } from "./_sys.ts";

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

/**
 * True when Deno refuses `path` to anything less than `--allow-all`, whatever
 * the read and write grants say (and `Deno.permissions.query` says "granted"
 * for it all the same). Measured on Deno 2.9 (Linux): every path equal to or
 * under `/dev`, `/proc` or `/sys`, lexically after `..` is resolved (so
 * `/dev/shm` too; a symlink leading there is not caught by Deno), except
 * `/dev/null`, `/dev/zero`, `/dev/random` and `/dev/urandom`. Other Unixes:
 * `/dev` only. Deno also lets pipes through `/dev/fd/N`; safefs never opens
 * those.
 *
 * @param path An absolute, normalised path.
 */
export function needsAllowAll(path: string): boolean {
  if (Deno.build.os === "windows") return false;
  if (
    path === "/dev/null" || path === "/dev/zero" || path === "/dev/random" ||
    path === "/dev/urandom"
  ) {
    return false;
  }
  const roots = Deno.build.os === "linux" ? ["/dev", "/proc", "/sys"] : [
    "/dev",
  ];
  return roots.some((r) => path === r || path.startsWith(r + "/"));
}

/**
 * True when the process seems to run with `--allow-all`: Deno offers no query
 * for that flag, so every permission granted everywhere stands for it. (All
 * eight `--allow-*` flags given one by one look the same and are not enough
 * for Deno: that case is reported by the call itself, as Deno refuses it.)
 */
export function allowAll(): boolean {
  const names = [
    "read",
    "write",
    "net",
    "env",
    "run",
    "ffi",
    "sys",
    "import",
  ] as const;
  return names.every((name) =>
    sys.permission({ name } as Deno.PermissionDescriptor) === "granted"
  );
}

/**
 * True when no need can be missing: read and write are granted everywhere
 * (and, on the `path` backend, `--allow-all` too, which Deno demands for
 * `/dev`, `/proc` and `/sys`). Callers check this before listing the needs
 * of 10,000 paths one by one.
 */
export function unlimited(): boolean {
  return sys.permission({ name: "read" }) === "granted" &&
    sys.permission({ name: "write" }) === "granted" &&
    (feat.name !== "path" || allowAll());
}

/**
 * The flags missing for `needs`, judged lexically (symlinks are not resolved
 * here): `["--allow-all"]` alone when a path needs it (see
 * {@linkcode needsAllowAll}; it grants everything else too), else one
 * `--allow-KIND=PATH` per missing need, in order, without repeats.
 *
 * @param needs What a call (or several) will do, where.
 * @returns The missing flags; empty when nothing is missing.
 */
export function missingFlags(needs: Need[]): string[] {
  if (unlimited()) return [];
  // Deno's own calls refuse /dev, /proc and /sys without --allow-all; the
  // ffi backend makes its own calls, for which the scoped flags suffice.
  if (
    feat.name === "path" && needs.some((n) => needsAllowAll(n.path)) &&
    !allowAll()
  ) {
    return ["--allow-all"];
  }
  const everywhere = {
    read: sys.permission({ name: "read" }) === "granted",
    write: sys.permission({ name: "write" }) === "granted",
  };
  const flags: string[] = [];
  const asked = new Set<string>();
  for (const n of needs) {
    if (everywhere[n.kind]) continue;
    const key = `${n.kind}\0${n.path}`;
    if (asked.has(key)) continue;
    asked.add(key);
    if (granted(n.kind, n.path)) continue;
    const flag = `--allow-${n.kind}=${n.path}`;
    if (!flags.includes(flag)) flags.push(flag);
  }
  return flags;
}

/** Quotes `s` for a POSIX shell when it holds anything but safe characters. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * `flags` as one command-line fragment, scoped flags of one kind merged the
 * way Deno takes them, read first: `--allow-read=/a,/b --allow-write=/c`,
 * without paths beneath another path of the same kind. An unscoped flag of a
 * kind absorbs the scoped ones; `--allow-all` absorbs everything.
 *
 * @param flags Flags such as `--allow-read=/a` or `--allow-all`.
 */
export function joinFlags(flags: string[]): string {
  if (flags.includes("--allow-all")) return "--allow-all";
  const byKind = new Map<string, string[] | null>();
  for (const f of flags) {
    const m = /^--allow-([a-z]+)(?:=(.*))?$/s.exec(f);
    if (m === null) continue;
    const [, kind, path] = m;
    const seen = byKind.get(kind);
    if (path === undefined || seen === null) byKind.set(kind, null);
    else if (seen === undefined) byKind.set(kind, [path]);
    else if (!seen.includes(path)) seen.push(path);
  }
  // A path beneath another of the same kind needs no grant of its own:
  // Deno's grants cover everything beneath them.
  const outer = (paths: string[]): string[] =>
    paths.filter((p) => !paths.some((q) => q !== p && isWithin(q, p)));
  const rank = (k: string): number => k === "read" ? 0 : k === "write" ? 1 : 2;
  return [...byKind].sort((a, b) => rank(a[0]) - rank(b[0])).map((
    [kind, paths],
  ) =>
    paths === null
      ? `--allow-${kind}`
      : shellWord(`--allow-${kind}=${outer(paths).join(",")}`)
  ).join(" ");
}

/**
 * The `PermissionError` for permissions missing before anything changed:
 * every flag is named in one message, `flag` is the first, `flags` all.
 *
 * @param op The primitive (or command), for the error.
 * @param flags The missing flags, as {@linkcode missingFlags} returns them.
 * @param needs The needs they came from (to name the paths in the message).
 */
export function missingPermissionError(
  op: string,
  flags: string[],
  needs: Need[],
): PermissionError {
  if (flags[0] === "--allow-all") {
    const special = needs.find((n) => needsAllowAll(n.path))!;
    const root = special.path.split("/").slice(0, 2).join("/");
    return new PermissionError(
      `Deno demands --allow-all for '${special.path}' (a path under ${root}), ` +
        `whatever --allow-read and --allow-write grant: run with --allow-all`,
      { code: "ENOTCAPABLE", op, path: special.path, flags },
    );
  }
  const what = flags.map((f) => {
    const [, kind, path] = /^--allow-([a-z]+)=(.*)$/s.exec(f)!;
    return `${kind} '${path}'`;
  });
  const first = /^--allow-([a-z]+)=(.*)$/s.exec(flags[0])!;
  const message = flags.length === 1
    ? `Missing ${first[1]} permission for '${first[2]}': run with ${
      joinFlags(flags)
    }`
    : `Missing ${flags.length} permissions${
      flags.length <= 4 ? ` (${what.join(", ")})` : ""
    }: run with ${joinFlags(flags)}`;
  return new PermissionError(message, {
    code: "ENOTCAPABLE",
    op,
    path: first[2],
    flags,
  });
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
    { code: "ENOTCAPABLE", op, path, dest: real, flags: [flag] },
  );
}

/** Real location of `path`: realPath(parent) + name, or null when unknown. */
function dirname(path: string): string {
  const cut = path.lastIndexOf("/");
  return cut <= 0 ? "/" : path.slice(0, cut);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function resolvedLocation(
  path: string,
  followLast: boolean,
  realDirs: Map<string, string>,
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
    // Many needs of one call share a directory (a batch of 10,000 sources):
    // it is resolved once per preflight.
    let real = realDirs.get(parent);
    if (real === undefined) {
      real = sys.realPath(parent);
      realDirs.set(parent, real);
    }
    return under(real, basename(path));
  } catch {
    // The parent does not exist (the call will fail with NotFoundError), or we
    // may not read it (the lexical check below reports that flag).
    return null;
  }
}

/**
 * Checks every need. Throws one `PermissionError` (code `"ENOTCAPABLE"`)
 * naming every flag missing, lexically (`flags`, and `flag` the first), or,
 * when the grants cover every path as written, the first location that
 * escapes them through a symlink. Of the resolved locations, writes are
 * checked before reads: a path that escapes both ways is reported for the
 * write, the one that could change something. Paths under `/dev`, `/proc`
 * and `/sys` are reported as needing `--allow-all` (Deno's own rule).
 *
 * @param op The primitive, for the error.
 * @param needs What the call will do, where.
 */
export function preflight(op: string, needs: Need[]): void {
  const missing = missingFlags(needs);
  if (missing.length > 0) throw missingPermissionError(op, missing, needs);
  // Granted for every path (--allow-read / --allow-write without a list):
  // no location can escape it.
  const everywhere = {
    read: sys.permission({ name: "read" }) === "granted",
    write: sys.permission({ name: "write" }) === "granted",
  };
  needs = needs.filter((n) => !everywhere[n.kind]);
  const ordered = [
    ...needs.filter((n) => n.kind === "write"),
    ...needs.filter((n) => n.kind === "read"),
  ];
  const realDirs = new Map<string, string>();
  for (const need of ordered) {
    const real = resolvedLocation(
      need.path,
      need.followLast ?? false,
      realDirs,
    );
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
