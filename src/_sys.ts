// Copyright 2026 the safefs authors. MIT license.
/**
 * THE filesystem boundary of safefs. Every filesystem call the library makes goes
 * through `sys` below; primitives never call `Deno.*` file APIs themselves.
 *
 * Two layers:
 * - `backend`: the raw calls (Deno today; a libc/FFI backend later). Tests may
 *   replace single methods of it (e.g. corrupt what `write` writes).
 * - `sys`: what primitives call. It runs the hook installed by tests (fault
 *   injection at call N, recording of call sequences for the crash model), calls
 *   the backend, and turns any failure into a typed `SafeFsError` carrying the
 *   errno name, the call and its paths.
 *
 * @module
 */
import process from "node:process";
import { toSafeFsError } from "./_errno.ts";

/** What `stat`/`lstat` return. */
export type FileInfo = Deno.FileInfo;
/** An open file. */
export type Handle = Deno.FsFile;
/** A directory entry. */
export type DirEntry = Deno.DirEntry;

/** One call through the seam, as seen by a hook. */
export interface SysCall {
  /** The call's name, e.g. `"rename"`, `"fsync"`, `"fsyncDir"`. */
  op: string;
  /** Its path (for handle calls: the path the handle was opened with). */
  path?: string;
  /** Its second path (rename, link, symlink target, copyFile destination). */
  dest?: string;
}

/**
 * Called before every seam call. Throwing from it makes that call fail with the
 * thrown error (classified exactly like a real one).
 */
export type SysHook = (call: SysCall) => void;

/** The raw calls. Replaceable per method by tests. */
export const backend = {
  lstat: (p: string): Promise<FileInfo> => Deno.lstat(p),
  stat: (p: string): Promise<FileInfo> => Deno.stat(p),
  realPath: (p: string): Promise<string> => Deno.realPath(p),
  open: (p: string, o: Deno.OpenOptions): Promise<Handle> => Deno.open(p, o),
  fstat: (h: Handle): Promise<FileInfo> => h.stat(),
  read: (h: Handle, buf: Uint8Array): Promise<number | null> => h.read(buf),
  write: (h: Handle, buf: Uint8Array): Promise<number> => h.write(buf),
  fsync: (h: Handle): Promise<void> => h.sync(),
  futime: (h: Handle, atime: Date, mtime: Date): Promise<void> =>
    h.utime(atime, mtime),
  close: (h: Handle): void => h.close(),
  rename: (a: string, b: string): Promise<void> => Deno.rename(a, b),
  /** copy_file_range in the kernel; path based, follows symlinks at both ends. */
  copyFile: (a: string, b: string): Promise<void> => Deno.copyFile(a, b),
  link: (a: string, b: string): Promise<void> => Deno.link(a, b),
  symlink: (target: string, p: string): Promise<void> =>
    Deno.symlink(target, p),
  readLink: (p: string): Promise<string> => Deno.readLink(p),
  unlink: (p: string): Promise<void> => Deno.remove(p),
  rmdir: (p: string): Promise<void> => Deno.remove(p),
  mkdir: (p: string, mode?: number): Promise<void> =>
    Deno.mkdir(p, mode === undefined ? undefined : { mode }),
  readDir: async (p: string): Promise<DirEntry[]> => {
    const out: DirEntry[] = [];
    for await (const e of Deno.readDir(p)) out.push(e);
    return out;
  },
  chmod: (p: string, mode: number): Promise<void> => Deno.chmod(p, mode),
  chown: (p: string, uid: number | null, gid: number | null): Promise<void> =>
    Deno.chown(p, uid, gid),
  utime: (p: string, atime: Date, mtime: Date): Promise<void> =>
    Deno.utime(p, atime, mtime),
  fsyncDir: async (p: string): Promise<void> => {
    const d = await Deno.open(p, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  },
  lstatSync: (p: string): FileInfo => Deno.lstatSync(p),
  statSync: (p: string): FileInfo => Deno.statSync(p),
  openSync: (p: string, o: Deno.OpenOptions): Handle => Deno.openSync(p, o),
  fstatSync: (h: Handle): FileInfo => h.statSync(),
  readSync: (h: Handle, buf: Uint8Array): number | null => h.readSync(buf),
  writeSync: (h: Handle, buf: Uint8Array): number => h.writeSync(buf),
  futimeSync: (h: Handle, atime: Date, mtime: Date): void =>
    h.utimeSync(atime, mtime),
  chownSync: (p: string, uid: number | null, gid: number | null): void =>
    Deno.chownSync(p, uid, gid),
  utimeSync: (p: string, atime: Date, mtime: Date): void =>
    Deno.utimeSync(p, atime, mtime),
  /**
   * Creates `p` exclusively (O_EXCL) with `data`, in one call off-thread. No
   * `mode` on purpose: with one, Deno.writeFile fchmods the file to exactly
   * that mode after creating it, ignoring the umask.
   */
  createFile: (p: string, data: Uint8Array): Promise<void> =>
    Deno.writeFile(p, data, { createNew: true }),
  readDirSync: (p: string): DirEntry[] => Array.from(Deno.readDirSync(p)),
  unlinkSync: (p: string): void => Deno.removeSync(p),
  rmdirSync: (p: string): void => Deno.removeSync(p),
  renameSync: (a: string, b: string): void => Deno.renameSync(a, b),
  chmodSync: (p: string, mode: number): void => Deno.chmodSync(p, mode),
  permission: (desc: Deno.PermissionDescriptor): Deno.PermissionState =>
    Deno.permissions.querySync(desc).state,
  umask: (): number => {
    // Deno.umask() is unstable; node:process.umask() reads it without changing it.
    return nodeUmask();
  },
  removeTree: (p: string): Promise<void> => Deno.remove(p, { recursive: true }),
};

function nodeUmask(): number {
  return process.umask();
}

let hook: SysHook | null = null;
const handlePaths = new WeakMap<Handle, string>();

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

function enter(op: string, path?: string, dest?: string): void {
  if (hook !== null) {
    const call: SysCall = { op };
    if (path !== undefined) call.path = path;
    if (dest !== undefined) call.dest = dest;
    hook(call);
  }
}

async function run<T>(
  op: string,
  path: string | undefined,
  dest: string | undefined,
  f: () => Promise<T>,
): Promise<T> {
  try {
    enter(op, path, dest);
    return await f();
  } catch (e) {
    throw toSafeFsError(e, { op, path, dest });
  }
}

function runSync<T>(
  op: string,
  path: string | undefined,
  dest: string | undefined,
  f: () => T,
): T {
  try {
    enter(op, path, dest);
    return f();
  } catch (e) {
    throw toSafeFsError(e, { op, path, dest });
  }
}

function hp(h: Handle): string | undefined {
  return handlePaths.get(h);
}

/** The seam every primitive calls. Failures are `SafeFsError`s. */
export const sys = {
  lstat: (p: string): Promise<FileInfo> =>
    run("lstat", p, undefined, () => backend.lstat(p)),
  stat: (p: string): Promise<FileInfo> =>
    run("stat", p, undefined, () => backend.stat(p)),
  realPath: (p: string): Promise<string> =>
    run("realPath", p, undefined, () => backend.realPath(p)),
  open: (p: string, o: Deno.OpenOptions): Promise<Handle> =>
    run("open", p, undefined, async () => {
      const h = await backend.open(p, o);
      handlePaths.set(h, p);
      return h;
    }),
  fstat: (h: Handle): Promise<FileInfo> =>
    run("fstat", hp(h), undefined, () => backend.fstat(h)),
  read: (h: Handle, buf: Uint8Array): Promise<number | null> =>
    run("read", hp(h), undefined, () => backend.read(h, buf)),
  /** Writes all of `buf` (looping over short writes). */
  writeAll: (h: Handle, buf: Uint8Array): Promise<void> =>
    run("write", hp(h), undefined, async () => {
      let off = 0;
      while (off < buf.length) off += await backend.write(h, buf.subarray(off));
    }),
  fsync: (h: Handle): Promise<void> =>
    run("fsync", hp(h), undefined, () => backend.fsync(h)),
  futime: (h: Handle, atime: Date, mtime: Date): Promise<void> =>
    run("futime", hp(h), undefined, () => backend.futime(h, atime, mtime)),
  /** Closes a handle; never throws (a failed close of a read handle loses nothing). */
  close: (h: Handle): void => {
    try {
      backend.close(h);
    } catch {
      // Already closed, or the fd was invalid: nothing to do.
    }
  },
  rename: (a: string, b: string): Promise<void> =>
    run("rename", a, b, () => backend.rename(a, b)),
  link: (a: string, b: string): Promise<void> =>
    run("link", a, b, () => backend.link(a, b)),
  copyFile: (a: string, b: string): Promise<void> =>
    run("copyFile", a, b, () => backend.copyFile(a, b)),
  symlink: (target: string, p: string): Promise<void> =>
    run("symlink", p, target, () => backend.symlink(target, p)),
  readLink: (p: string): Promise<string> =>
    run("readLink", p, undefined, () => backend.readLink(p)),
  unlink: (p: string): Promise<void> =>
    run("unlink", p, undefined, () => backend.unlink(p)),
  rmdir: (p: string): Promise<void> =>
    run("rmdir", p, undefined, () => backend.rmdir(p)),
  mkdir: (p: string, mode?: number): Promise<void> =>
    run("mkdir", p, undefined, () => backend.mkdir(p, mode)),
  readDir: (p: string): Promise<DirEntry[]> =>
    run("readDir", p, undefined, () => backend.readDir(p)),
  chmod: (p: string, mode: number): Promise<void> =>
    run("chmod", p, undefined, () => backend.chmod(p, mode)),
  chown: (p: string, uid: number | null, gid: number | null): Promise<void> =>
    run("chown", p, undefined, () => backend.chown(p, uid, gid)),
  utime: (p: string, atime: Date, mtime: Date): Promise<void> =>
    run("utime", p, undefined, () => backend.utime(p, atime, mtime)),
  fsyncDir: (p: string): Promise<void> =>
    run("fsyncDir", p, undefined, () => backend.fsyncDir(p)),
  lstatSync: (p: string): FileInfo =>
    runSync("lstat", p, undefined, () => backend.lstatSync(p)),
  statSync: (p: string): FileInfo =>
    runSync("stat", p, undefined, () => backend.statSync(p)),
  openSync: (p: string, o: Deno.OpenOptions): Handle =>
    runSync("open", p, undefined, () => {
      const h = backend.openSync(p, o);
      handlePaths.set(h, p);
      return h;
    }),
  fstatSync: (h: Handle): FileInfo =>
    runSync("fstat", hp(h), undefined, () => backend.fstatSync(h)),
  readSync: (h: Handle, buf: Uint8Array): number | null =>
    runSync("read", hp(h), undefined, () => backend.readSync(h, buf)),
  /** Writes all of `buf` (looping over short writes). */
  writeAllSync: (h: Handle, buf: Uint8Array): void =>
    runSync("write", hp(h), undefined, () => {
      let off = 0;
      while (off < buf.length) off += backend.writeSync(h, buf.subarray(off));
    }),
  futimeSync: (h: Handle, atime: Date, mtime: Date): void =>
    runSync(
      "futime",
      hp(h),
      undefined,
      () => backend.futimeSync(h, atime, mtime),
    ),
  chownSync: (p: string, uid: number | null, gid: number | null): void =>
    runSync("chown", p, undefined, () => backend.chownSync(p, uid, gid)),
  utimeSync: (p: string, atime: Date, mtime: Date): void =>
    runSync("utime", p, undefined, () => backend.utimeSync(p, atime, mtime)),
  /**
   * Creates `p` exclusively (it must not exist; a symlink there is not
   * followed) holding `data`: open, write and close in one call on Deno's
   * thread pool. Its mode is 0o666 less the umask. Not fsynced.
   */
  createFile: (p: string, data: Uint8Array): Promise<void> =>
    run("createFile", p, undefined, () => backend.createFile(p, data)),
  readDirSync: (p: string): DirEntry[] =>
    runSync("readDir", p, undefined, () => backend.readDirSync(p)),
  unlinkSync: (p: string): void =>
    runSync("unlink", p, undefined, () => backend.unlinkSync(p)),
  rmdirSync: (p: string): void =>
    runSync("rmdir", p, undefined, () => backend.rmdirSync(p)),
  renameSync: (a: string, b: string): void =>
    runSync("rename", a, b, () => backend.renameSync(a, b)),
  chmodSync: (p: string, mode: number): void =>
    runSync("chmod", p, undefined, () => backend.chmodSync(p, mode)),
  /** Deno's permission state for `desc` (no prompt, no side effect). Not hooked. */
  permission: (desc: Deno.PermissionDescriptor): Deno.PermissionState =>
    backend.permission(desc),
  /** The process umask. Not hooked. */
  umask: (): number => backend.umask(),
  /**
   * Removes the directory `p` and everything in it, off the main thread
   * (Rust's `remove_dir_all`: `openat(O_NOFOLLOW|O_DIRECTORY)` + `unlinkat`,
   * so symlinks are never followed and a symlink at `p` is only unlinked).
   * It DOES descend into mount points: use it only on a directory whose
   * listing showed no subdirectory. Used by `remove()` for leaf directories.
   */
  removeTree: (p: string): Promise<void> =>
    run("removeTree", p, undefined, () => backend.removeTree(p)),
};
