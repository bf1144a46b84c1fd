// Copyright 2026 the safefs authors. MIT license.
/**
 * `copy()`: copy a file, symlink or directory tree so that the destination
 * shows either its old state or the complete copy, never a partial one.
 *
 * @module
 */
import { dirname, type PathLike, toAbsolute } from "./_path.ts";
import { type Need, preflight } from "./_perm.ts";
import { type FileInfo, sys } from "./_sys.ts";
import { alreadyExists, checkDestination } from "./_dest.ts";
import { tempPathFor } from "./_temp.ts";
import { isOccupied } from "./_publish.ts";
import {
  build,
  checkAbort,
  checkSymlinkPermission,
  type EngineOptions,
  plan,
  type PreserveOptions,
  type Progress,
  publishTemp,
  removeOwnTree,
  specialKind,
} from "./_copy.ts";
import {
  InvalidArgumentError,
  NotEmptyError,
  NotFoundError,
  SafeFsError,
  UnsupportedFileTypeError,
} from "./errors.ts";

export type { PathLike } from "./_path.ts";
export type { PreserveOptions, Progress } from "./_copy.ts";

/** Options for {@linkcode copy}. */
export interface CopyOptions {
  /**
   * Replace an existing destination. A file or symlink replaces a file or
   * symlink; a directory replaces only an EMPTY directory (a non-empty one
   * cannot be replaced atomically and is refused with `NotEmptyError`); a
   * directory is never replaced by a file, nor a file by a directory.
   * @default {false}
   */
  overwrite?: boolean;
  /**
   * Make the copy survive power loss before resolving: every copied file and
   * directory is fsynced before the publish, the destination's directory
   * after it. `false` skips every fsync (scratch data).
   * @default {true}
   */
  durable?: boolean;
  /**
   * Follow symlinks: copy what they point to instead of the links. `false`
   * copies a symlink as a symlink with the same target, at the top and inside
   * a tree. With `true`, a link that leads back to one of its own parent
   * directories is refused (code `"ELOOP"`) instead of being walked forever.
   * @default {false}
   */
  dereference?: boolean;
  /**
   * What to keep of the source's metadata: permission bits (`mode`), access
   * and modification times (`times`), owner and group (`owner`, which needs
   * root; `"try"` keeps them where permitted). Fields left out take their
   * defaults. Without `mode`, files get 0o666 and directories 0o777, less the
   * umask.
   * @default {{ mode: true, times: true, owner: false }}
   */
  preserve?: PreserveOptions;
  /**
   * `"sha256"` hashes every file as it is read, re-reads what was written to
   * the temp and compares the hashes before publishing (a mismatch fails the
   * copy with code `"EIO"`, nothing published). It catches data corrupted
   * between the read and the kernel, not media errors after writeback (the
   * re-read is served from the page cache).
   * @default {"none"}
   */
  verify?: "none" | "sha256";
  /**
   * Directory copies skip directories that are mount points of another
   * filesystem (they are listed in `skippedMounts` of the result) instead of
   * copying what is mounted there.
   * @default {false}
   */
  oneFileSystem?: boolean;
  /**
   * Aborts the copy: the temp is removed and nothing is published. Once the
   * copy is published the call completes.
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Called as data is copied and once at the end.
   * @default {undefined}
   */
  onProgress?: (progress: Progress) => void;
}

/** What {@linkcode copy} did. */
export interface CopyResult {
  /** The absolute source path. */
  src: string;
  /** The absolute destination path. */
  dest: string;
  /** Bytes of file data copied (a hard-linked file counts once). */
  bytes: number;
  /** Entries copied: files, symlinks and directories. */
  entries: number;
  /**
   * Mount points inside the tree that were left out (`oneFileSystem: true`);
   * the copy holds no entry for them.
   */
  skippedMounts: string[];
}

/**
 * Copies `src` to `dest`, atomically and durably.
 *
 * The whole file or tree is built under one temp name
 * (`.<name>.<uuid>.safefs-tmp`) in `dest`'s directory, then published with one
 * `rename` (with `overwrite`), or without replacing anything: a `link` for a
 * file or symlink (EEXIST if someone got there first), a rename that cannot
 * replace anything for a directory. A reader of `dest` sees its old state or
 * the complete copy, never a partial file or tree.
 *
 * The source is read the way seed bpo-30400 asks: every file is opened once,
 * its open handle must be the file that was examined (same device and inode),
 * and a file whose size, mtime or ctime moved while it was copied fails the
 * copy with `SourceChangedError`. After a tree is built it is re-examined: a
 * tree that gained, lost or replaced entries meanwhile fails the same way.
 * FIFOs, sockets and devices are refused before anything is opened.
 *
 * Symlinks stay symlinks (unless `dereference`), hard links inside a tree stay
 * hard links, modes and times are kept (directory times after their children),
 * owner too with `preserve.owner`. Everything is applied to the temp before it
 * is published.
 *
 * @example Copy a file, then refuse to replace it
 * ```ts
 * import { AlreadyExistsError, copy } from "@safefs/safefs";
 * import { equal as assertEquals, rejects } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hello");
 * const r = await copy(`${dir}/a.txt`, `${dir}/b.txt`);
 * assertEquals(r.bytes, 5);
 * assertEquals(await Deno.readTextFile(`${dir}/b.txt`), "hello");
 * await rejects(copy(`${dir}/a.txt`, `${dir}/b.txt`), AlreadyExistsError);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @example Copy a directory tree, verifying every file's SHA-256
 * ```ts
 * import { copy } from "@safefs/safefs";
 * import { equal as assertEquals } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/site/css`, { recursive: true });
 * await Deno.writeTextFile(`${dir}/site/css/main.css`, "body {}");
 * await Deno.symlink("css/main.css", `${dir}/site/style.css`);
 * await copy(`${dir}/site`, `${dir}/backup`, { verify: "sha256" });
 * assertEquals(await Deno.readLink(`${dir}/backup/style.css`), "css/main.css");
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param src The file, symlink or directory to copy.
 * @param dest The path of the copy (not the directory to copy into).
 * @param options See {@linkcode CopyOptions}.
 * @returns What was copied.
 * @throws {NotFoundError} `src` or `dest`'s parent directory does not exist.
 * @throws {AlreadyExistsError} `dest` exists and `overwrite` is not set.
 * @throws {InvalidArgumentError} `src` and `dest` are the same file, or a directory would be copied into itself.
 * @throws {NotEmptyError} `overwrite` onto a non-empty directory.
 * @throws {UnsupportedFileTypeError} A FIFO, socket or device in the source.
 * @throws {SourceChangedError} The source was replaced or modified while it was copied.
 * @throws {PermissionError} A Deno permission is missing (names the flag) or the OS refused. Copying a symlink needs unscoped `--allow-read` and `--allow-write` (a Deno rule for `Deno.symlink`).
 * @throws {AbortedError} `signal` fired before the publish.
 * @throws {SafeFsError} Anything else, with the errno name as `code` (e.g. `"ENOSPC"`).
 */
export async function copy(
  src: PathLike,
  dest: PathLike,
  options: CopyOptions = {},
): Promise<CopyResult> {
  const op = "copy";
  const s = toAbsolute(src, op);
  const d = toAbsolute(dest, op);
  const overwrite = options.overwrite ?? false;
  const durable = options.durable ?? true;
  const dereference = options.dereference ?? false;
  const preserve = {
    mode: options.preserve?.mode ?? true,
    times: options.preserve?.times ?? true,
    owner: options.preserve?.owner ?? false,
  };
  const verify = options.verify ?? "none";
  if (verify !== "none" && verify !== "sha256") {
    throw new InvalidArgumentError(
      `Cannot copy '${s}': verify must be "none" or "sha256", not '${verify}'`,
      { code: "EINVAL", op, path: s, dest: d },
    );
  }
  const { signal, onProgress } = options;
  const dDir = dirname(d);

  // The temp is created beside `dest`: writing needs the whole directory,
  // where it really is (a symlink at its last component is followed too).
  const needs: Need[] = [
    { kind: "read", path: s, followLast: dereference },
    { kind: "read", path: dDir, followLast: true },
    { kind: "write", path: dDir, followLast: true },
  ];
  await preflight(op, needs);
  checkAbort(signal, op, s);

  let sInfo: FileInfo;
  try {
    sInfo = dereference ? await sys.stat(s) : await sys.lstat(s);
  } catch (e) {
    if (e instanceof NotFoundError) {
      throw new NotFoundError(
        `Cannot copy '${s}': it does not exist${
          dereference ? " (or is a dangling symlink)" : ""
        }`,
        { code: "ENOENT", op, path: s, dest: d, cause: e },
      );
    }
    throw e;
  }
  if (!sInfo.isFile && !sInfo.isDirectory && !sInfo.isSymlink) {
    // Refused before any open: opening a FIFO blocks until a writer comes.
    throw new UnsupportedFileTypeError(
      `Cannot copy '${s}': it is ${
        specialKind(sInfo)
      }, not a regular file, directory or symlink`,
      { code: "EFTYPE", op, path: s, dest: d },
    );
  }
  if (s === d) {
    throw new InvalidArgumentError(`Cannot copy '${s}' onto itself`, {
      code: "EINVAL",
      op,
      path: s,
      dest: d,
    });
  }
  await checkDestination(op, s, sInfo, d, overwrite);

  const engine: EngineOptions = {
    op,
    durable,
    dereference,
    preserve,
    verify,
    mounts: options.oneFileSystem ? "skip" : "cross",
    signal,
    onProgress,
  };
  const p = await plan(s, sInfo, engine);
  checkSymlinkPermission(p, op);
  const tmp = tempPathFor(d);
  const kind = p.entries[0].kind;
  let publishing = false;
  try {
    await build(p, tmp, engine);
    checkAbort(signal, op, s);
    publishing = true;
    await publishTemp(tmp, d, kind, p.entries.length === 1, overwrite);
  } catch (e) {
    await removeOwnTree(tmp);
    if (!publishing) throw e;
    if (!overwrite && isOccupied(e)) throw alreadyExists("copy", s, d, e);
    if (e instanceof NotEmptyError) {
      throw new NotEmptyError(
        `Cannot replace directory '${d}': it is not empty and cannot be replaced atomically`,
        { code: "ENOTEMPTY", op, path: s, dest: d, cause: e },
      );
    }
    throw e;
  }
  if (durable) {
    try {
      await sys.fsyncDir(dDir);
    } catch (e) {
      if (e instanceof SafeFsError) {
        e.message =
          `Published '${d}' (a complete copy of '${s}'), then failed: ${e.message}`;
      }
      throw e;
    }
  }
  onProgress?.({
    bytesDone: p.bytesTotal,
    bytesTotal: p.bytesTotal,
    filesDone: p.entries.length,
    filesTotal: p.entries.length,
    path: s,
  });
  return {
    src: s,
    dest: d,
    bytes: p.bytesTotal,
    entries: p.entries.length,
    skippedMounts: p.skippedMounts,
  };
}
