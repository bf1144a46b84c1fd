// Copyright 2026 the safefs authors. MIT license.
/**
 * What each filesystem can do, learned from the calls themselves and cached
 * per device: a filesystem is never assumed to support hard links, the
 * renameat2 flags, copy_file_range or symlinks; the first call that is
 * refused for want of the feature (EINVAL, ENOSYS, EOPNOTSUPP, EPERM on a
 * file of our own, EXDEV where the filesystem does the refusing) marks it
 * missing, and later calls go straight to the next best way.
 *
 * @module
 */
import { type FsInfo, type Handle, sys } from "./_sys.ts";
import { SafeFsError } from "./errors.ts";

/** What one filesystem was found to support (`undefined`: not tried yet). */
export interface Caps {
  /** renameat2(RENAME_NOREPLACE). */
  noReplace?: boolean;
  /** renameat2(RENAME_EXCHANGE). */
  exchange?: boolean;
  /** link(2). */
  link?: boolean;
  /** symlink(2). */
  symlink?: boolean;
  /** copy_file_range(2) into it. */
  copyRange?: boolean;
  /** fstatfs, once asked. */
  fs?: FsInfo | null;
}

const byDev = new Map<number, Caps>();

/** The capabilities learned so far for device `dev`. */
export function capsOf(dev: number): Caps {
  let c = byDev.get(dev);
  if (c === undefined) byDev.set(dev, c = {});
  return c;
}

/** Forgets what was learned (tests). */
export function resetCaps(): void {
  byDev.clear();
}

/** The filesystem of `h` (on device `dev`), cached. */
export function fsOf(h: Handle, dev: number): FsInfo | null {
  const c = capsOf(dev);
  if (c.fs === undefined) c.fs = sys.fsInfo(h);
  return c.fs;
}

/** Filesystems on a local block device or in memory, where one `syncfs` is cheap and reliable. */
const LOCAL = new Set([
  "ext2",
  "ext3",
  "ext4",
  "xfs",
  "btrfs",
  "tmpfs",
  "f2fs",
  "jfs",
  "reiserfs",
  "bcachefs",
  "zfs",
]);

/** True for a local filesystem (see `LOCAL`). */
export function isLocal(fs: FsInfo | null): boolean {
  return fs !== null && LOCAL.has(fs.name);
}

/** True when an error says the call itself is not supported there. */
export function isUnsupported(e: unknown): boolean {
  if (!(e instanceof SafeFsError)) return false;
  return e.code === "EINVAL" || e.code === "ENOSYS" ||
    e.code === "EOPNOTSUPP" || e.code === "ENOTSUP" || e.code === "ENOTTY";
}
