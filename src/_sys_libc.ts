// Copyright 2026 the safefs authors. MIT license.
/**
 * libc through Deno FFI, for the `ffi` backend (`_sys_ffi.ts`): finding and
 * opening libc without prompting, its symbol table, errno, the Linux
 * constants of the two architectures, and the layouts of the structs the
 * backend reads (statx, stat, linux_dirent64, statfs).
 *
 * Linux only, x86_64 and aarch64 (both little-endian, LP64). Calls that
 * older C libraries lack (`statx`, `renameat2`, `getdents64`,
 * `copy_file_range`, `syncfs`) are declared optional and reached through
 * `syscall(2)` when missing.
 *
 * @module
 */

const X64 = Deno.build.arch === "x86_64";

/** Open flags and `*at` flags (Linux; the two architectures differ). */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  NONBLOCK: 0o4000,
  DIRECTORY: X64 ? 0o200000 : 0o40000,
  NOFOLLOW: X64 ? 0o400000 : 0o100000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

/** `*at` call constants. */
export const AT = {
  FDCWD: -100,
  SYMLINK_NOFOLLOW: 0x100,
  REMOVEDIR: 0x200,
  EMPTY_PATH: 0x1000,
} as const;

/** openat2 `resolve` flags. */
export const RESOLVE = {
  NO_MAGICLINKS: 0x02,
  NO_SYMLINKS: 0x04,
  BENEATH: 0x08,
} as const;

/** Linux errno numbers the backend acts on. */
export const E = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  EBADF: 9,
  EAGAIN: 11,
  EXDEV: 18,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ELOOP: 40,
  EILSEQ: 84,
} as const;

/**
 * System call numbers, for calls reached through `syscall(2)`. 64-bit
 * arguments are passed as bigints: a number there costs Deno's slow call
 * path (~0.35 µs more per call, measured), more than `BigInt(n)`.
 */
export const SYS = {
  openat2: 437n,
  renameat2: X64 ? 316n : 276n,
  statx: X64 ? 332n : 291n,
  newfstatat: X64 ? 262n : 79n,
  getdents64: X64 ? 217n : 61n,
  copy_file_range: X64 ? 326n : 285n,
  syncfs: X64 ? 306n : 267n,
  /** Linux 6.6: fchmodat with flags (AT_SYMLINK_NOFOLLOW). */
  fchmodat2: 452n,
} as const;

/** statx: the mask of the basic fields, and the struct's size. */
export const STATX_BASIC_STATS = 0x7ff;
/** statx: the file type only. */
export const STATX_TYPE = 0x1;
/** `sizeof(struct statx)`. */
export const STATX_SIZE = 256;

/**
 * Byte offsets in `struct statx` (identical on every architecture).
 * Timestamps are `{ i64 tv_sec; u32 tv_nsec; i32 pad }`.
 */
export const STX = {
  mask: 0,
  nlink: 16,
  uid: 20,
  gid: 24,
  mode: 28, // u16
  ino: 32,
  size: 40,
  blocks: 48,
  atime: 64,
  ctime: 96,
  mtime: 112,
  devMajor: 136,
  devMinor: 140,
} as const;

/**
 * Byte offsets in the kernel's `struct stat` for newfstatat (the fallback
 * when statx is missing): x86_64 has its own layout, aarch64 the generic one.
 * `dev` is the kernel's 64-bit encoding, which is glibc's `makedev`.
 */
export const KSTAT = X64
  ? {
    size: 144,
    dev: 0,
    ino: 8,
    nlink: 16, // u64
    mode: 24,
    uid: 28,
    gid: 32,
    stSize: 48,
    blocks: 64,
    atime: 72,
    mtime: 88,
    ctime: 104,
    nlink32: false,
  }
  : {
    size: 128,
    dev: 0,
    ino: 8,
    mode: 16,
    nlink: 20, // u32
    uid: 24,
    gid: 28,
    stSize: 48,
    blocks: 64,
    atime: 72,
    mtime: 88,
    ctime: 104,
    nlink32: true,
  };

/** `sizeof(struct statfs)` (120 on both architectures; room to spare). */
export const STATFS_SIZE = 128;

/** lseek whences. */
export const SEEK = { SET: 0, DATA: 3, HOLE: 4 } as const;

/** flock operations. */
export const LOCK = { EX: 2, NB: 4 } as const;

/** d_type values of linux_dirent64. */
export const DT = {
  UNKNOWN: 0,
  FIFO: 1,
  CHR: 2,
  DIR: 4,
  BLK: 6,
  REG: 8,
  LNK: 10,
  SOCK: 12,
} as const;

/** Filesystem magic numbers (`f_type` of statfs) and their usual names. */
export const FS_MAGIC: ReadonlyMap<number, string> = new Map([
  [0xEF53, "ext4"], // ext2, ext3 and ext4 share it
  [0x01021994, "tmpfs"],
  [0x58465342, "xfs"],
  [0x9123683E, "btrfs"],
  [0x794C7630, "overlay"],
  [0x65735546, "fuse"],
  [0x6969, "nfs"],
  [0x73717368, "squashfs"],
  [0xE0F5E1E2, "erofs"],
  [0x2011BAB0, "exfat"],
  [0x4d44, "vfat"],
  [0xF2F52010, "f2fs"],
  [0x2FC12FC1, "zfs"],
  [0xFF534D42, "cifs"],
  [0xFE534D42, "smb2"],
  [0x5346544E, "ntfs"],
  [0x7366746E, "ntfs3"],
  [0x3153464A, "jfs"],
  [0x52654973, "reiserfs"],
  [0x9660, "iso9660"],
  [0x15013346, "udf"],
  [0x858458F6, "ramfs"],
  [0x9FA0, "proc"],
  [0x62656572, "sysfs"],
  [0x1CD1, "devpts"],
  [0x63677270, "cgroup2"],
  [0x01021997, "9p"],
  [0xCA451A4E, "bcachefs"],
  [0x00C36400, "ceph"],
  [0x47504653, "gpfs"],
  [0x0BD00BD0, "lustre"],
  [0x786F4256, "vboxsf"],
  [0x958458F6, "hugetlbfs"],
  [0x42494E4D, "binfmt_misc"],
  [0x64626720, "debugfs"],
  [0x6E736673, "nsfs"],
  [0x27E0EB, "cgroup"],
  [0x73636673, "securityfs"],
  [0xCAFE4A11, "bpf"],
  [0x28CD3D45, "cramfs"],
  [0x137F, "minix"],
  [0x517B, "smb"],
  [0x5A3C69F0, "aafs"],
]);

/** The symbols the backend uses. Optional ones are `null` when missing. */
const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  memcpy: { parameters: ["buffer", "pointer", "usize"], result: "pointer" },
  syscall_openat2: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "buffer", "i64"],
    result: "i64",
  },
  syscall_fchmodat2: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "i64", "i64"],
    result: "i64",
  },
  syscall_renameat2: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "i64", "buffer", "i64"],
    result: "i64",
  },
  syscall_statx: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "i64", "i64", "buffer"],
    result: "i64",
  },
  syscall_newfstatat: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "buffer", "i64"],
    result: "i64",
  },
  syscall_getdents64: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "i64"],
    result: "i64",
  },
  syscall_copy_file_range: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "i64", "buffer", "i64", "i64"],
    result: "i64",
  },
  syscall_copy_file_range_nb: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "i64", "buffer", "i64", "i64"],
    result: "i64",
    nonblocking: true,
  },
  syscall_syncfs: {
    name: "syscall",
    parameters: ["i64", "i64"],
    result: "i64",
  },
  syscall_syncfs_nb: {
    name: "syscall",
    parameters: ["i64", "i64"],
    result: "i64",
    nonblocking: true,
  },
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
  statx: {
    parameters: ["i32", "buffer", "i32", "u32", "buffer"],
    result: "i32",
    optional: true,
  },
  getdents64: {
    parameters: ["i32", "buffer", "usize"],
    result: "isize",
    optional: true,
  },
  mkdirat: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  unlinkat: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  renameat2: {
    parameters: ["i32", "buffer", "i32", "buffer", "u32"],
    result: "i32",
    optional: true,
  },
  linkat: {
    parameters: ["i32", "buffer", "i32", "buffer", "i32"],
    result: "i32",
  },
  symlinkat: { parameters: ["buffer", "i32", "buffer"], result: "i32" },
  readlinkat: {
    parameters: ["i32", "buffer", "buffer", "usize"],
    result: "isize",
  },
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  fchmodat: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  faccessat: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  fchown: { parameters: ["i32", "u32", "u32"], result: "i32" },
  futimens: { parameters: ["i32", "buffer"], result: "i32" },
  fchownat: {
    parameters: ["i32", "buffer", "u32", "u32", "i32"],
    result: "i32",
  },
  utimensat: {
    parameters: ["i32", "buffer", "buffer", "i32"],
    result: "i32",
  },
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  pread_nb: {
    name: "pread",
    parameters: ["i32", "buffer", "usize", "i64"],
    result: "isize",
    nonblocking: true,
  },
  pwrite_nb: {
    name: "pwrite",
    parameters: ["i32", "buffer", "usize", "i64"],
    result: "isize",
    nonblocking: true,
  },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  copy_file_range: {
    parameters: ["i32", "buffer", "i32", "buffer", "usize", "u32"],
    result: "isize",
    optional: true,
  },
  copy_file_range_nb: {
    name: "copy_file_range",
    parameters: ["i32", "buffer", "i32", "buffer", "usize", "u32"],
    result: "isize",
    nonblocking: true,
    optional: true,
  },
  sendfile: {
    parameters: ["i32", "i32", "buffer", "usize"],
    result: "isize",
  },
  sendfile_nb: {
    name: "sendfile",
    parameters: ["i32", "i32", "buffer", "usize"],
    result: "isize",
    nonblocking: true,
  },
  fsync: { parameters: ["i32"], result: "i32" },
  fsync_nb: {
    name: "fsync",
    parameters: ["i32"],
    result: "i32",
    nonblocking: true,
  },
  syncfs: { parameters: ["i32"], result: "i32", optional: true },
  syncfs_nb: {
    name: "syncfs",
    parameters: ["i32"],
    result: "i32",
    nonblocking: true,
    optional: true,
  },
  flock: { parameters: ["i32", "i32"], result: "i32" },
  geteuid: { parameters: [], result: "u32" },
  close: { parameters: ["i32"], result: "i32" },
  fstatfs: { parameters: ["i32", "buffer"], result: "i32" },
  realpath: { parameters: ["buffer", "buffer"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The symbols, as Deno types them. */
export type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** An opened libc. */
export interface Libc {
  /** The name or path it was opened by. */
  readonly path: string;
  /** Its symbols. */
  readonly sym: Symbols;
  /** The calling thread's errno, read right after a failed call. */
  errno(): number;
}

/**
 * Where libc may be, in order. The bare soname first (the libc Deno itself
 * runs on, found by the dynamic loader), then absolute paths, which a scoped
 * `--allow-ffi=<path>` can name. musl's names only for a musl build of Deno:
 * loading a second C library into the process would be a disaster.
 */
export function libcCandidates(): string[] {
  const musl = Deno.build.target.endsWith("-musl");
  const arch = X64 ? "x86_64" : "aarch64";
  if (musl) {
    return [
      `/lib/ld-musl-${arch}.so.1`,
      `/lib/libc.musl-${arch}.so.1`,
      `/usr/lib/ld-musl-${arch}.so.1`,
      `/usr/lib/libc.musl-${arch}.so.1`,
      `/usr/lib/${arch}-linux-musl/libc.so`,
    ];
  }
  return [
    "libc.so.6",
    `/lib/${arch}-linux-gnu/libc.so.6`,
    `/usr/lib/${arch}-linux-gnu/libc.so.6`,
    "/lib64/libc.so.6",
    "/usr/lib64/libc.so.6",
    "/lib/libc.so.6",
    "/usr/lib/libc.so.6",
  ];
}

function state(desc: Deno.PermissionDescriptor): Deno.PermissionStatus | null {
  try {
    return Deno.permissions.querySync(desc);
  } catch {
    return null;
  }
}

/**
 * Opens libc, or says in one line why it cannot. Never prompts: a candidate
 * is passed to `dlopen` only when `--allow-ffi` is granted for it.
 */
export function openLibc(): Libc | string {
  if (Deno.build.os !== "linux") return `not Linux (${Deno.build.os})`;
  if (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64") {
    return `unsupported architecture (${Deno.build.arch})`;
  }
  const all = state({ name: "ffi" });
  if (all === null) return "--allow-ffi cannot be queried";
  const everywhere = all.state === "granted" && !all.partial;
  const candidates = libcCandidates();
  const tried: string[] = [];
  const failed: string[] = [];
  for (const path of candidates) {
    if (!everywhere) {
      // A bare soname cannot be in a path-scoped grant; an absolute path can.
      if (!path.startsWith("/")) continue;
      if (state({ name: "ffi", path })?.state !== "granted") continue;
    }
    tried.push(path);
    let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      lib = Deno.dlopen(path, SYMBOLS);
    } catch (e) {
      // "Could not open library: <path>: cannot open shared object file: ..."
      const why = String(e instanceof Error ? e.message : e).split(": ");
      failed.push(`${path} (${why[why.length - 1]})`);
      continue;
    }
    const sym = lib.symbols;
    const where = sym.__errno_location();
    if (where === null) {
      lib.close();
      failed.push(`${path} (__errno_location() returned NULL)`);
      continue;
    }
    const cell = new Int32Array(1);
    return {
      path,
      sym,
      errno(): number {
        sym.memcpy(cell, where, 4n);
        return cell[0];
      },
    };
  }
  if (tried.length === 0) {
    if (all.state === "granted") {
      // Granted everywhere except some denied paths: libc is among them.
      return `--allow-ffi is denied for libc (${
        candidates.filter((c) => c.startsWith("/")).join(", ")
      })`;
    }
    return `--allow-ffi is not granted (or scoped to paths that are not libc: ${
      candidates.filter((c) => c.startsWith("/")).join(", ")
    })`;
  }
  return `no libc found (tried ${failed.join(", ")})`;
}
