// Copyright 2026 the safefs authors. MIT license.
/**
 * `move()`: rename a file, symlink or directory tree, atomically, durably,
 * without clobbering, on one filesystem or across two.
 *
 * @module
 */
import { basename, dirname, join, type PathLike, toAbsolute } from "./_path.ts";
import { type Need, preflight } from "./_perm.ts";
import { type FileInfo, sys } from "./_sys.ts";
import {
  alreadyExists,
  checkDestination,
  lstatOrNull,
  lstatOrNullSync,
} from "./_dest.ts";
import { forEachLimited, Pacer } from "./_pace.ts";
import { tempPathFor } from "./_temp.ts";
import { isOccupied, renameDirNoClobber } from "./_publish.ts";
import {
  build,
  checkAbort,
  checkSymlinkPermission,
  type EngineOptions,
  type Plan,
  plan,
  type Progress,
  publishTemp,
  removeOwnTree,
  sameIdentity,
  specialKind,
} from "./_copy.ts";
import {
  CrossDeviceError,
  InvalidArgumentError,
  NotEmptyError,
  NotFoundError,
  SafeFsError,
  SourceChangedError,
  UnsupportedFileTypeError,
} from "./errors.ts";

/** Options for {@linkcode move}. */
export interface MoveOptions {
  /**
   * Replace an existing destination. A file replaces a file (or symlink); a
   * directory replaces only an EMPTY directory (a non-empty one cannot be
   * replaced atomically and is refused with `NotEmptyError`).
   * @default {false}
   */
  overwrite?: boolean;
  /**
   * Make the result survive power loss before resolving: the copied data is
   * fsynced before it is published, the destination directory after, the
   * source directory after the source is gone. `false` skips every fsync.
   * @default {true}
   */
  durable?: boolean;
  /**
   * What to do when source and destination are on different filesystems:
   * `"copy"` builds a complete copy beside the destination, publishes it with
   * one rename and then removes the source; `"fail"` throws `CrossDeviceError`.
   * @default {"copy"}
   */
  crossDevice?: "copy" | "fail";
  /**
   * Aborts the move. Before the publish, everything is undone; once published,
   * the move completes.
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Called as data is copied (cross-device moves), and once at the end.
   * @default {undefined}
   */
  onProgress?: (progress: Progress) => void;
}

/** What {@linkcode move} did. */
export interface MoveResult {
  /** The absolute source path. */
  src: string;
  /** The absolute destination path. */
  dest: string;
  /** True when the move copied across filesystems. */
  crossDevice: boolean;
  /** Bytes of file data copied (0 for a rename). */
  bytes: number;
  /** Entries moved (files, symlinks and directories; 1 for a rename). */
  entries: number;
}

/**
 * Moves `src` to `dest`.
 *
 * - On one filesystem: a single `rename`. Without `overwrite` the no-clobber
 *   check is atomic: a file or symlink is `link`ed to `dest` (EEXIST if someone
 *   is there) and then unlinked from `src`; a directory is renamed onto an
 *   empty directory this call created at `dest` (so a concurrent mover fails).
 * - Across filesystems (EXDEV): the whole file or tree is copied under one temp
 *   name (`.<name>.<uuid>.safefs-tmp`) in `dest`'s directory, every file and
 *   directory of it fsynced, published with one rename (or link / rename onto
 *   its own empty directory), the destination directory fsynced, and only then
 *   is the source removed, entry by entry, skipping anything that changed
 *   since it was copied. Mode and times are kept; owner too where permitted;
 *   symlinks stay symlinks; hard links inside a tree stay hard links.
 *
 * A reader of `dest` sees either its old state or the complete new one; at
 * every instant at least one complete copy exists. On error or abort before
 * publish, the temp is removed and `src` and `dest` are untouched.
 *
 * @example Move a file, refusing to replace an existing one
 * ```ts
 * import { move } from "@safefs/safefs";
 * import { equal as assertEquals } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/draft.txt`, "hello");
 * await move(`${dir}/draft.txt`, `${dir}/final.txt`);
 * assertEquals(await Deno.readTextFile(`${dir}/final.txt`), "hello");
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param src The file, symlink or directory to move.
 * @param dest Its new path (not the directory to move it into).
 * @param options See {@linkcode MoveOptions}.
 * @returns What was done.
 * @throws {NotFoundError} `src` or `dest`'s parent directory does not exist.
 * @throws {AlreadyExistsError} `dest` exists and `overwrite` is not set.
 * @throws {InvalidArgumentError} `src` and `dest` are the same file, or a directory would move into itself.
 * @throws {CrossDeviceError} Different filesystems with `crossDevice: "fail"`, or a mount point inside the tree.
 * @throws {UnsupportedFileTypeError} A FIFO, socket or device would have to be copied across filesystems.
 * @throws {SourceChangedError} The source changed while it was copied.
 * @throws {PermissionError} A Deno permission is missing (names the flag) or the OS refused.
 * @throws {AbortedError} `signal` fired before the publish.
 */
export async function move(
  src: PathLike,
  dest: PathLike,
  options: MoveOptions = {},
): Promise<MoveResult> {
  const op = "move";
  const s = toAbsolute(src, op);
  const d = toAbsolute(dest, op);
  const overwrite = options.overwrite ?? false;
  const durable = options.durable ?? true;
  const crossDevice = options.crossDevice ?? "copy";
  const { signal, onProgress } = options;
  const sDir = dirname(s);
  const dDir = dirname(d);

  // The names are never followed; their directories are checked where they
  // really are (a symlink at their last component followed).
  const needs: Need[] = [
    { kind: "read", path: sDir, followLast: true },
    { kind: "write", path: s },
    { kind: "read", path: dDir, followLast: true },
    { kind: "write", path: d },
  ];
  await preflight(op, needs);
  checkAbort(signal, op, s);

  if (s === d) {
    throw new InvalidArgumentError(`Cannot move '${s}' to itself`, {
      code: "EINVAL",
      op,
      path: s,
      dest: d,
    });
  }
  const sInfo = await lstatOrNull(s);
  if (sInfo === null) {
    throw new NotFoundError(`Cannot move '${s}': it does not exist`, {
      code: "ENOENT",
      op,
      path: s,
      dest: d,
    });
  }
  const dDirInfo = await checkDestination(op, s, sInfo, d, overwrite);

  const result: MoveResult = {
    src: s,
    dest: d,
    crossDevice: false,
    bytes: 0,
    entries: 1,
  };
  // Different st_dev means rename(2) would fail with EXDEV: go straight to the
  // copy. Equal st_dev can still be EXDEV (bind mounts): renameInPlace says so.
  if (
    sInfo.dev === dDirInfo.dev &&
    await renameInPlace(s, sInfo, d, overwrite, durable)
  ) {
    onProgress?.({
      bytesDone: 0,
      bytesTotal: 0,
      filesDone: 1,
      filesTotal: 1,
      path: s,
    });
    return result;
  }

  // Across filesystems.
  if (crossDevice === "fail") {
    throw new CrossDeviceError(
      `Cannot move '${s}' to '${d}': they are on different filesystems and crossDevice is "fail"`,
      { code: "EXDEV", op, path: s, dest: d },
    );
  }
  await preflight(op, [{ kind: "write", path: dDir, followLast: true }]);
  if (!sInfo.isFile && !sInfo.isDirectory && !sInfo.isSymlink) {
    throw new UnsupportedFileTypeError(
      `Cannot move '${s}' to another filesystem: it is ${
        specialKind(sInfo)
      }, which cannot be copied`,
      { code: "EFTYPE", op, path: s, dest: d },
    );
  }
  // The source must be removable once the copy is published: probe its
  // filesystem first with a rename onto itself, which changes nothing but
  // fails with EROFS on a read-only mount. Without it, a move out of a
  // read-only filesystem would publish a complete copy and only then fail.
  await sys.rename(s, s);
  const engine: EngineOptions = {
    op,
    durable,
    dereference: false,
    preserve: { mode: true, times: true, owner: "try" },
    verify: "none",
    mounts: "fail",
    signal,
    onProgress,
  };
  const p = await plan(s, sInfo, engine);
  checkSymlinkPermission(p, op);
  const tmp = tempPathFor(d);
  try {
    // A tree is examined again at the end of the build: an entry replaced
    // while it was walked or copied (e.g. a directory swapped for a symlink
    // to elsewhere) fails the move here, before anything is published or
    // removed, instead of having its stranger copied and then deleted
    // through the swapped path.
    await build(p, tmp, engine);
    checkAbort(signal, op, s);
    await publish(tmp, d, p, overwrite, s);
  } catch (e) {
    await removeOwnTree(tmp);
    throw e;
  }
  result.crossDevice = true;
  result.bytes = p.bytesTotal;
  result.entries = p.entries.length;
  try {
    // The source goes only once the published copy is durable (G2).
    if (durable) await sys.fsyncDir(dDir);
    await removeSource(p, s, d);
    if (durable) await sys.fsyncDir(sDir);
  } catch (e) {
    // Published: say so, so the caller knows `dest` holds the complete copy.
    if (e instanceof SafeFsError && !(e instanceof SourceChangedError)) {
      e.message =
        `Published '${d}' (a complete copy of '${s}'), then failed: ${e.message}`;
    }
    throw e;
  }
  return result;
}

/**
 * Tries the same-filesystem move. Returns false (having changed nothing) when
 * source and destination are on different filesystems.
 *
 * Durability order: the new name is made durable (fsync of its directory)
 * before the old name is removed, so no crash can lose both. A rename changes
 * both names in one atomic step, so one fsync per directory after it suffices.
 */
async function renameInPlace(
  s: string,
  sInfo: FileInfo,
  d: string,
  overwrite: boolean,
  durable: boolean,
): Promise<boolean> {
  const sDir = dirname(s);
  const dDir = dirname(d);
  try {
    if (overwrite) {
      await sys.rename(s, d);
    } else if (!sInfo.isDirectory) {
      await sys.link(s, d);
      try {
        if (durable) await sys.fsyncDir(dDir);
        await sys.unlink(s);
      } catch (e) {
        // The source name could not be removed: undo the link so nothing changed.
        await sys.unlink(d).catch(() => {});
        throw e;
      }
      if (durable) await sys.fsyncDir(sDir);
      return true;
    } else {
      await renameDirNoClobber(s, d, (await sys.readDir(s)).length === 0);
    }
  } catch (e) {
    if (e instanceof CrossDeviceError) return false;
    if (!overwrite && isOccupied(e)) throw alreadyExists("move", s, d);
    if (e instanceof NotEmptyError) {
      throw new NotEmptyError(
        `Cannot replace directory '${d}': it is not empty and cannot be replaced atomically`,
        { code: "ENOTEMPTY", op: "move", path: s, dest: d, cause: e },
      );
    }
    throw e;
  }
  if (durable) {
    await sys.fsyncDir(dDir);
    if (sDir !== dDir) await sys.fsyncDir(sDir);
  }
  return true;
}

/** Publishes the finished temp at `d`; a taken destination is AlreadyExistsError. */
async function publish(
  tmp: string,
  d: string,
  p: Plan,
  overwrite: boolean,
  s: string,
): Promise<void> {
  try {
    await publishTemp(
      tmp,
      d,
      p.entries[0].kind,
      p.entries.length === 1,
      overwrite,
    );
  } catch (e) {
    if (!overwrite && isOccupied(e)) throw alreadyExists("move", s, d);
    throw e;
  }
}

/** Source directories emptied at once by `removeSource()`. */
const UNLINK_LANES = 8;

/**
 * Removes the source of a cross-device move once its copy is published: only
 * the entries that were copied, and only while they are still what was copied
 * (same identity; files also same size and mtime: ctime is not compared, as
 * unlinking one name of a hard-linked file moves the other's). Anything new or
 * changed is left in place and reported.
 *
 * Flattening (as in remove()): before anything in a directory is unlinked, the
 * directory is renamed, under a temp name, to sit directly in the source root,
 * and its identity is checked there. Every path unlinked is then
 * `src/<temp>/<name>`: the only directory resolved below `src` is a temp name
 * in `src` itself, so a process that can write inside the tree (but not `src`)
 * cannot swap a directory for a symlink and redirect an unlink outside
 * (CVE-2022-21658). Directories that must stay (they hold kept entries) are
 * renamed back to their names, so the source keeps its shape.
 */
async function removeSource(p: Plan, s: string, d: string): Promise<void> {
  const root = p.entries[0];
  const kept: string[] = [];
  const changedAt = (rel: string): SourceChangedError => {
    const list = kept.slice(0, 10).map((k) => `'${k}'`).join(", ");
    const more = kept.length > 10 ? ` and ${kept.length - 10} more` : "";
    return new SourceChangedError(
      `Moved '${s}' to '${d}', but the source changed during the move: ` +
        `${list}${more} changed or gained entries and were left at the source`,
      {
        code: "ESRCCHANGED",
        op: "move",
        path: rel === "" ? s : join(s, rel),
        dest: d,
      },
    );
  };
  const unchanged = (now: FileInfo, e: Plan["entries"][number]): boolean =>
    sameIdentity(now, e.info) &&
    (e.kind !== "file" ||
      (now.size === e.info.size &&
        now.mtime?.getTime() === e.info.mtime?.getTime()));

  if (root.kind !== "dir") {
    const now = await lstatOrNull(s);
    if (now === null) return; // Someone else removed it.
    if (!unchanged(now, root)) {
      kept.push(s);
      throw changedAt("");
    }
    await sys.unlink(s).catch((e) => {
      if (!(e instanceof NotFoundError)) throw e;
    });
    return;
  }

  const parentOf = (rel: string): string =>
    rel.includes("/") ? dirname(rel) : "";
  /** Where each directory of the plan is now ("" is the root, never moved). */
  const at = new Map<string, string>([["", s]]);
  const original = (rel: string): string =>
    join(at.get(parentOf(rel))!, basename(rel));
  const moved: string[] = [];
  const holding = new Set<string>();
  const keep = (rel: string): void => {
    kept.push(join(s, rel));
    for (let r = parentOf(rel);; r = parentOf(r)) {
      holding.add(r);
      if (r === "") break;
    }
  };
  const dirInfo = new Map(
    p.entries.filter((e) => e.kind === "dir").map((e) => [e.rel, e.info]),
  );
  const checkDir = (rel: string): void => {
    const now = lstatOrNullSync(at.get(rel)!);
    if (now === null || !sameIdentity(now, dirInfo.get(rel)!)) {
      kept.push(join(s, rel));
      throw changedAt(rel);
    }
  };

  // Synchronous calls, paced (see _pace.ts): two async calls per file cost
  // more than the unlinks themselves.
  const pacer = new Pacer();
  try {
    checkDir("");
    // 1. Move every directory aside into the root, parents first.
    for (const e of p.entries) {
      if (e.kind !== "dir" || e.rel === "" || !at.has(parentOf(e.rel))) {
        continue;
      }
      await pacer.pace();
      const from = original(e.rel);
      const now = lstatOrNullSync(from);
      if (now === null) continue; // Removed by someone else.
      if (!sameIdentity(now, e.info)) {
        keep(e.rel);
        continue;
      }
      const to = tempPathFor(join(s, basename(e.rel)));
      try {
        sys.renameSync(from, to);
      } catch (err) {
        if (err instanceof NotFoundError) continue;
        throw err;
      }
      // Recorded at once, so that any failure from here on puts it back.
      at.set(e.rel, to);
      moved.push(e.rel);
      const after = lstatOrNullSync(to);
      if (after === null || !sameIdentity(after, e.info)) {
        // Swapped between the check and the rename: put it back untouched.
        at.delete(e.rel);
        moved.pop();
        if (after !== null) {
          try {
            sys.renameSync(to, from);
          } catch {
            // Left under its temp name inside the source; reported below.
          }
        }
        keep(e.rel);
      }
    }
    // 2. Unlink files and symlinks, each directory's identity checked first
    //    (a directory's entries are consecutive in the plan). Directories are
    //    emptied several at a time: an unlink on ext4 is ~0.1 ms, mostly
    //    spent blocked, and Deno runs async calls on its thread pool. The
    //    check of an entry and its unlink stay back to back.
    const groups: Plan["entries"][number][][] = [];
    let current: string | null = null;
    for (const e of p.entries) {
      if (e.kind === "dir") continue;
      const parent = parentOf(e.rel);
      if (parent !== current) groups.push([]);
      current = parent;
      groups[groups.length - 1].push(e);
    }
    await forEachLimited(groups, UNLINK_LANES, async (group) => {
      const parent = parentOf(group[0].rel);
      if (!at.has(parent)) return; // Its directory stays (or is gone).
      checkDir(parent);
      for (const e of group) {
        const path = join(at.get(parent)!, basename(e.rel));
        const now = lstatOrNullSync(path);
        if (now === null) continue;
        if (!unchanged(now, e)) {
          keep(e.rel);
          continue;
        }
        try {
          await sys.unlink(path);
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err;
        }
      }
    });
    // 3. Remove the directories, children first.
    for (let i = p.entries.length - 1; i >= 0; i--) {
      const e = p.entries[i];
      if (e.kind !== "dir" || !at.has(e.rel) || holding.has(e.rel)) continue;
      await pacer.pace();
      try {
        sys.rmdirSync(at.get(e.rel)!);
        at.delete(e.rel);
      } catch (err) {
        if (err instanceof NotFoundError) {
          at.delete(e.rel);
          continue;
        }
        if (!(err instanceof NotEmptyError)) throw err;
        keep(e.rel);
      }
    }
  } finally {
    // 4. Put the directories that stay back under their names, parents first.
    for (const rel of moved) {
      if (!at.has(rel) || !at.has(parentOf(rel))) continue;
      const back = original(rel);
      try {
        sys.renameSync(at.get(rel)!, back);
        at.set(rel, back);
      } catch {
        // Left under its temp name inside the source; reported below.
      }
    }
  }
  if (kept.length > 0) throw changedAt(kept[0].slice(s.length + 1));
}
