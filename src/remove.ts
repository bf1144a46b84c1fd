// Copyright 2026 the safefs authors. MIT license.
/**
 * `remove()`: delete a file, symlink or directory tree without following
 * symlinks, without crossing into other filesystems, alongside other deleters,
 * and at any depth.
 *
 * @module
 */
import { dirname, type PathLike, toAbsolute } from "./_path.ts";
import { Pacer } from "./_pace.ts";
import { preflight } from "./_perm.ts";
import { lstatOrNullSync } from "./_dest.ts";
import { type DirEntry, type FileInfo, sys } from "./_sys.ts";
import { isTempName, tempPathFor } from "./_temp.ts";
import {
  AbortedError,
  InvalidArgumentError,
  NotEmptyError,
  NotFoundError,
  SafeFsError,
  type SafeFsErrorOptions,
  SourceChangedError,
} from "./errors.ts";

/** What {@linkcode RemoveOptions.onProgress} receives. */
export interface RemoveProgress {
  /** Files, symlinks and directories removed so far by this call. */
  entriesRemoved: number;
  /** The directory being emptied. */
  path: string;
}

/** Options for {@linkcode remove}. */
export interface RemoveOptions {
  /**
   * Stay on the filesystem of `path`: a directory on another filesystem (a
   * mount point inside the tree, or a bind mount) is not entered. Everything
   * else is removed, then {@linkcode MountPointError} lists the mount points
   * left. With `false`, mounted filesystems are emptied too (symlinks are
   * still never followed), and the mount point directories themselves, which
   * cannot be removed while mounted, are reported the same way.
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
   * Stops the removal at the next directory or batch of entries with
   * `AbortedError` (code `"ABORT_ERR"`). What was removed stays removed; the
   * directories moved aside while working are put back under their names.
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Called about every 8 ms while the tree is removed, and once at the end.
   * @default {undefined}
   */
  onProgress?: (progress: RemoveProgress) => void;
}

/** What {@linkcode remove} did. */
export interface RemoveResult {
  /** The absolute path removed. */
  path: string;
  /**
   * Files, symlinks and directories this call removed (entries removed by
   * concurrent deleters are not counted).
   */
  entriesRemoved: number;
}

/**
 * Thrown by {@linkcode remove} when mount points inside the tree kept it from
 * being removed completely. Everything else that could be removed was; the
 * mount points (and the directories leading to them) are left in place.
 * Code `"EBUSY"`.
 *
 * @example
 * ```ts
 * import { MountPointError } from "@safefs/safefs";
 * import { deepEqual } from "node:assert/strict";
 *
 * const err = new MountPointError("Cannot remove '/t': 1 mount point left", {
 *   code: "EBUSY",
 *   op: "remove",
 *   path: "/t",
 *   mountPoints: ["/t/mnt"],
 * });
 * deepEqual(err.mountPoints, ["/t/mnt"]);
 * ```
 */
export class MountPointError extends NotEmptyError {
  /** The mount points left, as absolute paths. */
  readonly mountPoints: string[];

  /**
   * Creates the error.
   *
   * @param message A sentence-case message that quotes the paths.
   * @param options What failed, and the mount points left.
   */
  constructor(
    message: string,
    options: SafeFsErrorOptions & { mountPoints: string[] },
  ) {
    super(message, options);
    this.mountPoints = options.mountPoints;
  }
}

// ---------------------------------------------------------------------------
// How it works
//
// Deno's file API is path based: there is no openat/unlinkat/fchdir for
// single entries, and Deno.chdir (koji's way of keeping paths short) changes
// the cwd of the whole process, under the feet of every other task in it: a
// library cannot use it. Two problems follow, and one technique solves both:
//
// 1. Depth. A path longer than PATH_MAX (4096 bytes) fails with ENAMETOOLONG,
//    and a tree 10,000 levels deep has paths of 20,000 bytes and more.
// 2. Races (CVE-2022-21658). Acting on `root/a/b/c/file` resolves every
//    component again. Someone who can write `root/a/b` can replace `c` with a
//    symlink to `/etc` between our check and the unlink, and the unlink then
//    deletes `/etc/file`.
//
// The technique: FLATTENING. Before a directory is entered it is renamed,
// under a fresh temp name (`.<name>.<uuid>.safefs-tmp`), to sit DIRECTLY in
// the root of its filesystem region (the `base`: the root of the removal, or
// a mount point we crossed into with oneFileSystem: false). `rename` never
// follows its last component, so what moves is the entry itself (a symlink
// moves as a symlink); it stays on the same filesystem and inside the tree.
// After the move:
// - every path we use has the form `base/<temp>/<name>`: never long;
// - the only directory resolved on the way to an entry we unlink, besides the
//   base and its ancestors, is `base/<temp>`, which lives in the base and
//   therefore can only be swapped by someone who can write the base itself.
//   A process that can write only somewhere INSIDE the tree (the attacker of
//   CVE-2022-21658) cannot redirect anything we do;
// - the (dev, ino) of `base/<temp>` is checked after the move (it must be the
//   directory found), before its listing and after it, and again every 64
//   entries. A mismatch stops everything with SourceChangedError
//   ("ESRCCHANGED") before anything is done in the changed directory.
//
// WHAT REMAINS POSSIBLE (documented in remove()'s JSDoc too): a process that
// can rename entries of the BASE directory itself (or of one of its
// ancestors) can swap `base/<temp>` for a symlink after one of our checks and
// before an unlink in it, redirecting that unlink (and the next ones, until
// the next check: at most 64) to the symlink's target directory. Only an openat-based
// backend (FFI) closes that window. Also path based, and so redirectable by
// someone who can write the parent directory in question: the chmod u+rwx
// done on a directory we may not write or read (it can only ever ADD owner
// permissions to a directory the caller owns, never delete anything).
//
// Ordering. Each directory is a `Dir` record; moved directories remember their
// parent and original name. A directory is removed (rmdir) only after every
// directory moved out of it is finished, so that on failure, abort, or a kept
// mount point, every moved directory still present can be renamed BACK under
// its original name, innermost first: the tree that is left keeps its shape.
// No recursion: an explicit stack of directories to scan, and a loop that
// walks up parent records when a directory finishes.
//
// Concurrent deleters. ENOENT or ESTALE on anything below the root means
// someone else removed (or, another safefs remove, moved) it: we note the
// name as "lost" and carry on. When a directory's rmdir then fails with
// ENOTEMPTY, it is listed again ("rescan"): temp-named entries (subtrees
// another safefs remove moved into the base, or leftovers of other safefs
// operations) and entries named as lost are processed; any other entry is
// NEW: it was created after we listed the directory, so it is left alone and
// reported with NotEmptyError. This is how the walk "restarts from the top"
// where it lost its place (koji's rmtree does it with chdir): a lost subtree
// is found again by rescanning its base. Rescans are bounded: 16, plus one for
// every distinct entry lost to another deleter (which is bounded by the size
// of the tree): it never loops forever. If the root itself vanishes, that is
// success.
//
// Leaves. A directory whose listing shows no subdirectory (and at least
// LEAF_MIN entries) cannot hold a mount point, so it is handed whole to
// `sys.removeTree` (Deno.remove recursive = Rust's remove_dir_all:
// openat(O_NOFOLLOW|O_DIRECTORY) + unlinkat relative to that descriptor, so
// nothing in it can be redirected, and a symlink swapped in at its path is
// only unlinked). It runs on another thread while the walk goes on (up to
// MAX_IN_FLIGHT at once). What this gives up: an entry created in a leaf
// after our listing may be removed with it instead of being reported, and a
// subdirectory created AND mounted on in that instant would be entered.
//
// Speed. Sync calls (~1 µs of Deno overhead each) in a loop, with an `await`
// on setImmediate about every 8 ms so the event loop runs (timers, an
// AbortSignal.timeout, progress), and leaves removed off-thread in parallel.
// Per-entry async calls cost ~18 µs each and were measured slower even with
// 16 in flight; per-entry sync calls (Deno.remove = lstat + unlink) were
// ~1.8x `rm -rf` on tmpfs. Numbers: bench/remove_bench.ts.
// ---------------------------------------------------------------------------

/** Rescans allowed beyond the ones earned by entries lost to other deleters. */
const MAX_RESCANS = 16;
/** Check the directory's identity again after this many entries. */
const RECHECK_EVERY = 64;
/** Leaves with at least this many entries are removed by `sys.removeTree`. */
const LEAF_MIN = 16;
/** Leaves being removed off the main thread at once. */
const MAX_IN_FLIGHT = 8;

interface Dir {
  /** Where it is now. */
  path: string;
  /** Its original name in its parent (`""` for the root). */
  name: string;
  /** The directory it was found in (`null` for the root). */
  parent: Dir | null;
  dev: number;
  ino: number;
  /** The directory its subdirectories are moved into (root, or a mount point). */
  base: Dir | null;
  /** True while it sits under a temp name in `base`, away from its parent. */
  moved: boolean;
  /** Subdirectories found in it and not finished yet. */
  pending: number;
  /** Something inside stays: never rmdir'd, put back if moved. */
  kept: boolean;
  /** Finished (removed, or found gone). */
  done: boolean;
  /** Found gone (another deleter): finishing it needs no rmdir. */
  gone: boolean;
  /** We chmod'ed it u+rwx already. */
  chmodded: boolean;
  /** Names that vanished under us (another deleter): allowed on a rescan. */
  lost: Set<string> | null;
}

interface InFlight {
  d: Dir;
  entries: number;
  /** Resolves to null, or to the error. */
  done: Promise<unknown>;
}

type Errno = string;

function codeOf(e: unknown): Errno {
  return e instanceof SafeFsError ? e.code : "";
}

function isGone(e: unknown): boolean {
  const c = codeOf(e);
  return c === "ENOENT" || c === "ESTALE";
}

function isDenied(e: unknown): boolean {
  const c = codeOf(e);
  return c === "EACCES" || c === "EPERM";
}

function sameDir(a: FileInfo, d: Dir): boolean {
  return a.isDirectory && a.dev === d.dev && a.ino === d.ino;
}

function listPaths(paths: string[], max = 5): string {
  const shown = paths.slice(0, max).map((p) => `'${p}'`).join(", ");
  return paths.length > max ? `${shown} and ${paths.length - max} more` : shown;
}

class Remover {
  readonly root: Dir;
  readonly stack: Dir[] = [];
  /** Every directory moved aside, in the order moved (parents first). */
  readonly moved: Dir[] = [];
  readonly mounts: { dir: Dir; name: string | null }[] = [];
  readonly appeared: { dir: Dir; name: string }[] = [];
  readonly stuck: Dir[] = [];
  /** Leaves being removed by `sys.removeTree`, oldest first. */
  readonly inflight: InFlight[] = [];
  removed = 0;
  rescans = 0;
  lostEntries = 0;
  sinceCheck = 0;
  pacer: Pacer = new Pacer();

  constructor(
    readonly path: string,
    info: FileInfo,
    readonly oneFileSystem: boolean,
    readonly signal: AbortSignal | undefined,
    readonly onProgress: ((p: RemoveProgress) => void) | undefined,
  ) {
    this.root = this.dir(path, "", null, info, null, false);
  }

  dir(
    path: string,
    name: string,
    parent: Dir | null,
    info: FileInfo,
    base: Dir | null,
    moved: boolean,
  ): Dir {
    const d: Dir = {
      path,
      name,
      parent,
      dev: info.dev,
      ino: info.ino ?? 0,
      base,
      moved,
      pending: 0,
      kept: false,
      done: false,
      gone: false,
      chmodded: false,
      lost: null,
    };
    // `null` makes the directory a base: its subdirectories move into it.
    d.base = base ?? d;
    if (moved) this.moved.push(d);
    return d;
  }

  // --- errors --------------------------------------------------------------

  fail(message: string, e: unknown): SafeFsError {
    if (e instanceof SafeFsError) return e;
    return new SafeFsError(message, {
      code: "EUNKNOWN",
      op: "remove",
      path: this.path,
      cause: e,
    });
  }

  changed(d: Dir, now: FileInfo | null): SourceChangedError {
    const what = now === null
      ? "is no longer a directory"
      : now.isSymlink
      ? "was replaced by a symlink"
      : !now.isDirectory
      ? "was replaced by a non-directory"
      : `was replaced by another directory (dev:ino ${d.dev}:${d.ino} became ${now.dev}:${now.ino})`;
    return new SourceChangedError(
      `Cannot remove '${this.path}': directory '${d.path}' ${what} while it ` +
        `was being emptied; stopped without acting in it`,
      { code: "ESRCCHANGED", op: "remove", path: d.path },
    );
  }

  aborted(path: string): AbortedError {
    return new AbortedError(
      `Removal of '${this.path}' was aborted (at '${path}')`,
      { code: "ABORT_ERR", op: "remove", path, cause: this.signal?.reason },
    );
  }

  // --- pacing --------------------------------------------------------------

  /** Yields to the event loop now and then; checks abort; reports progress. */
  async pace(path: string): Promise<void> {
    if (!this.pacer.due()) return;
    await this.pacer.pace();
    if (this.signal?.aborted) throw this.aborted(path);
    this.onProgress?.({ entriesRemoved: this.removed, path });
  }

  noteLost(d: Dir, name: string): void {
    d.lost ??= new Set();
    if (!d.lost.has(name)) {
      d.lost.add(name);
      this.lostEntries++;
    }
  }

  /** Gives the directory u+rwx (we may not list, enter or write it). */
  chmodOnce(d: Dir): boolean {
    if (d.chmodded) return false;
    d.chmodded = true;
    try {
      const info = sys.lstatSync(d.path);
      if (!sameDir(info, d)) throw this.changed(d, info);
      sys.chmodSync(d.path, (info.mode ?? 0) & 0o7777 | 0o700);
      return true;
    } catch (e) {
      if (e instanceof SourceChangedError) throw e;
      return false;
    }
  }

  // --- identity --------------------------------------------------------------

  /**
   * lstat `d` and compare with what we recorded. Returns false when it is
   * gone; throws SourceChangedError when something else is there.
   */
  verify(d: Dir): boolean {
    let info: FileInfo;
    try {
      info = sys.lstatSync(d.path);
    } catch (e) {
      if (isGone(e)) return this.goneOrRoot(d, e);
      throw e;
    }
    if (!sameDir(info, d)) throw this.changed(d, info);
    return true;
  }

  /**
   * A directory reported ENOENT/ESTALE. For anything below the root that
   * means another deleter got it. For the root, ESTALE is checked with a
   * second lstat (by path, so NFS looks it up afresh).
   */
  goneOrRoot(d: Dir, e: unknown): boolean {
    if (d !== this.root || codeOf(e) === "ENOENT") return false;
    try {
      const info = sys.lstatSync(d.path);
      if (!sameDir(info, d)) throw this.changed(d, info);
      return true;
    } catch (e2) {
      if (codeOf(e2) === "ENOENT") return false;
      throw e2;
    }
  }

  // --- the walk ---------------------------------------------------------------

  async run(): Promise<void> {
    this.stack.push(this.root);
    try {
      while (this.stack.length > 0 || this.inflight.length > 0) {
        if (this.signal?.aborted) throw this.aborted(this.path);
        if (this.stack.length === 0 || this.inflight.length >= MAX_IN_FLIGHT) {
          await this.settle(this.inflight.shift()!);
          continue;
        }
        const d = this.stack.pop()!;
        await this.pace(d.path);
        const state = await this.scan(d, false);
        if (state === "handed-off") continue;
        if (state === "gone") d.gone = true;
        // Subdirectories it had already handed out finish it when they are done.
        if (d.pending === 0) await this.finish(d);
      }
    } catch (e) {
      await this.drain();
      this.restore();
      throw e;
    }
    if (
      this.appeared.length > 0 || this.mounts.length > 0 ||
      this.stuck.length > 0
    ) {
      this.restore();
      throw this.incomplete();
    }
    this.onProgress?.({ entriesRemoved: this.removed, path: this.path });
  }

  /**
   * Lists `d` and removes what it holds: unlinks files and symlinks, moves
   * subdirectories aside (pushing them to be scanned). A leaf (no
   * subdirectory in the listing) with many entries is handed off whole to
   * `sys.removeTree` instead. On a rescan, entries that are neither temp
   * names nor lost ones appeared after our first listing: they are left and
   * reported.
   */
  async scan(d: Dir, rescan: boolean): Promise<"gone" | "done" | "handed-off"> {
    if (!this.verify(d)) return "gone";
    let list: DirEntry[];
    for (let attempt = 0;; attempt++) {
      try {
        list = sys.readDirSync(d.path);
        break;
      } catch (e) {
        if (isGone(e)) {
          // Below the root: gone. The root: ESTALE but still there, retry.
          if (!this.goneOrRoot(d, e)) return "gone";
          if (attempt < 3) continue;
        }
        if (attempt === 0 && isDenied(e) && this.chmodOnce(d)) continue;
        throw e;
      }
    }
    if (!this.verify(d)) return "gone";
    if (
      !rescan && list.length >= LEAF_MIN && !list.some((e) => e.isDirectory)
    ) {
      this.handOff(d, list.length);
      return "handed-off";
    }
    this.sinceCheck = 0;
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      if (++this.sinceCheck >= RECHECK_EVERY) {
        this.sinceCheck = 0;
        if (!this.verify(d)) return "gone";
        await this.pace(d.path);
      }
      if (
        rescan && !isTempName(e.name) && !(d.lost?.has(e.name) ?? false)
      ) {
        this.appeared.push({ dir: d, name: e.name });
        d.kept = true;
        continue;
      }
      if (e.isDirectory) this.subdir(d, e.name, 0);
      else this.unlink(d, e.name, 0);
    }
    return "done";
  }

  /**
   * Removes the leaf `d` (its listing of `entries` entries showed no
   * subdirectory, so no mount point) with one `removeTree`, which runs off
   * the main thread while the walk goes on; `settle` takes the result.
   */
  handOff(d: Dir, entries: number): void {
    const done = sys.removeTree(d.path).then(() => null, (e: unknown) => e);
    this.inflight.push({ d, entries, done });
  }

  async settle(item: InFlight): Promise<void> {
    const e = await item.done;
    const d = item.d;
    if (e === null) {
      this.removed += item.entries + 1;
      d.gone = true; // nothing left to rmdir
      return this.finish(d);
    }
    const c = codeOf(e);
    if (isGone(e)) {
      if (!this.goneOrRoot(d, e)) d.gone = true;
      // A root still there after ESTALE: rmdir, rescan as usual.
      return this.finish(d);
    }
    // Entries appeared (ENOTEMPTY) or it is a mount point (EBUSY): rmdir,
    // rescan and report as usual.
    if (c === "ENOTEMPTY" || c === "EEXIST" || c === "EBUSY") {
      return this.finish(d);
    }
    if (isDenied(e) && this.chmodOnce(d)) return this.handOff(d, item.entries);
    throw e;
  }

  /** After a failure: waits for the leaves in flight, keeping what they did. */
  async drain(): Promise<void> {
    const items = this.inflight.splice(0);
    for (const item of items) {
      if (await item.done === null) {
        this.removed += item.entries + 1;
        item.d.done = true;
      }
    }
  }

  /**
   * Unlinks a non-directory entry of `d` (never follows it). `hops` counts
   * the times the entry flipped between file and directory under us.
   */
  unlink(d: Dir, name: string, hops: number): void {
    const p = d.path + "/" + name;
    for (let attempt = 0;; attempt++) {
      try {
        sys.unlinkSync(p);
        this.removed++;
        return;
      } catch (e) {
        if (isGone(e)) return this.noteLost(d, name);
        const c = codeOf(e);
        // It became a (non-empty) directory since the listing.
        if (c === "ENOTEMPTY" || c === "EISDIR") {
          if (hops > 2) return this.noteLost(d, name); // a rescan decides
          return this.subdir(d, name, hops + 1);
        }
        if (attempt === 0 && isDenied(e) && this.chmodOnce(d)) continue;
        throw e;
      }
    }
  }

  /** Handles a subdirectory entry of `d`: mount point, or move it aside. */
  subdir(d: Dir, name: string, hops: number): void {
    const p = d.path + "/" + name;
    let info: FileInfo;
    try {
      info = sys.lstatSync(p);
    } catch (e) {
      if (isGone(e)) return this.noteLost(d, name);
      throw e;
    }
    if (!info.isDirectory) {
      if (hops > 2) return this.noteLost(d, name); // a rescan decides
      return this.unlink(d, name, hops + 1);
    }
    if (info.dev !== d.dev) return this.mountPoint(d, name, p, info);
    // Temp-named directories sitting in the base are already where they
    // need to be (moved there by us or by another safefs remove).
    if (d.base === d && isTempName(name)) {
      d.pending++;
      this.stack.push(this.dir(p, name, d, info, d.base, false));
      return;
    }
    const base = d.base ?? d;
    const to = tempPathFor(base.path + "/" + name);
    for (let attempt = 0;; attempt++) {
      try {
        sys.renameSync(p, to);
        break;
      } catch (e) {
        if (isGone(e)) return this.noteLost(d, name);
        // A mount point of the same device (a bind mount): rename says EBUSY.
        if (codeOf(e) === "EBUSY") return this.mountPoint(d, name, p, info);
        if (attempt === 0 && isDenied(e)) {
          // Moving a directory to another parent needs write permission on
          // it (for its ".."), and on both parents.
          const child = this.dir(p, name, d, info, d.base, false);
          const a = this.chmodOnce(d);
          const b = this.chmodOnce(child);
          if (a || b) continue;
        }
        throw e;
      }
    }
    const child = this.dir(to, name, d, info, d.base, true);
    d.pending++;
    let now: FileInfo;
    try {
      now = sys.lstatSync(to);
    } catch (e) {
      if (isGone(e)) {
        // Another safefs remove scanning the base took it already.
        child.done = true;
        d.pending--;
        return this.noteLost(d, name);
      }
      throw e;
    }
    if (!now.isDirectory) {
      // Swapped for a file or symlink between our lstat and the rename: what
      // we moved is that entry itself (rename never follows), so unlink it.
      child.done = true;
      d.pending--;
      try {
        sys.unlinkSync(to);
        this.removed++;
      } catch (e) {
        if (!isGone(e)) throw e;
      }
      return;
    }
    if (!sameDir(now, child)) throw this.changed(child, now);
    this.stack.push(child);
  }

  mountPoint(d: Dir, name: string, p: string, info: FileInfo): void {
    if (this.oneFileSystem) {
      this.mounts.push({ dir: d, name });
      d.kept = true;
      return;
    }
    // Cross into it, in place (a mount point cannot be renamed): it becomes
    // the base of its own region.
    d.pending++;
    this.stack.push(this.dir(p, name, d, info, null, false));
  }

  /**
   * `d` has no unfinished subdirectories: rmdir it (or, if something in it
   * stays, leave it), then do the same for its parent, and so on up.
   */
  async finish(d: Dir): Promise<void> {
    let cur: Dir | null = d;
    while (cur !== null && !cur.done) {
      if (!cur.gone && !cur.kept) {
        const r = this.rmdir(cur);
        if (r === "not-empty") {
          if (this.rescans >= MAX_RESCANS + this.lostEntries) {
            this.stuck.push(cur);
            cur.kept = true;
          } else {
            this.rescans++;
            if (await this.scan(cur, true) === "gone") cur.gone = true;
            if (cur.pending > 0) return; // its new subdirectories come first
            continue; // try the rmdir again (unless gone or kept now)
          }
        }
      }
      cur.done = true;
      const parent: Dir | null = cur.parent;
      if (parent === null) return;
      if (cur.kept) parent.kept = true;
      parent.pending--;
      if (parent.pending > 0) return;
      cur = parent;
    }
  }

  rmdir(d: Dir): "removed" | "gone" | "not-empty" | "kept" {
    for (let attempt = 0;; attempt++) {
      try {
        sys.rmdirSync(d.path);
        this.removed++;
        return "removed";
      } catch (e) {
        const c = codeOf(e);
        if (c === "ENOENT") return "gone";
        if (c === "ESTALE") {
          if (d !== this.root) return "gone";
          // Check the root by path: gone, or still there (rescan it).
          if (!this.goneOrRoot(d, e)) return "gone";
          return "not-empty";
        }
        if (c === "ENOTEMPTY" || c === "EEXIST") return "not-empty";
        if (c === "EBUSY") {
          // A mount point we emptied (oneFileSystem: false) or the root.
          this.mounts.push({ dir: d, name: null });
          d.kept = true;
          return "kept";
        }
        if (attempt === 0 && isDenied(e)) {
          const holder = d.moved ? d.base : d.parent;
          if (holder !== null && this.chmodOnce(holder)) continue;
        }
        throw e;
      }
    }
  }

  // --- after a failure ---------------------------------------------------------

  /** Where `d` is now (moved directories at their temp name). */
  where(d: Dir): string {
    const names: string[] = [];
    let cur: Dir = d;
    while (!cur.moved && cur.parent !== null) {
      names.push(cur.name);
      cur = cur.parent;
    }
    let p = cur.path;
    for (let i = names.length - 1; i >= 0; i--) p += "/" + names[i];
    return p;
  }

  /**
   * Puts every moved directory still present back under its original name in
   * its parent, innermost first, so what is left keeps the tree's shape.
   * Best effort: a name taken meanwhile, or a failing rename, leaves that
   * directory under its temp name (beside the root, where sweep() finds it).
   */
  restore(): void {
    for (let i = this.moved.length - 1; i >= 0; i--) {
      const d = this.moved[i];
      if (!d.moved || (d.done && !d.kept) || d.parent === null) continue;
      const to = this.where(d.parent) + "/" + d.name;
      try {
        sys.lstatSync(to);
        continue; // the name is taken: leave it where it is
      } catch (e) {
        if (codeOf(e) !== "ENOENT") continue;
      }
      try {
        const info = sys.lstatSync(d.path);
        if (!sameDir(info, d)) continue;
        sys.renameSync(d.path, to);
        d.moved = false;
      } catch {
        // Left under its temp name.
      }
    }
  }

  incomplete(): NotEmptyError {
    const mounts = this.mounts.map((m) =>
      m.name === null ? this.where(m.dir) : this.where(m.dir) + "/" + m.name
    );
    const appeared = this.appeared.map((a) => this.where(a.dir) + "/" + a.name);
    const stuck = this.stuck.map((d) => this.where(d));
    const base = { op: "remove", path: this.path };
    if (appeared.length > 0 || stuck.length > 0) {
      const parts: string[] = [];
      if (appeared.length > 0) {
        parts.push(
          `entries were created while it was being removed and were left: ${
            listPaths(appeared)
          }`,
        );
      }
      if (stuck.length > 0) {
        parts.push(
          `still not empty after ${this.rescans} rescans: ${listPaths(stuck)}`,
        );
      }
      if (mounts.length > 0) {
        parts.push(`mount points left: ${listPaths(mounts)}`);
      }
      return new NotEmptyError(
        `Cannot remove '${this.path}': ${parts.join("; ")}`,
        { ...base, code: "ENOTEMPTY", path: appeared[0] ?? stuck[0] },
      );
    }
    return new MountPointError(
      `Cannot remove '${this.path}': ${mounts.length} mount point${
        mounts.length === 1 ? "" : "s"
      } inside it ${mounts.length === 1 ? "was" : "were"} left in place: ${
        listPaths(mounts)
      }`,
      { ...base, code: "EBUSY", mountPoints: mounts },
    );
  }
}

/**
 * Removes a file, a symlink or a whole directory tree, like `rm -rf`, but:
 *
 * - **Symlinks are never followed.** A symlink (to a file or a directory,
 *   dangling or not) is unlinked as a link, wherever it is, including `path`
 *   itself: the link goes, its target stays.
 * - **Other filesystems are not entered** (`oneFileSystem`, on by default): a
 *   directory whose device differs from its parent's (a mount point), or a
 *   bind mount, is left in place with its content; everything else is
 *   removed, then {@linkcode MountPointError} lists what was left.
 * - **Concurrent deleters are expected.** Another process (another
 *   `remove`, `rm -rf`, ...) removing parts of the tree, or all of it, at the
 *   same time (ENOENT, or ESTALE on NFS) is not an error: the call resolves
 *   once the tree is gone, whoever removed it.
 * - **New entries are reported, not chased.** An entry created inside the
 *   tree while it is being removed is left alone and the call throws
 *   `NotEmptyError` naming it, after removing everything else. It never
 *   loops forever: rescans are bounded.
 * - **Any depth.** No recursion, and no long paths: trees deeper than
 *   PATH_MAX allows (10,000+ levels) are removed.
 * - **Race-checked.** Each directory is moved aside (renamed, under a
 *   `.<name>.<uuid>.safefs-tmp` name, to sit directly in the root) before it
 *   is emptied, and its (dev, ino) is checked after the move, before and after
 *   listing it, and every 64 entries: a process that can write only inside
 *   the tree cannot make `remove` delete anything outside it
 *   (CVE-2022-21658). A mismatch stops the call with `SourceChangedError`
 *   (code `"ESRCCHANGED"`). Directories holding only files (leaves) are
 *   removed through a directory descriptor (`openat`/`unlinkat`), off the
 *   main thread.
 *
 * What it does not guarantee: Deno has no `unlinkat` for single entries, so
 * between a check and an unlink a process that can rename entries of the
 * ROOT directory itself (or of its ancestors) could still swap a moved
 * directory for a symlink and redirect up to 64 unlinks in it to another
 * directory. An entry created in a leaf directory just after it was listed
 * may be removed with it rather than reported. Another deleter that does not
 * expect directories to move (`rm -rf`, Python's `shutil.rmtree`) may fail
 * while racing `remove` (which still finishes). Deletion is not undoable: on
 * an error or abort, what was removed stays removed (the directories moved
 * aside are put back under their names). The removal is not fsynced. Names
 * that are not valid UTF-8 cannot be removed (Deno's API cannot name them).
 *
 * Directories we own but may not list or write (mode 0o555, 0o000...) are
 * given u+rwx first, as needed; read-only files need nothing.
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
 * @throws {MountPointError} Mount points inside the tree were left in place.
 * @throws {NotEmptyError} Entries appeared in the tree while it was removed.
 * @throws {SourceChangedError} A directory was replaced while being emptied.
 * @throws {AbortedError} `signal` fired.
 * @throws {PermissionError} A Deno permission is missing, or the OS refused.
 * @throws {InvalidArgumentError} `path` is empty, has a NUL byte, or is `/`.
 * @throws {SafeFsError} Any other failure, with its errno in `code`.
 */
export async function remove(
  path: PathLike,
  options: RemoveOptions = {},
): Promise<RemoveResult> {
  const op = "remove";
  const abs = toAbsolute(path, op);
  const parent = dirname(abs);
  if (parent === abs) {
    throw new InvalidArgumentError(
      `Refusing to remove the root directory '${abs}'`,
      { code: "EINVAL", op, path: abs },
    );
  }
  if (options.signal?.aborted) {
    throw new AbortedError(`Removal of '${abs}' was aborted`, {
      code: "ABORT_ERR",
      op,
      path: abs,
      cause: options.signal.reason,
    });
  }
  // `abs` itself is never followed; its directory is where it really is.
  await preflight(op, [
    { kind: "read", path: abs },
    { kind: "write", path: abs },
    { kind: "read", path: parent, followLast: true },
    { kind: "write", path: parent, followLast: true },
  ]);
  const info = lstatOrNullSync(abs);
  if (info === null) {
    if (options.missingOk) return { path: abs, entriesRemoved: 0 };
    throw new NotFoundError(`Cannot remove '${abs}': it does not exist`, {
      code: "ENOENT",
      op,
      path: abs,
    });
  }
  if (!info.isDirectory) {
    // A file, a symlink (never followed) or a special file.
    try {
      sys.unlinkSync(abs);
      return { path: abs, entriesRemoved: 1 };
    } catch (e) {
      // Removed by someone else since our lstat: it is gone, as asked.
      if (codeOf(e) === "ENOENT") return { path: abs, entriesRemoved: 0 };
      throw e;
    }
  }
  const r = new Remover(
    abs,
    info,
    options.oneFileSystem ?? true,
    options.signal,
    options.onProgress,
  );
  try {
    await r.run();
  } catch (e) {
    if (e instanceof SafeFsError) throw e;
    throw r.fail(`Cannot remove '${abs}': ${e}`, e);
  }
  return { path: abs, entriesRemoved: r.removed };
}
