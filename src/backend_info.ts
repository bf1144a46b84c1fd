// Copyright 2026 the safefs authors. MIT license.
/**
 * `backendInfo()`: which backend runs, what it can do, and (for a directory)
 * what that filesystem offers.
 *
 * @module
 */
import { locate, type PathLike } from "./_path.ts";
import { type Dir, features, sys } from "./_sys.ts";
import { capsOf, fsOf, isUnsupported } from "./_caps.ts";
import { tempName } from "./_temp.ts";
import { SafeFsError } from "./errors.ts";

/** What one filesystem offers, probed in a directory of it. */
export interface FilesystemInfo {
  /** The directory probed, absolute. */
  path: string;
  /** The filesystem's name ("ext4", "tmpfs", "xfs", "overlay", "fuse", ...), or "unknown". */
  type: string;
  /** Mounted read-only (nothing below was probed then). */
  readOnly: boolean;
  /** Hard links work. */
  link: boolean | null;
  /** renameat2(RENAME_NOREPLACE) works. */
  noReplace: boolean | null;
  /** renameat2(RENAME_EXCHANGE) works (a non-empty directory can be replaced atomically). */
  exchange: boolean | null;
  /** Symlinks can be stored. */
  symlinks: boolean | null;
  /**
   * How no-clobber publishes work there: `"atomic"` (RENAME_NOREPLACE or a
   * hard link) or `"checked"` (a check then a rename: a process creating
   * the destination in between would be replaced). `null` when not probed.
   */
  noClobber: "atomic" | "checked" | null;
}

/** Which backend runs and what it can do. */
export interface BackendInfo {
  /** `"ffi"`: libc through Deno FFI; `"path"`: Deno's path calls. */
  name: "ffi" | "path";
  /** Why the ffi backend is not the one running (absent when it is). */
  reason?: string;
  /** Every call acts relative to a held directory (no path is walked again). */
  fdRelative: boolean;
  /** openat2(RESOLVE_BENEATH) is available for `openRoot`. */
  beneath: boolean;
  /** renameat2 RENAME_NOREPLACE can be asked for (per filesystem: see `filesystem`). */
  noReplace: boolean;
  /** renameat2 RENAME_EXCHANGE can be asked for (per filesystem: see `filesystem`). */
  exchange: boolean;
  /** Times are kept to the nanosecond (else milliseconds). */
  nsTimes: boolean;
  /** Holes of sparse files are found with SEEK_DATA/SEEK_HOLE (else all-zero chunks are skipped). */
  sparse: boolean;
  /** Data is copied in the kernel (copy_file_range: reflinks on xfs and btrfs). */
  copyRange: boolean;
  /** Many-file copies are made durable with one syncfs. */
  syncfs: boolean;
  /** Temps of live operations are locked, so `sweep()` never takes them. */
  lock: boolean;
  /**
   * The `*Sync` functions read a big directory a part at a time, as the
   * async ones do. False on the path backend: Deno reads a directory whole
   * there (one of 200,000 entries costs `copySync`, `moveSync` and
   * `removeSync` about 160 MiB more).
   */
  syncListsInParts: boolean;
  /** The filesystem of the directory passed to `backendInfo()`, probed. */
  filesystem?: FilesystemInfo;
}

function attempt(f: () => void): boolean | null {
  try {
    f();
    return true;
  } catch (e) {
    if (isUnsupported(e)) return false;
    if (e instanceof SafeFsError && e.code === "EPERM") return false;
    return null;
  }
}

function probe(dir: Dir, path: string): FilesystemInfo {
  const st = sys.fstat(dir);
  const fs = fsOf(dir, st.dev);
  const info: FilesystemInfo = {
    path,
    type: fs?.name ?? "unknown",
    readOnly: fs?.readOnly ?? false,
    link: null,
    noReplace: null,
    exchange: null,
    symlinks: null,
    noClobber: null,
  };
  if (info.readOnly) return info;
  const caps = capsOf(st.dev);
  const a = tempName("probe-a");
  const b = tempName("probe-b");
  const c = tempName("probe-c");
  const made: string[] = [];
  try {
    sys.close(sys.openAt(dir, a, { write: true, create: true, mode: 0o600 }));
    made.push(a);
    info.noReplace = features().renameFlags
      ? attempt(() => sys.renameAt(dir, a, dir, b, "noreplace"))
      : false;
    const first = info.noReplace ? b : a;
    made[0] = first;
    sys.close(sys.openAt(dir, c, { write: true, create: true, mode: 0o600 }));
    made.push(c);
    info.exchange = features().renameFlags
      ? attempt(() => sys.renameAt(dir, first, dir, c, "exchange"))
      : false;
    const d = tempName("probe-d");
    info.link = attempt(() => sys.linkAt(dir, c, dir, d));
    if (info.link) made.push(d);
    const e = tempName("probe-e");
    info.symlinks = attempt(() => sys.symlinkAt(".", dir, e));
    if (info.symlinks) made.push(e);
  } catch {
    // No write permission, or a full disk: what was learned is reported.
  } finally {
    for (const n of made) {
      try {
        sys.unlinkAt(dir, n);
      } catch {
        // Left under a temp name: sweep() finds it.
      }
    }
  }
  if (info.noReplace !== null) caps.noReplace = info.noReplace;
  if (info.exchange !== null) caps.exchange = info.exchange;
  if (info.link !== null) caps.link = info.link;
  if (info.symlinks !== null) caps.symlink = info.symlinks;
  if (info.noReplace !== null || info.link !== null) {
    info.noClobber = info.noReplace || info.link ? "atomic" : "checked";
  }
  return info;
}

/**
 * Tells which backend runs and what it can do; given a directory, also
 * probes its filesystem (creating and removing a few temp entries there):
 * hard links, RENAME_NOREPLACE, RENAME_EXCHANGE, symlinks, and so whether
 * no-clobber publishes are atomic there.
 *
 * The `ffi` backend (libc through Deno FFI, Linux) runs when `--allow-ffi`
 * is granted; otherwise the `path` backend runs and `reason` says why.
 * `SAFEFS_BACKEND=path|ffi` forces one (read only when `--allow-env` grants
 * it). See the README for what each guarantees.
 *
 * @example
 * ```ts
 * import { backendInfo } from "@safefs/safefs";
 *
 * const info = backendInfo(Deno.cwd());
 * console.log(info.name, info.reason ?? "", info.filesystem?.noClobber);
 * ```
 *
 * @param dir A directory whose filesystem to probe.
 * @returns What runs, and what the filesystem offers.
 */
export function backendInfo(dir?: PathLike): BackendInfo {
  const f = features();
  const info: BackendInfo = {
    name: f.name,
    fdRelative: f.fdRelative,
    beneath: f.beneath,
    noReplace: f.renameFlags,
    exchange: f.renameFlags,
    nsTimes: f.nsTimes,
    sparse: f.seekHoles,
    copyRange: f.copyRange,
    syncfs: f.syncfs,
    lock: f.lock,
    syncListsInParts: f.syncListsInParts,
  };
  if (f.reason !== undefined) info.reason = f.reason;
  if (dir !== undefined) {
    const abs = locate(dir, "backendInfo", true).abs;
    const d = sys.openDir(abs, true);
    try {
      info.filesystem = probe(d, abs);
    } finally {
      sys.close(d);
    }
  }
  return info;
}
