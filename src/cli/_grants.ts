// Copyright 2026 the safefs authors. MIT license.
/**
 * The permissions of a whole command line, checked before its first
 * operation: every flag missing for any of its operations is named in one
 * message (the library checks each call again, symlinks resolved).
 *
 * The lists mirror each primitive's own preflight (lexical part).
 *
 * @module
 */
import { dirname, resolve } from "./_paths.ts";
import {
  joinFlags,
  missingFlags,
  missingPermissionError,
  type Need,
  needsAllowAll,
} from "../_perm.ts";
import { sys } from "../_sys.ts";
import { backendInfo } from "../backend_info.ts";
import { PermissionError } from "../errors.ts";
import { look } from "./_look.ts";

const r = (kind: "read" | "write", path: string): Need => ({
  kind,
  path: resolve(path),
});

/** What each primitive needs, lexically. */
export const needs = {
  /** Reading `path` to see what it is (a directory to move into?). */
  look: (path: string): Need[] => [r("read", path)],
  /** `move(src, dest)`; across filesystems the temp goes beside `dest`. */
  move: (src: string, dest: string, crossDevice: boolean): Need[] => [
    r("read", dirname(resolve(src))),
    r("write", src),
    r("read", dirname(resolve(dest))),
    r("write", dest),
    ...(crossDevice ? [r("write", dirname(resolve(dest)))] : []),
  ],
  /** `copy(src, dest)`: the temp is built beside `dest`. */
  copy: (src: string, dest: string): Need[] => [
    r("read", src),
    r("read", dirname(resolve(src))),
    r("read", dirname(resolve(dest))),
    r("write", dirname(resolve(dest))),
  ],
  /** `moveInto(srcs, dir)` and `copyInto(srcs, dir)`: the directory itself. */
  into: (dir: string): Need[] => [r("read", dir), r("write", dir)],
  /** One source of `moveInto(srcs, dir)` (`dest` is `dir/NAME`). */
  moveInto: (src: string, dest: string): Need[] => [
    r("read", dirname(resolve(src))),
    r("write", src),
    r("write", dest),
  ],
  /** One source of `copyInto(srcs, dir)`. */
  copyInto: (src: string): Need[] => [
    r("read", src),
    r("read", dirname(resolve(src))),
  ],
  /** `remove(path)`. */
  remove: (path: string): Need[] => [
    r("read", path),
    r("write", path),
    r("read", dirname(resolve(path))),
    r("write", dirname(resolve(path))),
  ],
  /** `writeFile(path)`: the temp is created beside `path`. */
  write: (path: string): Need[] => [
    r("read", dirname(resolve(path))),
    r("write", dirname(resolve(path))),
    r("write", path),
  ],
  /**
   * `writeFile(path, { parents: true })`: the missing directories are made
   * in the nearest existing ancestor, which must be readable and writable
   * (everything below it then is). Without read permission where it would
   * look, it cannot tell which ancestor exists: the directory of `path` is
   * named, and the next run names the one above if that is still missing.
   */
  writeParents: async (path: string): Promise<Need[]> => {
    const parent = dirname(resolve(path));
    let at = parent;
    for (;;) {
      if (missingFor([r("read", at)]).length > 0) break;
      const info = await look(at, true).catch(() => undefined);
      // Missing: go up. There (or unknown): the directories are made here.
      if (info !== null || at === "/") break;
      at = dirname(at);
    }
    return at === parent
      ? needs.write(path)
      : [r("read", at), r("write", at), r("write", path)];
  },
  /** `symlink(target, link)`: made under a temp name beside `link`. */
  symlink: (link: string): Need[] => [
    r("read", dirname(resolve(link))),
    r("write", dirname(resolve(link))),
    r("write", link),
  ],
  /** `sweep(dir)`. */
  sweep: (dir: string, dryRun: boolean): Need[] =>
    dryRun ? [r("read", dir)] : [r("read", dir), r("write", dir)],
};

/**
 * The scoped flags missing for `all`, each path judged by its own grant:
 * what the ffi backend needs, which does the I/O itself (Deno's rule that
 * `/dev`, `/proc` and `/sys` need `--allow-all` binds only Deno's own file
 * calls).
 */
function scopedMissing(all: Need[]): string[] {
  const everywhere = {
    read: sys.permission({ name: "read" }) === "granted",
    write: sys.permission({ name: "write" }) === "granted",
  };
  const flags: string[] = [];
  for (const n of all) {
    if (everywhere[n.kind]) continue;
    if (sys.permission({ name: n.kind, path: n.path }) === "granted") continue;
    const flag = `--allow-${n.kind}=${n.path}`;
    if (!flags.includes(flag)) flags.push(flag);
  }
  return flags;
}

/**
 * The flags missing for `all` with the backend that runs: on the `path`
 * backend (Deno's own calls) a path under `/dev`, `/proc` or `/sys` needs
 * `--allow-all`; on the `ffi` backend the scoped flags suffice there too.
 *
 * @param all The needs of every operation of the command line.
 */
export function missingFor(all: Need[]): string[] {
  if (backendInfo().name === "ffi" && all.some((n) => needsAllowAll(n.path))) {
    return scopedMissing(all);
  }
  return missingFlags(all);
}

/**
 * The one error for everything `all` lacks, or null when nothing is missing.
 *
 * @param cmd The command, named in the error.
 * @param all The needs of every operation of the command line.
 */
export function checkAll(cmd: string, all: Need[]): PermissionError | null {
  const flags = missingFor(all);
  return flags.length === 0 ? null : missingPermissionError(cmd, flags, all);
}

/**
 * {@linkcode checkAll} for symlinks (`ln`): on the `path` backend Deno makes
 * a symlink only with unscoped `--allow-read` and `--allow-write` (a link's
 * target is resolved only when it is followed, so no path grant covers it);
 * the `ffi` backend makes it itself, within the scoped grants.
 *
 * @param cmd The command, named in the error.
 * @param all The needs of every link of the command line.
 */
export function checkSymlinks(
  cmd: string,
  all: Need[],
): PermissionError | null {
  const flags = missingFor(all);
  const info = backendInfo();
  if (info.name === "path" && flags[0] !== "--allow-all") {
    const unscoped = (["read", "write"] as const)
      .filter((kind) => sys.permission({ name: kind }) !== "granted")
      .map((kind) => `--allow-${kind}`);
    if (unscoped.length > 0) {
      const ffi = info.reason === "SAFEFS_BACKEND=path"
        ? ""
        : `, or add --allow-ffi (safefs then makes the link itself, within ` +
          `the scoped grants)`;
      return new PermissionError(
        `Deno makes symlinks only with unscoped --allow-read and ` +
          `--allow-write (no path grant covers where a link may lead): ` +
          `run with ${joinFlags(unscoped)}${ffi}`,
        {
          code: "ENOTCAPABLE",
          op: cmd,
          path: all[all.length - 1]?.path,
          flags: unscoped,
        },
      );
    }
  }
  return flags.length === 0 ? null : missingPermissionError(cmd, flags, all);
}
