// Copyright 2026 the safefs authors. MIT license.
/**
 * THE filesystem boundary of safefs. Every filesystem call the library makes
 * goes through `sys` below; primitives never call `Deno.*` file APIs or FFI
 * symbols themselves.
 *
 * - The calls speak in (directory, name) pairs (see `_sys_types.ts`).
 * - Two backends implement them: `ffi` (libc through Deno FFI, Linux; chosen
 *   when `--allow-ffi` is granted) and `path` (Deno's path calls with
 *   identity checks). `SAFEFS_BACKEND=path|ffi` forces one (read only when
 *   `--allow-env` grants it). `backendInfo()` says which one runs and why.
 * - `sys` runs the hook installed by tests before every call (fault
 *   injection at call N, recording for the crash model; the hook may return
 *   a function that learns the call's outcome), calls the backend, and turns
 *   any failure into a typed `SafeFsError` carrying the errno name, the call
 *   and its paths.
 *
 * @module
 */
import { toSafeFsError } from "./_errno.ts";
import type {
  Backend,
  BackendFeatures,
  Dir,
  DirEntry,
  File,
  FsInfo,
  Handle,
  OpenFlags,
  RenameHow,
  SeekWhence,
  Stat,
  Timespec,
} from "./_sys_types.ts";
import { createPathBackend } from "./_sys_path.ts";
import { createFfiBackend } from "./_sys_ffi.ts";
import { listAll, listWhole, listWholeAsync } from "./_sys_types.ts";
import type { DirList } from "./_dir_list.ts";
import { type Gen, heavy } from "./_run.ts";

export type {
  Backend,
  BackendFeatures,
  Dir,
  DirEntry,
  File,
  FsInfo,
  Handle,
  Kind,
  OpenFlags,
  RenameHow,
  SeekWhence,
  Stat,
  Timespec,
} from "./_sys_types.ts";

/** One call through the seam, as a hook sees it. */
export interface SysCall {
  /** The seam method, e.g. `"renameAt"`, `"fsync"`, `"mkdirAt"`. */
  op: string;
  /** The path it acts on: a directory's path plus the name, or a handle's path. */
  path?: string;
  /** The second path (renameAt, linkAt) or a symlink's target (symlinkAt). */
  dest?: string;
  /**
   * Details: renameAt's `"replace"|"noreplace"|"exchange"`; openAt's
   * `"create"`, `"write"` or `"read"`; fsync's `"dir"` or `"file"`.
   */
  how?: string;
  /** The mode of mkdirAt, openAt with create, and chmod. */
  mode?: number;
}

/**
 * Runs before every seam call. Throwing makes the call fail with that error
 * (classified like a real one). It may return a function, called after the
 * call with `null` on success or the `SafeFsError` it failed with.
 */
export type SysHook = (call: SysCall) => void | AfterCall;
/** What a hook learns once a call has finished. */
export type AfterCall = (error: unknown) => void;

let hook: SysHook | null = null;

/**
 * Installs a hook that runs before every seam call (tests only). Returns a
 * function that restores the previous hook.
 */
export function setSysHook(h: SysHook | null): () => void {
  const prev = hook;
  hook = h;
  return () => {
    hook = prev;
  };
}

// --- backend choice ---------------------------------------------------------

/** Why the ffi backend is not the one running (undefined when it is). */
let ffiReason: string | undefined;

function envBackend(): string | undefined {
  try {
    const q = Deno.permissions.querySync({
      name: "env",
      variable: "SAFEFS_BACKEND",
    });
    if (q.state !== "granted") return undefined;
    return Deno.env.get("SAFEFS_BACKEND") || undefined;
  } catch {
    return undefined;
  }
}

function choose(): Backend {
  const forced = envBackend();
  if (forced !== undefined && forced !== "ffi" && forced !== "path") {
    throw new Error(
      `SAFEFS_BACKEND must be "ffi" or "path", not '${forced}'`,
    );
  }
  if (forced === "path") {
    ffiReason = "SAFEFS_BACKEND=path";
    return createPathBackend();
  }
  const ffi = createFfiBackend();
  if (typeof ffi !== "string") return ffi;
  ffiReason = ffi;
  if (forced === "ffi") {
    throw new Error(
      `SAFEFS_BACKEND=ffi, but the ffi backend is unavailable: ${ffi}`,
    );
  }
  return createPathBackend();
}

const B: Backend = choose();

/** The running backend's static features. */
export const feat: Readonly<BackendFeatures> = Object.freeze({ ...B.features });

/** The backend's static features, and why ffi is not running when it is not. */
export function features(): BackendFeatures & { reason?: string } {
  return ffiReason === undefined
    ? { ...B.features }
    : { ...B.features, reason: ffiReason };
}

// --- the wrapper --------------------------------------------------------------

function at(dir: Dir, name: string): string {
  return dir.path === "/" ? `/${name}` : `${dir.path}/${name}`;
}

function enter(call: SysCall): AfterCall | undefined {
  const r = hook!(call);
  return typeof r === "function" ? r : undefined;
}

function fail(
  e: unknown,
  op: string,
  path: string | undefined,
  dest: string | undefined,
  after: AfterCall | undefined,
): unknown {
  const err = toSafeFsError(e, { op, path, dest });
  after?.(err);
  return err;
}

/** Runs a synchronous backend call under the hook and error mapping. */
function run<T>(call: () => SysCall, f: () => T): T {
  let after: AfterCall | undefined;
  try {
    if (hook !== null) after = enter(call());
    const r = f();
    after?.(null);
    return r;
  } catch (e) {
    const c = call();
    throw fail(e, c.op, c.path, c.dest, after);
  }
}

/** Runs an asynchronous backend call under the hook and error mapping. */
async function runAsync<T>(
  call: () => SysCall,
  f: () => Promise<T>,
): Promise<T> {
  let after: AfterCall | undefined;
  try {
    if (hook !== null) after = enter(call());
    const r = await f();
    after?.(null);
    return r;
  } catch (e) {
    const c = call();
    throw fail(e, c.op, c.path, c.dest, after);
  }
}

function hw(h: Handle): string {
  return h.type === "dir" ? "dir" : "file";
}

const ids = new WeakMap<Handle, { dev: number; ino: number }>();

/**
 * `path` with each `..` resolved as the kernel resolves it: after following
 * the symlinks before it (`g/outlink/../x` is `x` beside where `outlink`
 * leads, not `g/x`). Backends receive paths without `..`, so neither Deno's
 * own lexical normalisation (under scoped grants) nor a backend's can land
 * somewhere else than the kernel, the shell and every other tool would.
 */
function kernelPath(path: string): string {
  if (!/(^|\/)\.\.(\/|$)/.test(path)) return path;
  let done = "/";
  let pending: string[] = [];
  const joined = (): string =>
    pending.length === 0
      ? done
      : `${done === "/" ? "" : done}/${pending.join("/")}`;
  for (const c of path.split("/")) {
    if (c === "" || c === ".") continue;
    if (c !== "..") {
      pending.push(c);
      continue;
    }
    const real = B.realPath(joined());
    const cut = real.lastIndexOf("/");
    done = cut <= 0 ? "/" : real.slice(0, cut);
    pending = [];
  }
  return joined();
}

/** The seam every primitive calls. Failures are `SafeFsError`s. */
export const sys = {
  /**
   * The identity (dev, ino) of an open handle: an fstat the first time, then
   * remembered (a handle is one object for its whole life). Hooked as
   * "fstat" when it makes the call.
   */
  idOf: (h: Handle): { dev: number; ino: number } => {
    let id = ids.get(h);
    if (id === undefined) {
      const st = sys.fstat(h);
      id = { dev: st.dev, ino: st.ino };
      ids.set(h, id);
    }
    return id;
  },
  /** Opens the directory at an absolute path (see `Backend.openDir`). */
  openDir: (path: string, follow: boolean): Dir =>
    run(
      () => ({ op: "openDir", path, how: follow ? "follow" : "nofollow" }),
      () => B.openDir(kernelPath(path), follow),
    ),
  /** Opens directory `name` in `dir`, never following a symlink; `".."` climbs. */
  openDirAt: (dir: Dir, name: string): Dir =>
    run(
      () => ({ op: "openDirAt", path: at(dir, name) }),
      () => B.openDirAt(dir, name),
    ),
  /** openat2 RESOLVE_BENEATH|NO_SYMLINKS (only where `features().beneath`). */
  openDirBeneath: (root: Dir, rel: string): Dir =>
    run(
      () => ({ op: "openDirBeneath", path: at(root, rel) }),
      () => B.openDirBeneath(root, rel),
    ),
  /** fstat. */
  fstat: (h: Handle): Stat =>
    run(() => ({ op: "fstat", path: h.path }), () => B.fstat(h)),
  /** fstatat; never follows a symlink at `name` unless `follow`. */
  statAt: (dir: Dir, name: string, follow = false): Stat =>
    run(
      () => ({
        op: "statAt",
        path: at(dir, name),
        how: follow ? "follow" : "nofollow",
      }),
      () => B.statAt(dir, name, follow),
    ),
  /** The attribute flags of a regular file (probed on the path backend). */
  attrsAt: (dir: Dir, name: string, st: Stat): number =>
    run(
      () => ({ op: "attrsAt", path: at(dir, name) }),
      () => B.attrsAt(dir, name, st),
    ),
  /** `statAt`, or null when nothing is there (no error made for ENOENT). */
  tryStatAt: (dir: Dir, name: string, follow = false): Stat | null =>
    run(
      () => ({
        op: "statAt",
        path: at(dir, name),
        how: follow ? "follow" : "nofollow",
      }),
      () => B.tryStatAt(dir, name, follow),
    ),
  /**
   * The entries of a directory (no `.`/`..`), unsorted, by one hooked
   * `list` call. In an engine, {@linkcode sys.listWhole} instead.
   */
  list: (dir: Dir): DirEntry[] =>
    run(() => ({ op: "list", path: dir.path }), () => listAll(B, dir)),
  /**
   * {@linkcode sys.list} for engines, held compactly (a listing of 200,000
   * entries is not 200,000 objects). Where the backend has an off-thread
   * form of its listing (the path backend, which streams a big directory
   * instead of reading it whole), the async driver awaits that. `onPart`
   * is called between parts (it must not throw).
   */
  *listWhole(dir: Dir, onPart?: () => void): Gen<DirList> {
    const call = (): SysCall => ({ op: "list", path: dir.path });
    const sync = (): DirList => run(call, () => listWhole(B, dir, onPart));
    if (B.listPartAsync === undefined) return sync();
    return yield* heavy(
      sync,
      () => runAsync(call, () => listWholeAsync(B, dir, onPart)),
    );
  },
  /**
   * The next part of `dir`'s listing (from its start when `first`), or null
   * past its end, by one hooked `list` call: a directory of 200,000 entries
   * is never held whole. Where the backend has an off-thread form (the path
   * backend, for big directories), the async driver awaits that. Read a
   * listing to its end, or close `dir`, before listing `dir` again.
   */
  *listPart(dir: Dir, first: boolean): Gen<DirEntry[] | null> {
    const call = (): SysCall => ({ op: "list", path: dir.path });
    const sync = (): DirEntry[] | null =>
      run(call, () => B.listPart(dir, first));
    if (B.listPartAsync === undefined) return sync();
    return yield* heavy(
      sync,
      () => runAsync(call, () => B.listPartAsync!(dir, first, false)),
    );
  },
  /** Opens `name` in `dir` as a file, never following a symlink. */
  openAt: (dir: Dir, name: string, flags: OpenFlags): File =>
    run(
      () => ({
        op: "openAt",
        path: at(dir, name),
        how: flags.create ? "create" : flags.write ? "write" : "read",
        ...(flags.create ? { mode: flags.mode ?? 0o666 } : {}),
      }),
      () => B.openAt(dir, name, flags),
    ),
  /** mkdirat. */
  mkdirAt: (dir: Dir, name: string, mode: number): void =>
    run(
      () => ({ op: "mkdirAt", path: at(dir, name), mode }),
      () => B.mkdirAt(dir, name, mode),
    ),
  /** Removes a non-directory (never a directory). */
  unlinkAt: (dir: Dir, name: string): void =>
    run(
      () => ({ op: "unlinkAt", path: at(dir, name) }),
      () => B.unlinkAt(dir, name),
    ),
  /** Removes an empty directory (never a non-directory). */
  rmdirAt: (dir: Dir, name: string): void =>
    run(
      () => ({ op: "rmdirAt", path: at(dir, name) }),
      () => B.rmdirAt(dir, name),
    ),
  /** renameat2. */
  renameAt: (
    fromDir: Dir,
    fromName: string,
    toDir: Dir,
    toName: string,
    how: RenameHow,
  ): void =>
    run(
      () => ({
        op: "renameAt",
        path: at(fromDir, fromName),
        dest: at(toDir, toName),
        how,
      }),
      () => B.renameAt(fromDir, fromName, toDir, toName, how),
    ),
  /** linkat (EEXIST when `toName` exists). */
  linkAt: (fromDir: Dir, fromName: string, toDir: Dir, toName: string): void =>
    run(
      () => ({
        op: "linkAt",
        path: at(fromDir, fromName),
        dest: at(toDir, toName),
      }),
      () => B.linkAt(fromDir, fromName, toDir, toName),
    ),
  /** symlinkat. */
  symlinkAt: (target: string, dir: Dir, name: string): void =>
    run(
      () => ({ op: "symlinkAt", path: at(dir, name), dest: target }),
      () => B.symlinkAt(target, dir, name),
    ),
  /** readlinkat. */
  readLinkAt: (dir: Dir, name: string): string =>
    run(
      () => ({ op: "readLinkAt", path: at(dir, name) }),
      () => B.readLinkAt(dir, name),
    ),
  /** fchmod. */
  chmod: (h: Handle, mode: number): void =>
    run(
      () => ({ op: "chmod", path: h.path, how: hw(h), mode }),
      () => B.chmod(h, mode),
    ),
  /** fchmodat: follows a symlink at `name` (see `Backend.chmodAt`). */
  chmodAt: (dir: Dir, name: string, mode: number): void =>
    run(
      () => ({ op: "chmodAt", path: at(dir, name), mode }),
      () => B.chmodAt(dir, name, mode),
    ),
  /** faccessat(dir, ".", mode, AT_EACCESS). */
  accessDir: (dir: Dir, mode: number): void =>
    run(
      () => ({ op: "accessDir", path: dir.path }),
      () => B.accessDir(dir, mode),
    ),
  /** fchown. */
  chown: (h: Handle, uid: number, gid: number): void =>
    run(
      () => ({ op: "chown", path: h.path, how: hw(h) }),
      () => B.chown(h, uid, gid),
    ),
  /** futimens. */
  utimes: (h: Handle, atime: Timespec, mtime: Timespec): void =>
    run(
      () => ({ op: "utimes", path: h.path, how: hw(h) }),
      () => B.utimes(h, atime, mtime),
    ),
  /** The owner of a symlink itself. */
  lchownAt: (dir: Dir, name: string, uid: number, gid: number): void =>
    run(
      () => ({ op: "lchownAt", path: at(dir, name) }),
      () => B.lchownAt(dir, name, uid, gid),
    ),
  /** The times of a symlink itself. */
  lutimesAt: (dir: Dir, name: string, atime: Timespec, mtime: Timespec): void =>
    run(
      () => ({ op: "lutimesAt", path: at(dir, name) }),
      () => B.lutimesAt(dir, name, atime, mtime),
    ),
  /** pread. */
  read: (f: File, buf: Uint8Array, pos: number): number =>
    run(() => ({ op: "read", path: f.path }), () => B.read(f, buf, pos)),
  /** pread, off the main thread. */
  readAsync: (f: File, buf: Uint8Array, pos: number): Promise<number> =>
    runAsync(
      () => ({ op: "read", path: f.path }),
      () => B.readAsync(f, buf, pos),
    ),
  /** Writes all of `buf` at `pos` (looping over short writes). */
  writeAll: (f: File, buf: Uint8Array, pos: number): void =>
    run(() => ({ op: "write", path: f.path }), () => {
      let off = 0;
      while (off < buf.length) {
        off += B.write(f, off === 0 ? buf : buf.subarray(off), pos + off);
      }
    }),
  /** `writeAll`, off the main thread. */
  writeAllAsync: (f: File, buf: Uint8Array, pos: number): Promise<void> =>
    runAsync(() => ({ op: "write", path: f.path }), async () => {
      let off = 0;
      while (off < buf.length) {
        off += await B.writeAsync(f, buf.subarray(off), pos + off);
      }
    }),
  /** ftruncate. */
  truncate: (f: File, len: number): void =>
    run(() => ({ op: "truncate", path: f.path }), () => B.truncate(f, len)),
  /** lseek SEEK_DATA/SEEK_HOLE; -1 when there is no more data. */
  seek: (f: File, pos: number, whence: SeekWhence): number =>
    run(
      () => ({ op: "seek", path: f.path, how: whence }),
      () => B.seek(f, pos, whence),
    ),
  /** copy_file_range; 0 at the end of `from`. */
  copyRange: (
    from: File,
    fromPos: number,
    to: File,
    toPos: number,
    len: number,
  ): number =>
    run(
      () => ({ op: "copyRange", path: from.path, dest: to.path }),
      () => B.copyRange(from, fromPos, to, toPos, len),
    ),
  /** copy_file_range, off the main thread. */
  copyRangeAsync: (
    from: File,
    fromPos: number,
    to: File,
    toPos: number,
    len: number,
  ): Promise<number> =>
    runAsync(
      () => ({ op: "copyRange", path: from.path, dest: to.path }),
      () => B.copyRangeAsync(from, fromPos, to, toPos, len),
    ),
  /** fsync of a file or directory. */
  fsync: (h: Handle): void =>
    run(() => ({ op: "fsync", path: h.path, how: hw(h) }), () => B.fsync(h)),
  /** fsync, off the main thread. */
  fsyncAsync: (h: Handle): Promise<void> =>
    runAsync(
      () => ({ op: "fsync", path: h.path, how: hw(h) }),
      () => B.fsyncAsync(h),
    ),
  /** syncfs of the filesystem holding `h`. */
  syncfs: (h: Handle): void =>
    run(() => ({ op: "syncfs", path: h.path }), () => B.syncfs(h)),
  /** syncfs, off the main thread. */
  syncfsAsync: (h: Handle): Promise<void> =>
    runAsync(() => ({ op: "syncfs", path: h.path }), () => B.syncfsAsync(h)),
  /** flock(LOCK_EX|LOCK_NB): false when someone else holds it. */
  lock: (h: Handle): boolean =>
    run(() => ({ op: "lock", path: h.path }), () => B.lock(h)),
  /** Removes a directory of files in one call (see `Backend.removeLeaf`). */
  removeLeaf: (dir: Dir, name: string): void =>
    run(
      () => ({ op: "removeLeaf", path: at(dir, name) }),
      () => B.removeLeaf(dir, name),
    ),
  /** `removeLeaf`, off the main thread. */
  removeLeafAsync: (dir: Dir, name: string): Promise<void> =>
    runAsync(
      () => ({ op: "removeLeaf", path: at(dir, name) }),
      () => B.removeLeafAsync(dir, name),
    ),
  /** Closes; never throws, never hooked. */
  /** See `Backend.moved`. */
  moved: (h: Handle, path: string): void => B.moved(h, path),
  close: (h: Handle): void => {
    try {
      B.close(h);
    } catch {
      // Nothing to do: a failed close of a descriptor loses nothing we keep.
    }
  },
  /** fstatfs; null where the backend cannot tell. Not hooked. */
  fsInfo: (h: Handle): FsInfo | null => {
    try {
      return B.fsInfo(h);
    } catch {
      return null;
    }
  },
  /** realpath(3). */
  realPath: (path: string): string =>
    run(() => ({ op: "realPath", path }), () => B.realPath(path)),
  /** The effective user ID (null when unknown). Not hooked. */
  euid: (): number | null => B.euid(),
  /** Deno's permission state for `desc` (no prompt, no side effect). Not hooked. */
  permission: (desc: Deno.PermissionDescriptor): Deno.PermissionState => {
    try {
      return Deno.permissions.querySync(desc).state;
    } catch {
      return "denied";
    }
  },
  /** The process umask, or null where it cannot be read. Not hooked. */
  umask: (): number | null => B.umask(),
};
