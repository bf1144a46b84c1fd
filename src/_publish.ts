// Copyright 2026 the safefs authors. MIT license.
/**
 * No-clobber publishing of a finished directory (a temp tree, or the source
 * itself on one filesystem).
 *
 * rename(2) onto an existing path refuses atomically in every case but one: a
 * non-empty directory (ENOTEMPTY), a file (ENOTDIR) are never replaced; only an
 * EMPTY directory is. Two ways to close that gap without renameat2:
 * - mkdir the destination first (EEXIST if anyone is there), then rename onto
 *   our own empty directory. Race-free, but a reader can see that empty
 *   directory for an instant: a partial tree.
 * - check that nothing is there, then rename. No reader ever sees a partial
 *   tree; the one race left is a concurrent creator of an EMPTY directory at
 *   the destination in between, which is replaced. Nothing of its data can be
 *   lost (it held none), and a concurrent safefs publisher that made it as its
 *   claim fails with ENOTEMPTY on its own rename, so exactly one wins.
 * A non-empty tree takes the second way (G1 holds strictly). An empty source
 * directory takes the first: the instant of "empty directory" is then its
 * final content.
 *
 * @module
 */
import { NotFoundError, SafeFsError } from "./errors.ts";
import { sys } from "./_sys.ts";

/** Renames directory `from` to `d`, failing with EEXIST/ENOTEMPTY/ENOTDIR if `d` exists. */
export async function renameDirNoClobber(
  from: string,
  d: string,
  empty: boolean,
): Promise<void> {
  if (empty) {
    await sys.mkdir(d, 0o700);
    try {
      await sys.rename(from, d);
    } catch (e) {
      // ENOTEMPTY/EEXIST: someone filled our claim; it is theirs now. Otherwise
      // remove the claim (if that fails too, its error is the one to report).
      if (!isOccupied(e)) await sys.rmdir(d);
      throw e;
    }
    return;
  }
  try {
    await sys.lstat(d);
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
    await sys.rename(from, d);
    return;
  }
  throw new SafeFsError(`Cannot publish '${from}' at '${d}': it exists`, {
    code: "EEXIST",
    op: "rename",
    path: from,
    dest: d,
  });
}

/** True for the errors a rename or link gives when the destination is taken. */
export function isOccupied(e: unknown): boolean {
  return e instanceof SafeFsError &&
    (e.code === "EEXIST" || e.code === "ENOTEMPTY" || e.code === "ENOTDIR" ||
      e.code === "EISDIR");
}
