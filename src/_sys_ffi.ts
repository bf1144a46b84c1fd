// Copyright 2026 the safefs authors. MIT license.
/**
 * The `ffi` backend of the seam: the {@linkcode Backend} calls made directly
 * on libc through Deno FFI (Linux, x86_64 and aarch64). A {@linkcode Dir} is
 * an `O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC` descriptor and a
 * {@linkcode File} a descriptor, so calls act on what was opened, whatever
 * happens to the paths afterwards.
 *
 * Every call but the `...Async` ones is a synchronous FFI call (1-3 µs);
 * errno is read right after it (`__errno_location`) and a failure is thrown
 * as an {@linkcode ErrnoError}; EINTR is retried. The `...Async` calls run on
 * Deno's blocking pool, where errno is lost: a failed read, write or
 * copy_file_range (idempotent, explicit offsets) is redone synchronously to
 * learn it; a failed fsync or syncfs is never redone (a writeback error is
 * reported once) and is thrown as EIO, saying the errno was not available.
 * A handle closed while an async call uses it fails new calls at once
 * (EBADF) but keeps its descriptor until the call ends, so that the number
 * cannot be reused under the call.
 *
 * Names are checked again here (the seam checks them first): a NUL is
 * EINVAL, a `/` is EINVAL (the kernel would walk it, following symlinks),
 * and a lone surrogate is EILSEQ (it has no UTF-8 form). Listings refuse a
 * name that is not valid UTF-8 with EILSEQ naming the directory, rather
 * than hand out a lossy name that names nothing (or something else).
 * `openDir` takes absolute paths only, normalised lexically (`.`, `..`,
 * `//`) before both the permission check and the kernel see them, so that
 * what is checked is what is opened.
 *
 * FFI bypasses Deno's permission checks, so this backend makes them itself
 * (contract G8): before acting, each call queries Deno (`querySync`, never
 * prompting) for the logical path it touches, and throws
 * `Deno.errors.NotCapable` worded as Deno words it. When read (or write) is
 * granted everywhere at creation, the per-path query (~2 µs) is skipped for
 * that kind; a later `Deno.permissions.revoke()` is not seen by a backend
 * created before it.
 *
 * @module
 */
import {
  type Backend,
  type BackendFeatures,
  type Dir,
  type DirEntry,
  ErrnoError,
  type File,
  type FsInfo,
  type Handle,
  type OpenFlags,
  type RenameHow,
  type SeekWhence,
  type Stat,
  type Timespec,
} from "./_sys_types.ts";
import {
  AT,
  E,
  FS_MAGIC,
  type Libc,
  LOCK,
  O,
  openLibc,
  RESOLVE,
  SEEK,
  STATFS_SIZE,
  STATX_BASIC_STATS,
  STATX_TYPE,
  SYS,
} from "./_sys_libc.ts";
import { CString, parseDirents, setI64, StatBuf } from "./_ffi_structs.ts";
import { decodeUtf8 } from "./_utf8.ts";

/** Test switches: reach the optional calls the way an older libc would. */
export interface FfiBackendOptions {
  /**
   * Call `statx`, `renameat2`, `getdents64`, `copy_file_range` and `syncfs`
   * through `syscall(2)`, as when libc lacks them.
   * @default {false}
   */
  syscalls?: boolean;
  /**
   * Stat with `newfstatat` instead of statx, as on kernels before 4.11.
   * @default {false}
   */
  noStatx?: boolean;
}

/**
 * The `ffi` backend, or a one-line reason why it is not available (not
 * Linux, no `--allow-ffi` for libc, no libc found). Never throws, never
 * prompts.
 *
 * @example
 * ```ts ignore
 * import { createFfiBackend } from "./_sys_ffi.ts";
 * const b = createFfiBackend();
 * if (typeof b === "string") console.log(`ffi backend unavailable: ${b}`);
 * else b.close(b.openDir("/tmp", true));
 * ```
 *
 * @param options Test switches.
 * @returns The backend, or why there is none.
 */
export function createFfiBackend(
  options: FfiBackendOptions = {},
): Backend | string {
  try {
    const libc = openLibc();
    if (typeof libc === "string") return libc;
    return new FfiBackend(libc, options);
  } catch (e) {
    return `the ffi backend failed to start: ${
      e instanceof Error ? e.message : String(e)
    }`;
  }
}

const DIR_FLAGS = O.RDONLY | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC;
const BENEATH = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS;
const ST_RDONLY = 1;
const AT_EACCESS = 0x200;

/**
 * An open descriptor. `fd` is -1 once closed: calls then fail with EBADF
 * (never reaching a newer file that got the same number).
 */
class Fd {
  fd: number;
  /** Async calls in flight: the descriptor is closed after the last one. */
  busy = 0;
  /** The descriptor a deferred close will close (-1: none pending). */
  pending = -1;
  constructor(public path: string, fd: number) {
    this.fd = fd;
  }
}

class FfiDir extends Fd implements Dir {
  readonly type = "dir" as const;
}

class FfiFile extends Fd implements File {
  readonly type = "file" as const;
  /**
   * copy_file_range into this file was refused (another filesystem, or none
   * of its own): data comes with sendfile(2) from now on.
   */
  viaSendfile = false;
  /**
   * The stat taken right after a read-only open (to refuse a directory):
   * the first fstat returns it instead of asking again.
   */
  opened: Stat | null = null;
}

/** copy_file_range's refusals that sendfile(2) copes with. */
const NO_CFR = new Set<number>([
  E.EXDEV,
  E.EINVAL,
  95, /* EOPNOTSUPP */
  E.ENOSYS,
]);

/** Every permission granted without a scope (what Deno requires for /proc paths). */
function allGranted(): boolean {
  const names = ["read", "write", "net", "env", "run", "ffi", "sys", "import"];
  try {
    return names.every((name) =>
      Deno.permissions.querySync({ name } as Deno.PermissionDescriptor)
        .state === "granted"
    );
  } catch {
    return false;
  }
}

/** The descriptor of a handle of this backend (EBADF for any other). */
function held(h: Handle): Fd {
  if (h instanceof Fd) return h;
  const e = new ErrnoError(E.EBADF, "handle");
  e.message = `'${h?.path}' is not a handle of the ffi backend (os error 9)`;
  throw e;
}

/** The logical path of `name` in `dir`; `..` is the parent. */
function child(dir: string, name: string): string {
  if (name === "..") {
    const i = dir.lastIndexOf("/");
    return i <= 0 ? "/" : dir.slice(0, i);
  }
  return dir === "/" ? "/" + name : dir + "/" + name;
}

/** Lexical normalisation of an absolute path, as Deno's permission checks see it. */
function normalize(p: string): string {
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

/** True when `kind` is granted for every path (not partly denied). */
function everywhere(kind: "read" | "write"): boolean {
  try {
    const s = Deno.permissions.querySync({ name: kind });
    return s.state === "granted" && !s.partial;
  } catch {
    return false;
  }
}

/** Deno's own check, made for a call Deno cannot see. Never prompts. */
function need(kind: "read" | "write", path: string): void {
  if (Deno.permissions.querySync({ name: kind, path }).state === "granted") {
    return;
  }
  throw new Deno.errors.NotCapable(
    `Requires ${kind} access to "${path}", run again with the --allow-${kind} flag`,
  );
}

/** A failure off the main thread, where errno is lost. */
function errnoLost(call: string): ErrnoError {
  const e = new ErrnoError(E.EIO, call);
  e.message = `${call} failed (os error ${E.EIO}): it ran off the main ` +
    `thread, where errno is not available; reported as EIO (never retried)`;
  return e;
}

/** The ffi backend. Create it with {@linkcode createFfiBackend}. */
class FfiBackend implements Backend {
  readonly features: BackendFeatures;
  readonly #s: Libc["sym"];
  readonly #libc: Libc;
  #errno = 0;

  // Reused buffers: every sync call ends before the next one starts.
  readonly #a = new CString();
  readonly #b = new CString();
  readonly #st: StatBuf;
  readonly #empty = new Uint8Array(1);
  readonly #times = new Uint32Array(8);
  readonly #offs = new Uint32Array(4);
  readonly #how = new Uint32Array(6);
  readonly #statfs = new Uint32Array(STATFS_SIZE / 4);
  readonly #real = new Uint8Array(4097);
  #dents = new Uint8Array(64 * 1024);
  #link = new Uint8Array(256);

  // Which optional calls go through syscall(2).
  readonly #viaSyscall: boolean;
  #statx: "statx" | "syscall" | "fstatat";

  // Kinds of permission granted everywhere when the backend was created.
  readonly #readAll: boolean;
  readonly #writeAll: boolean;

  constructor(libc: Libc, options: FfiBackendOptions) {
    this.#libc = libc;
    this.#s = libc.sym;
    this.#viaSyscall = options.syscalls ?? false;
    this.#statx = options.noStatx
      ? "fstatat"
      : this.#s.statx !== null && !this.#viaSyscall
      ? "statx"
      : "syscall";
    if (this.#statx === "syscall" && !this.#statxWorks()) {
      this.#statx = "fstatat"; // a kernel before 4.11
    }
    this.#st = new StatBuf(this.#statx === "fstatat");
    this.#readAll = everywhere("read");
    this.#writeAll = everywhere("write");
    this.features = {
      name: "ffi",
      fdRelative: true,
      renameFlags: true,
      beneath: this.#probeBeneath(),
      nsTimes: true,
      seekHoles: true,
      copyRange: true,
      syncfs: true,
      lock: true,
      // Deno's own remove reaches a held directory through /proc/self/fd
      // only under --allow-all.
      removeLeaf: allGranted(),
      syncListsInParts: true,
      maxPath: Infinity,
    };
  }

  // ---- calling -----------------------------------------------------------

  /** Reads errno after a failed call; true when it was EINTR (retry). */
  #again(): boolean {
    this.#errno = this.#libc.errno();
    return this.#errno === E.EINTR;
  }

  /**
   * Runs `f` (one libc call returning -1 on failure), again on EINTR;
   * throws an ErrnoError naming `call` on failure.
   */
  #call(call: string, f: () => number | bigint): number {
    let r: number;
    do r = Number(f()); while (r === -1 && this.#again());
    if (r === -1) throw new ErrnoError(this.#errno, call);
    return r;
  }

  /** `#call` without the throw: -1 (errno in `#errno`) on failure. */
  #try(f: () => number | bigint): number {
    let r: number;
    do r = Number(f()); while (r === -1 && this.#again());
    return r;
  }

  #read(path: string): void {
    if (!this.#readAll) need("read", path);
  }

  #write(path: string): void {
    if (!this.#writeAll) need("write", path);
  }

  // ---- opening -----------------------------------------------------------

  /** statx through syscall(2) on "/" works (not ENOSYS). */
  #statxWorks(): boolean {
    const buf = new Uint8Array(256);
    const r = this.#s.syscall_statx(
      SYS.statx,
      BigInt(AT.FDCWD),
      this.#a.set("/", "statx"),
      0n,
      BigInt(STATX_TYPE),
      buf,
    );
    return r !== -1n || this.#libc.errno() !== E.ENOSYS;
  }

  #probeBeneath(): boolean {
    const s = this.#s;
    const flags = O.PATH | O.DIRECTORY | O.CLOEXEC;
    const root = s.openat(AT.FDCWD, this.#a.set("/", "openat"), flags, 0);
    if (root < 0) return false;
    try {
      const fd = this.#openat2(root, ".", flags);
      if (fd < 0) return false;
      s.close(fd);
      return true;
    } finally {
      s.close(root);
    }
  }

  /** openat2 resolving beneath `dirfd`, no symlinks; -1 on failure. */
  #openat2(dirfd: number, rel: string, flags: number): number {
    const how = this.#how; // struct open_how { u64 flags, mode, resolve; }
    how.fill(0);
    how[0] = flags;
    how[4] = BENEATH;
    const path = this.#a.set(rel, "openat2");
    const fd = BigInt(dirfd);
    return this.#try(() =>
      this.#s.syscall_openat2(SYS.openat2, fd, path, how, 24n)
    );
  }

  openDir(path: string, follow: boolean): Dir {
    if (!path.startsWith("/")) throw new ErrnoError(E.EINVAL, "openat");
    const p = normalize(path);
    const c = this.#a.set(p, "openat");
    this.#read(p);
    const flags = follow ? DIR_FLAGS & ~O.NOFOLLOW : DIR_FLAGS;
    const fd = this.#call(
      "openat",
      () => this.#s.openat(AT.FDCWD, c, flags, 0),
    );
    return new FfiDir(p, fd);
  }

  openDirAt(dir: Dir, name: string): Dir {
    const dfd = held(dir).fd;
    const c = this.#a.name(name, "openat");
    const p = child(dir.path, name);
    this.#read(p);
    const fd = this.#call("openat", () => this.#s.openat(dfd, c, DIR_FLAGS, 0));
    return new FfiDir(p, fd);
  }

  openDirBeneath(root: Dir, rel: string): Dir {
    const dfd = held(root).fd;
    if (!this.features.beneath) throw new ErrnoError(E.ENOSYS, "openat2");
    // Above root (lexically; without symlinks the kernel agrees): EXDEV.
    const base = root.path === "/" ? "" : root.path;
    const p = normalize(`${base}/${rel}`);
    if (rel.startsWith("/") || (p !== root.path && !p.startsWith(base + "/"))) {
      throw new ErrnoError(E.EXDEV, "openat2");
    }
    this.#read(p);
    // Without O_NOFOLLOW: RESOLVE_NO_SYMLINKS then refuses a symlink as the
    // last component too, with ELOOP (O_NOFOLLOW would make it ENOTDIR).
    const fd = this.#openat2(dfd, rel, DIR_FLAGS & ~O.NOFOLLOW);
    if (fd === -1) throw new ErrnoError(this.#errno, "openat2");
    return new FfiDir(p, fd);
  }

  openAt(
    dir: Dir,
    name: string,
    flags: OpenFlags & { follow?: boolean },
  ): File {
    const dfd = held(dir).fd;
    const c = this.#a.name(name, "openat");
    const p = child(dir.path, name);
    // Without `write`, the file is opened for reading whatever `read` says.
    if (flags.read || !flags.write) this.#read(p);
    if (flags.write || flags.create) this.#write(p);
    // `follow` (wave 2): for copies that follow links on purpose.
    let fl = flags.follow ? O.CLOEXEC | O.NOCTTY : O.NOFOLLOW | O.CLOEXEC |
      O.NOCTTY;
    if (flags.write) fl |= flags.read ? O.RDWR : O.WRONLY;
    else fl |= O.RDONLY | O.NONBLOCK;
    if (flags.create) fl |= O.CREAT | O.EXCL;
    const mode = flags.mode ?? 0o666;
    const fd = this.#call("openat", () => this.#s.openat(dfd, c, fl, mode));
    let opened: Stat | null = null;
    if (!flags.write) {
      // A directory opens read-only without complaint: refuse it here. The
      // whole stat is asked for at once: the caller's fstat is served from it.
      const r = this.#try(() =>
        this.#statxInto(fd, this.#empty, AT.EMPTY_PATH, STATX_BASIC_STATS)
      );
      if (r === -1 || (this.#st.mode() & 0o170000) === 0o040000) {
        const e = new ErrnoError(r === -1 ? this.#errno : E.EISDIR, "openat");
        this.#s.close(fd);
        throw e;
      }
      opened = this.#st.stat();
    }
    const f = new FfiFile(p, fd);
    f.opened = opened;
    return f;
  }

  // ---- stat --------------------------------------------------------------

  /** statx (or a fallback) into the stat buffer; -1 on failure. */
  #statxInto(
    dirfd: number,
    name: Uint8Array,
    flags: number,
    mask: number,
  ): number | bigint {
    const s = this.#s;
    const buf = this.#st.bytes;
    switch (this.#statx) {
      case "statx":
        return s.statx!(dirfd, name, flags, mask, buf);
      case "syscall":
        return s.syscall_statx(
          SYS.statx,
          BigInt(dirfd),
          name,
          BigInt(flags),
          BigInt(mask),
          buf,
        );
      default:
        return s.syscall_newfstatat(
          SYS.newfstatat,
          BigInt(dirfd),
          name,
          buf,
          BigInt(flags),
        );
    }
  }

  #stat(dirfd: number, name: Uint8Array, flags: number): Stat {
    this.#call(
      this.#statx === "fstatat" ? "fstatat" : "statx",
      () => this.#statxInto(dirfd, name, flags, STATX_BASIC_STATS),
    );
    return this.#st.stat();
  }

  fstat(h: Handle): Stat {
    const fd = held(h);
    if (fd instanceof FfiFile && fd.opened !== null) {
      const st = fd.opened;
      fd.opened = null;
      return st;
    }
    return this.#stat(fd.fd, this.#empty, AT.EMPTY_PATH);
  }

  statAt(dir: Dir, name: string, follow: boolean): Stat {
    const dfd = held(dir).fd;
    const c = this.#a.name(name, "statx");
    if (!this.#readAll) need("read", child(dir.path, name));
    return this.#stat(dfd, c, follow ? 0 : AT.SYMLINK_NOFOLLOW);
  }

  attrsAt(_dir: Dir, _name: string, st: Stat): number {
    return st.attrs;
  }

  tryStatAt(dir: Dir, name: string, follow: boolean): Stat | null {
    const dfd = held(dir).fd;
    const c = this.#a.name(name, "statx");
    if (!this.#readAll) need("read", child(dir.path, name));
    const r = this.#try(() =>
      this.#statxInto(
        dfd,
        c,
        follow ? 0 : AT.SYMLINK_NOFOLLOW,
        STATX_BASIC_STATS,
      )
    );
    if (r !== -1) return this.#st.stat();
    if (this.#errno === E.ENOENT) return null;
    throw new ErrnoError(
      this.#errno,
      this.#statx === "fstatat" ? "fstatat" : "statx",
    );
  }

  // ---- listing -----------------------------------------------------------

  #getdents(fd: number): number | bigint {
    const buf = this.#dents;
    const g = this.#s.getdents64;
    if (g !== null && !this.#viaSyscall) {
      return g(fd, buf, BigInt(buf.length));
    }
    return this.#s.syscall_getdents64(
      SYS.getdents64,
      BigInt(fd),
      buf,
      BigInt(buf.length),
    );
  }

  listPart(dir: Dir, first: boolean): DirEntry[] | null {
    const fd = held(dir).fd;
    if (first) {
      this.#read(dir.path);
      // From the start, whatever an earlier listing of this descriptor read.
      this.#call("lseek", () => this.#s.lseek(fd, 0n, SEEK.SET));
    }
    for (;;) {
      const n = this.#try(() => this.#getdents(fd));
      if (n === 0) return null;
      if (n === -1) {
        // EINVAL: an entry larger than the buffer (a FUSE filesystem's
        // overlong name?): grow it and read on.
        if (this.#errno !== E.EINVAL || this.#dents.length >= 1 << 24) {
          throw new ErrnoError(this.#errno, "getdents64");
        }
        this.#dents = new Uint8Array(this.#dents.length * 4);
        continue;
      }
      const out: DirEntry[] = [];
      parseDirents(this.#dents, n, dir.path, out);
      return out;
    }
  }

  // ---- changing entries --------------------------------------------------

  mkdirAt(dir: Dir, name: string, mode: number): void {
    const dfd = held(dir).fd;
    const c = this.#a.name(name, "mkdirat");
    if (!this.#writeAll) need("write", child(dir.path, name));
    this.#call("mkdirat", () => this.#s.mkdirat(dfd, c, mode));
  }

  #unlink(dir: Dir, name: string, flags: number): void {
    const dfd = held(dir).fd;
    const c = this.#a.name(name, "unlinkat");
    if (!this.#writeAll) need("write", child(dir.path, name));
    this.#call("unlinkat", () => this.#s.unlinkat(dfd, c, flags));
  }

  unlinkAt(dir: Dir, name: string): void {
    this.#unlink(dir, name, 0);
  }

  rmdirAt(dir: Dir, name: string): void {
    this.#unlink(dir, name, AT.REMOVEDIR);
  }

  renameAt(
    fromDir: Dir,
    fromName: string,
    toDir: Dir,
    toName: string,
    how: RenameHow,
  ): void {
    const from = held(fromDir).fd;
    const to = held(toDir).fd;
    const a = this.#a.name(fromName, "renameat2");
    const b = this.#b.name(toName, "renameat2");
    if (!this.#writeAll) {
      need("write", child(fromDir.path, fromName));
      need("write", child(toDir.path, toName));
    }
    // RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2.
    const flags = how === "replace" ? 0 : how === "noreplace" ? 1 : 2;
    const s = this.#s;
    if (s.renameat2 !== null && !this.#viaSyscall) {
      this.#call("renameat2", () => s.renameat2!(from, a, to, b, flags));
      return;
    }
    this.#call("renameat2", () =>
      s.syscall_renameat2(
        SYS.renameat2,
        BigInt(from),
        a,
        BigInt(to),
        b,
        BigInt(flags),
      ));
  }

  linkAt(fromDir: Dir, fromName: string, toDir: Dir, toName: string): void {
    const from = held(fromDir).fd;
    const to = held(toDir).fd;
    const a = this.#a.name(fromName, "linkat");
    const b = this.#b.name(toName, "linkat");
    if (!this.#readAll || !this.#writeAll) {
      for (
        const p of [child(fromDir.path, fromName), child(toDir.path, toName)]
      ) {
        this.#read(p);
        this.#write(p);
      }
    }
    this.#call("linkat", () => this.#s.linkat(from, a, to, b, 0));
  }

  symlinkAt(target: string, dir: Dir, name: string): void {
    const dfd = held(dir).fd;
    const t = this.#b.set(target, "symlinkat");
    const c = this.#a.name(name, "symlinkat");
    if (!this.#writeAll) need("write", child(dir.path, name));
    this.#call("symlinkat", () => this.#s.symlinkat(t, dfd, c));
  }

  readLinkAt(dir: Dir, name: string): string {
    const dfd = held(dir).fd;
    const c = this.#a.name(name, "readlinkat");
    if (!this.#readAll) need("read", child(dir.path, name));
    for (;;) {
      const buf = this.#link;
      const len = BigInt(buf.length);
      const n = this.#call(
        "readlinkat",
        () => this.#s.readlinkat(dfd, c, buf, len),
      );
      if (n < buf.length) {
        const target = decodeUtf8(buf, 0, n);
        if (target === null) throw new ErrnoError(E.EILSEQ, "readlinkat");
        return target;
      }
      // It may have been cut short: grow until it fits.
      if (buf.length >= 1 << 24) {
        throw new ErrnoError(E.ENAMETOOLONG, "readlinkat");
      }
      this.#link = new Uint8Array(buf.length * 4);
    }
  }

  // ---- metadata ----------------------------------------------------------

  chmod(h: Handle, mode: number): void {
    const fd = held(h).fd;
    this.#write(h.path);
    this.#call("fchmod", () => this.#s.fchmod(fd, mode));
  }

  /**
   * fchmodat(dir, name, mode, 0): FOLLOWS a symlink at `name` (Linux cannot
   * chmod a symlink). For adding owner permissions to a directory of ours
   * that we cannot open.
   */
  #fchmodat2 = true;

  /**
   * chmod of `name` in `dir` WITHOUT following a symlink there (stricter
   * than the contract asks): fchmodat2(AT_SYMLINK_NOFOLLOW) on Linux 6.6+
   * (EOPNOTSUPP on a symlink); before that, an O_PATH|O_NOFOLLOW descriptor
   * of the entry changed through its /proc/self/fd link (the inode held,
   * never a path walked again); only where /proc is not mounted, a plain
   * fchmodat.
   */
  chmodAt(dir: Dir, name: string, mode: number): void {
    const dfd = held(dir).fd;
    const c = this.#a.name(name, "fchmodat");
    if (!this.#writeAll) need("write", child(dir.path, name));
    const s = this.#s;
    if (this.#fchmodat2) {
      const r = this.#try(() =>
        s.syscall_fchmodat2(
          SYS.fchmodat2,
          BigInt(dfd),
          c,
          BigInt(mode),
          BigInt(AT.SYMLINK_NOFOLLOW),
        )
      );
      if (r !== -1) return;
      if (this.#errno !== E.ENOSYS) {
        throw new ErrnoError(this.#errno, "fchmodat2");
      }
      this.#fchmodat2 = false;
    }
    const fd = this.#call(
      "openat",
      () => s.openat(dfd, c, O.PATH | O.NOFOLLOW | O.CLOEXEC, 0),
    );
    try {
      const proc = this.#a.set(`/proc/self/fd/${fd}`, "fchmodat");
      const r = this.#try(() => s.fchmodat(AT.FDCWD, proc, mode, 0));
      if (r === -1 && this.#errno === E.ENOENT) {
        this.#call("fchmodat", () => s.fchmodat(dfd, c, mode, 0));
      } else if (r === -1) {
        throw new ErrnoError(this.#errno, "fchmodat");
      }
    } finally {
      s.close(fd);
    }
  }

  /**
   * faccessat(dir, ".", mode, AT_EACCESS): throws unless the effective user
   * may access the directory itself with `mode` (R_OK=4, W_OK=2, X_OK=1).
   */
  accessDir(dir: Dir, mode: number): void {
    const dfd = held(dir).fd;
    const c = this.#a.set(".", "faccessat");
    this.#call("faccessat", () => this.#s.faccessat(dfd, c, mode, AT_EACCESS));
  }

  chown(h: Handle, uid: number, gid: number): void {
    const fd = held(h).fd;
    this.#write(h.path);
    this.#call("fchown", () => this.#s.fchown(fd, uid >>> 0, gid >>> 0));
  }

  /** `struct timespec[2]` of atime and mtime, in the reused buffer. */
  #timespecs(atime: Timespec, mtime: Timespec): Uint32Array {
    const t = this.#times;
    setI64(t, 0, atime.sec);
    setI64(t, 2, atime.nsec);
    setI64(t, 4, mtime.sec);
    setI64(t, 6, mtime.nsec);
    return t;
  }

  utimes(h: Handle, atime: Timespec, mtime: Timespec): void {
    const fd = held(h).fd;
    this.#write(h.path);
    const t = this.#timespecs(atime, mtime);
    this.#call("futimens", () => this.#s.futimens(fd, t));
  }

  lchownAt(dir: Dir, name: string, uid: number, gid: number): void {
    const dfd = held(dir).fd;
    const c = this.#a.name(name, "fchownat");
    if (!this.#writeAll) need("write", child(dir.path, name));
    this.#call(
      "fchownat",
      () => this.#s.fchownat(dfd, c, uid >>> 0, gid >>> 0, AT.SYMLINK_NOFOLLOW),
    );
  }

  lutimesAt(dir: Dir, name: string, atime: Timespec, mtime: Timespec): void {
    const dfd = held(dir).fd;
    const c = this.#a.name(name, "utimensat");
    if (!this.#writeAll) need("write", child(dir.path, name));
    const t = this.#timespecs(atime, mtime);
    this.#call(
      "utimensat",
      () => this.#s.utimensat(dfd, c, t, AT.SYMLINK_NOFOLLOW),
    );
  }

  // ---- data --------------------------------------------------------------

  #pread(fd: number, buf: Uint8Array, pos: number): number {
    const len = BigInt(buf.length);
    const at = BigInt(pos);
    return this.#call("pread", () => this.#s.pread(fd, buf, len, at));
  }

  #pwrite(fd: number, buf: Uint8Array, pos: number): number {
    const len = BigInt(buf.length);
    const at = BigInt(pos);
    return this.#call("pwrite", () => this.#s.pwrite(fd, buf, len, at));
  }

  read(f: File, buf: Uint8Array, pos: number): number {
    return this.#pread(held(f).fd, buf, pos);
  }

  write(f: File, buf: Uint8Array, pos: number): number {
    return this.#pwrite(held(f).fd, buf, pos);
  }

  async readAsync(f: File, buf: Uint8Array, pos: number): Promise<number> {
    const h = held(f);
    const fd = h.fd;
    h.busy++;
    try {
      const n = Number(
        await this.#s.pread_nb(fd, buf, BigInt(buf.length), BigInt(pos)),
      );
      // errno is lost off the main thread: the same pread, here, tells it.
      return n === -1 ? this.#pread(fd, buf, pos) : n;
    } finally {
      this.#release(h);
    }
  }

  async writeAsync(f: File, buf: Uint8Array, pos: number): Promise<number> {
    const h = held(f);
    const fd = h.fd;
    h.busy++;
    try {
      const n = Number(
        await this.#s.pwrite_nb(fd, buf, BigInt(buf.length), BigInt(pos)),
      );
      // The same bytes at the same offset again: harmless, and tells errno.
      return n === -1 ? this.#pwrite(fd, buf, pos) : n;
    } finally {
      this.#release(h);
    }
  }

  truncate(f: File, len: number): void {
    const fd = held(f).fd;
    this.#call("ftruncate", () => this.#s.ftruncate(fd, BigInt(len)));
  }

  seek(f: File, pos: number, whence: SeekWhence): number {
    const fd = held(f).fd;
    const w = whence === "data" ? SEEK.DATA : SEEK.HOLE;
    const r = this.#try(() => this.#s.lseek(fd, BigInt(pos), w));
    if (r !== -1) return r;
    if (this.#errno === E.ENXIO) return -1;
    throw new ErrnoError(this.#errno, "lseek");
  }

  /** copy_file_range with explicit offsets (`offs`: u64 in, u64 out). */
  #copyFileRange(
    fdIn: number,
    fdOut: number,
    offs: Uint32Array,
    len: number,
  ): number {
    const s = this.#s;
    const offIn = new Uint8Array(offs.buffer, offs.byteOffset, 8);
    const offOut = new Uint8Array(offs.buffer, offs.byteOffset + 8, 8);
    const n = BigInt(len);
    if (s.copy_file_range !== null && !this.#viaSyscall) {
      return this.#call(
        "copy_file_range",
        () => s.copy_file_range!(fdIn, offIn, fdOut, offOut, n, 0),
      );
    }
    return this.#call("copy_file_range", () =>
      s.syscall_copy_file_range(
        SYS.copy_file_range,
        BigInt(fdIn),
        offIn,
        BigInt(fdOut),
        offOut,
        n,
        0n,
      ));
  }

  copyRange(
    from: File,
    fromPos: number,
    to: File,
    toPos: number,
    len: number,
  ): number {
    const fdIn = held(from).fd;
    const out = held(to) as FfiFile;
    setI64(this.#offs, 0, fromPos);
    setI64(this.#offs, 2, toPos);
    if (!out.viaSendfile) {
      try {
        return this.#copyFileRange(fdIn, out.fd, this.#offs, len);
      } catch (e) {
        if (!(e instanceof ErrnoError && NO_CFR.has(e.errno))) throw e;
        out.viaSendfile = true;
      }
    }
    return this.#sendfile(fdIn, out.fd, fromPos, toPos, len);
  }

  /**
   * sendfile(2) from `fdIn` at `fromPos` to `fdOut` at `toPos` (its file
   * offset is set first: sendfile writes there): the in-kernel copy across
   * filesystems, where copy_file_range is refused.
   */
  #sendfile(
    fdIn: number,
    fdOut: number,
    fromPos: number,
    toPos: number,
    len: number,
  ): number {
    const s = this.#s;
    this.#call("lseek", () => s.lseek(fdOut, BigInt(toPos), 0));
    setI64(this.#offs, 0, fromPos);
    const off = new Uint8Array(this.#offs.buffer, this.#offs.byteOffset, 8);
    return this.#call(
      "sendfile",
      () => s.sendfile(fdOut, fdIn, off, BigInt(len)),
    );
  }

  async copyRangeAsync(
    from: File,
    fromPos: number,
    to: File,
    toPos: number,
    len: number,
  ): Promise<number> {
    const a = held(from);
    const b = held(to) as FfiFile;
    const fdIn = a.fd;
    const fdOut = b.fd;
    if (b.viaSendfile) {
      return await this.#sendfileAsync(a, b, fromPos, toPos, len);
    }
    // Offsets of its own, alive until the call resolves.
    const offs = new Uint32Array(4);
    setI64(offs, 0, fromPos);
    setI64(offs, 2, toPos);
    const offIn = new Uint8Array(offs.buffer, 0, 8);
    const offOut = new Uint8Array(offs.buffer, 8, 8);
    const s = this.#s;
    a.busy++;
    b.busy++;
    try {
      const n = Number(
        s.copy_file_range_nb !== null && !this.#viaSyscall
          ? await s.copy_file_range_nb(
            fdIn,
            offIn,
            fdOut,
            offOut,
            BigInt(len),
            0,
          )
          : await s.syscall_copy_file_range_nb(
            SYS.copy_file_range,
            BigInt(fdIn),
            offIn,
            BigInt(fdOut),
            offOut,
            BigInt(len),
            0n,
          ),
      );
      if (n !== -1) return n;
    } finally {
      this.#release(a);
      this.#release(b);
    }
    // Explicit offsets: the same copy again, here, tells errno (and falls
    // back to sendfile where copy_file_range is refused).
    return this.copyRange(from, fromPos, to, toPos, len);
  }

  async #sendfileAsync(
    a: Fd,
    b: FfiFile,
    fromPos: number,
    toPos: number,
    len: number,
  ): Promise<number> {
    const s = this.#s;
    this.#call("lseek", () => s.lseek(b.fd, BigInt(toPos), 0));
    const offs = new Uint32Array(2);
    setI64(offs, 0, fromPos);
    a.busy++;
    b.busy++;
    let n: number;
    try {
      n = Number(
        await s.sendfile_nb(
          b.fd,
          a.fd,
          new Uint8Array(offs.buffer),
          BigInt(len),
        ),
      );
    } finally {
      this.#release(a);
      this.#release(b);
    }
    if (n !== -1) return n;
    // The same again, here, tells errno (the output offset is set again).
    return this.#sendfile(a.fd, b.fd, fromPos, toPos, len);
  }

  // ---- durability, locks -------------------------------------------------

  fsync(h: Handle): void {
    const fd = held(h).fd;
    this.#call("fsync", () => this.#s.fsync(fd));
  }

  async fsyncAsync(h: Handle): Promise<void> {
    const d = held(h);
    const fd = d.fd;
    if (fd < 0) throw new ErrnoError(E.EBADF, "fsync");
    d.busy++;
    try {
      if (await this.#s.fsync_nb(fd) === -1) throw errnoLost("fsync");
    } finally {
      this.#release(d);
    }
  }

  syncfs(h: Handle): void {
    const fd = held(h).fd;
    const s = this.#s;
    if (s.syncfs !== null && !this.#viaSyscall) {
      this.#call("syncfs", () => s.syncfs!(fd));
    } else {
      this.#call("syncfs", () => s.syscall_syncfs(SYS.syncfs, BigInt(fd)));
    }
  }

  async syncfsAsync(h: Handle): Promise<void> {
    const d = held(h);
    const fd = d.fd;
    if (fd < 0) throw new ErrnoError(E.EBADF, "syncfs");
    const s = this.#s;
    d.busy++;
    try {
      const r = s.syncfs_nb !== null && !this.#viaSyscall
        ? await s.syncfs_nb(fd)
        : Number(await s.syscall_syncfs_nb(SYS.syncfs, BigInt(fd)));
      if (r === -1) throw errnoLost("syncfs");
    } finally {
      this.#release(d);
    }
  }

  lock(h: Handle): boolean {
    const fd = held(h).fd;
    const r = this.#try(() => this.#s.flock(fd, LOCK.EX | LOCK.NB));
    if (r !== -1) return true;
    if (this.#errno === E.EAGAIN) return false;
    throw new ErrnoError(this.#errno, "flock");
  }

  removeLeaf(dir: Dir, name: string): void {
    const fd = held(dir).fd;
    if (!this.#writeAll) need("write", child(dir.path, name));
    Deno.removeSync(`/proc/self/fd/${fd}/${name}`, { recursive: true });
  }

  async removeLeafAsync(dir: Dir, name: string): Promise<void> {
    const d = held(dir);
    if (!this.#writeAll) need("write", child(dir.path, name));
    d.busy++;
    try {
      await Deno.remove(`/proc/self/fd/${d.fd}/${name}`, { recursive: true });
    } finally {
      this.#release(d);
    }
  }

  moved(h: Handle, path: string): void {
    held(h).path = path;
  }

  close(h: Handle): void {
    if (h instanceof Fd) this.#close(h);
  }

  #close(h: Fd): void {
    const fd = h.fd;
    if (fd < 0) return;
    h.fd = -1;
    if (h.busy > 0) {
      // An async call still uses the descriptor: close it after the last
      // one, so that its number cannot be reused under it.
      h.pending = fd;
      return;
    }
    // Never retried: on Linux the descriptor is gone even after EINTR.
    this.#s.close(fd);
  }

  #release(h: Fd): void {
    if (--h.busy === 0 && h.pending >= 0) {
      this.#s.close(h.pending);
      h.pending = -1;
    }
  }

  fsInfo(h: Handle): FsInfo {
    const fd = held(h).fd;
    const buf = this.#statfs;
    this.#call("fstatfs", () => this.#s.fstatfs(fd, buf));
    // f_type is a long: its low half (magics are 32-bit; some are stored
    // sign-extended). f_flags is the 11th long.
    const magic = buf[0];
    const info = {
      magic,
      name: FS_MAGIC.get(magic) ?? "unknown",
      readOnly: (buf[20] & ST_RDONLY) !== 0,
    };
    return info;
  }

  /** The effective user ID (geteuid(2): no Deno permission involved). */
  euid(): number {
    return this.#s.geteuid();
  }

  #umask: number | null | undefined;

  umask(): number | null {
    if (this.#umask !== undefined) return this.#umask;
    // umask(2) can only be read by setting it (racy with other threads):
    // /proc/self/status says it without changing it (Linux 4.7+).
    this.#umask = null;
    const s = this.#s;
    const fd = Number(
      s.openat(AT.FDCWD, this.#a.set("/proc/self/status", "openat"), 0, 0),
    );
    if (fd < 0) return null;
    try {
      const buf = new Uint8Array(4096);
      const n = Number(s.pread(fd, buf, BigInt(buf.length), 0n));
      if (n <= 0) return null;
      const m = /\nUmask:\s*([0-7]+)/.exec(
        new TextDecoder().decode(buf.subarray(0, n)),
      );
      if (m !== null) this.#umask = parseInt(m[1], 8);
    } finally {
      s.close(fd);
    }
    return this.#umask;
  }

  realPath(path: string): string {
    const c = this.#a.set(path, "realpath");
    this.#read(path);
    const out = this.#real;
    let p: Deno.PointerValue;
    do p = this.#s.realpath(c, out); while (p === null && this.#again());
    if (p === null) throw new ErrnoError(this.#errno, "realpath");
    const end = out.indexOf(0);
    const real = decodeUtf8(out, 0, end === -1 ? out.length : end);
    if (real === null) throw new ErrnoError(E.EILSEQ, "realpath");
    return real;
  }
}
