// Copyright 2026 the safefs authors. MIT license.
/**
 * Many sources into one directory as one job (`moveInto`, `copyInto`): the
 * permissions of every source checked at once, before anything changes; the
 * destination directory opened once and each source's directory once; each
 * source moved or copied and published on its own (a failure of one is
 * reported and the others go on); then each directory touched made durable
 * once, at the end, instead of once per entry.
 *
 * @module
 */
import { type Loc, locate, type PathLike, under, workingDir } from "./_path.ts";
import { type Need, preflight, unlimited } from "./_perm.ts";
import { type Dir, sys } from "./_sys.ts";
import type { Gen } from "./_run.ts";
import { openParent } from "./_dest.ts";
import { DirSyncs } from "./_copy/sync.ts";
import { toSafeFsError } from "./_errno.ts";
import { errorFor } from "./_errno.ts";
import {
  AbortedError,
  AlreadyExistsError,
  NotFoundError,
  SafeFsError,
} from "./errors.ts";

/** One source a batch could not move or copy. */
export interface BatchFailure {
  /** The source, absolute. */
  src: string;
  /** Why (nothing was changed for this source, unless `error.published` says so). */
  error: SafeFsError;
}

/** What one source of a batch needs. */
export interface BatchItem {
  src: Loc;
  srcDir: Dir;
  dest: Loc;
  destDir: Dir;
}

/**
 * Runs `one` for every source into `dir`; see the module doc. `needs` are
 * the permissions one source needs (checked for all before anything).
 */
export function* runBatch<R>(
  op: string,
  srcs: PathLike[],
  dir: PathLike,
  durable: boolean,
  signal: AbortSignal | undefined,
  needs: (src: Loc, dest: Loc) => Need[],
  one: (item: BatchItem, batch: DirSyncs | undefined) => Gen<R>,
): Gen<{ dir: string; done: R[]; failed: BatchFailure[] }> {
  if (!Array.isArray(srcs)) {
    throw errorFor("EINVAL", `Cannot ${op}: the sources must be an array`, {
      code: "EINVAL",
      op,
    });
  }
  const here = workingDir();
  const target = locate(dir, op, true, here);
  const locs = srcs.map((s) => locate(s, op, op === "copy", here));
  const dests: Loc[] = locs.map((s) => ({
    abs: under(target.abs, s.name),
    parent: target.abs,
    name: s.name,
    slash: false,
  }));
  if (!unlimited()) {
    const all: Need[] = [
      { kind: "read", path: target.abs, followLast: true },
      { kind: "write", path: target.abs, followLast: true },
    ];
    for (let k = 0; k < locs.length; k++) {
      all.push(...needs(locs[k], dests[k]));
    }
    preflight(op, all);
  }
  let destDir: Dir;
  try {
    destDir = sys.openDir(target.abs, true);
  } catch (e) {
    if (
      e instanceof NotFoundError ||
      (e instanceof SafeFsError && e.code === "ENOTDIR")
    ) {
      throw errorFor(
        e.code,
        `Cannot ${op} into '${target.abs}': it is not an existing directory`,
        { code: (e as SafeFsError).code, op, path: target.abs, cause: e },
      );
    }
    throw e;
  }
  const parents = new Map<string, Dir>();
  const batch = durable ? new DirSyncs() : undefined;
  const done: R[] = [];
  const failed: BatchFailure[] = [];
  const names = new Set<string>();
  try {
    for (let k = 0; k < locs.length; k++) {
      const src = locs[k];
      if (signal?.aborted) {
        failed.push({
          src: src.abs,
          error: new AbortedError(
            `${op} of '${src.abs}' was not started: aborted`,
            {
              code: "ABORT_ERR",
              op,
              path: src.abs,
              cause: signal.reason,
            },
          ),
        });
        continue;
      }
      try {
        if (names.has(src.name)) {
          // As GNU mv and cp: never over what this same job just made.
          throw new AlreadyExistsError(
            `Cannot ${op} '${src.abs}' into '${target.abs}': an earlier source ` +
              `of this ${op} was named '${src.name}' too`,
            { code: "EEXIST", op, path: src.abs, dest: dests[k].abs },
          );
        }
        const dots = src.name === "." || src.name === "..";
        const key = dots ? src.abs : src.parent;
        let srcDir = parents.get(key);
        if (srcDir === undefined) {
          srcDir = dots
            ? sys.openDir(src.abs, true)
            : openParent(src, op, `'${src.abs}'`);
          parents.set(key, srcDir);
        }
        done.push(yield* one({ src, srcDir, dest: dests[k], destDir }, batch));
        names.add(src.name);
      } catch (e) {
        failed.push({
          src: src.abs,
          error: toSafeFsError(e, { op, path: src.abs }),
        });
      }
    }
    if (batch !== undefined) yield* batch.flush();
  } finally {
    for (const d of parents.values()) sys.close(d);
    sys.close(destDir);
  }
  return { dir: target.abs, done, failed };
}
