// Copyright 2026 the safefs authors. MIT license.
/**
 * THE deletion engine. `remove()`, the source removal of a cross-filesystem
 * `move()`, the cleanup of a failed operation's temp, the old tree left by a
 * directory exchange, and `sweep()` all delete through `deleteEntry()`.
 *
 * The shape is Rust std's `remove_dir_all`: open the directory without
 * following a symlink, list it, unlink its entries relative to the held
 * descriptor, descend into subdirectories by descriptor, remove each
 * directory once it is empty. Nothing is ever renamed, so it works where
 * renaming a directory is refused (overlayfs lower layers), and no path is
 * walked twice, so on the ffi backend a process that swaps a directory for a
 * symlink while the removal runs cannot redirect it (CVE-2022-21658).
 *
 * - Symlinks are never followed: a symlink is unlinked as a link.
 * - `unlinkAt` never removes a directory and `rmdirAt` never a file: an
 *   entry that changed type since it was listed is looked at again.
 * - Mount points (another device, or a mount root of the same one, such as a
 *   bind mount) are not entered with `oneFileSystem`; a mount point that
 *   cannot be removed (EBUSY) is reported either way.
 * - Other deleters are expected: ENOENT (ESTALE on NFS) means someone else
 *   removed it, which is what we wanted.
 * - An entry created after its directory was listed is not chased: the
 *   directory's rmdir fails with ENOTEMPTY, it is listed again, and what is
 *   new is left and reported (`appeared`).
 * - A `guard` limits the removal to what was planned (move's source
 *   removal, which must delete only what it copied): the removal walks the
 *   planned entries instead of listing; one that changed since it was
 *   planned is left and reported, and one not planned is left and found by
 *   its directory's rmdir, as an entry created meanwhile is.
 * - Depth: no recursion; the open directories are a {@linkcode Chain}.
 * - Directories we may not list or write are given owner rwx first (which
 *   only works for directories of our own).
 *
 * @module
 */
import { type Dir, type DirEntry, feat, type Stat, sys } from "./_sys.ts";
import { ATTR_MOUNT_ROOT } from "./_sys_types.ts";
import { DirList, kindByte } from "./_dir_list.ts";
import { Chain, type Frame } from "./_chain.ts";
import { each, type Gen, PACE, paceAt } from "./_run.ts";
import { under } from "./_path.ts";
import {
  AbortedError,
  MountPointError,
  NotEmptyError,
  SafeFsError,
  SourceChangedError,
} from "./errors.ts";

/** A planned entry of a guarded removal, with its token. */
export interface PlannedEntry extends DirEntry {
  token: number;
}

/** Limits a removal to planned entries that did not change. */
export interface Guard {
  /** The root's token. */
  root: number;
  /** True when the entry is still what was planned. */
  unchanged(token: number, st: Stat): boolean;
  /**
   * The planned entries of the directory of token `parent`, a part per
   * call (null at the end). A guarded removal walks these instead of
   * listing the directory: what is not planned is left alone anyway, and
   * the directory's final rmdir finds it (ENOTEMPTY), so a directory of
   * 200,000 entries is never held whole.
   */
  planned(parent: number): () => PlannedEntry[] | null;
}

/** How a removal runs. */
export interface DeleteOptions {
  /** The primitive, for errors. */
  op: string;
  /** Leave other filesystems (mount points) alone. */
  oneFileSystem: boolean;
  /** Stops at the next entry with `AbortedError`. */
  signal?: AbortSignal | undefined;
  /** Called now and then with the entries removed so far. */
  onProgress?: ((removed: number, path: string) => void) | undefined;
  /** Remove only what the guard knows and finds unchanged. */
  guard?: Guard | undefined;
}

/** What a removal did and left. */
export interface DeleteReport {
  /** Entries this call removed. */
  removed: number;
  /** The entry itself is gone (removed by us or by someone else). */
  gone: boolean;
  /** Entries left because they were created after their directory was listed (or not planned). */
  appeared: string[];
  /** Entries left because they changed since they were planned. */
  changed: string[];
  /** Mount points left in place. */
  mounts: string[];
}

/** A directory of files removed whole, and how many entries it held. */
interface Leaf {
  name: string;
  entries: number;
}

interface DFrame extends Frame {
  token: number;
  path: string;
  /** The entries to handle (the listing, or the current part of the planned ones). */
  list: Entries;
  i: number;
  /** The next part of the planned entries (guarded removals). */
  more?: () => DirEntry[] | null;
  /** Something inside stays: no rmdir. */
  kept: boolean;
  /** We gave it owner rwx already. */
  chmodded: boolean;
  /** Subdirectories holding only files, to remove whole (see `flushLeaves`). */
  leaves?: Leaf[];
  /** Names not to hand over whole again (a whole removal of them failed). */
  noLeaf?: Set<string>;
}

/** Directories of files with at least this many entries are removed whole. */
const LEAF_MIN = 16;
/** Whole removals in flight at once under the async driver. */
const LEAF_WIDTH = 8;

function codeOf(e: unknown): string {
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

const PROGRESS_MS = 100;

/** True for an entry owned by the effective user (unknown: assume so, the kernel decides). */
function ours(st: Stat): boolean {
  const euid = sys.euid();
  return euid === null || euid === 0 || euid === st.uid;
}

/**
 * The listing of an open directory. A directory of ours we may open but not
 * read (the path backend opens by path) gets owner rwx, once; a transient
 * ESTALE (NFS) is asked again once.
 */
function* listOf(d: Dir, st: Stat, onPart: () => void): Gen<DirList> {
  for (let attempt = 0;; attempt++) {
    try {
      return yield* sys.listWhole(d, onPart);
    } catch (e) {
      const c = codeOf(e);
      if (attempt > 0 || (c !== "EACCES" && c !== "ESTALE")) throw e;
      if (c === "EACCES") {
        if (!ours(st)) throw e;
        try {
          sys.chmod(d, st.mode | 0o700);
        } catch {
          throw e;
        }
      }
    }
  }
}

/** A subdirectory opened and checked by `entry`, to list and enter. */
interface Child {
  dir: Dir;
  name: string;
  st: Stat;
  token: number;
  path: string;
}

/** A frame's entries: a listing, or a part of the planned entries. */
type Entries = DirEntry[] | DirList;

const DIR_BYTE = kindByte("dir");

/** Entry k of `l`; an object in a part is let go of once taken. */
function entryAt(l: Entries, k: number): DirEntry {
  if (l instanceof DirList) return l.get(k);
  const e = l[k];
  l[k] = undefined as unknown as DirEntry;
  return e;
}

class Deleter {
  readonly report: DeleteReport = {
    removed: 0,
    gone: false,
    appeared: [],
    changed: [],
    mounts: [],
  };
  readonly chain: Chain<DFrame>;
  // The first call comes at once (while the root is listed).
  #lastProgress = -Infinity;
  /** Entries reached, for pacing. */
  #entries = 0;

  constructor(readonly o: DeleteOptions) {
    this.chain = new Chain<DFrame>(o.op);
  }

  tick(path: string): void {
    if (this.o.signal?.aborted) {
      throw new AbortedError(`Removal was aborted at '${path}'`, {
        code: "ABORT_ERR",
        op: this.o.op,
        path,
        cause: this.o.signal.reason,
      });
    }
    this.progress(path);
  }

  /** Calls `onProgress` if `PROGRESS_MS` went by since it was last called. */
  progress(path: string): void {
    if (this.o.onProgress !== undefined) {
      const now = performance.now();
      if (now - this.#lastProgress >= PROGRESS_MS) {
        this.#lastProgress = now;
        this.o.onProgress(this.report.removed, path);
      }
    }
  }

  /**
   * The listing of `d` (see `listOf`), with progress between its parts: on
   * the path backend, a directory of 200,000 entries takes 1.5 s to list.
   * An `onProgress` that throws there is thrown once the listing is read.
   */
  *list(d: Dir, st: Stat, path: string): Gen<DirList> {
    let failed: { error: unknown } | null = null;
    const list = yield* listOf(d, st, () => {
      if (failed !== null) return;
      try {
        this.progress(path);
      } catch (error) {
        failed = { error };
      }
    });
    if (failed !== null) throw (failed as { error: unknown }).error;
    return list;
  }

  /** Gives the frame's directory owner rwx (once); false if that failed. */
  chmodFrame(f: DFrame): boolean {
    if (f.chmodded || f.dir === null) return false;
    f.chmodded = true;
    try {
      const st = sys.fstat(f.dir);
      sys.chmod(f.dir, st.mode | 0o700);
      return true;
    } catch {
      return false;
    }
  }

  /** Unlinks non-directory `name` of `dir`. Returns "dir" when it is a directory now. */
  unlink(dir: Dir, f: DFrame | null, name: string, path: string): "ok" | "dir" {
    for (let attempt = 0;; attempt++) {
      try {
        sys.unlinkAt(dir, name);
        this.report.removed++;
        return "ok";
      } catch (e) {
        if (isGone(e)) return "ok";
        const c = codeOf(e);
        if (c === "EISDIR") return "dir";
        if (c === "EBUSY") {
          // A file bind-mounted over this one.
          this.report.mounts.push(path);
          if (f !== null) f.kept = true;
          return "ok";
        }
        if (attempt === 0 && isDenied(e) && f !== null && this.chmodFrame(f)) {
          continue;
        }
        throw e;
      }
    }
  }

  /** Opens and checks subdirectory `name` of frame `f` (whose stat is `st`). */
  openChild(f: DFrame, name: string, st: Stat): Dir | "gone" | "changed" {
    for (let attempt = 0;; attempt++) {
      let d: Dir;
      try {
        d = sys.openDirAt(f.dir!, name);
      } catch (e) {
        if (isGone(e)) return "gone";
        const c = codeOf(e);
        if (c === "ELOOP" || c === "ENOTDIR") return "changed";
        if (attempt === 0 && c === "EACCES" && ours(st)) {
          try {
            // A directory of ours we may not read: give it owner rwx (the
            // entry was a directory when stat'ed; chmodAt never follows a
            // symlink swapped in since).
            sys.chmodAt(f.dir!, name, st.mode | 0o700);
            continue;
          } catch {
            // The open's error is the one to report.
          }
        }
        throw e;
      }
      const now = sys.fstat(d);
      if (now.dev !== st.dev || now.ino !== st.ino) {
        sys.close(d);
        return "changed";
      }
      return d;
    }
  }

  /**
   * Handles one listed entry of the deepest frame: a subdirectory is opened
   * and returned (to {@linkcode Deleter.enter}), anything else unlinked.
   */
  entry(f: DFrame, e: DirEntry): Child | null {
    const path = under(f.path, e.name);
    const guard = this.o.guard;
    const token = guard === undefined ? -1 : (e as PlannedEntry).token;
    for (let hops = 0; hops < 3; hops++) {
      let st: Stat | null = null;
      let kind = e.kind;
      if (kind === "dir" || kind === null || guard !== undefined || hops > 0) {
        try {
          st = sys.statAt(f.dir!, e.name);
        } catch (err) {
          if (isGone(err)) return null;
          throw err;
        }
        kind = st.kind;
      }
      if (guard !== undefined && !guard.unchanged(token, st!)) {
        this.report.changed.push(path);
        f.kept = true;
        return null;
      }
      if (kind !== "dir") {
        if (this.unlink(f.dir!, f, e.name, path) === "ok") return null;
        continue; // It is a directory now: look again.
      }
      if (st!.dev !== f.dev || (st!.attrs & ATTR_MOUNT_ROOT) !== 0) {
        if (this.o.oneFileSystem) {
          this.report.mounts.push(path);
          f.kept = true;
          return null;
        }
      }
      const d = this.openChild(f, e.name, st!);
      if (d === "gone") return null;
      if (d === "changed") continue;
      return { dir: d, name: e.name, st: st!, token, path };
    }
    throw new SourceChangedError(
      `Cannot ${this.o.op} '${path}': it keeps changing between a file and a directory; stopped`,
      { code: "ESRCCHANGED", op: this.o.op, path },
    );
  }

  /**
   * Lists subdirectory `c` of frame `f` (unless guarded: its planned
   * entries come in parts) and enters it, or hands it to `f`'s leaves.
   */
  *enter(f: DFrame, c: Child): Gen<void> {
    let list: Entries = [];
    try {
      if (this.o.guard === undefined) {
        list = yield* this.list(c.dir, c.st, c.path);
      }
    } catch (err) {
      sys.close(c.dir);
      if (isGone(err)) return; // removed by another deleter meanwhile
      throw err;
    }
    if (this.isLeaf(f, c.name, list)) {
      sys.close(c.dir);
      (f.leaves ??= []).push({ name: c.name, entries: list.length });
      return;
    }
    this.chain.push({
      dir: c.dir,
      name: c.name,
      dev: c.st.dev,
      ino: c.st.ino,
      token: c.token,
      path: c.path,
      list,
      i: 0,
      more: this.o.guard?.planned(c.token),
      kept: false,
      chmodded: false,
    });
  }

  /**
   * A directory of files only (every kind known from the listing), big
   * enough to be worth one whole removal: it cannot hold a mount point (a
   * mount point is a directory), so Deno's own remove_dir_all (on the held
   * parent, see `Backend.removeLeaf`) empties it without one call from here
   * per file, several at once. Not under a guard (a move's source removal
   * checks every entry). What this gives up: a file created in it after it
   * was listed is removed with it instead of being reported.
   */
  isLeaf(f: DFrame, name: string, list: Entries): boolean {
    if (!feat.removeLeaf || this.o.guard !== undefined) return false;
    if (list.length < LEAF_MIN || f.noLeaf?.has(name)) return false;
    if (!(list instanceof DirList)) return false;
    for (let k = 0; k < list.length; k++) {
      const b = list.kindByte(k);
      if (b === 0 || b === DIR_BYTE) return false;
    }
    return true;
  }

  /** Removes the leaves found in `f`, up to `LEAF_WIDTH` at once. */
  *flushLeaves(f: DFrame): Gen<void> {
    const leaves = f.leaves!;
    f.leaves = undefined;
    const again: string[] = [];
    const dir = f.dir!;
    // Aborted: none starts after (tick throws).
    const start = (k: number): Leaf => {
      this.tick(under(f.path, leaves[k].name));
      return leaves[k];
    };
    const removed = (l: Leaf): void => {
      this.report.removed += l.entries + 1;
    };
    // Gone (another deleter), or something in the way (a file bind-mounted
    // inside, a permission): entry by entry instead, which reports what it
    // cannot remove.
    const failed = (l: Leaf, e: unknown): void => {
      if (!isGone(e)) again.push(l.name);
    };
    yield* each(leaves.length, LEAF_WIDTH, (k) => {
      const l = start(k);
      try {
        sys.removeLeaf(dir, l.name);
      } catch (e) {
        return failed(l, e);
      }
      removed(l);
    }, (k) => {
      const l = start(k);
      return sys.removeLeafAsync(dir, l.name).then(
        () => removed(l),
        (e) => failed(l, e),
      );
    });
    if (again.length > 0) {
      f.noLeaf ??= new Set();
      for (const name of again) {
        f.noLeaf.add(name);
        f.list.push({ name, kind: "dir" });
      }
    }
  }

  /**
   * Removes the directory of the finished frame `f` from `parent` (the frame
   * above it, or null for the caller's directory `outer`).
   */
  rmdir(outer: Dir, parent: DFrame | null, f: DFrame): void {
    const dir = parent === null ? outer : parent.dir!;
    for (let attempt = 0;; attempt++) {
      try {
        sys.rmdirAt(dir, f.name);
        this.report.removed++;
        if (parent === null) this.report.gone = true;
        return;
      } catch (e) {
        if (isGone(e)) {
          if (parent === null) this.report.gone = true;
          return;
        }
        const c = codeOf(e);
        if (c === "ENOTEMPTY" || c === "EEXIST") {
          // Created after we listed it: left and reported, not chased. Only
          // names not listed before are new; a listed one still there was
          // put back by someone else, which is new as well.
          const again = f.dir === null ? [] : sys.list(f.dir);
          if (again.length === 0 && attempt === 0) continue;
          for (const n of again) {
            this.report.appeared.push(under(f.path, n.name));
          }
          f.kept = true;
          if (parent !== null) parent.kept = true;
          return;
        }
        if (c === "EBUSY") {
          this.report.mounts.push(f.path);
          if (parent !== null) parent.kept = true;
          return;
        }
        if (
          attempt === 0 && isDenied(e) && parent !== null &&
          this.chmodFrame(parent)
        ) {
          continue;
        }
        throw e;
      }
    }
  }

  *run(outer: Dir, name: string, st: Stat): Gen<void> {
    const path = under(outer.path, name);
    const root = sys.openDirAt(outer, name);
    const now = sys.fstat(root);
    if (now.dev !== st.dev || now.ino !== st.ino) {
      sys.close(root);
      throw new SourceChangedError(
        `Cannot ${this.o.op} '${path}': it was replaced while it was being opened; nothing was removed`,
        { code: "ESRCCHANGED", op: this.o.op, path },
      );
    }
    let list: Entries = [];
    try {
      if (this.o.guard === undefined) list = yield* this.list(root, st, path);
    } catch (e) {
      sys.close(root);
      throw e;
    }
    this.chain.push({
      dir: root,
      name,
      dev: st.dev,
      ino: st.ino,
      token: this.o.guard?.root ?? -1,
      path,
      list,
      i: 0,
      more: this.o.guard?.planned(this.o.guard.root),
      kept: false,
      chmodded: false,
    });
    try {
      while (this.chain.depth > 0) {
        const f = this.chain.top;
        if (f.i < f.list.length) {
          const e = entryAt(f.list, f.i++);
          if (paceAt(++this.#entries)) yield PACE;
          this.tick(f.path);
          const child = this.entry(f, e);
          if (child !== null) yield* this.enter(f, child);
          continue;
        }
        if (f.more !== undefined) {
          const part = f.more();
          if (part !== null) {
            f.list = part;
            f.i = 0;
          } else f.more = undefined;
          continue;
        }
        if (f.leaves !== undefined) {
          this.tick(f.path);
          yield* this.flushLeaves(f);
          continue;
        }
        const done = this.chain.pop();
        const parent = this.chain.depth > 0 ? this.chain.top : null;
        try {
          if (!done.kept) this.rmdir(outer, parent, done);
          else if (parent !== null) parent.kept = true;
        } finally {
          sys.close(done.dir!);
          done.dir = null;
        }
      }
    } finally {
      this.chain.closeAll();
    }
  }
}

/**
 * Removes `name` from `dir` (never following it): a file, symlink or
 * special file is unlinked, a directory removed with everything in it (see
 * the module doc). `st` is the caller's `statAt(dir, name)`; an entry that no
 * longer matches it (dev, ino) when opened fails with `SourceChangedError`
 * and nothing in it is touched. Not fsynced: the caller makes `dir` durable.
 */
export function* deleteEntry(
  dir: Dir,
  name: string,
  st: Stat,
  o: DeleteOptions,
): Gen<DeleteReport> {
  const d = new Deleter(o);
  if (o.guard !== undefined && !o.guard.unchanged(o.guard.root, st)) {
    d.report.changed.push(under(dir.path, name));
    return d.report;
  }
  if (st.kind !== "dir") {
    const path = under(dir.path, name);
    if (d.unlink(dir, null, name, path) === "dir") {
      throw new SourceChangedError(
        `Cannot ${o.op} '${path}': it became a directory while it was being removed; nothing was removed`,
        { code: "ESRCCHANGED", op: o.op, path },
      );
    }
    d.report.gone = d.report.mounts.length === 0;
    return d.report;
  }
  yield* d.run(dir, name, st);
  o.onProgress?.(d.report.removed, under(dir.path, name));
  return d.report;
}

function listPaths(paths: string[], max = 5): string {
  const shown = paths.slice(0, max).map((p) => `'${p}'`).join(", ");
  return paths.length > max ? `${shown} and ${paths.length - max} more` : shown;
}

/**
 * The error for a removal that left entries behind (null when nothing was
 * left): `MountPointError` when only mount points stayed, else
 * `NotEmptyError` naming what appeared, what changed and the mount points.
 */
export function leftoverError(
  op: string,
  path: string,
  r: DeleteReport,
): NotEmptyError | null {
  if (r.appeared.length === 0 && r.changed.length === 0) {
    if (r.mounts.length === 0) return null;
    return new MountPointError(
      `Cannot ${op} '${path}': ${r.mounts.length} mount point${
        r.mounts.length === 1 ? "" : "s"
      } inside it ${r.mounts.length === 1 ? "was" : "were"} left in place ` +
        `with the directories leading to them: ${listPaths(r.mounts)}`,
      { code: "EBUSY", op, path, mountPoints: r.mounts },
    );
  }
  const parts: string[] = [];
  if (r.appeared.length > 0) {
    parts.push(
      `entries were created while it was being removed and were left: ${
        listPaths(r.appeared)
      }`,
    );
  }
  if (r.changed.length > 0) {
    parts.push(`entries changed and were left: ${listPaths(r.changed)}`);
  }
  if (r.mounts.length > 0) {
    parts.push(`mount points left: ${listPaths(r.mounts)}`);
  }
  return new NotEmptyError(`Cannot ${op} '${path}': ${parts.join("; ")}`, {
    code: "ENOTEMPTY",
    op,
    path: r.appeared[0] ?? r.changed[0] ?? path,
  });
}
