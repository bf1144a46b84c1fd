// Copyright 2026 the safefs authors. MIT license.
/**
 * Walking a source tree into a {@linkcode Plan}, and walking a plan again
 * over a real tree: the source (has anything changed since it was planned?)
 * or a copy (is every entry we made still there, and nothing else?).
 *
 * Every walk holds the directories from the root to the current one open
 * (a {@linkcode Chain}) and names entries relative to them.
 *
 * @module
 */
import { type Dir, type DirEntry, type Stat, sys } from "../_sys.ts";
import { Chain, type Frame } from "../_chain.ts";
import { awaited, type Gen, PACE } from "../_run.ts";
import { checkFollowedLink } from "../_perm.ts";
import { under } from "../_path.ts";
import { dirOrder, K_DIR, K_FILE, K_LINK, Plan, planKind } from "./plan.ts";
import { ATTR_APPEND, ATTR_IMMUTABLE } from "../_sys_types.ts";
import { errorFor } from "../_errno.ts";
import { checkAbort, type EngineOptions, type Meter } from "./options.ts";
import { matchListing } from "./match.ts";
import {
  CrossDeviceError,
  NotFoundError,
  SafeFsError,
  SourceChangedError,
  UnsupportedFileTypeError,
} from "../errors.ts";

/** A name for a type a copy cannot make. */
export function kindName(st: Stat): string {
  switch (st.kind) {
    case "fifo":
      return "a FIFO";
    case "socket":
      return "a socket";
    case "char":
      return "a character device";
    case "block":
      return "a block device";
    case "dir":
      return "a directory";
    case "symlink":
      return "a symlink";
    case "file":
      return "a file";
    default:
      return "a special file";
  }
}

/** The error for a source entry of a type that cannot be copied. */
export function unsupported(
  op: string,
  path: string,
  st: Stat,
): UnsupportedFileTypeError {
  return new UnsupportedFileTypeError(
    `Cannot ${op} '${path}': it is ${
      kindName(st)
    }, not a regular file, directory or symlink`,
    { code: "EFTYPE", op, path },
  );
}

/** The error for a source that changed while it was copied. */
export function changed(
  op: string,
  path: string,
  what: string,
): SourceChangedError {
  return new SourceChangedError(
    `Cannot ${op} '${path}': the source ${what}; nothing was published`,
    { code: "ESRCCHANGED", op, path },
  );
}

/** A planned source entry that is gone: the tree changed under us. */
export function vanished(e: unknown, op: string, path: string): unknown {
  if (!(e instanceof NotFoundError)) return e;
  return new SourceChangedError(
    `Cannot ${op} '${path}': it disappeared while it was being copied; nothing was published`,
    { code: "ESRCCHANGED", op, path, cause: e },
  );
}

const TYPE_BITS: Record<string, number> = {
  file: 0o100000,
  dir: 0o040000,
  symlink: 0o120000,
  fifo: 0o010000,
  socket: 0o140000,
  char: 0o020000,
  block: 0o060000,
};

function date(sec: number, nsec: number): Date {
  return new Date(sec * 1000 + Math.floor(nsec / 1e6));
}

/** A `Deno.FileInfo` for a stat (what a copy `filter` receives). */
export function toFileInfo(st: Stat): Deno.FileInfo {
  return {
    isFile: st.kind === "file",
    isDirectory: st.kind === "dir",
    isSymlink: st.kind === "symlink",
    isFifo: st.kind === "fifo",
    isSocket: st.kind === "socket",
    isCharDevice: st.kind === "char",
    isBlockDevice: st.kind === "block",
    size: st.size,
    mtime: date(st.mtimeSec, st.mtimeNsec),
    atime: date(st.atimeSec, st.atimeNsec),
    ctime: date(st.ctimeSec, st.ctimeNsec),
    birthtime: null,
    dev: st.dev,
    ino: st.ino,
    mode: (TYPE_BITS[st.kind] ?? 0) | st.mode,
    nlink: st.nlink,
    uid: st.uid,
    gid: st.gid,
    rdev: null,
    blksize: null,
    blocks: st.blocks,
  } as Deno.FileInfo;
}

interface PFrame extends Frame {
  index: number;
}

/** The source of a copy: its root, found and stat'ed by the caller. */
export interface Source {
  /** The absolute path (for messages, permissions and filters). */
  path: string;
  /** The directory holding it, and its name there (null for a root opened whole). */
  parent: Dir | null;
  name: string;
  /** Its stat (followed when dereferencing). */
  st: Stat;
  /** A directory root, opened and identity-checked by the caller. */
  dir: Dir | null;
}

/**
 * Walks the source into a plan. Special files, symlink loops (when
 * following links) and mount points (per `o.mounts`) are found here, before
 * anything is written; `o.filter` is asked about every entry below the
 * root.
 */
export function* planTree(
  src: Source,
  o: EngineOptions,
  meter: Meter,
): Gen<Plan> {
  const p = new Plan();
  const root = src.st;
  if (planKind(root) === 0) throw unsupported(o.op, src.path, root);
  p.add(-1, src.name, root);
  if (root.kind === "file") p.bytesTotal = root.size;
  if (root.kind === "symlink") {
    p.targets.set(0, readLink(src.parent!, src.name, src.path, o.op));
  }
  meter.filesTotal = p.n;
  if (root.kind !== "dir") {
    meter.bytesTotal = p.bytesTotal;
    return p;
  }

  const chain = new Chain<PFrame & { path: string }>(o.op);
  chain.push({
    dir: src.dir!,
    name: "",
    dev: root.dev,
    ino: root.ino,
    index: 0,
    path: src.path,
  });
  const w: PlanWalk = {
    p,
    chain,
    root,
    srcPath: src.path,
    inodes: new Map(),
    o,
  };
  const stack = [0];
  try {
    while (stack.length > 0) {
      const d = stack.pop()!;
      if (d !== 0) {
        while (chain.top.index !== p.parent[d]) sys.close(chain.pop().dir!);
        const path = under(chain.top.path, p.name(d));
        const dir = openPlanned(p, d, chain.dir, path, o);
        chain.push({
          dir,
          name: p.name(d),
          dev: p.devOf(d),
          ino: p.ino[d],
          index: d,
          path,
        });
      }
      const dirPath = chain.top.path;
      yield PACE;
      checkAbort(o.signal, o.op, dirPath);
      if (o.removable) {
        canRemoveFrom(chain.dir, dirPath, p.uid[d], p.mode[d], o.op);
      }
      p.beginChildren(d);
      for (let first = true;; first = false) {
        const part = yield* sys.listPart(chain.dir, first);
        if (part === null) break;
        // A pacing point between the parts of a big directory (one per
        // directory is at the top of the loop).
        if (!first) yield PACE;
        p.reserve(part.length);
        yield* planEntries(w, d, part, dirPath);
      }
      meter.filesTotal = p.n;
      meter.tick(dirPath, 0, 0);
      const f = p.firstOf(d);
      for (let k = p.countOf(d) - 1; k >= 0; k--) {
        if (p.kind[f + k] === K_DIR) stack.push(f + k);
      }
    }
  } finally {
    chain.closeAll(true);
  }
  meter.bytesTotal = p.bytesTotal;
  return p;
}

/** What planning one directory's entries needs (see {@linkcode planTree}). */
interface PlanWalk {
  p: Plan;
  /** The open directories from the source's root to the one planned. */
  chain: Chain<PFrame & { path: string }>;
  /** The source root's stat. */
  root: Stat;
  srcPath: string;
  /** Files with several names: the first planned index per `dev:ino`. */
  inodes: Map<string, number>;
  o: EngineOptions;
}

/** Plans one part of directory `d`'s listing (see {@linkcode planTree}). */
function* planEntries(
  w: PlanWalk,
  d: number,
  part: DirEntry[],
  dirPath: string,
): Gen<void> {
  const { p, chain, root, o } = w;
  for (const { name } of part) {
    const path = under(dirPath, name);
    let st = sys.statAt(chain.dir, name, false);
    if (st.kind === "symlink" && o.dereference) {
      // Followed on purpose: where it leads must be readable too (G8).
      checkFollowedLink(o.op, path);
      try {
        st = sys.statAt(chain.dir, name, true);
      } catch (e) {
        if (e instanceof NotFoundError) {
          throw new NotFoundError(
            `Cannot ${o.op} '${path}': it is a dangling symlink`,
            { code: "ENOENT", op: o.op, path, cause: e },
          );
        }
        throw e;
      }
    }
    // The filter first: what it leaves out is neither looked into nor
    // refused (a socket or a mount point left out is no error).
    if (o.filter !== undefined) {
      const keep = yield* awaited(
        o.filter(path, toFileInfo(st)),
        "copySync() needs a filter that returns a boolean, not a promise",
      );
      if (!keep) {
        skip(p, d, name);
        continue;
      }
    }
    if (planKind(st) === 0) throw unsupported(o.op, path, st);
    if (st.kind === "dir") {
      if (st.dev !== root.dev) {
        if (o.mounts === "skip") {
          p.skippedMounts.push(path);
          skip(p, d, name);
          continue;
        }
        if (o.mounts === "fail") {
          throw new CrossDeviceError(
            `Cannot ${o.op} '${w.srcPath}': '${path}' is a mount point of another filesystem inside it`,
            { code: "EXDEV", op: o.op, path },
          );
        }
      }
      if (chain.frames.some((f) => f.dev === st.dev && f.ino === st.ino)) {
        throw new SafeFsError(
          `Cannot ${o.op} '${w.srcPath}': '${path}' leads back to one of its own parents (symlink loop)`,
          { code: "ELOOP", op: o.op, path },
        );
      }
    }
    if (o.removable) {
      canUnlink(chain.dir, name, st, path, p.uid[d], p.mode[d], o.op);
    }
    const i = p.add(d, name, st);
    p.addChild(d);
    if (st.kind === "symlink") {
      p.targets.set(i, readLink(chain.dir, name, path, o.op));
    } else if (st.kind === "file") {
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const firstOne = w.inodes.get(key);
        if (firstOne !== undefined) p.linkOf.set(i, firstOne);
        else w.inodes.set(key, i);
      }
      if (!p.linkOf.has(i)) p.bytesTotal += st.size;
    }
  }
}

function cannotRemove(
  op: string,
  path: string,
  why: string,
  code: string,
): SafeFsError {
  return errorFor(
    code,
    `Cannot ${op} '${path}': ${why}, so the source could not be removed after ` +
      `the copy; nothing was copied`,
    { code, op, path },
  );
}

/**
 * For a move: refuses (before anything is copied) a directory we could not
 * remove entries from: read-only filesystem, no write and search permission
 * for us (a directory of our own is fine: it gets owner rwx), immutable or
 * append-only.
 */
export function canRemoveFrom(
  dir: Dir,
  path: string,
  uid: number,
  mode: number,
  op: string,
): void {
  try {
    sys.accessDir(dir, 3);
  } catch (e) {
    if (!(e instanceof SafeFsError)) throw e;
    if (e.code === "EROFS") {
      throw cannotRemove(op, path, "it is on a read-only filesystem", "EROFS");
    }
    if (e.code === "EPERM") {
      // Not the mode bits (which a chmod of ours could fix): an attribute
      // (chattr +i/+a), a security module, a filesystem that refuses.
      throw cannotRemove(op, path, "writing in it is not permitted", "EPERM");
    }
    if (e.code !== "EACCES") throw e;
    // A directory of our own gets owner rwx when it is emptied. Where the
    // effective user is unknown (the path backend without --allow-sys), a
    // directory nobody may write is refused; others are given the benefit
    // of the doubt.
    const euid = sys.euid();
    if (euid === null ? (mode & 0o222) === 0 : euid !== uid) {
      throw cannotRemove(op, path, "it is not writable for this user", e.code);
    }
  }
  // After the access check: a read-only filesystem is reported as such
  // (some, like erofs, also flag every inode immutable).
  const st = sys.fstat(dir);
  if ((st.attrs & (ATTR_IMMUTABLE | ATTR_APPEND)) !== 0) {
    throw cannotRemove(
      op,
      path,
      "it is immutable or append-only (chattr)",
      "EPERM",
    );
  }
}

/**
 * For a move: refuses an entry that could not be unlinked from its
 * directory (owner `dirUid`, mode `dirMode`): immutable or append-only, or
 * in a sticky directory neither it nor the directory being ours.
 */
export function canUnlink(
  dir: Dir,
  name: string,
  st: Stat,
  path: string,
  dirUid: number,
  dirMode: number,
  op: string,
): void {
  if ((sys.attrsAt(dir, name, st) & (ATTR_IMMUTABLE | ATTR_APPEND)) !== 0) {
    throw cannotRemove(
      op,
      path,
      "it is immutable or append-only (chattr)",
      "EPERM",
    );
  }
  if ((dirMode & 0o1000) !== 0) {
    const euid = sys.euid();
    if (euid !== null && euid !== 0 && euid !== st.uid && euid !== dirUid) {
      throw cannotRemove(
        op,
        path,
        "it belongs to another user in a sticky directory",
        "EPERM",
      );
    }
  }
}

/** readlinkat; a link replaced since it was stat'ed (EINVAL, ENOENT) is a changed source. */
function readLink(dir: Dir, name: string, path: string, op: string): string {
  try {
    return sys.readLinkAt(dir, name);
  } catch (e) {
    if (
      e instanceof SafeFsError && (e.code === "EINVAL" || e.code === "ENOENT")
    ) {
      throw changed(op, path, "was replaced while it was being read");
    }
    throw e;
  }
}

function skip(p: Plan, d: number, name: string): void {
  let s = p.skipped.get(d);
  if (s === undefined) p.skipped.set(d, s = new Set());
  s.add(name);
}

/** Opens planned source directory `i` in `parent` and checks it is the one planned. */
function openPlanned(
  p: Plan,
  i: number,
  parent: Dir,
  path: string,
  o: EngineOptions,
): Dir {
  let d: Dir;
  try {
    // Following a link to a directory on purpose: by path (the identity
    // check below makes sure it leads where it led when planned).
    d = o.dereference
      ? sys.openDir(path, true)
      : sys.openDirAt(parent, p.name(i));
  } catch (e) {
    if (
      e instanceof SafeFsError && (e.code === "ELOOP" || e.code === "ENOTDIR")
    ) {
      throw changed(o.op, path, "was replaced while it was copied");
    }
    throw vanished(e, o.op, path);
  }
  const st = sys.fstat(d);
  if (!p.sameIdentity(i, st)) {
    sys.close(d);
    throw changed(o.op, path, "was replaced while it was copied");
  }
  return d;
}

/** One tree a plan is walked over: the source, or a copy of it. */
export interface Side {
  /** Its open root directory (never closed by the walk). */
  root: Dir;
  /** The identity directory `i` must have on this side. */
  dev: (i: number) => number;
  ino: (i: number) => number;
  /** Opens directory entry `i` in its open parent, checked. */
  open(parent: Dir, i: number, parentPath: string): Dir;
  /** Its root's path, for messages. */
  path: string;
}

/**
 * Visits the plan's directories in walk order with each side's chain open
 * down to that directory: `visit` first, `leave` once everything below it is
 * done (post-order; for the root too).
 */
export function* walkPlan(
  p: Plan,
  op: string,
  sides: Side[],
  visit: (d: number, dirs: Dir[], paths: string[]) => Gen<void>,
  leave?: (d: number, dirs: Dir[], paths: string[]) => Gen<void>,
): Gen<void> {
  const chains = sides.map((s) => {
    const c = new Chain<PFrame & { path: string }>(op);
    c.push({
      dir: s.root,
      name: "",
      dev: s.dev(0),
      ino: s.ino(0),
      index: 0,
      path: s.path,
    });
    return c;
  });
  const dirs = (): Dir[] => chains.map((c) => c.dir);
  const paths = (): string[] => chains.map((c) => c.top.path);
  const up = function* (): Gen<void> {
    const d = chains[0].top.index;
    if (leave !== undefined) yield* leave(d, dirs(), paths());
    for (const c of chains) sys.close(c.pop().dir!);
  };
  try {
    for (const d of dirOrder(p)) {
      if (d !== 0) {
        while (chains[0].top.index !== p.parent[d]) yield* up();
        for (let k = 0; k < sides.length; k++) {
          const c = chains[k];
          const path = under(c.top.path, p.name(d));
          const dir = sides[k].open(c.dir, d, c.top.path);
          c.push({
            dir,
            name: p.name(d),
            dev: sides[k].dev(d),
            ino: sides[k].ino(d),
            index: d,
            path,
          });
        }
      }
      yield* visit(d, dirs(), paths());
    }
    while (chains[0].depth > 1) yield* up();
    if (leave !== undefined && p.n > 0) yield* leave(0, dirs(), paths());
  } finally {
    for (const c of chains) c.closeAll(true);
  }
}

/** The source side of a plan walk. */
export function sourceSide(
  p: Plan,
  root: Dir,
  path: string,
  o: EngineOptions,
): Side {
  return {
    root,
    path,
    dev: (i) => p.devOf(i),
    ino: (i) => p.ino[i],
    open: (parent, i, parentPath) =>
      openPlanned(p, i, parent, under(parentPath, p.name(i)), o),
  };
}

/** The copy side of a plan walk (identities recorded in `copyIno`). */
export function copySide(
  p: Plan,
  root: Dir,
  dev: number,
  path: string,
  op: string,
  published?: string,
): Side {
  return {
    root,
    path,
    dev: () => dev,
    ino: (i) => p.copyIno[i],
    open: (parent, i, parentPath) => {
      const where = under(parentPath, p.name(i));
      let d: Dir;
      try {
        d = sys.openDirAt(parent, p.name(i));
      } catch (e) {
        throw copyChanged(op, where, e, published);
      }
      const st = sys.fstat(d);
      if (st.ino !== p.copyIno[i]) {
        sys.close(d);
        throw copyChanged(op, where, undefined, published);
      }
      return d;
    },
  };
}

/**
 * The error for a copy that lost or changed entries: before it was published
 * (nothing was), or after (`published`: where; a move then keeps its
 * source). A failure that is not "gone or replaced" (EIO, EACCES, ...) is
 * returned as it is, with its own errno.
 */
export function copyChanged(
  op: string,
  path: string,
  cause?: unknown,
  published?: string,
): unknown {
  if (
    cause instanceof SafeFsError &&
    !["ENOENT", "ENOTDIR", "ELOOP", "ESTALE"].includes(cause.code)
  ) {
    return cause;
  }
  if (published !== undefined) {
    return new SafeFsError(
      `Cannot ${op}: '${path}' of the copy published at '${published}' was ` +
        `removed or replaced by another process before the source was removed; ` +
        `the source was kept`,
      { code: "ETMPCHANGED", op, path, cause, published },
    );
  }
  return new SafeFsError(
    `Cannot ${op}: '${path}' of the copy being built was removed or replaced ` +
      `by another process; nothing was published`,
    { code: "ETMPCHANGED", op, path, cause },
  );
}

/**
 * Examines a tree's source again: every planned entry still there with the
 * same identity (files also the same size, mtime and ctime), every directory
 * holding exactly the planned names (plus the ones left out on purpose).
 * A change fails with `SourceChangedError`: nothing is published.
 */
export function* recheckSource(
  p: Plan,
  root: Dir,
  path: string,
  o: EngineOptions,
): Gen<void> {
  yield* walkPlan(
    p,
    o.op,
    [sourceSide(p, root, path, o)],
    function* (d, [dir], [dirPath]): Gen<void> {
      yield PACE;
      checkAbort(o.signal, o.op, dirPath);
      // Names first (a gained or lost entry is named as such), then each
      // planned entry's identity and stamps.
      const cmp = yield* matchListing(p, d, dir, true, () => {});
      if (cmp.extra !== undefined) {
        throw changed(
          o.op,
          dirPath,
          `gained '${cmp.extra}' while it was copied`,
        );
      }
      if (cmp.missing) {
        throw changed(
          o.op,
          dirPath,
          "lost entries while it was copied",
        );
      }
      const f = p.firstOf(d);
      for (let k = 0; k < p.countOf(d); k++) {
        const i = f + k;
        const name = p.name(i);
        let st: Stat;
        try {
          st = sys.statAt(dir, name, o.dereference);
        } catch (e) {
          throw vanished(e, o.op, under(dirPath, name));
        }
        if (
          !p.sameIdentity(i, st) ||
          (p.kind[i] === K_FILE && !p.sameContent(i, st))
        ) {
          throw changed(
            o.op,
            under(dirPath, name),
            "was replaced or modified while it was copied",
          );
        }
      }
    },
  );
}

/**
 * Checks a copy against the plan: every entry made is still there (same
 * inode, same type) and nothing else is. Used on the temp before it is
 * published and, for a move, on the published copy before the source is
 * removed.
 */
export function* verifyCopy(
  p: Plan,
  root: Dir,
  dev: number,
  path: string,
  op: string,
  signal: AbortSignal | undefined,
  published?: string,
): Gen<void> {
  const side = copySide(p, root, dev, path, op, published);
  yield* walkPlan(p, op, [side], function* (d, [dir], [dirPath]): Gen<void> {
    yield PACE;
    checkAbort(signal, op, dirPath);
    // The listing's own inode numbers (d_ino) settle most entries without
    // a stat each; a mismatch (overlayfs may number them differently) is
    // looked at with statAt once the names are known to match.
    // A flag per child, not a list of indexes: on the path backend (no
    // d_ino) every child is unsure, and an array grown to 200,000 numbers
    // was copied at each growth, all of it alive.
    const f = p.firstOf(d);
    const unsure = new Uint8Array(p.countOf(d));
    const cmp = yield* matchListing(p, d, dir, false, (i, e) => {
      if (
        e.ino === undefined || e.ino !== p.copyIno[i] || e.kind === null ||
        KINDS_BY_NAME[e.kind] !== p.kind[i]
      ) unsure[i - f] = 1;
    });
    // Nothing is left out of a copy: a skipped name there is an intruder.
    if (cmp.extra !== undefined || cmp.intruder !== undefined || cmp.missing) {
      throw copyChanged(
        op,
        under(dirPath, cmp.extra ?? cmp.intruder ?? ""),
        undefined,
        published,
      );
    }
    for (let k = 0; k < unsure.length; k++) {
      if (unsure[k] === 0) continue;
      const i = f + k;
      let st: Stat;
      try {
        st = sys.statAt(dir, p.name(i), false);
      } catch (e) {
        throw copyChanged(op, under(dirPath, p.name(i)), e, published);
      }
      const kind = planKind(st);
      if (st.ino !== p.copyIno[i] || kind !== p.kind[i]) {
        throw copyChanged(op, under(dirPath, p.name(i)), undefined, published);
      }
    }
  });
}

const KINDS_BY_NAME: Record<string, number> = {
  file: K_FILE,
  dir: K_DIR,
  symlink: K_LINK,
};

export { K_DIR, K_FILE, K_LINK };
