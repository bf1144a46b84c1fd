// Copyright 2026 the safefs authors. MIT license.
/**
 * `move()` and `moveSync()`: rename a file, symlink or directory tree,
 * atomically, durably, without clobbering, on one filesystem or across two.
 *
 * @module
 */
import { type Loc, locate, type PathLike } from "./_path.ts";
import { type Need, preflight } from "./_perm.ts";
import { type Dir, feat, type Stat, sys } from "./_sys.ts";
import { type Gen, runAsync, runSync } from "./_run.ts";
import {
  checkDestination,
  type DestState,
  notADirectory,
  openParent,
  statOrNull,
} from "./_dest.ts";
import {
  dropExchanged,
  isOccupied,
  publish,
  type PublishMethod,
  toTempName,
} from "./_publish.ts";
import {
  deleteEntry,
  type Guard,
  leftoverError,
  type PlannedEntry,
} from "./_delete.ts";
import { afterPublish, transfer } from "./_copy/transfer.ts";
import {
  canRemoveFrom,
  canUnlink,
  kindName,
  verifyCopy,
} from "./_copy/walk.ts";
import { K_DIR, K_FILE, type Plan, planKind } from "./_copy/plan.ts";
import { type DirSyncs, fsync } from "./_copy/sync.ts";
import {
  checkAbort,
  type EngineOptions,
  type Progress,
} from "./_copy/options.ts";
import {
  AlreadyExistsError,
  CrossDeviceError,
  NotEmptyError,
  NotFoundError,
  SafeFsError,
  SourceChangedError,
  UnsupportedFileTypeError,
} from "./errors.ts";

export type { PublishMethod } from "./_publish.ts";

/** Options for {@linkcode move} and {@linkcode moveSync}. */
export interface MoveOptions {
  /**
   * Replace an existing destination. A file replaces a file or symlink; a
   * directory replaces a directory, atomically even when it is not empty
   * (see {@linkcode CopyOptions.overwrite}). Moving a path onto itself (or
   * onto another name of the same file) with `overwrite` does nothing and
   * succeeds, as rename(2) does.
   * @default {false}
   */
  overwrite?: boolean;
  /**
   * Make the result survive power loss before resolving: the copied data is
   * on disk before it is published, the destination directory after, the
   * source directory after the source is gone. `false` skips all of that.
   * @default {true}
   */
  durable?: boolean;
  /**
   * What to do when the rename cannot be done in one step (different
   * filesystems, or a directory overlayfs will not rename): `"copy"` builds a
   * complete copy beside the destination, publishes it and then removes the
   * source; `"fail"` throws `CrossDeviceError`.
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
   * Called as data is copied (moves that copy), and once at the end.
   * @default {undefined}
   */
  onProgress?: (progress: Progress) => void;
}

/** What {@linkcode move} did. */
export interface MoveResult {
  /** The source path, absolute. */
  src: string;
  /** The destination path, absolute. */
  dest: string;
  /** True when the move copied the data (across filesystems). */
  crossDevice: boolean;
  /** Bytes of file data copied (0 for a rename). */
  bytes: number;
  /** Entries moved (files, symlinks and directories; 1 for a rename, 0 for a move onto itself). */
  entries: number;
  /** An existing destination was replaced (`overwrite`). */
  replaced: boolean;
  /** How the destination was published (see {@linkcode CopyResult.publish}). */
  publish: PublishMethod;
}

/** The located arguments of one move: the caller has opened both directories. */
export interface MoveArgs {
  src: Loc;
  srcDir: Dir;
  dest: Loc;
  destDir: Dir;
}

/**
 * The move itself, on opened directories (also `Root.move` and
 * `moveInto`). With `batch`, the directories' fsyncs after a rename are left
 * to the batch (see `DirSyncs`).
 */
export function* moveAt(
  a: MoveArgs,
  options: MoveOptions,
  batch?: DirSyncs,
): Gen<MoveResult> {
  const op = "move";
  const s = a.src.abs;
  const d = a.dest.abs;
  const overwrite = options.overwrite ?? false;
  const durable = options.durable ?? true;
  checkAbort(options.signal, op, s);
  const st = statOrNull(a.srcDir, a.src.name);
  if (st === null) {
    throw new NotFoundError(`Cannot move '${s}': it does not exist`, {
      code: "ENOENT",
      op,
      path: s,
      dest: d,
    });
  }
  if (a.src.slash && st.kind !== "dir") throw notADirectory(op, s);
  const destSt = sys.idOf(a.destDir);
  const check = (): DestState =>
    checkDestination(
      op,
      { path: s, st },
      { loc: a.dest, dir: a.destDir },
      overwrite,
    );
  // A file or symlink renamed without overwrite on one filesystem needs no
  // look at the destination first: the no-clobber publish itself refuses an
  // existing one (AlreadyExistsError, as the look would have said). That is
  // one stat less per entry of a moveInto().
  const lazy = !overwrite && !a.dest.slash && st.kind !== "dir" &&
    st.dev === destSt.dev;
  let state: DestState = lazy ? { existing: null, same: false } : check();
  const result: MoveResult = {
    src: s,
    dest: d,
    crossDevice: false,
    bytes: 0,
    entries: 1,
    replaced: false,
    publish: "rename",
  };
  if (state.same) {
    // rename(2) of a file onto itself (or another name of it) does nothing.
    result.entries = 0;
    return result;
  }
  if (st.dev === destSt.dev) {
    const done = yield* renameInPlace(
      a,
      st,
      destSt,
      state.existing,
      overwrite,
      durable,
      batch,
    );
    if (done !== null) {
      result.publish = done;
      result.replaced = state.existing !== null;
      options.onProgress?.({
        phase: "publish",
        bytesDone: 0,
        bytesTotal: 0,
        filesDone: 1,
        filesTotal: 1,
        path: s,
      });
      return result;
    }
  }
  // The kernel refused the rename (EXDEV): the move copies, and looks first.
  if (lazy) state = check();
  return yield* moveAcross(a, st, destSt, state.existing, options, result);
}

/**
 * The same-filesystem move: one publish (rename, exchange or the strongest
 * no-clobber call), then the directories made durable. Returns null, having
 * changed nothing, when the kernel says it must be copied (EXDEV: different
 * filesystems behind one device number, or an overlayfs lower directory).
 */
function* renameInPlace(
  a: MoveArgs,
  st: Stat,
  destSt: { dev: number; ino: number },
  existing: Stat | null,
  overwrite: boolean,
  durable: boolean,
  batch: DirSyncs | undefined,
): Gen<PublishMethod | null> {
  const srcSt = sys.idOf(a.srcDir);
  const twoDirs = srcSt.dev !== destSt.dev || srcSt.ino !== destSt.ino;
  let empty = false;
  if (st.kind === "dir" && !overwrite && !feat.renameFlags) {
    // Only the fallbacks of a filesystem without RENAME_NOREPLACE need it.
    const dir = sys.openDirAt(a.srcDir, a.src.name);
    try {
      // Its first entry is enough (not a listing of 200,000 entries read
      // whole for a rename).
      for (let first = true;; first = false) {
        const part = yield* sys.listPart(dir, first);
        empty = part === null;
        if (part === null || part.length > 0) break;
      }
    } finally {
      sys.close(dir);
    }
  }
  let pub;
  try {
    pub = yield* publish(a.srcDir, a.src.name, a.destDir, a.dest.name, {
      kind: st.kind,
      overwrite,
      dev: destSt.dev,
      ours: false,
      id: { dev: st.dev, ino: st.ino },
      empty,
      destIsDir: existing?.kind === "dir",
      durableLink: durable,
      deferUnlink: durable && batch !== undefined
        ? (dir, name) => batch.unlinkLater(dir, name, st.ino)
        : undefined,
    });
  } catch (e) {
    if (e instanceof CrossDeviceError) return null;
    if (!overwrite && isOccupied(e)) {
      throw new AlreadyExistsError(
        `Cannot move '${a.src.abs}' to '${a.dest.abs}': the destination exists (use overwrite to replace it)`,
        {
          code: "EEXIST",
          op: "move",
          path: a.src.abs,
          dest: a.dest.abs,
          cause: e,
        },
      );
    }
    if (e instanceof SafeFsError && e.code === "ENOTEMPTY") {
      throw new NotEmptyError(
        `Cannot replace directory '${a.dest.abs}': it is not empty, and this filesystem ` +
          `or backend cannot exchange two directories atomically (renameat2 RENAME_EXCHANGE)`,
        {
          code: "ENOTEMPTY",
          op: "move",
          path: a.src.abs,
          dest: a.dest.abs,
          cause: e,
        },
      );
    }
    throw e;
  }
  let replaced = "";
  if (pub.exchanged) {
    // The replaced directory now has the source's name: renamed to a temp
    // name at once, before anything is made durable, so no crash leaves it
    // there. If that rename fails, the exchange is undone: nothing moved.
    try {
      replaced = toTempName(a.srcDir, a.src.name);
    } catch (e) {
      if (pub.replaced) sys.close(pub.replaced);
      try {
        sys.renameAt(a.srcDir, a.src.name, a.destDir, a.dest.name, "exchange");
      } catch {
        throw afterPublish(e, a.dest.abs, a.src.abs);
      }
      throw e;
    }
  }
  try {
    if (durable && batch !== undefined && !pub.exchanged) {
      // One rename: until the batch's fsyncs, the entry is at its source or
      // at its destination, never neither.
      batch.add(a.destDir);
      batch.add(a.srcDir);
      return pub.method;
    }
    if (pub.exchanged) {
      yield* dropExchanged(
        a.srcDir,
        replaced,
        pub.replaced ?? null,
        "move",
        durable,
        twoDirs ? [a.destDir] : [],
      );
      return pub.method;
    }
    // With the link method, the destination's directory was fsynced
    // between the link and the unlink already: only the unlink is left to
    // make durable, in the source's directory.
    if (durable && pub.method !== "link") yield* fsync(a.destDir);
    if (durable && (twoDirs || pub.method === "link")) yield* fsync(a.srcDir);
  } catch (e) {
    throw afterPublish(e, a.dest.abs, a.src.abs);
  }
  return pub.method;
}

/** Across filesystems: copy, publish, check the published copy, remove the source. */
function* moveAcross(
  a: MoveArgs,
  st: Stat,
  destSt: { dev: number; ino: number },
  existing: Stat | null,
  options: MoveOptions,
  result: MoveResult,
): Gen<MoveResult> {
  const op = "move";
  const s = a.src.abs;
  const d = a.dest.abs;
  const durable = options.durable ?? true;
  if ((options.crossDevice ?? "copy") === "fail") {
    throw new CrossDeviceError(
      `Cannot move '${s}' to '${d}': they are on different filesystems and crossDevice is "fail"`,
      { code: "EXDEV", op, path: s, dest: d },
    );
  }
  if (planKind(st) === 0) {
    throw new UnsupportedFileTypeError(
      `Cannot move '${s}' to another filesystem: it is ${
        kindName(st)
      }, which cannot be copied`,
      { code: "EFTYPE", op, path: s, dest: d },
    );
  }
  preflight(op, [{ kind: "write", path: a.dest.parent, followLast: true }]);
  // The source must be removable once the copy is published: refused now,
  // with nothing copied, when it knowably will not be.
  const srcSt = sys.fstat(a.srcDir);
  canRemoveFrom(a.srcDir, a.src.parent, srcSt.uid, srcSt.mode, op);
  canUnlink(a.srcDir, a.src.name, st, s, srcSt.uid, srcSt.mode, op);
  const o: EngineOptions = {
    op,
    durable,
    dereference: false,
    preserve: { mode: true, times: true, owner: "try" },
    verify: "none",
    mounts: "fail",
    removable: true,
    signal: options.signal,
    onProgress: options.onProgress,
  };
  let root: Dir | null = null;
  try {
    if (st.kind === "dir") {
      root = sys.openDirAt(a.srcDir, a.src.name);
      const now = sys.fstat(root);
      if (now.dev !== st.dev || now.ino !== st.ino) {
        throw new SourceChangedError(
          `Cannot move '${s}': it was replaced while it was being opened; nothing was copied`,
          { code: "ESRCCHANGED", op, path: s },
        );
      }
    }
    const t = yield* transfer(
      { path: s, parent: a.srcDir, name: a.src.name, st, dir: root },
      { dir: a.destDir, name: a.dest.name, path: d, dev: destSt.dev, existing },
      options.overwrite ?? false,
      o,
    );
    result.crossDevice = true;
    result.bytes = t.plan.bytesTotal;
    result.entries = t.plan.n;
    result.replaced = t.replaced;
    result.publish = t.method;
    try {
      // The source goes only once the published copy is durable (G2) and
      // complete: still our copy at `dest`, every entry of it still there.
      const at = statOrNull(a.destDir, a.dest.name);
      if (at === null || at.ino !== t.ino || at.dev !== destSt.dev) {
        throw new SafeFsError(
          `Cannot finish moving '${s}': the copy published at '${d}' was replaced or removed ` +
            `by another process before the source was removed; the source was kept`,
          { code: "ETMPCHANGED", op, path: s, dest: d },
        );
      }
      if (t.plan.kind[0] === K_DIR && t.handle !== null) {
        yield* verifyCopy(
          t.plan,
          t.handle as Dir,
          destSt.dev,
          d,
          op,
          undefined,
          d,
        );
      }
      options.onProgress?.({
        phase: "remove",
        bytesDone: t.plan.bytesTotal,
        bytesTotal: t.plan.bytesTotal,
        filesDone: t.plan.n,
        filesTotal: t.plan.n,
        path: s,
      });
      const report = yield* deleteEntry(a.srcDir, a.src.name, st, {
        op,
        oneFileSystem: true,
        guard: guardOf(t.plan),
      });
      if (durable) yield* fsync(a.srcDir);
      const left = leftoverError(op, s, report);
      if (left !== null) {
        throw new SourceChangedError(
          `Moved '${s}' to '${d}', but the source changed during the move: ${
            left.message.replace(/^Cannot move '[^']*': /, "")
          }; they were left at the source`,
          {
            code: "ESRCCHANGED",
            op,
            path: left.path ?? s,
            dest: d,
            published: d,
          },
        );
      }
    } catch (e) {
      throw afterPublish(e, d, s);
    } finally {
      if (t.handle !== null) sys.close(t.handle);
    }
    return result;
  } finally {
    if (root !== null) sys.close(root);
  }
}

/**
 * The removal guard of a moved source: only entries the plan copied, and
 * only while they are still what was copied (same identity; files also the
 * same size and mtime: not ctime, which unlinking one name of a hard-linked
 * file moves for the others).
 */
function guardOf(p: Plan): Guard {
  return {
    root: 0,
    unchanged(i: number, st: Stat): boolean {
      if (!p.sameIdentity(i, st)) return false;
      if (p.kind[i] !== K_FILE) return true;
      return st.size === p.size[i] && st.mtimeSec === p.mtS[i] &&
        st.mtimeNsec === p.mtN[i];
    },
    planned(parent: number): () => PlannedEntry[] | null {
      const first = p.firstOf(parent);
      const n = p.kind[parent] === K_DIR ? p.countOf(parent) : 0;
      let k = 0;
      return () => {
        if (k >= n) return null;
        const part: PlannedEntry[] = [];
        for (const end = Math.min(n, k + PLANNED_PART); k < end; k++) {
          part.push({ name: p.name(first + k), kind: null, token: first + k });
        }
        return part;
      };
    },
  };
}

/**
 * Planned entries per part of a guarded removal (see `Guard.planned`): a
 * part's entries are alive until each is removed, and V8 grows its young
 * generation by what its collections find alive.
 */
const PLANNED_PART = 64;

function* movePaths(
  src: PathLike,
  dest: PathLike,
  options: MoveOptions,
): Gen<MoveResult> {
  const s = locate(src, "move");
  const d = locate(dest, "move");
  if (s.name === "") {
    throw new SafeFsError("Cannot move the root directory '/'", {
      code: "EINVAL",
      op: "move",
      path: s.abs,
    });
  }
  const needs: Need[] = [
    { kind: "read", path: s.parent, followLast: true },
    { kind: "write", path: s.abs },
    { kind: "read", path: d.parent, followLast: true },
    { kind: "write", path: d.abs },
  ];
  preflight("move", needs);
  const srcDir = openParent(s, "move", `'${s.abs}'`);
  try {
    const destDir = openParent(d, "move", `'${s.abs}' to '${d.abs}'`);
    try {
      return yield* moveAt({ src: s, srcDir, dest: d, destDir }, options);
    } finally {
      sys.close(destDir);
    }
  } finally {
    sys.close(srcDir);
  }
}

/**
 * Moves `src` to `dest`.
 *
 * - On one filesystem: one rename. Without `overwrite` the no-clobber check
 *   is the rename itself (`renameat2(RENAME_NOREPLACE)`; where a filesystem
 *   lacks it: `link` then unlink, or as a last resort a check then a rename,
 *   reported in {@linkcode MoveResult.publish}). With `overwrite`, a
 *   directory replaces a directory atomically even when it is not empty
 *   (`RENAME_EXCHANGE`, then the old tree is removed).
 * - Across filesystems (or where the kernel will not rename, as for a
 *   directory of an overlayfs lower layer): first a check that the source
 *   can be removed afterwards (refused with nothing copied otherwise); then
 *   the whole file or tree is copied under one temp name
 *   (`.<name>.<uuid>.safefs-tmp`) beside `dest`, checked, made durable,
 *   published in one step, the destination directory made durable; the
 *   published copy is checked to be complete and only then is the source
 *   removed, entry by entry, skipping anything that changed since it was
 *   copied (reported with `SourceChangedError`). Mode, times, sparse holes
 *   and owner (where permitted) are kept; symlinks stay symlinks; hard links
 *   inside a tree stay hard links.
 *
 * A reader of `dest` sees either its old state or the complete new one; at
 * every instant, and after a crash at any instant, at least one complete
 * copy exists. On error or abort before the publish, the temp is removed
 * and `src` and `dest` are untouched; an error after it carries
 * `published`.
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
 * @throws {InvalidArgumentError} A directory would move into itself, or a path ends in `.` or `..`.
 * @throws {CrossDeviceError} Different filesystems with `crossDevice: "fail"`, or a mount point inside the tree.
 * @throws {UnsupportedFileTypeError} A FIFO, socket or device would have to be copied across filesystems.
 * @throws {SourceChangedError} The source changed while it was copied.
 * @throws {PermissionError} A Deno permission is missing (names the flag), the OS refused, or the source could not be removed afterwards.
 * @throws {AbortedError} `signal` fired before the publish.
 */
export function move(
  src: PathLike,
  dest: PathLike,
  options: MoveOptions = {},
): Promise<MoveResult> {
  return runAsync(movePaths(src, dest, options));
}

/**
 * {@linkcode move}, synchronously: the same contract, blocking the thread
 * until the move is done and durable (use it in scripts, not in a server's
 * request path). `signal` can only stop it before it starts.
 *
 * @example
 * ```ts
 * import { moveSync } from "@safefs/safefs";
 * import { equal as assertEquals } from "node:assert/strict";
 *
 * const dir = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${dir}/draft.txt`, "hello");
 * moveSync(`${dir}/draft.txt`, `${dir}/final.txt`);
 * assertEquals(Deno.readTextFileSync(`${dir}/final.txt`), "hello");
 * Deno.removeSync(dir, { recursive: true });
 * ```
 *
 * @param src The file, symlink or directory to move.
 * @param dest Its new path.
 * @param options See {@linkcode MoveOptions}.
 * @returns What was done.
 */
export function moveSync(
  src: PathLike,
  dest: PathLike,
  options: MoveOptions = {},
): MoveResult {
  return runSync(movePaths(src, dest, options));
}
