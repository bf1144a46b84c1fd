// Copyright 2026 the safefs authors. MIT license.
/**
 * The copy engine shared by `copy()` and the cross-filesystem path of `move()`.
 *
 * It works in two steps:
 * 1. `plan()` walks the source once (iteratively, never following symlinks unless
 *    asked) and records every entry with its lstat: its identity (dev, ino), its
 *    type, size, mode and times. Special files, symlink loops and mount points are
 *    found here, before anything is written.
 * 2. `build()` creates the copy under ONE temp name beside the destination. Every
 *    source file is opened once, its handle's stat must match the planned lstat
 *    (seed 000, bpo-30400), data is read only through the handle, and the handle
 *    is stat'ed again at the end: a source whose size, mtime or ctime moved is
 *    reported with `SourceChangedError`. Mode, owner and times are applied to the
 *    temp before it is made durable; directory times after their children.
 *
 * The caller publishes the temp with one rename (or link / rename onto its own
 * empty directory for no-clobber, `publishTemp`) and removes it on any failure
 * (`removeOwnTree`). The build ends by examining a tree's source again
 * (`checkUnchanged()`): a tree that gained, lost or replaced entries while it
 * was copied is reported.
 *
 * File data is moved by one of two strategies (see `tuning` and
 * bench/copy_bench.ts for the measurements behind them):
 * - the handle loop: `read` from the identity-checked source handle into one
 *   reused 1 MiB buffer, `write` to the temp's handle. Every byte comes from
 *   the inode that was checked. Used for files under 1 MiB, with
 *   `verify: "sha256"`, for set-user/group-ID files, without a preserved
 *   mode, and whenever the seam has no kernel copy (`sys.copyFile` is
 *   optional: a backend without one gets the loop).
 * - the kernel copy: `sys.copyFile` (Deno.copyFile, i.e. copy_file_range, one
 *   in-kernel copy instead of two user-space ones) onto the temp this call
 *   created exclusively, with the identity re-verification described at
 *   `kernelCopy()`. Used for the other files of at least 1 MiB; with a
 *   `signal` or `onProgress`, only up to 8 MiB (one kernel copy can be neither
 *   aborted nor reported on while it runs).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { basename, dirname, join, under } from "./_path.ts";
import { type FileInfo, type Handle, sys } from "./_sys.ts";
import { forEachLimited, Pacer } from "./_pace.ts";
import { checkFollowedLink } from "./_perm.ts";
import { renameDirNoClobber } from "./_publish.ts";
import { tempPathFor } from "./_temp.ts";
import {
  AbortedError,
  CrossDeviceError,
  NotFoundError,
  PermissionError,
  SafeFsError,
  SourceChangedError,
  UnsupportedFileTypeError,
} from "./errors.ts";

/** Progress of a copy, move or write. */
export interface Progress {
  /** Bytes of file data copied so far. */
  bytesDone: number;
  /** Bytes of file data to copy in all. */
  bytesTotal: number;
  /** Entries (files, symlinks, directories) finished so far. */
  filesDone: number;
  /** Entries to copy in all. */
  filesTotal: number;
  /** The source path being worked on. */
  path: string;
}

/** What the engine must keep of the source's metadata. */
export interface PreserveOptions {
  /**
   * Copy the permission bits (else files get 0o666 and directories 0o777,
   * less the umask, applied by the kernel at creation).
   * @default {true}
   */
  mode?: boolean;
  /**
   * Copy access and modification times (symlinks' own times are not copied:
   * Deno cannot set them).
   * @default {true}
   */
  times?: boolean;
  /**
   * Copy owner and group. `true` fails when that is not permitted; `"try"`
   * copies them where permitted and ignores EPERM.
   * @default {false}
   */
  owner?: boolean | "try";
}

/** Options of the engine (already defaulted by the caller). */
export interface EngineOptions {
  op: string;
  durable: boolean;
  dereference: boolean;
  preserve: Required<PreserveOptions>;
  verify: "none" | "sha256";
  /** What to do with a directory on another filesystem inside the tree. */
  mounts: "fail" | "skip" | "cross";
  signal?: AbortSignal | undefined;
  onProgress?: ((p: Progress) => void) | undefined;
}

type Kind = "file" | "dir" | "symlink";

/** One planned entry. */
export interface PlanEntry {
  /** Path relative to the source root ("" for the root itself). */
  rel: string;
  kind: Kind;
  info: FileInfo;
  /** Symlink target (kind "symlink"). */
  target?: string;
  /** Index of an earlier file entry that is the same inode (hard link). */
  linkOf?: number;
}

/** The result of `plan()`. */
export interface Plan {
  root: string;
  entries: PlanEntry[];
  bytesTotal: number;
  /** Mount points left out (mounts: "skip"). */
  skippedMounts: string[];
}

/** Same file object: device, inode and type. */
export function sameIdentity(a: FileInfo, b: FileInfo): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.isFile === b.isFile &&
    a.isDirectory === b.isDirectory && a.isSymlink === b.isSymlink;
}

/** Same content as far as stat can tell: size, mtime, ctime. */
export function sameContent(a: FileInfo, b: FileInfo): boolean {
  return a.size === b.size && a.mtime?.getTime() === b.mtime?.getTime() &&
    a.ctime?.getTime() === b.ctime?.getTime();
}

/** Throws `AbortedError` when the signal has fired. */
export function checkAbort(
  signal: AbortSignal | undefined,
  op: string,
  path: string,
): void {
  if (signal?.aborted) {
    throw new AbortedError(`Operation ${op} on '${path}' was aborted`, {
      code: "ABORT_ERR",
      op,
      path,
      cause: signal.reason,
    });
  }
}

function kindOf(info: FileInfo): Kind | null {
  if (info.isFile) return "file";
  if (info.isDirectory) return "dir";
  if (info.isSymlink) return "symlink";
  return null;
}

/** A name for a non-regular, non-directory, non-symlink file type. */
export function specialKind(info: FileInfo): string {
  if (info.isFifo) return "a FIFO";
  if (info.isSocket) return "a socket";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  return "a special file";
}

function unsupported(
  op: string,
  path: string,
  info: FileInfo,
): UnsupportedFileTypeError {
  return new UnsupportedFileTypeError(
    `Cannot ${op} '${path}': it is ${
      specialKind(info)
    }, not a regular file, directory or symlink`,
    { code: "EFTYPE", op, path },
  );
}

/**
 * Walks the source and records every entry. `rootInfo` is the caller's lstat
 * (or stat, with dereference) of the root.
 */
export async function plan(
  root: string,
  rootInfo: FileInfo,
  o: EngineOptions,
): Promise<Plan> {
  const entries: PlanEntry[] = [];
  const skippedMounts: string[] = [];
  const inodes = new Map<string, number>();
  let bytesTotal = 0;

  const add = async (rel: string, info: FileInfo): Promise<void> => {
    const path = under(root, rel);
    const kind = kindOf(info);
    if (kind === null) throw unsupported(o.op, path, info);
    const entry: PlanEntry = { rel, kind, info };
    if (kind === "symlink") entry.target = await sys.readLink(path);
    if (kind === "file") {
      if ((info.nlink ?? 1) > 1) {
        const key = `${info.dev}:${info.ino}`;
        const first = inodes.get(key);
        if (first !== undefined) entry.linkOf = first;
        else inodes.set(key, entries.length);
      }
      if (entry.linkOf === undefined) bytesTotal += info.size;
    }
    entries.push(entry);
  };

  await add("", rootInfo);
  if (!rootInfo.isDirectory) {
    return { root, entries, bytesTotal, skippedMounts };
  }

  // Iterative walk: a stack of directories with the chain of (dev:ino) of their
  // ancestors, so that following symlinks (dereference) cannot loop.
  const stack: { rel: string; info: FileInfo; ancestors: Set<string> }[] = [
    {
      rel: "",
      info: rootInfo,
      ancestors: new Set([`${rootInfo.dev}:${rootInfo.ino}`]),
    },
  ];
  // Synchronous stat calls, paced (see _pace.ts): an async lstat per entry
  // cost more than the filesystem's own work.
  const pacer = new Pacer();
  while (stack.length > 0) {
    const dir = stack.pop()!;
    const dirPath = under(root, dir.rel);
    await pacer.pace();
    checkAbort(o.signal, o.op, dirPath);
    const list = sys.readDirSync(dirPath);
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: { rel: string; info: FileInfo; ancestors: Set<string> }[] =
      [];
    for (const ent of list) {
      const rel = dir.rel === "" ? ent.name : `${dir.rel}/${ent.name}`;
      const path = under(root, rel);
      await pacer.pace();
      let info = sys.lstatSync(path);
      if (info.isSymlink && o.dereference) {
        // Followed on purpose: where it leads must be readable too (G8).
        await checkFollowedLink(o.op, path);
        info = sys.statSync(path);
      }
      if (info.isDirectory) {
        if (info.dev !== rootInfo.dev) {
          if (o.mounts === "skip") {
            skippedMounts.push(path);
            continue;
          }
          if (o.mounts === "fail") {
            throw new CrossDeviceError(
              `Cannot ${o.op} '${root}': '${path}' is a mount point of another filesystem inside it`,
              { code: "EXDEV", op: o.op, path },
            );
          }
        }
        const id = `${info.dev}:${info.ino}`;
        if (dir.ancestors.has(id)) {
          throw new SafeFsError(
            `Cannot ${o.op} '${root}': '${path}' leads back to one of its own parents (symlink loop)`,
            { code: "ELOOP", op: o.op, path },
          );
        }
        await add(rel, info);
        subdirs.push({ rel, info, ancestors: new Set(dir.ancestors).add(id) });
      } else {
        await add(rel, info);
      }
    }
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]);
  }
  return { root, entries, bytesTotal, skippedMounts };
}

/**
 * The engine's copy strategy knobs. Internal: benchmarks and tests change them
 * to measure or force one strategy; nothing else should.
 */
export const tuning = {
  /**
   * Buffer size of the handle loop. 256 KiB-1 MiB copy fastest here (the
   * buffer stays in cache); 4-16 MiB were 5-20% slower (bench/copy_bench.ts).
   */
  chunkSize: 1 << 20,
  /**
   * Files of at least this size use the kernel copy when the seam has one.
   * Below it the handle loop needs fewer calls (open, read, write) than the
   * kernel copy plus its re-verification.
   */
  kernelCopyMin: 1 << 20,
  /**
   * With a `signal` or `onProgress`, files larger than this use the handle loop
   * even when the kernel copy is available: one kernel copy can be neither
   * aborted nor reported on until it has finished.
   */
  kernelCopyResponsiveMax: 8 << 20,
  /**
   * Entries of a tree copied at once (files, symlinks, hard links; the
   * directories are made first, one by one). See `build()`.
   */
  concurrency: 8,
  /**
   * Files up to this size are copied with synchronous calls (all but the
   * fsync), paced so the event loop still runs every few milliseconds.
   */
  syncMax: 64 << 10,
};

/**
 * The seam's in-kernel file copy, when the backend has one: `Deno.copyFile`
 * (copy_file_range(2), or sendfile across filesystems). It is path based and
 * follows symlinks at both ends, so `kernelCopy()` only points it at a temp this
 * call created exclusively and re-verifies both ends afterwards.
 */
function seamCopyFile(): ((from: string, to: string) => Promise<void>) | null {
  const f = (sys as { copyFile?: (a: string, b: string) => Promise<void> })
    .copyFile;
  return typeof f === "function" ? f : null;
}

class ProgressMeter {
  bytesDone = 0;
  filesDone = 0;
  constructor(private total: Plan, private o: EngineOptions) {}
  tick(path: string, bytes: number, files: number): void {
    this.bytesDone += bytes;
    this.filesDone += files;
    if (this.o.onProgress) {
      this.o.onProgress({
        bytesDone: this.bytesDone,
        bytesTotal: this.total.bytesTotal,
        filesDone: this.filesDone,
        filesTotal: this.total.entries.length,
        path,
      });
    }
  }
}

function changed(op: string, path: string, what: string): SourceChangedError {
  return new SourceChangedError(
    `Cannot ${op} '${path}': the source ${what}; nothing was published`,
    {
      code: "ESRCCHANGED",
      op,
      path,
    },
  );
}

async function applyOwner(
  p: string,
  info: FileInfo,
  o: EngineOptions,
  io: FileIO = asyncIO,
): Promise<void> {
  if (o.preserve.owner === false) return;
  try {
    await io.chown(p, info.uid, info.gid);
  } catch (e) {
    if (
      o.preserve.owner === "try" && e instanceof SafeFsError &&
      (e.code === "EPERM" || e.code === "EACCES")
    ) {
      return;
    }
    throw e;
  }
}

/**
 * The mode a copied file or directory ends with, or `null` for "the default
 * less the umask". That default is left to the kernel (the entry is created
 * with 0o666 / 0o777 and no chmod follows): reading the umask needs
 * `--allow-sys`, which a copy should not require.
 */
function finalMode(
  info: FileInfo,
  dir: boolean,
  o: EngineOptions,
): number | null {
  if (o.preserve.mode) return (info.mode ?? (dir ? 0o755 : 0o644)) & 0o7777;
  return null;
}

/**
 * The calls one file copy makes: the async seam, or (`syncIO`) its synchronous
 * twins. `await` on a plain value costs a microtask, not a trip through the
 * event loop, so one code path serves both.
 */
interface FileIO {
  open(p: string, o: Deno.OpenOptions): Handle | Promise<Handle>;
  fstat(h: Handle): FileInfo | Promise<FileInfo>;
  read(h: Handle, buf: Uint8Array): number | null | Promise<number | null>;
  writeAll(h: Handle, buf: Uint8Array): void | Promise<void>;
  chown(
    p: string,
    uid: number | null,
    gid: number | null,
  ): void | Promise<void>;
  chmod(p: string, mode: number): void | Promise<void>;
  futime(h: Handle, atime: Date, mtime: Date): void | Promise<void>;
}

const asyncIO: FileIO = {
  open: (p, opts) => sys.open(p, opts),
  fstat: (h) => sys.fstat(h),
  read: (h, buf) => sys.read(h, buf),
  writeAll: (h, buf) => sys.writeAll(h, buf),
  chown: (p, uid, gid) => sys.chown(p, uid, gid),
  chmod: (p, mode) => sys.chmod(p, mode),
  futime: (h, a, m) => sys.futime(h, a, m),
};

/**
 * Synchronous calls for small files (`tuning.syncMax`): an async Deno call
 * costs 20-200 µs of thread hand-off, more than the filesystem work of a
 * small file; the caller paces them (see _pace.ts). fsync stays async.
 */
const syncIO: FileIO = {
  open: (p, opts) => sys.openSync(p, opts),
  fstat: (h) => sys.fstatSync(h),
  read: (h, buf) => sys.readSync(h, buf),
  writeAll: (h, buf) => sys.writeAllSync(h, buf),
  chown: (p, uid, gid) => sys.chownSync(p, uid, gid),
  chmod: (p, mode) => sys.chmodSync(p, mode),
  futime: (h, a, m) => sys.futimeSync(h, a, m),
};

/**
 * Opens the source file `src` and checks that the handle is the file planned
 * (`expected`: same identity, same size, mtime and ctime) before anything is
 * read through it (seed 000, bpo-30400). Returns the handle and its fstat;
 * closes it on a mismatch.
 */
async function openChecked(
  io: FileIO,
  src: string,
  expected: FileInfo,
  o: EngineOptions,
): Promise<[Handle, FileInfo]> {
  let input: Handle;
  try {
    input = await io.open(src, { read: true });
  } catch (e) {
    throw vanished(e, o.op, src);
  }
  try {
    const before = await io.fstat(input);
    if (!sameIdentity(before, expected)) {
      throw changed(
        o.op,
        src,
        "was replaced by another file between lstat and open",
      );
    }
    if (!sameContent(before, expected)) {
      throw changed(o.op, src, "was modified after it was examined");
    }
    return [input, before];
  } catch (e) {
    sys.close(input);
    throw e;
  }
}

/**
 * Copies one regular file through an identity-checked handle into `tmp`, which
 * is created exclusively. On return `tmp` is complete, has its final owner,
 * mode and times, and (durable) its data and metadata are on disk.
 */
async function copyFileData(
  src: string,
  expected: FileInfo,
  tmp: string,
  o: EngineOptions,
  meter: ProgressMeter,
  buf: () => Uint8Array,
  io: FileIO = asyncIO,
  rechecked = false,
): Promise<void> {
  const [input, before] = await openChecked(io, src, expected, o);
  try {
    const mode = finalMode(expected, false, o);
    const kernel = seamCopyFile();
    const responsive = o.signal !== undefined || o.onProgress !== undefined;
    const srcMode = (before.mode ?? 0o7777) & 0o7777;
    let output: Handle;
    if (
      kernel !== null && o.verify === "none" && mode !== null &&
      before.size >= tuning.kernelCopyMin &&
      (!responsive || before.size <= tuning.kernelCopyResponsiveMax) &&
      // Deno.copyFile gives the file the source's mode while it copies: only
      // when that grants nothing the final mode does not, and never a
      // set-user/group-ID mode (a partly written copy, owned by the copier,
      // must not be executable with its rights).
      (srcMode & ~mode) === 0 && (srcMode & 0o6000) === 0
    ) {
      output = await kernelCopy(kernel, src, input, before, tmp, o);
      meter.tick(src, before.size, 0);
    } else {
      // A preserved mode is set by chmod once the data is in (0o600 until
      // then); the umask default is given at creation, never changed after.
      output = await io.open(tmp, {
        write: true,
        createNew: true,
        mode: mode === null ? 0o666 : 0o600,
      });
      try {
        await loopCopy(
          src,
          input,
          before,
          tmp,
          output,
          o,
          meter,
          buf(),
          io,
          rechecked,
        );
      } catch (e) {
        sys.close(output);
        throw e;
      }
    }
    try {
      // Owner before mode: chown clears the set-user/group-ID bits.
      await applyOwner(tmp, expected, o, io);
      let m = mode;
      if (m !== null && (m & 0o6000) !== 0) {
        // Set-user/group-ID only for the same owner/group: copying another
        // user's set-user-ID program must not make it run as the copier.
        const mine = await io.fstat(output);
        if (mine.uid !== expected.uid) m &= ~0o4000;
        if (mine.gid !== expected.gid) m &= ~0o2000;
      }
      if (m !== null) await io.chmod(tmp, m);
      if (o.preserve.times && expected.mtime) {
        await io.futime(
          output,
          expected.atime ?? expected.mtime,
          expected.mtime,
        );
      }
      if (o.durable) await sys.fsync(output);
    } finally {
      sys.close(output);
    }
  } finally {
    sys.close(input);
  }
}

/**
 * True when `copySmallFile()` may copy this entry: a small file INSIDE a tree
 * (not the root), not durable (its fsync needs a handle on the copy), no hash
 * to verify, and no set-user/group-ID bit to decide on.
 *
 * Inside a tree because the copy is created with the umask's default mode and
 * only then given its preserved mode: that is safe only where no other user
 * can reach the file meanwhile. A tree's directories are built owner-only
 * (0o700) until the end when the mode is preserved; without a preserved mode
 * the default IS the final mode. A root file lives beside the destination,
 * reachable by anyone who can list that directory, so it takes the handle
 * path, created 0o600.
 */
function smallPathFits(e: PlanEntry, o: EngineOptions): boolean {
  return e.rel !== "" && e.info.size <= tuning.syncMax && !o.durable &&
    o.verify === "none" && ((e.info.mode ?? 0) & 0o6000) === 0;
}

/**
 * `copyFileData()` for a small file in a tree when not durable, with the fewest trips
 * through Deno: the source is opened, identity-checked and read with
 * synchronous calls (through the handle, exactly `size` bytes), and the copy
 * is created exclusively with its data in one call on Deno's thread pool
 * (`sys.createFile`), so that the kernel's work of creating files (most of
 * the cost on ext4) overlaps the next files' reads. Owner, mode and times are
 * then set by path on that fresh name in our own temp tree, as the handle
 * path does for the mode.
 */
async function copySmallFile(
  src: string,
  expected: FileInfo,
  tmp: string,
  o: EngineOptions,
  meter: ProgressMeter,
  buf: Uint8Array,
  rechecked: boolean,
): Promise<void> {
  const [input, before] = await openChecked(syncIO, src, expected, o);
  let copied = 0;
  try {
    while (copied < before.size) {
      const n = sys.readSync(input, buf.subarray(copied, before.size));
      if (n === null || n === 0) break;
      copied += n;
    }
    const after = rechecked ? before : sys.fstatSync(input);
    if (!sameContent(before, after) || copied !== before.size) {
      throw changed(o.op, src, "was modified while it was being copied");
    }
  } finally {
    sys.close(input);
  }
  const mode = finalMode(expected, false, o);
  // Created with the umask default (see smallPathFits for why that is safe);
  // a preserved mode is set by chmod after the data is in.
  await sys.createFile(tmp, buf.subarray(0, copied));
  meter.tick(src, copied, 0);
  await applyOwner(tmp, expected, o, syncIO);
  if (mode !== null) sys.chmodSync(tmp, mode);
  if (o.preserve.times && expected.mtime) {
    sys.utimeSync(tmp, expected.atime ?? expected.mtime, expected.mtime);
  }
}

/**
 * The handle loop: every byte is read through the identity-checked `input`
 * handle. Afterwards the handle is stat'ed again (unless `rechecked`: a tree,
 * whose files `build()` examines again at its end): a size, mtime or ctime that moved, or a byte count that differs
 * from the size, means the source was written to while it was read.
 */
async function loopCopy(
  src: string,
  input: Handle,
  before: FileInfo,
  tmp: string,
  output: Handle,
  o: EngineOptions,
  meter: ProgressMeter,
  buf: Uint8Array,
  io: FileIO,
  rechecked: boolean,
): Promise<void> {
  const hash = o.verify === "sha256" ? createHash("sha256") : null;
  let copied = 0;
  // Read exactly the size seen at open (no extra read for EOF): a file that
  // grew or shrank meanwhile is caught by the fstat below.
  while (copied < before.size) {
    checkAbort(o.signal, o.op, src);
    const n = await io.read(input, buf);
    if (n === null || n === 0) break;
    const chunk = buf.subarray(0, n);
    hash?.update(chunk);
    await io.writeAll(output, chunk);
    copied += n;
    meter.tick(src, n, 0);
  }
  const after = rechecked ? before : await io.fstat(input);
  if (!sameContent(before, after) || copied !== before.size) {
    throw changed(o.op, src, "was modified while it was being copied");
  }
  if (hash !== null) {
    await verifyTemp(tmp, output, hash.digest("hex"), o, buf);
  }
}

/**
 * The kernel copy: `copyFile` copies inside the kernel, but it opens both
 * paths again by itself (following symlinks) and truncates an existing
 * destination. What makes that safe, and how far:
 *
 * The destination is a fresh name (`data`) inside a directory this call has
 * just created with mode 0o700 (`mkdir` fails if the name exists): no other
 * non-root user can put anything there, so copyFile creates a new file and
 * cannot be led through a planted symlink. (It is not created beforehand on
 * purpose: O_TRUNC of an existing empty file makes ext4 start writeback of the
 * whole file when it is closed, `auto_da_alloc`, which halved throughput.)
 * The finished file is then given the name `tmp` with `link` (EEXIST if anything
 * is there) and the private directory is removed.
 *
 * Before the copy: `input` is our open handle on the source and its fstat
 * matched the planned lstat (same dev/ino/type, same size/mtime/ctime).
 * After it we check, in this order:
 * 1. fstat(input) still shows the same size, mtime and ctime: the inode we
 *    checked was not written to (or truncated, chmod'ed, linked, renamed)
 *    while the copy ran.
 * 2. stat(src) (following symlinks, as copyFile did) names that same inode,
 *    with the same size/mtime/ctime: the path still leads to it.
 * 3. The copy, opened again, has exactly the source's size.
 *
 * What that guarantees: the copy holds `size` bytes, and the path led to our
 * unchanged inode both when we opened it and after the copy. Replacing the file
 * at `src` and putting it back in between needs a rename, link or unlink of our
 * inode, each of which moves its ctime, which check 1 sees.
 *
 * What it does not: Deno reports times in milliseconds, so a change within the
 * same millisecond as the source's last ctime is invisible; and a swap of an
 * ANCESTOR directory of `src` (rename the directory away, put another in its
 * place, put it back) does not touch our inode and is not seen. The handle loop
 * (every byte read through the checked handle) has neither gap; so has
 * `verify: "sha256"`, which always uses it.
 *
 * Returns a write handle on `tmp`, for the caller's futime and fsync.
 */
async function kernelCopy(
  copyFile: (a: string, b: string) => Promise<void>,
  src: string,
  input: Handle,
  before: FileInfo,
  tmp: string,
  o: EngineOptions,
): Promise<Handle> {
  checkAbort(o.signal, o.op, src);
  const priv = tempPathFor(tmp);
  await sys.mkdir(priv, 0o700);
  const data = join(priv, "data");
  let output: Handle | null = null;
  try {
    await copyFile(src, data);
    output = await sys.open(data, { write: true });
    const after = await sys.fstat(input);
    if (!sameContent(before, after)) {
      throw changed(o.op, src, "was modified while it was being copied");
    }
    let atPath: FileInfo;
    try {
      atPath = await sys.stat(src);
    } catch (e) {
      throw vanished(e, o.op, src);
    }
    if (!sameIdentity(atPath, before) || !sameContent(atPath, before)) {
      throw changed(
        o.op,
        src,
        "was replaced by another file while it was being copied",
      );
    }
    const written = await sys.fstat(output);
    if (!written.isFile || written.size !== before.size) {
      throw new SafeFsError(
        `Cannot ${o.op} '${src}': the kernel copy wrote ${written.size} of ` +
          `${before.size} bytes; nothing was published`,
        { code: "EIO", op: o.op, path: src, dest: data },
      );
    }
    checkAbort(o.signal, o.op, src);
    await sys.link(data, tmp);
    await sys.unlink(data);
    await sys.rmdir(priv);
    return output;
  } catch (e) {
    if (output !== null) sys.close(output);
    await removeOwnTree(priv);
    throw e;
  }
}

/**
 * Re-reads what was written to `tmp` (through a new handle, checked to be the
 * same inode as `output`) and compares its SHA-256 with `expected`, the hash of
 * what was read from the source. This catches data corrupted between our read
 * and the kernel (a bug, a faulty buffer, a misbehaving FUSE or network
 * filesystem); it reads back the page cache, so it does not test the medium.
 */
async function verifyTemp(
  tmp: string,
  output: Handle,
  expected: string,
  o: EngineOptions,
  buf: Uint8Array,
): Promise<void> {
  const h = await sys.open(tmp, { read: true });
  try {
    const [mine, reread] = [await sys.fstat(output), await sys.fstat(h)];
    if (!sameIdentity(mine, reread)) {
      throw new SafeFsError(
        `Cannot ${o.op} to '${tmp}': the temp was replaced by someone else; nothing was published`,
        { code: "EIO", op: o.op, path: tmp },
      );
    }
    const hash = createHash("sha256");
    while (true) {
      const n = await sys.read(h, buf);
      if (n === null || n === 0) break;
      hash.update(buf.subarray(0, n));
    }
    const got = hash.digest("hex");
    if (got !== expected) {
      throw new SafeFsError(
        `Cannot ${o.op} to '${tmp}': the data written does not match the data read ` +
          `(sha256 ${got} != ${expected}); nothing was published`,
        { code: "EIO", op: o.op, path: tmp },
      );
    }
  } finally {
    sys.close(h);
  }
}

/** A planned source entry that is gone: the tree changed under us. */
function vanished(e: unknown, op: string, path: string): unknown {
  if (!(e instanceof NotFoundError)) return e;
  return new SourceChangedError(
    `Cannot ${op} '${path}': it disappeared while it was being copied; nothing was published`,
    { code: "ESRCCHANGED", op, path, cause: e },
  );
}

/**
 * Builds the planned copy at `tmp` (which must not exist). On failure the
 * caller removes `tmp` with `removeOwnTree`; every copy started here has
 * settled by then.
 *
 * Three phases:
 * 1. the directories, parents first (plan order), owner-writable;
 * 2. files, symlinks and hard links, up to `tuning.concurrency` at a time.
 *    Creating a file is mostly waiting on the filesystem (on ext4 here an
 *    `open(O_CREAT)` costs 0.3-0.5 ms, nearly all of it blocked, not CPU), and
 *    Deno runs async calls on its blocking thread pool, so a few copies in
 *    flight overlap that wait (10,000 small files: 1.6x `cp -a` one at a
 *    time, 0.85x with 8 in flight). A hard link waits for the copy of the
 *    file it names. After the first failure no new entry is started;
 * 3. directory owner, mode and times, deepest first (so finishing a child does
 *    not move its parent's mtime), then their fsync;
 * 4. a tree's source is examined again (`checkUnchanged()`): an entry
 *    replaced while it was walked or copied (a directory swapped for a
 *    symlink to elsewhere, a file rewritten) fails the build, before the
 *    caller publishes anything or removes a source.
 *
 * Step 4 lstats every file again and compares its identity, size, mtime and
 * ctime with the plan. That covers what the fstat of each source handle after
 * its read would see (a write to the inode moves its mtime and ctime), so in
 * a tree (`rechecked`) that fstat is skipped: one call less per file.
 */
export async function build(
  p: Plan,
  tmp: string,
  o: EngineOptions,
): Promise<void> {
  const rechecked = p.entries[0].kind === "dir";
  const meter = new ProgressMeter(p, o);
  const n = p.entries.length;
  const temps: string[] = new Array(n);
  const srcs: string[] = new Array(n);
  const dirs: number[] = [];
  let largest = 0;
  for (let i = 0; i < n; i++) {
    const e = p.entries[i];
    srcs[i] = under(p.root, e.rel);
    temps[i] = under(tmp, e.rel);
    if (e.kind === "dir") dirs.push(i);
    else if (e.kind === "file" && e.info.size > largest) largest = e.info.size;
  }

  for (const i of dirs) {
    checkAbort(o.signal, o.op, srcs[i]);
    // A preserved mode is set after the children (owner rwx until then).
    await sys.mkdir(temps[i], o.preserve.mode ? 0o700 : 0o777);
    meter.tick(srcs[i], 0, 1);
  }

  // Each lane owns one buffer, sized for the largest file it may loop over.
  const bufSize = Math.max(1, Math.min(tuning.chunkSize, largest));
  const buffers: Uint8Array[] = [];
  const started: Promise<void>[] = new Array(n);
  const pacer = new Pacer();
  const one = async (i: number, lane: number): Promise<void> => {
    const e = p.entries[i];
    checkAbort(o.signal, o.op, srcs[i]);
    if (e.kind === "symlink") {
      await sys.symlink(e.target!, temps[i]);
    } else if (e.linkOf !== undefined) {
      await started[e.linkOf];
      await sys.link(temps[e.linkOf], temps[i]);
    } else {
      const buf = (): Uint8Array => (buffers[lane] ??= new Uint8Array(bufSize));
      const small = e.info.size <= tuning.syncMax;
      // Synchronous calls: let the event loop run every few milliseconds.
      if (small) await pacer.pace();
      if (smallPathFits(e, o)) {
        await copySmallFile(
          srcs[i],
          e.info,
          temps[i],
          o,
          meter,
          buf(),
          rechecked,
        );
      } else {
        await copyFileData(
          srcs[i],
          e.info,
          temps[i],
          o,
          meter,
          buf,
          small ? syncIO : asyncIO,
          rechecked,
        );
      }
    }
    meter.tick(srcs[i], 0, 1);
  };
  const rest: number[] = [];
  for (let i = 0; i < n; i++) if (p.entries[i].kind !== "dir") rest.push(i);
  // `started[i]` is set before `one(i)` first awaits, so a hard link (always
  // after the file it names, in plan order) finds the copy it must wait for.
  await forEachLimited(
    rest,
    tuning.concurrency,
    (i, lane) => (started[i] = one(i, lane)),
  );

  for (let k = dirs.length - 1; k >= 0; k--) {
    const e = p.entries[dirs[k]];
    const dst = temps[dirs[k]];
    const mode = finalMode(e.info, true, o);
    await applyOwner(dst, e.info, o);
    // Keep the owner's rwx while we still need to fsync; the final mode is set
    // after the fsync below when it lacks them.
    if (mode !== null) await sys.chmod(dst, mode | 0o700);
    if (o.preserve.times && e.info.mtime) {
      await sys.utime(dst, e.info.atime ?? e.info.mtime, e.info.mtime);
    }
    if (o.durable) await sys.fsyncDir(dst);
    if (mode !== null && (mode & 0o700) !== 0o700) {
      await sys.chmod(dst, mode);
    }
  }
  if (rechecked) await checkUnchanged(p, o);
}

/**
 * `Deno.symlink` needs UNSCOPED `--allow-read` and `--allow-write` (a path
 * grant is not enough). A plan with symlinks is checked here, before anything
 * is created (G8), instead of failing halfway through the build.
 */
export function checkSymlinkPermission(p: Plan, op: string): void {
  const link = p.entries.find((e) => e.kind === "symlink");
  if (link === undefined) return;
  for (const kind of ["read", "write"] as const) {
    if (sys.permission({ name: kind }) !== "granted") {
      const path = link.rel === "" ? p.root : join(p.root, link.rel);
      const flag = `--allow-${kind}`;
      throw new PermissionError(
        `Cannot ${op} '${p.root}': it holds symlinks (such as '${path}'), and ` +
          `Deno creates symlinks only with unscoped --allow-read and ` +
          `--allow-write (run with ${flag})`,
        { code: "ENOTCAPABLE", op, path, flag },
      );
    }
  }
}

/**
 * Re-examines a tree's source at the end of `build()`: every planned entry must still be
 * there with the same identity (and, for files, the same size, mtime and
 * ctime), and every planned directory must hold exactly the planned names. A
 * tree that gained, lost or replaced entries while it was copied is reported
 * with `SourceChangedError` (nothing is published); it is never walked again.
 */
async function checkUnchanged(p: Plan, o: EngineOptions): Promise<void> {
  const children = new Map<string, Set<string>>();
  for (const e of p.entries) {
    if (e.kind === "dir") children.set(e.rel, new Set());
    if (e.rel !== "") {
      children.get(e.rel.includes("/") ? dirname(e.rel) : "")?.add(
        basename(e.rel),
      );
    }
  }
  for (const m of p.skippedMounts) {
    const rel = m.slice(p.root.length + 1);
    children.get(rel.includes("/") ? dirname(rel) : "")?.add(basename(rel));
  }
  const pacer = new Pacer();
  for (const e of p.entries) {
    const path = under(p.root, e.rel);
    await pacer.pace();
    checkAbort(o.signal, o.op, path);
    let now: FileInfo;
    try {
      now = o.dereference ? sys.statSync(path) : sys.lstatSync(path);
    } catch (err) {
      throw vanished(err, o.op, path);
    }
    if (
      !sameIdentity(now, e.info) ||
      (e.kind === "file" && !sameContent(now, e.info))
    ) {
      throw changed(o.op, path, "was replaced or modified while it was copied");
    }
    if (e.kind === "dir") {
      const want = children.get(e.rel)!;
      const names = sys.readDirSync(path);
      const extra = names.find((n) => !want.has(n.name));
      if (extra !== undefined || names.length !== want.size) {
        const what = extra !== undefined
          ? `gained '${extra.name}'`
          : "lost entries";
        throw changed(o.op, path, `${what} while it was copied`);
      }
    }
  }
}

/**
 * Publishes a finished temp at `d` with one atomic step: `rename` (overwrite),
 * `link` then unlink of the temp (a file or symlink, no-clobber), or a rename
 * that cannot replace anything (a directory, no-clobber; see `_publish.ts`).
 * Errors are the seam's (EEXIST, ENOTEMPTY, ... for a taken destination).
 * After a successful `rename` the temp name is never touched again (it may
 * already be someone else's); after a `link` the temp is a second name of
 * `d`, and failing to remove it does not fail the publish (`sweep()` finds it).
 */
export async function publishTemp(
  tmp: string,
  d: string,
  kind: "file" | "dir" | "symlink",
  empty: boolean,
  overwrite: boolean,
): Promise<void> {
  if (overwrite) {
    await sys.rename(tmp, d);
  } else if (kind !== "dir") {
    await sys.link(tmp, d);
    await sys.unlink(tmp).catch(() => removeOwnTree(tmp));
  } else {
    await renameDirNoClobber(tmp, d, empty);
  }
}

/**
 * Removes a temp tree that this operation created (never a user's data): an
 * iterative walk that never follows symlinks. Errors are swallowed: it runs on
 * the failure path, where the original error is what the caller reports. A
 * second pass retries what failed once (a transient error); what still remains
 * is recognisable by its name and left to `sweep()`.
 */
export async function removeOwnTree(path: string): Promise<void> {
  for (let pass = 0; pass < 2; pass++) {
    if (await removeOwnTreeOnce(path)) return;
  }
}

async function removeOwnTreeOnce(path: string): Promise<boolean> {
  try {
    const info = await sys.lstat(path);
    if (!info.isDirectory) {
      await sys.unlink(path);
      return true;
    }
  } catch (e) {
    return e instanceof NotFoundError;
  }
  let ok = true;
  const stack: { path: string; listed: boolean }[] = [{ path, listed: false }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.listed) {
      stack.pop();
      await sys.rmdir(top.path).catch(() => ok = false);
      continue;
    }
    top.listed = true;
    try {
      await sys.chmod(top.path, 0o700);
      for (const ent of await sys.readDir(top.path)) {
        const child = join(top.path, ent.name);
        if (ent.isDirectory) stack.push({ path: child, listed: false });
        else await sys.unlink(child).catch(() => ok = false);
      }
    } catch {
      ok = false;
    }
  }
  return ok;
}

/** The directory a path lives in, fsynced (durable publish/unlink). */
export async function fsyncParent(path: string): Promise<void> {
  await sys.fsyncDir(dirname(path));
}

/** Reads are done through handles only; exported for writeFile-style callers. */
export type { Handle };
