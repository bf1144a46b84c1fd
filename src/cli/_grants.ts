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
import { dirname, resolve } from "node:path";
import { missingFlags, missingPermissionError, type Need } from "../_perm.ts";
import type { PermissionError } from "../errors.ts";

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
  /** `sweep(dir)`. */
  sweep: (dir: string, dryRun: boolean): Need[] =>
    dryRun ? [r("read", dir)] : [r("read", dir), r("write", dir)],
};

/**
 * The one error for everything `all` lacks, or null when nothing is missing.
 *
 * @param cmd The command, named in the error.
 * @param all The needs of every operation of the command line.
 */
export function checkAll(cmd: string, all: Need[]): PermissionError | null {
  const flags = missingFlags(all);
  return flags.length === 0 ? null : missingPermissionError(cmd, flags, all);
}
