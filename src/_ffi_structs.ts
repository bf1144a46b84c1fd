// Copyright 2026 the safefs authors. MIT license.
/**
 * Reading and writing the C data the `ffi` backend exchanges with libc:
 * NUL-terminated names, `struct statx` (or the kernel's `struct stat`),
 * `linux_dirent64` records, `struct timespec[2]` and 64-bit offsets.
 *
 * @module
 */
import {
  type DirEntry,
  ErrnoError,
  type Kind,
  type Stat,
} from "./_sys_types.ts";
import { DT, E, KSTAT, STATX_SIZE } from "./_sys_libc.ts";
import { decodeUtf8, encodeUtf8 } from "./_utf8.ts";

const TWO32 = 2 ** 32;

/** The kind of a `st_mode`. */
export function kindOf(mode: number): Kind {
  switch (mode & 0o170000) {
    case 0o100000:
      return "file";
    case 0o040000:
      return "dir";
    case 0o120000:
      return "symlink";
    case 0o010000:
      return "fifo";
    case 0o140000:
      return "socket";
    case 0o020000:
      return "char";
    case 0o060000:
      return "block";
    default:
      return "unknown";
  }
}

/** The kind of a `d_type`; `null` for DT_UNKNOWN (the filesystem did not say). */
export function dtKind(t: number): Kind | null {
  switch (t) {
    case DT.REG:
      return "file";
    case DT.DIR:
      return "dir";
    case DT.LNK:
      return "symlink";
    case DT.FIFO:
      return "fifo";
    case DT.SOCK:
      return "socket";
    case DT.CHR:
      return "char";
    case DT.BLK:
      return "block";
    case DT.UNKNOWN:
      return null;
    default:
      return "unknown";
  }
}

/**
 * glibc's `makedev`, which Rust's std (so `Deno.statSync().dev`) applies to
 * statx's `stx_dev_major`/`stx_dev_minor`.
 */
export function makedev(major: number, minor: number): number {
  return ((major & 0xfffff000) >>> 0) * TWO32 + (major & 0xfff) * 256 +
    ((minor & 0xffffff00) >>> 0) * 4096 + (minor & 0xff);
}

/** Writes the signed 64-bit `n` (a safe integer) at u32 index `i`. */
export function setI64(u32: Uint32Array, i: number, n: number): void {
  const hi = Math.floor(n / TWO32);
  u32[i] = n - hi * TWO32;
  u32[i + 1] = hi;
}

/**
 * A reusable NUL-terminated C string buffer. Strings with a NUL are refused
 * (EINVAL), and so are lone surrogates (EILSEQ): they have no UTF-8 form,
 * and encoding them as U+FFFD would name another file.
 */
export class CString {
  #buf = new Uint8Array(512);

  /**
   * A directory entry name: as `set`, and a `/` in it is refused (EINVAL):
   * the kernel would walk it, following any symlink on the way.
   */
  name(s: string, call: string): Uint8Array {
    if (s.includes("/")) throw new ErrnoError(E.EINVAL, call);
    return this.set(s, call);
  }

  /** `s`, UTF-8, NUL-terminated, in the reused buffer (valid until the next call). */
  set(s: string, call: string): Uint8Array {
    if (s.includes("\0")) throw new ErrnoError(E.EINVAL, call);
    if (!s.isWellFormed()) throw new ErrnoError(E.EILSEQ, call);
    let buf = this.#buf;
    if (s.length * 3 >= buf.length) {
      buf = this.#buf = new Uint8Array(s.length * 3 + 1);
    }
    buf[encodeUtf8(s, buf)] = 0;
    return buf;
  }
}

/**
 * The buffer statx (or newfstatat) fills, and its reading. `kstat` selects
 * the kernel's `struct stat` layout (the fallback without statx).
 */
export class StatBuf {
  readonly bytes = new Uint8Array(STATX_SIZE);
  readonly #u = new Uint32Array(this.bytes.buffer);
  readonly #i = new Int32Array(this.bytes.buffer);
  readonly #u16 = new Uint16Array(this.bytes.buffer);

  constructor(readonly kstat: boolean) {}

  /** `st_mode` (type and permission bits). */
  mode(): number {
    return this.kstat ? this.#u[KSTAT.mode / 4] : this.#u16[14];
  }

  /** The `Stat` the buffer holds. */
  stat(): Stat {
    return this.kstat ? this.#fromKstat() : this.#fromStatx();
  }

  #fromStatx(): Stat {
    // Offsets in struct statx / 4: ino 32, size 40, blocks 48, atime 64,
    // ctime 96, mtime 112 ({ i64 sec; u32 nsec }), dev major/minor 136/140.
    const u = this.#u;
    const i = this.#i;
    const mode = this.#u16[14];
    const st = {
      kind: kindOf(mode),
      dev: makedev(u[34], u[35]),
      // The low 53 bits (exact as a number): inodes differing only above
      // bit 53 (overlayfs xino) would compare equal; no filesystem numbers
      // its inodes that way.
      ino: u[8] + (u[9] & 0x1fffff) * TWO32,
      mode: mode & 0o7777,
      nlink: u[4],
      uid: u[5],
      gid: u[6],
      size: u[10] + u[11] * TWO32,
      blocks: u[12] + u[13] * TWO32,
      atimeSec: u[16] + i[17] * TWO32,
      atimeNsec: u[18],
      mtimeSec: u[28] + i[29] * TWO32,
      mtimeNsec: u[30],
      ctimeSec: u[24] + i[25] * TWO32,
      ctimeNsec: u[26],
      // stx_attributes (low half): STATX_ATTR_IMMUTABLE, _APPEND, _MOUNT_ROOT...
      attrs: u[2],
    };
    return st;
  }

  #fromKstat(): Stat {
    const u = this.#u;
    const i = this.#i;
    const k = KSTAT;
    const u64 = (off: number): number => u[off / 4] + u[off / 4 + 1] * TWO32;
    const i64 = (off: number): number => u[off / 4] + i[off / 4 + 1] * TWO32;
    const mode = u[k.mode / 4];
    const st = {
      kind: kindOf(mode),
      dev: u64(k.dev),
      ino: u[k.ino / 4] + (u[k.ino / 4 + 1] & 0x1fffff) * TWO32,
      mode: mode & 0o7777,
      nlink: k.nlink32 ? u[k.nlink / 4] : u64(k.nlink),
      uid: u[k.uid / 4],
      gid: u[k.gid / 4],
      size: i64(k.stSize),
      blocks: i64(k.blocks),
      atimeSec: i64(k.atime),
      atimeNsec: u[k.atime / 4 + 2],
      mtimeSec: i64(k.mtime),
      mtimeNsec: u[k.mtime / 4 + 2],
      ctimeSec: i64(k.ctime),
      ctimeNsec: u[k.ctime / 4 + 2],
      attrs: 0,
    };
    return st;
  }
}

/**
 * Appends the entries of `n` bytes of `linux_dirent64` records to `out`,
 * skipping `.` and `..`. Each record: u64 d_ino, i64 d_off, u16 d_reclen,
 * u8 d_type, then the NUL-terminated name. Throws EILSEQ, naming `dir`, for
 * a name that is not valid UTF-8.
 */
export function parseDirents(
  b: Uint8Array,
  n: number,
  dir: string,
  out: DirEntry[],
): void {
  for (let off = 0; off < n;) {
    const reclen = b[off + 16] | (b[off + 17] << 8);
    const start = off + 19;
    let end = b.indexOf(0, start);
    if (end === -1 || end > off + reclen) end = off + reclen;
    off += reclen;
    if (
      b[start] === 0x2e &&
      (end === start + 1 || (end === start + 2 && b[start + 1] === 0x2e))
    ) continue;
    const name = decodeUtf8(b, start, end);
    if (name === null) {
      const e = new ErrnoError(E.EILSEQ, "getdents64");
      e.message = `getdents64 failed (os error ${E.EILSEQ}): a name in ` +
        `'${dir}' is not valid UTF-8`;
      throw e;
    }
    const at = off - reclen;
    // d_ino, low 53 bits (as Stat.ino): little-endian u64 at the record start.
    const ino = (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16)) +
      (b[at + 3] * 0x1000000) +
      (b[at + 4] | (b[at + 5] << 8) | ((b[at + 6] & 0x1f) << 16)) * 2 ** 32;
    out.push({ name, kind: dtKind(b[start - 1]), ino });
  }
}
