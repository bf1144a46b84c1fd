// Copyright 2026 the safefs authors. MIT license.
/**
 * Copying one regular file (contract G5, seed bpo-30400): the source is
 * opened once, without following a symlink, and its descriptor must be the
 * file that was planned (dev, ino, and the same size, mtime and ctime); the
 * data and the metadata are then taken from that descriptor only, never by
 * opening the path again. The copy is created exclusively (O_EXCL), private
 * (0o600) until its final mode is set.
 *
 * Data, strongest first:
 * - `copy_file_range` between the two descriptors (ffi): one in-kernel copy,
 *   a reflink on xfs and btrfs; a sparse source (fewer blocks than its size)
 *   is copied segment by segment with SEEK_DATA/SEEK_HOLE, so holes stay
 *   holes;
 * - a read/write loop through one buffer (the path backend, `verify:
 *   "sha256"`, and filesystems that refuse copy_file_range); on a sparse
 *   source, all-zero chunks are skipped (left as holes).
 * Large ranges go off the main thread under the async driver, in chunks, so
 * an abort or a progress report is never more than one chunk away.
 *
 * @module
 */
import { type Dir, feat, type File, type Stat, sys } from "../_sys.ts";
import { capsOf, isUnsupported } from "../_caps.ts";
import { createTemp } from "../_temp.ts";
import { type Gen, heavy } from "../_run.ts";
import { changed, vanished } from "./walk.ts";
import type { Plan } from "./plan.ts";
import { checkAbort, type EngineOptions, type Meter } from "./options.ts";
import { SafeFsError } from "../errors.ts";

/**
 * A SHA-256 hasher from `node:crypto`, loaded on first use (`verify`):
 * importing it costs every process milliseconds at start-up.
 */
function sha256(): import("node:crypto").Hash {
  const crypto = process.getBuiltinModule(
    "node:crypto",
  ) as typeof import("node:crypto");
  return crypto.createHash("sha256");
}

/** Bytes per off-thread copy or read/write call. */
export const CHUNK = 64 << 20;
/** Buffer of the read/write loop. */
const BUF = 1 << 20;
/** Files up to this size are copied with one read and one write. */
const SMALL_RW = 64 << 10;
/** Ranges up to this size are copied with a blocking call (no thread hop). */
const SMALL = 1 << 20;

/**
 * A buffer for one copy, sized to the file: never shared, since copies
 * running at once (two calls, or one batch) each wait in the middle of
 * their loop while another runs (but see `scratch`).
 */
function bufFor(size: number): Uint8Array {
  return new Uint8Array(Math.max(1, Math.min(BUF, size)));
}

/**
 * The one buffer of every copy of a file up to `SMALL_RW` bytes: such a
 * copy is one blocking read and one blocking write, in one synchronous
 * stretch, so no other copy can use it meanwhile (a tree of 200,000 small
 * files would otherwise allocate 200,000 buffers, and V8 grows its heap
 * with the garbage).
 */
let scratch: Uint8Array | null = null;

/** The buffer of `copyData`'s loop (see `scratch`). */
function copyBuf(size: number): Uint8Array {
  return size <= SMALL_RW ? scratch ??= new Uint8Array(SMALL_RW) : bufFor(size);
}

/** What a file copy produced. */
export interface FileCopy {
  /** The inode of the copy. */
  ino: number;
  /** The copy, still open (only when asked to keep it). */
  out: File | null;
}

/** Where the file comes from and goes, and how. */
export interface FileJob {
  /** Source directory, name, path (for messages) and planned entry. */
  srcDir: Dir;
  name: string;
  path: string;
  plan: Plan;
  index: number;
  /**
   * Destination directory, its device, and the name (created exclusively;
   * for a root temp, replaced by the one it ends up with).
   */
  dstDir: Dir;
  dstDev: number;
  dstName: string;
  /** Keep the copy open (the caller closes it). */
  keep: boolean;
  /** The copy is the operation's root temp: locked (see `createTemp`). */
  root: boolean;
  /** Check the source's stamps again after the copy (single files: trees re-check later). */
  recheck: boolean;
  /**
   * The copy is made inside the operation's private temp tree (owner-only
   * root), where it may be created with its final mode at once.
   */
  private: boolean;
}

/** The final mode, when the kernel can set it at creation (no chmod needed). */
function createMode(job: FileJob, o: EngineOptions): number | null {
  if (!job.private || !o.preserve.mode) return null;
  const mode = job.plan.mode[job.index];
  const umask = sys.umask();
  if (umask === null || (mode & 0o7000) !== 0 || (mode & umask) !== 0) {
    return null;
  }
  return mode;
}

/** Granularity of the holes the read/write loop leaves (a filesystem block). */
const HOLE_BLOCK = 4096;

function zero(b: Uint8Array): boolean {
  if ((b.byteOffset & 3) !== 0) return b.every((x) => x === 0);
  const w = new Uint32Array(b.buffer, b.byteOffset, b.byteLength >>> 2);
  for (let k = 0; k < w.length; k++) if (w[k] !== 0) return false;
  for (let k = w.length << 2; k < b.length; k++) if (b[k] !== 0) return false;
  return true;
}

/**
 * The runs of `b` (read at a block-aligned offset) made of blocks that are
 * not all zeros, as [from, to) pairs: what a sparse copy has to write.
 */
function dataRuns(b: Uint8Array): [number, number][] {
  const runs: [number, number][] = [];
  for (let at = 0; at < b.length; at += HOLE_BLOCK) {
    const to = Math.min(at + HOLE_BLOCK, b.length);
    if (zero(b.subarray(at, to))) continue;
    const last = runs[runs.length - 1];
    if (last !== undefined && last[1] === at) last[1] = to;
    else runs.push([at, to]);
  }
  return runs;
}

/** Writes all of `data` at `at`: blocking for a file up to `SMALL` bytes, off-thread under the async driver otherwise. */
function* writeAt(
  out: File,
  data: Uint8Array,
  at: number,
  size: number,
): Gen<void> {
  if (size <= SMALL) sys.writeAll(out, data, at);
  else {
    yield* heavy(
      () => sys.writeAll(out, data, at),
      () => sys.writeAllAsync(out, data, at),
    );
  }
}

/** Copies one file; see the module doc. */
export function* copyFile(
  job: FileJob,
  o: EngineOptions,
  meter: Meter,
): Gen<FileCopy> {
  const { plan: p, index: i } = job;
  let src: File;
  try {
    src = sys.openAt(job.srcDir, job.name, {
      read: true,
      follow: o.dereference,
    });
  } catch (e) {
    if (e instanceof SafeFsError && e.code === "ELOOP") {
      throw changed(
        o.op,
        job.path,
        "was replaced by a symlink while it was copied",
      );
    }
    throw vanished(e, o.op, job.path);
  }
  let out: File | null = null;
  try {
    const st = sys.fstat(src);
    if (!p.sameIdentity(i, st) || !p.sameContent(i, st)) {
      throw changed(
        o.op,
        job.path,
        "was replaced or modified before it was copied",
      );
    }
    // Private until its final mode is set; without a preserved mode, the
    // kernel's default (0o666 less the umask) from the start. Inside the
    // private temp tree, a plain mode the umask keeps is set at creation.
    const early = createMode(job, o);
    const flags = {
      write: true,
      read: o.verify === "sha256",
      create: true,
      mode: early ?? (o.preserve.mode ? 0o600 : 0o666),
    };
    out = job.root
      ? createTemp(
        job.dstDir,
        job.dstName,
        (name) => sys.openAt(job.dstDir, name, flags),
        (name) => job.dstName = name,
      )
      : sys.openAt(job.dstDir, job.dstName, flags);
    const made = sys.fstat(out);
    // The umask is read once per process: if it changed since, the kernel
    // applied another one, and the mode is set as for any other copy.
    const modeSet = early !== null && (made.mode & 0o7777) === early;
    const hash = yield* copyData(src, out, st, job, o, meter);
    if (job.recheck) {
      const after = sys.fstat(src);
      if (!p.sameContent(i, after)) {
        throw changed(o.op, job.path, "was modified while it was being copied");
      }
    }
    if (hash !== null) yield* verifyData(out, st.size, hash, job, o);
    applyFileMeta(out, p, i, o, made.uid, modeSet, made.gid);
    const result: FileCopy = { ino: made.ino, out: job.keep ? out : null };
    if (job.keep) out = null;
    return result;
  } finally {
    sys.close(src);
    if (out !== null) sys.close(out);
  }
}

/**
 * Owner, mode and times of a copied file or directory, from the plan, on its
 * descriptor (`uid`: the owner it was created with, ours; `gid`: its group,
 * when known). Set-user/group-ID bits are kept only when the copy has the
 * source's owner. No chown is made when the copy already has the source's
 * owner and group (a move by the files' owner): the chmod that follows sets
 * the mode either way.
 */
export function applyFileMeta(
  out: File | Dir,
  p: Plan,
  i: number,
  o: EngineOptions,
  uid: number,
  modeSet = false,
  gid?: number,
): void {
  let mode = p.mode[i];
  let sameOwner = p.uid[i] === uid;
  if (o.preserve.owner !== false && !(sameOwner && gid === p.gid[i])) {
    try {
      sys.chown(out, p.uid[i], p.gid[i]);
      sameOwner = true;
    } catch (e) {
      if (!(o.preserve.owner === "try" && isDenied(e))) throw e;
    }
  }
  if (!sameOwner) mode &= ~0o6000;
  if (o.preserve.mode && !(modeSet && sameOwner)) sys.chmod(out, mode);
  if (o.preserve.times) {
    sys.utimes(
      out,
      { sec: p.atS[i], nsec: p.atN[i] },
      { sec: p.mtS[i], nsec: p.mtN[i] },
    );
  }
}

function isDenied(e: unknown): boolean {
  return e instanceof SafeFsError &&
    (e.code === "EPERM" || e.code === "EACCES");
}

/** Copies the data; returns the SHA-256 of what was read with `verify`. */
function* copyData(
  src: File,
  out: File,
  st: Stat,
  job: FileJob,
  o: EngineOptions,
  meter: Meter,
): Gen<string | null> {
  const size = st.size;
  const sparse = st.blocks * 512 < size;
  const dstCaps = capsOf(job.dstDev);
  // A small file is one pread and one pwrite: copy_file_range costs several
  // times more for a few bytes (measured on ext4: ~30 µs against ~5 µs).
  const small = size <= SMALL_RW;
  if (
    o.verify !== "sha256" && feat.copyRange && dstCaps.copyRange !== false &&
    !small
  ) {
    try {
      if (sparse && feat.seekHoles) {
        let pos = 0;
        while (pos < size) {
          const start = sys.seek(src, pos, "data");
          if (start < 0 || start >= size) break;
          let end = sys.seek(src, start, "hole");
          if (end < 0 || end > size) end = size;
          yield* copyRange(src, out, start, end, job, o, meter);
          pos = end;
        }
        sys.truncate(out, size);
      } else {
        yield* copyRange(src, out, 0, size, job, o, meter);
      }
      dstCaps.copyRange = true;
      return null;
    } catch (e) {
      // Refused by the filesystem (the backend already falls back to
      // sendfile across filesystems): the read/write loop.
      if (!isUnsupported(e)) throw e;
      dstCaps.copyRange = false;
      sys.truncate(out, 0);
    }
  }
  const hash = o.verify === "sha256" ? sha256() : null;
  const b = copyBuf(size);
  let pos = 0;
  while (pos < size) {
    checkAbort(o.signal, o.op, job.path);
    const want = Math.min(b.length, size - pos);
    const chunk = want === b.length ? b : b.subarray(0, want);
    const n = want <= SMALL && size <= SMALL
      ? sys.read(src, chunk, pos)
      : yield* heavy(() => sys.read(src, chunk, pos), () =>
        sys.readAsync(src, chunk, pos));
    if (n === 0) {
      throw changed(o.op, job.path, "shrank while it was being copied");
    }
    const data = n === want ? chunk : b.subarray(0, n);
    hash?.update(data);
    // A sparse source: only its blocks that hold data are written, so the
    // copy's holes are where the source's zeros are (at block granularity).
    if (sparse && hash === null) {
      for (const [from, to] of dataRuns(data)) {
        yield* writeAt(out, data.subarray(from, to), pos + from, size);
      }
    } else yield* writeAt(out, data, pos, size);
    pos += n;
    meter.tick(job.path, n, 0);
  }
  if (sparse) sys.truncate(out, size);
  return hash === null ? null : hash.digest("hex");
}

/** copy_file_range of [start, end) at the same offsets. */
function* copyRange(
  src: File,
  out: File,
  start: number,
  end: number,
  job: FileJob,
  o: EngineOptions,
  meter: Meter,
): Gen<void> {
  let pos = start;
  while (pos < end) {
    checkAbort(o.signal, o.op, job.path);
    const len = Math.min(CHUNK, end - pos);
    const at = pos;
    const n = len <= SMALL
      ? sys.copyRange(src, at, out, at, len)
      : yield* heavy(
        () => sys.copyRange(src, at, out, at, len),
        () => sys.copyRangeAsync(src, at, out, at, len),
      );
    if (n === 0) {
      throw changed(o.op, job.path, "shrank while it was being copied");
    }
    pos += n;
    meter.tick(job.path, n, 0);
  }
}

/**
 * Re-reads the copy and compares its SHA-256 with what was read from the
 * source: catches data corrupted between our read and the kernel (it reads
 * the page cache, so it does not test the medium).
 */
function* verifyData(
  out: File,
  size: number,
  expected: string,
  job: FileJob,
  o: EngineOptions,
): Gen<void> {
  const hash = sha256();
  const b = bufFor(size);
  let pos = 0;
  while (pos < size) {
    const chunk = b.subarray(0, Math.min(b.length, size - pos));
    const n = yield* heavy(
      () => sys.read(out, chunk, pos),
      () => sys.readAsync(out, chunk, pos),
    );
    if (n === 0) break;
    hash.update(b.subarray(0, n));
    pos += n;
  }
  const got = hash.digest("hex");
  if (got !== expected) {
    throw new SafeFsError(
      `Cannot ${o.op} '${job.path}': the data written does not match the data read ` +
        `(sha256 ${got} != ${expected}); nothing was published`,
      { code: "EIO", op: o.op, path: job.path },
    );
  }
}
