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
 * empty directory for no-clobber) and removes it on any failure (`removeOwnTree`).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { dirname, join } from "./_path.ts";
import { type FileInfo, type Handle, sys } from "./_sys.ts";
import {
  AbortedError,
  CrossDeviceError,
  NotFoundError,
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
   * Copy the permission bits (else 0o666/0o777 less the umask).
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
    const path = rel === "" ? root : join(root, rel);
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
  while (stack.length > 0) {
    const dir = stack.pop()!;
    const dirPath = dir.rel === "" ? root : join(root, dir.rel);
    checkAbort(o.signal, o.op, dirPath);
    const list = await sys.readDir(dirPath);
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: { rel: string; info: FileInfo; ancestors: Set<string> }[] =
      [];
    for (const ent of list) {
      const rel = dir.rel === "" ? ent.name : join(dir.rel, ent.name);
      const path = join(root, rel);
      let info = await sys.lstat(path);
      if (info.isSymlink && o.dereference) info = await sys.stat(path);
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

const CHUNK = 1 << 20;

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
): Promise<void> {
  if (o.preserve.owner === false) return;
  try {
    await sys.chown(p, info.uid, info.gid);
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

function umaskMode(base: number): number {
  return base & ~sys.umask();
}

/**
 * Copies one regular file through an identity-checked handle into `tmp`, which
 * is created exclusively. On return `tmp` is complete, has its final mode, owner
 * and times, and (durable) its data and metadata are on disk.
 */
async function copyFileData(
  src: string,
  expected: FileInfo,
  tmp: string,
  o: EngineOptions,
  meter: ProgressMeter,
  buf: Uint8Array,
): Promise<void> {
  const input = await sys.open(src, { read: true });
  try {
    const before = await sys.fstat(input);
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
    const output = await sys.open(tmp, {
      write: true,
      createNew: true,
      mode: 0o600,
    });
    try {
      const hash = o.verify === "sha256" ? createHash("sha256") : null;
      let copied = 0;
      while (true) {
        checkAbort(o.signal, o.op, src);
        const n = await sys.read(input, buf);
        if (n === null || n === 0) break;
        const chunk = buf.subarray(0, n);
        hash?.update(chunk);
        await sys.writeAll(output, chunk);
        copied += n;
        meter.tick(src, n, 0);
      }
      const after = await sys.fstat(input);
      if (!sameContent(before, after) || copied !== before.size) {
        throw changed(o.op, src, "was modified while it was being copied");
      }
      if (hash !== null) await verifyTemp(tmp, hash.digest("hex"), o, buf);
      const mode = o.preserve.mode
        ? (expected.mode ?? 0o644) & 0o7777
        : umaskMode(0o666);
      await sys.chmod(tmp, mode);
      await applyOwner(tmp, expected, o);
      if (o.preserve.times && expected.mtime) {
        await sys.futime(
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

/** Re-reads what was written to `tmp` and compares its SHA-256 with `expected`. */
async function verifyTemp(
  tmp: string,
  expected: string,
  o: EngineOptions,
  buf: Uint8Array,
): Promise<void> {
  const h = await sys.open(tmp, { read: true });
  try {
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

/**
 * Builds the planned copy at `tmp` (which must not exist). On failure the
 * caller removes `tmp` with `removeOwnTree`.
 */
export async function build(
  p: Plan,
  tmp: string,
  o: EngineOptions,
): Promise<void> {
  const meter = new ProgressMeter(p, o);
  const buf = new Uint8Array(CHUNK);
  const temps: string[] = new Array(p.entries.length);
  const dirs: number[] = [];
  for (let i = 0; i < p.entries.length; i++) {
    const e = p.entries[i];
    const src = e.rel === "" ? p.root : join(p.root, e.rel);
    const dst = e.rel === "" ? tmp : join(tmp, e.rel);
    temps[i] = dst;
    checkAbort(o.signal, o.op, src);
    if (e.kind === "dir") {
      await sys.mkdir(dst, 0o700);
      dirs.push(i);
      meter.tick(src, 0, 1);
    } else if (e.kind === "symlink") {
      await sys.symlink(e.target!, dst);
      meter.tick(src, 0, 1);
    } else if (e.linkOf !== undefined) {
      await sys.link(temps[e.linkOf], dst);
      meter.tick(src, 0, 1);
    } else {
      await copyFileData(src, e.info, dst, o, meter, buf);
      meter.tick(src, 0, 1);
    }
  }
  // Directories: mode and times after their children were written (deepest
  // first, so a parent's mtime is not moved by finishing a child), then fsync
  // so their entries are durable.
  for (let k = dirs.length - 1; k >= 0; k--) {
    const e = p.entries[dirs[k]];
    const dst = temps[dirs[k]];
    const mode = o.preserve.mode
      ? (e.info.mode ?? 0o755) & 0o7777
      : umaskMode(0o777);
    await applyOwner(dst, e.info, o);
    // Keep the owner's rwx while we still need to fsync; the final mode is set
    // after the fsync below when it lacks them.
    await sys.chmod(dst, mode | 0o700);
    if (o.preserve.times && e.info.mtime) {
      await sys.utime(dst, e.info.atime ?? e.info.mtime, e.info.mtime);
    }
    if (o.durable) await sys.fsyncDir(dst);
    if ((mode & 0o700) !== 0o700) await sys.chmod(dst, mode);
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
