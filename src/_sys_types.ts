// Copyright 2026 the safefs authors. MIT license.
/**
 * The types of the seam (`_sys.ts`) and the contract its two backends
 * (`_sys_ffi.ts`, `_sys_path.ts`) implement.
 *
 * The seam speaks in (directory, name) pairs, as `openat(2)` and friends do:
 * a primitive opens a directory once (`openDir`), then names entries relative
 * to that held directory. On the `ffi` backend a {@linkcode Dir} is an
 * `O_DIRECTORY|O_NOFOLLOW` descriptor, so a directory renamed or swapped for a
 * symlink after it was opened cannot redirect later calls. On the `path`
 * backend a `Dir` is an absolute path plus the (dev, ino) seen when it was
 * opened, and every call re-resolves that path (see `_sys_path.ts` for what
 * that leaves open).
 *
 * Rules every backend follows:
 * - A `name` is one directory entry name: no `/`, not empty, never `.`; `..`
 *   only where said. The seam checks names before calling a backend.
 * - Nothing follows a symlink at `name` unless the call says `follow`.
 * - Failures are thrown as the backend's raw error: {@linkcode ErrnoError}
 *   (ffi) or the Deno error (path). `_sys.ts` turns them into `SafeFsError`s.
 * - Calls named `...Async` run off the main thread and return promises; every
 *   other call is synchronous (a few microseconds on ffi).
 *
 * @module
 */

import { DirList } from "./_dir_list.ts";

/** The type of a filesystem object. */
export type Kind =
  | "file"
  | "dir"
  | "symlink"
  | "fifo"
  | "socket"
  | "char"
  | "block"
  | "unknown";

/** A point in time, as the kernel keeps it. */
export interface Timespec {
  /** Whole seconds since the epoch (may be negative). */
  sec: number;
  /** Nanoseconds, 0 to 999,999,999. */
  nsec: number;
}

/**
 * What `stat` says of an object. Flat numbers only (no `Date`s): a tree's
 * plan keeps a few of these fields per entry, compactly.
 */
export interface Stat {
  kind: Kind;
  dev: number;
  ino: number;
  /** Permission bits, `& 0o7777` (type bits removed). */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  /** Bytes. */
  size: number;
  /** 512-byte blocks allocated (less than `size / 512` for a sparse file). */
  blocks: number;
  atimeSec: number;
  atimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
  /**
   * `statx` attribute flags: {@linkcode ATTR_IMMUTABLE}, {@linkcode ATTR_APPEND},
   * {@linkcode ATTR_MOUNT_ROOT} (0 where the backend or filesystem does not
   * report them).
   */
  attrs: number;
}

/** `Stat.attrs`: the file cannot be changed, renamed or unlinked (chattr +i). */
export const ATTR_IMMUTABLE = 0x10;
/** `Stat.attrs`: the file can only be appended to, not renamed or unlinked (chattr +a). */
export const ATTR_APPEND = 0x20;
/** `Stat.attrs`: the entry is the root of a mount (bind mounts of the same filesystem included). */
export const ATTR_MOUNT_ROOT = 0x2000;

/** One entry of a directory listing. */
export interface DirEntry {
  name: string;
  /** From the listing itself (`d_type`); `null` when the filesystem did not say. */
  kind: Kind | null;
  /**
   * The inode number from the listing (`d_ino`, low 53 bits), where the
   * backend has it (ffi). On most filesystems it equals `Stat.ino`; where
   * it does not (overlayfs may differ), callers fall back to `statAt`.
   */
  ino?: number;
}

/** An open directory. Opaque outside its backend. */
export interface Dir {
  readonly type: "dir";
  /**
   * The path it was opened by: the `openDir` path, plus `/name` per
   * `openDirAt`. Used in errors, hooks and Deno permission checks; after a
   * rename it is no longer where the directory is (the descriptor is).
   */
  readonly path: string;
}

/** An open regular file (or, opened for reading, any non-directory). */
export interface File {
  readonly type: "file";
  /** The path it was opened by (its directory's path plus its name). */
  readonly path: string;
}

/** A directory or a file. */
export type Handle = Dir | File;

/** How `openAt` opens. Always also O_CLOEXEC, O_NOCTTY, and O_NOFOLLOW unless `follow`. */
export interface OpenFlags {
  /** Open for reading. Read-only opens are also O_NONBLOCK: a FIFO never blocks. */
  read?: boolean;
  /** Open for writing. */
  write?: boolean;
  /** Create it, exclusively (O_CREAT|O_EXCL): EEXIST when anything is there. */
  create?: boolean;
  /** Mode of a created file (the umask applies). Default 0o666. */
  mode?: number;
  /**
   * Follow a symlink at `name` (no O_NOFOLLOW). Only for copies that follow
   * links on purpose (`dereference`); the caller checks the opened file's
   * identity against what it planned.
   */
  follow?: boolean;
}

/**
 * How `renameAt` treats an existing destination:
 * - `"replace"`: rename(2);
 * - `"noreplace"`: EEXIST when the destination exists (RENAME_NOREPLACE);
 * - `"exchange"`: both must exist; they trade places atomically
 *   (RENAME_EXCHANGE).
 * A backend or filesystem without the flag fails with EINVAL (or ENOSYS).
 */
export type RenameHow = "replace" | "noreplace" | "exchange";

/** `lseek` targets for sparse files. */
export type SeekWhence = "data" | "hole";

/** What a filesystem is, from `fstatfs`. */
export interface FsInfo {
  /** `f_type`, the filesystem's magic number. */
  magic: number;
  /** Its common name when known ("ext4", "tmpfs", "xfs", "btrfs", "overlay", "fuse", "nfs", ...), else "unknown". */
  name: string;
  /** Mounted read-only (`f_flags & ST_RDONLY`). */
  readOnly: boolean;
}

/** Static facts about a backend (what the kernel and runtime offer). */
export interface BackendFeatures {
  /** `"ffi"` (libc through Deno FFI) or `"path"` (Deno's path calls). */
  name: "ffi" | "path";
  /** Calls act on held directory descriptors (no path is re-resolved). */
  fdRelative: boolean;
  /** `renameAt` supports `"noreplace"` and `"exchange"` (per filesystem: probed). */
  renameFlags: boolean;
  /** `openBeneath` resolves in the kernel (openat2 RESOLVE_BENEATH). */
  beneath: boolean;
  /** Times carry nanoseconds (statx); the path backend has milliseconds. */
  nsTimes: boolean;
  /** `seek` with `"data"`/`"hole"` works (sparse files keep their holes). */
  seekHoles: boolean;
  /** `copyRange` copies between two open files in the kernel. */
  copyRange: boolean;
  /** `syncfs` commits a whole filesystem in one call. */
  syncfs: boolean;
  /** `lock` takes a non-blocking exclusive `flock`. */
  lock: boolean;
  /** `removeLeaf` works (the deletion engine may hand it whole directories of files). */
  removeLeaf: boolean;
  /**
   * `listPart` reads a part at a time (false: it cuts its parts from a
   * listing read whole, and only `listPartAsync` reads a big directory as it
   * goes).
   */
  syncListsInParts: boolean;
  /** Longest path a call can take (Infinity when calls are relative to descriptors). */
  maxPath: number;
}

/**
 * The raw calls. Implemented by `_sys_ffi.ts` and `_sys_path.ts`; primitives
 * never call a backend directly, only `sys` in `_sys.ts`.
 */
export interface Backend {
  readonly features: BackendFeatures;

  /**
   * Opens the directory at absolute `path`. Symlinks before the last
   * component are followed (as every tool does); the last one is followed
   * only with `follow`. ENOTDIR (or ELOOP for a symlink without `follow`)
   * when it is not a directory.
   */
  openDir(path: string, follow: boolean): Dir;
  /** Opens the directory `name` in `dir`, never following a symlink (ELOOP/ENOTDIR). `name` may be `".."`. */
  openDirAt(dir: Dir, name: string): Dir;
  /**
   * Opens the directory `rel` (names joined by `/`, `..` allowed) beneath
   * `root` in one kernel call: openat2 with RESOLVE_BENEATH |
   * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS. EXDEV when it would leave
   * `root`, ELOOP when a symlink is on the way (the caller then resolves
   * component by component). Only where `features.beneath`.
   */
  openDirBeneath(root: Dir, rel: string): Dir;
  /** stat of an open directory or file (fstat). */
  fstat(h: Handle): Stat;
  /** stat of `name` in `dir` (AT_SYMLINK_NOFOLLOW unless `follow`). */
  statAt(dir: Dir, name: string, follow: boolean): Stat;
  /**
   * `statAt`, or null when nothing is there (ENOENT), without the cost of an
   * error (the usual answer for a destination about to be created).
   */
  tryStatAt(dir: Dir, name: string, follow: boolean): Stat | null;
  /**
   * The attribute flags of a regular file (`st`: its stat): the ffi backend
   * returns `st.attrs` (from statx); the path backend cannot read them
   * without changing something (0).
   */
  attrsAt(dir: Dir, name: string, st: Stat): number;
  /**
   * The next part of `dir`'s listing, without `.` and `..`, in no
   * particular order (from its start when `first`), or null past its end: a
   * directory of 200,000 entries is read a few thousand at a time instead
   * of held whole. Parts of one listing must be read before `dir` is listed
   * again. The whole listing is {@linkcode listWhole}.
   */
  listPart(dir: Dir, first: boolean): DirEntry[] | null;
  /**
   * `listPart` off the main thread, where a backend's listing would
   * otherwise be read whole: the path backend reads a directory an entry at
   * a time from Deno's async iterator. `whole`: the caller keeps every
   * entry ({@linkcode listWholeAsync}), and only a big directory is read
   * that way (a small one is read whole: faster). The ffi backend has none:
   * its `listPart` reads a part at a time already.
   */
  listPartAsync?(
    dir: Dir,
    first: boolean,
    whole: boolean,
  ): Promise<DirEntry[] | null>;
  /** Opens `name` in `dir` as a file (never a directory: EISDIR). */
  openAt(dir: Dir, name: string, flags: OpenFlags): File;
  /** mkdirat (the umask applies). */
  mkdirAt(dir: Dir, name: string, mode: number): void;
  /** unlinkat without AT_REMOVEDIR: never removes a directory (EISDIR/EPERM). */
  unlinkAt(dir: Dir, name: string): void;
  /** unlinkat with AT_REMOVEDIR: never removes a non-directory (ENOTDIR). */
  rmdirAt(dir: Dir, name: string): void;
  /** renameat2; see {@linkcode RenameHow}. */
  renameAt(
    fromDir: Dir,
    fromName: string,
    toDir: Dir,
    toName: string,
    how: RenameHow,
  ): void;
  /** linkat without AT_SYMLINK_FOLLOW: EEXIST when `toName` exists. */
  linkAt(fromDir: Dir, fromName: string, toDir: Dir, toName: string): void;
  /** symlinkat. */
  symlinkAt(target: string, dir: Dir, name: string): void;
  /** readlinkat. EINVAL when `name` is not a symlink. */
  readLinkAt(dir: Dir, name: string): string;
  /** fchmod. */
  chmod(h: Handle, mode: number): void;
  /**
   * chmod of `name` in `dir`, for a directory of ours that we cannot open
   * (to give it owner rwx). A symlink at `name` is refused (EOPNOTSUPP),
   * never followed: the ffi backend uses fchmodat2(AT_SYMLINK_NOFOLLOW) or
   * an O_PATH descriptor; the path backend checks with lstat first.
   */
  chmodAt(dir: Dir, name: string, mode: number): void;
  /**
   * faccessat(dir, ".", mode, AT_EACCESS): throws (EACCES, EROFS, ...) unless
   * the effective user may access the directory itself with `mode` (a mask of
   * R_OK=4, W_OK=2, X_OK=1).
   */
  accessDir(dir: Dir, mode: number): void;
  /** fchown (`-1` leaves one unchanged). */
  chown(h: Handle, uid: number, gid: number): void;
  /** futimens. */
  utimes(h: Handle, atime: Timespec, mtime: Timespec): void;
  /** fchownat(AT_SYMLINK_NOFOLLOW): the owner of a symlink itself. */
  lchownAt(dir: Dir, name: string, uid: number, gid: number): void;
  /** utimensat(AT_SYMLINK_NOFOLLOW): the times of a symlink itself. */
  lutimesAt(dir: Dir, name: string, atime: Timespec, mtime: Timespec): void;
  /** pread: bytes read into `buf` at file offset `pos`, 0 at end of file. */
  read(f: File, buf: Uint8Array, pos: number): number;
  /** pwrite: bytes written from `buf` at file offset `pos` (may be short). */
  write(f: File, buf: Uint8Array, pos: number): number;
  /** `read`, off the main thread. */
  readAsync(f: File, buf: Uint8Array, pos: number): Promise<number>;
  /** `write`, off the main thread. */
  writeAsync(f: File, buf: Uint8Array, pos: number): Promise<number>;
  /** ftruncate. */
  truncate(f: File, len: number): void;
  /**
   * lseek SEEK_DATA / SEEK_HOLE from `pos`: the offset found, or -1 when
   * there is no more data (ENXIO). Only where `features.seekHoles`.
   */
  seek(f: File, pos: number, whence: SeekWhence): number;
  /**
   * copy_file_range from `from` at `fromPos` to `to` at `toPos`, at most
   * `len` bytes: bytes copied, 0 at end of `from`. Only where
   * `features.copyRange`.
   */
  copyRange(
    from: File,
    fromPos: number,
    to: File,
    toPos: number,
    len: number,
  ): number;
  /** `copyRange`, off the main thread. */
  copyRangeAsync(
    from: File,
    fromPos: number,
    to: File,
    toPos: number,
    len: number,
  ): Promise<number>;
  /** fsync of a file or directory. */
  fsync(h: Handle): void;
  /** `fsync`, off the main thread. */
  fsyncAsync(h: Handle): Promise<void>;
  /** syncfs of the filesystem holding `h`. Only where `features.syncfs`. */
  syncfs(h: Handle): void;
  /** `syncfs`, off the main thread. */
  syncfsAsync(h: Handle): Promise<void>;
  /**
   * flock(LOCK_EX|LOCK_NB): true when taken, false when another open file
   * description holds a lock on it. Released by `close`. Only where
   * `features.lock`.
   */
  lock(h: Handle): boolean;
  /**
   * Removes directory `name` of `dir` and the files in it, in one call that
   * runs in Deno's own code (Rust's remove_dir_all: `openat(O_NOFOLLOW |
   * O_DIRECTORY)` then `unlinkat` relative to it; a symlink at `name` is
   * only unlinked). For a directory whose listing showed no subdirectory.
   * The ffi backend reaches it through `/proc/self/fd/<dir>/<name>`, so the
   * path walked is the held directory's, never its ancestors'. Only where
   * `features.removeLeaf`.
   */
  removeLeaf(dir: Dir, name: string): void;
  /** `removeLeaf`, off the main thread. */
  removeLeafAsync(dir: Dir, name: string): Promise<void>;
  /**
   * Tells the backend that the entry `h` is open on was renamed by this
   * process to `path`: its errors, hooks and permission checks name that
   * path from now on (the path backend follows its own renames already).
   */
  moved(h: Handle, path: string): void;
  /** Closes; never throws. */
  close(h: Handle): void;
  /** fstatfs; `null` where the backend cannot tell. */
  fsInfo(h: Handle): FsInfo | null;
  /** realpath(3) of an absolute path. */
  realPath(path: string): string;
  /** The effective user ID, or null where the backend cannot tell without a permission. */
  euid(): number | null;
  /** The process umask (read, never changed), or null where it cannot be read. */
  umask(): number | null;
}

/**
 * A failed system call of the ffi backend: the errno number and the call's
 * name. `_sys.ts` classifies it like any other failure.
 */
export class ErrnoError extends Error {
  /** The errno number (Linux numbering on Linux). */
  readonly errno: number;
  /** The libc function that failed. */
  readonly syscall: string;

  /**
   * @param errno The errno number.
   * @param syscall The libc function that failed.
   */
  constructor(errno: number, syscall: string) {
    super(`${syscall} failed (os error ${errno})`);
    this.errno = errno;
    this.syscall = syscall;
    this.name = "ErrnoError";
  }
}

/**
 * Every entry of `dir` (its parts from `listPart`, read to the end), held
 * compactly.
 *
 * @param b The backend.
 * @param dir The directory, open.
 * @param onPart Called after each part.
 */
export function listWhole(
  b: Backend,
  dir: Dir,
  onPart?: () => void,
): DirList {
  const out = new DirList();
  for (let first = true;; first = false) {
    const part = b.listPart(dir, first);
    if (part === null) return out;
    for (const e of part) out.push(e);
    onPart?.();
  }
}

/**
 * {@linkcode listWhole} from `listPartAsync` (which `b` must have).
 *
 * @param b The backend.
 * @param dir The directory, open.
 * @param onPart Called after each part.
 */
export async function listWholeAsync(
  b: Backend,
  dir: Dir,
  onPart?: () => void,
): Promise<DirList> {
  const out = new DirList();
  for (let first = true;; first = false) {
    const part = await b.listPartAsync!(dir, first, true);
    if (part === null) return out;
    for (const e of part) out.push(e);
    onPart?.();
  }
}

/**
 * Every entry of `dir`, as objects.
 *
 * @param b The backend.
 * @param dir The directory, open.
 */
export function listAll(b: Backend, dir: Dir): DirEntry[] {
  const l = listWhole(b, dir);
  return Array.from({ length: l.length }, (_, k) => l.get(k));
}
