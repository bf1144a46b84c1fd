// Copyright 2026 the safefs authors. MIT license.
/**
 * `remove()` and `removeSync()`: delete a file, symlink or directory tree
 * without following symlinks, without crossing into other filesystems,
 * alongside other deleters, at any depth, durably.
 *
 * @module
 */
import { type Loc, locate, type PathLike } from "./_path.ts";
import { preflight } from "./_perm.ts";
import { type Dir, sys } from "./_sys.ts";
import { ATTR_MOUNT_ROOT } from "./_sys_types.ts";
import { type Gen, runAsync, runSync } from "./_run.ts";
import { notADirectory, openParent, statOrNull } from "./_dest.ts";
import { deleteEntry, leftoverError } from "./_delete.ts";
import { fsync } from "./_copy/sync.ts";
import { checkAbort } from "./_copy/options.ts";
import {
  InvalidArgumentError,
  MountPointError,
  NotFoundError,
} from "./errors.ts";

/** What {@linkcode RemoveOptions.onProgress} receives. */
export interface RemoveProgress {
  /** Files, symlinks and directories removed so far by this call. */
  entriesRemoved: number;
  /** The directory being emptied. */
  path: string;
}

/** Options for {@linkcode remove} and {@linkcode removeSync}. */
export interface RemoveOptions {
  /**
   * Stay on the filesystem of `path`: a directory that is a mount point (of
   * another filesystem, or a bind mount) is not entered, and a `path` that
   * is itself a mount point is refused with nothing removed. Everything else
   * is removed, then {@linkcode MountPointError} lists the mount points
   * left. With `false`, mounted filesystems are emptied too (symlinks are
   * still never followed), and the mount points themselves, which cannot be
   * removed while mounted, are reported the same way.
   * @default {true}
   */
  oneFileSystem?: boolean;
  /**
   * Resolve quietly when `path` does not exist, instead of throwing
   * `NotFoundError`.
   * @default {false}
   */
  missingOk?: boolean;
  /**
   * Make the removal survive power loss before resolving: the directory that
   * held `path` is fsynced once it is gone. `false` skips that.
   * @default {true}
   */
  durable?: boolean;
  /**
   * Stops the removal at the next entry with `AbortedError` (code
   * `"ABORT_ERR"`). What was removed stays removed.
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Called about every 100 ms while a tree is removed, and once at the end.
   * @default {undefined}
   */
  onProgress?: (progress: RemoveProgress) => void;
}

/** What {@linkcode remove} did. */
export interface RemoveResult {
  /** The path removed, absolute. */
  path: string;
  /**
   * Files, symlinks and directories this call removed (entries removed by
   * concurrent deleters are not counted).
   */
  entriesRemoved: number;
}

/** The removal itself, on the opened directory holding it (also `Root.remove`). */
export function* removeAt(
  loc: Loc,
  dir: Dir,
  options: RemoveOptions,
): Gen<RemoveResult> {
  const op = "remove";
  const abs = loc.abs;
  checkAbort(options.signal, op, abs);
  const st = statOrNull(dir, loc.name);
  if (st === null) {
    if (options.missingOk) return { path: abs, entriesRemoved: 0 };
    throw new NotFoundError(`Cannot remove '${abs}': it does not exist`, {
      code: "ENOENT",
      op,
      path: abs,
    });
  }
  if (loc.slash && st.kind !== "dir") throw notADirectory(op, abs);
  const oneFileSystem = options.oneFileSystem ?? true;
  if (st.kind === "dir" && oneFileSystem) {
    const parent = sys.fstat(dir);
    if (st.dev !== parent.dev || (st.attrs & ATTR_MOUNT_ROOT) !== 0) {
      throw new MountPointError(
        `Refusing to remove '${abs}': it is a mount point (of another filesystem, ` +
          `or a bind mount); nothing was removed (unmount it first, or pass ` +
          `oneFileSystem: false to empty what is mounted there)`,
        { code: "EBUSY", op, path: abs, mountPoints: [abs] },
      );
    }
  }
  const onProgress = options.onProgress;
  const report = yield* deleteEntry(dir, loc.name, st, {
    op,
    oneFileSystem,
    signal: options.signal,
    onProgress: onProgress === undefined
      ? undefined
      : (n, path) => onProgress({ entriesRemoved: n, path }),
  });
  if ((options.durable ?? true) && report.removed > 0) yield* fsync(dir);
  const left = leftoverError(op, abs, report);
  if (left !== null) throw left;
  return { path: abs, entriesRemoved: report.removed };
}

function* removePath(
  path: PathLike,
  options: RemoveOptions,
): Gen<RemoveResult> {
  const op = "remove";
  const loc = locate(path, op);
  if (loc.name === "") {
    throw new InvalidArgumentError(
      `Refusing to remove the root directory '/'`,
      { code: "EINVAL", op, path: loc.abs },
    );
  }
  checkAbort(options.signal, op, loc.abs);
  // `path` itself is never followed; its directory is where it really is.
  preflight(op, [
    { kind: "read", path: loc.abs },
    { kind: "write", path: loc.abs },
    { kind: "read", path: loc.parent, followLast: true },
    { kind: "write", path: loc.parent, followLast: true },
  ]);
  let dir: Dir;
  try {
    dir = openParent(loc, op, `'${loc.abs}'`);
  } catch (e) {
    if (options.missingOk && e instanceof NotFoundError) {
      return { path: loc.abs, entriesRemoved: 0 };
    }
    throw e;
  }
  try {
    return yield* removeAt(loc, dir, options);
  } finally {
    sys.close(dir);
  }
}

/**
 * Removes a file, a symlink or a whole directory tree, like `rm -rf`, but:
 *
 * - **Symlinks are never followed.** A symlink (to a file or a directory,
 *   dangling or not) is unlinked as a link, wherever it is, including `path`
 *   itself: the link goes, its target stays.
 * - **Other filesystems are not entered** (`oneFileSystem`, on by default):
 *   a mount point inside the tree is left in place with its content,
 *   everything else is removed, then {@linkcode MountPointError} lists what
 *   was left; a `path` that is itself a mount point is refused.
 * - **Concurrent deleters are expected.** Another process removing parts of
 *   the tree, or all of it, at the same time (ENOENT, or ESTALE on NFS) is
 *   not an error: the call resolves once the tree is gone, whoever removed it.
 * - **New entries are reported, not chased.** An entry created inside the
 *   tree after its directory was listed is left alone and the call throws
 *   `NotEmptyError` naming it, after removing everything else. (One
 *   exception: a directory holding only files, 16 or more, is removed whole
 *   in one call, several at once; a file created in it just after it was
 *   listed goes with it.)
 * - **Any depth**, without recursion and without long paths.
 * - **Durable**: once it resolves, the removal survives a power cut (the
 *   directory that held `path` is fsynced).
 * - **Race-safe** on the ffi backend: every directory is opened without
 *   following symlinks and its entries are removed relative to that open
 *   directory, so a process that can write inside the tree cannot make it
 *   delete anything outside (CVE-2022-21658). The path backend checks each
 *   directory's identity before acting in it, which narrows that window
 *   without closing it (see the README).
 * - It never renames anything, so it works where directories cannot be
 *   renamed (overlayfs lower layers).
 *
 * Refused with `InvalidArgumentError`: `/`, and a path whose last component
 * is `.` or `..`. Directories of your own that you may not list or write
 * (mode 0o555, 0o000, ...) are given owner rwx first; read-only files need
 * nothing. Deletion is not undoable: on an error or abort, what was removed
 * stays removed.
 *
 * @example Remove a tree
 * ```ts
 * import { remove } from "@safefs/safefs";
 * import { deepEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/build/cache`, { recursive: true });
 * await Deno.writeTextFile(`${dir}/build/cache/a.o`, "...");
 * await Deno.symlink("/etc", `${dir}/build/etc-link`);
 *
 * const { entriesRemoved } = await remove(`${dir}/build`);
 * deepEqual(entriesRemoved, 4); // a.o, etc-link, cache, build
 * await remove(`${dir}/build`, { missingOk: true }); // already gone: fine
 * await Deno.remove(dir);
 * ```
 *
 * @param path The file, symlink or directory to remove.
 * @param options See {@linkcode RemoveOptions}.
 * @returns The path removed and how many entries this call removed.
 * @throws {NotFoundError} `path` does not exist (unless `missingOk`).
 * @throws {MountPointError} Mount points inside the tree were left in place, or `path` is one.
 * @throws {NotEmptyError} Entries appeared in the tree while it was removed.
 * @throws {SourceChangedError} A directory was replaced while being emptied.
 * @throws {AbortedError} `signal` fired.
 * @throws {PermissionError} A Deno permission is missing, or the OS refused.
 * @throws {InvalidArgumentError} `path` is empty, has a NUL byte, is `/`, or ends in `.` or `..`.
 * @throws {SafeFsError} Any other failure, with its errno in `code`.
 */
export function remove(
  path: PathLike,
  options: RemoveOptions = {},
): Promise<RemoveResult> {
  return runAsync(removePath(path, options));
}

/**
 * {@linkcode remove}, synchronously: the same contract, blocking the thread
 * until the tree is gone and the removal durable. `signal` can only stop it
 * before it starts.
 *
 * @example
 * ```ts
 * import { removeSync } from "@safefs/safefs";
 *
 * const dir = Deno.makeTempDirSync();
 * Deno.mkdirSync(`${dir}/cache/a/b`, { recursive: true });
 * removeSync(`${dir}/cache`);
 * Deno.removeSync(dir);
 * ```
 *
 * @param path The file, symlink or directory to remove.
 * @param options See {@linkcode RemoveOptions}.
 * @returns The path removed and how many entries this call removed.
 */
export function removeSync(
  path: PathLike,
  options: RemoveOptions = {},
): RemoveResult {
  return runSync(removePath(path, options));
}
