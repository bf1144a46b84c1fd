// Copyright 2026 the safefs authors. MIT license.
/**
 * `copy()` and `copySync()`: copy a file, symlink or directory tree so that
 * the destination shows either its old state or the complete copy, never a
 * partial one.
 *
 * @module
 */
import { type Loc, locate, type PathLike } from "./_path.ts";
import { type Need, preflight } from "./_perm.ts";
import { type Dir, sys } from "./_sys.ts";
import { type Gen, runAsync, runSync } from "./_run.ts";
import { checkDestination, notADirectory, openParent } from "./_dest.ts";
import { checkFollowedLink } from "./_perm.ts";
import type { PublishMethod } from "./_publish.ts";
import { transfer } from "./_copy/transfer.ts";
import type { DirSyncs } from "./_copy/sync.ts";
import { unsupported, vanished } from "./_copy/walk.ts";
import { planKind } from "./_copy/plan.ts";
import {
  checkAbort,
  type CopyFilter,
  type EngineOptions,
  type PreserveOptions,
  type Progress,
} from "./_copy/options.ts";
import {
  InvalidArgumentError,
  NotFoundError,
  SourceChangedError,
} from "./errors.ts";

export type { PathLike } from "./_path.ts";
export type { CopyFilter, PreserveOptions, Progress } from "./_copy/options.ts";
export type { PublishMethod } from "./_publish.ts";

/** Options for {@linkcode copy} and {@linkcode copySync}. */
export interface CopyOptions {
  /**
   * Replace an existing destination. A file or symlink replaces a file or
   * symlink; a directory replaces a directory, atomically even when it is
   * not empty (the two trade places in one `renameat2(RENAME_EXCHANGE)`,
   * then the old tree is removed; where the filesystem or backend cannot
   * exchange, only an empty directory is replaced and a non-empty one gives
   * `NotEmptyError`). A directory is never replaced by a file, nor a file by
   * a directory.
   * @default {false}
   */
  overwrite?: boolean;
  /**
   * Make the copy survive power loss before resolving: every copied file and
   * directory reaches the disk before the publish (one `syncfs` for many
   * entries on a local filesystem, else an fsync of each), the destination's
   * directory after it. `false` skips all of that (scratch data).
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
   * defaults: mode and times kept, owner not.
   * @default {undefined}
   */
  preserve?: PreserveOptions;
  /**
   * `"sha256"` hashes every file as it is read, re-reads what was written and
   * compares the hashes before publishing (a mismatch fails the copy with
   * code `"EIO"`, nothing published). It catches data corrupted between the
   * read and the kernel, not media errors after writeback.
   * @default {"none"}
   */
  verify?: "none" | "sha256";
  /**
   * Directory copies leave out directories that are mount points of another
   * filesystem (listed in `skippedMounts` of the result) instead of copying
   * what is mounted there.
   * @default {false}
   */
  oneFileSystem?: boolean;
  /**
   * Called for every entry below the source root with its absolute source
   * path and information; `false` leaves the entry out, and for a directory
   * its whole subtree (which is then not even listed). `copySync()` needs a
   * filter that returns a boolean.
   * @default {undefined}
   */
  filter?: CopyFilter;
  /**
   * Aborts the copy: the temp is removed and nothing is published. Once the
   * copy is published the call completes.
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Called as the copy goes (see {@linkcode Progress}), and once at the end.
   * @default {undefined}
   */
  onProgress?: (progress: Progress) => void;
}

/** What {@linkcode copy} did. */
export interface CopyResult {
  /** The source path, absolute. */
  src: string;
  /** The destination path, absolute. */
  dest: string;
  /** Bytes of file data copied (a hard-linked file counts once). */
  bytes: number;
  /** Entries copied: files, symlinks and directories. */
  entries: number;
  /** An existing destination was replaced (`overwrite`). */
  replaced: boolean;
  /**
   * How the copy was published: `"rename"` (replacing), `"exchange"` (a
   * directory replaced atomically), `"noreplace"`, `"link"` or `"claim"`
   * (atomic no-clobber), or `"checked"` (a check then a rename, on
   * filesystems with neither hard links nor RENAME_NOREPLACE: a process
   * creating the destination in between would be replaced).
   */
  publish: PublishMethod;
  /** Mount points inside the tree that were left out (`oneFileSystem: true`). */
  skippedMounts: string[];
}

function engineOptions(o: CopyOptions): EngineOptions {
  const verify = o.verify ?? "none";
  if (verify !== "none" && verify !== "sha256") {
    throw new InvalidArgumentError(
      `Cannot copy: verify must be "none" or "sha256", not '${verify}'`,
      { code: "EINVAL", op: "copy" },
    );
  }
  if (o.filter !== undefined && typeof o.filter !== "function") {
    throw new InvalidArgumentError("Cannot copy: filter must be a function", {
      code: "EINVAL",
      op: "copy",
    });
  }
  return {
    op: "copy",
    durable: o.durable ?? true,
    dereference: o.dereference ?? false,
    preserve: {
      mode: o.preserve?.mode ?? true,
      times: o.preserve?.times ?? true,
      owner: o.preserve?.owner ?? false,
    },
    verify,
    mounts: o.oneFileSystem ? "skip" : "cross",
    filter: o.filter,
    signal: o.signal,
    onProgress: o.onProgress,
  };
}

/** The located arguments of one copy: the caller has opened both directories. */
export interface CopyArgs {
  src: Loc;
  srcDir: Dir;
  dest: Loc;
  destDir: Dir;
}

/**
 * The copy itself, on opened directories (also `Root.copy` and
 * `copyInto`; with `batch`, the destination directory's fsync is left to
 * the batch).
 */
export function* copyAt(
  a: CopyArgs,
  options: CopyOptions,
  batch?: DirSyncs,
): Gen<CopyResult> {
  const o = engineOptions(options);
  o.batch = batch;
  const s = a.src.abs;
  const d = a.dest.abs;
  checkAbort(o.signal, "copy", s);
  const dots = a.src.name === "." || a.src.name === "..";
  const follow = o.dereference || a.src.slash || dots;
  let st;
  try {
    st = dots ? sys.fstat(a.srcDir) : sys.statAt(a.srcDir, a.src.name, follow);
  } catch (e) {
    if (e instanceof NotFoundError) {
      throw new NotFoundError(
        `Cannot copy '${s}': it does not exist${
          follow ? " (or is a dangling symlink)" : ""
        }`,
        { code: "ENOENT", op: "copy", path: s, dest: d, cause: e },
      );
    }
    throw e;
  }
  if (a.src.slash && st.kind !== "dir") throw notADirectory("copy", s);
  if (planKind(st) === 0) throw unsupported("copy", s, st);
  if (follow && !dots) checkFollowedLink("copy", s);
  const state = checkDestination("copy", { path: s, st }, {
    loc: a.dest,
    dir: a.destDir,
  }, options.overwrite ?? false);
  if (state.same) {
    throw new InvalidArgumentError(`Cannot copy '${s}' onto itself ('${d}')`, {
      code: "EINVAL",
      op: "copy",
      path: s,
      dest: d,
    });
  }
  let root: Dir | null = null;
  try {
    if (st.kind === "dir") {
      root = dots ? a.srcDir : openRoot(a, follow, st);
    }
    const t = yield* transfer(
      {
        path: s,
        parent: dots ? null : a.srcDir,
        name: a.src.name,
        st,
        dir: root,
      },
      {
        dir: a.destDir,
        name: a.dest.name,
        path: d,
        dev: sys.fstat(a.destDir).dev,
        existing: state.existing,
      },
      options.overwrite ?? false,
      o,
    );
    if (t.handle !== null) sys.close(t.handle);
    o.onProgress?.({
      phase: "publish",
      bytesDone: t.plan.bytesTotal,
      bytesTotal: t.plan.bytesTotal,
      filesDone: t.plan.n,
      filesTotal: t.plan.n,
      path: s,
    });
    return {
      src: s,
      dest: d,
      bytes: t.plan.bytesTotal,
      entries: t.plan.n,
      replaced: t.replaced,
      publish: t.method,
      skippedMounts: t.plan.skippedMounts,
    };
  } finally {
    if (root !== null && root !== a.srcDir) sys.close(root);
  }
}

function openRoot(
  a: CopyArgs,
  follow: boolean,
  st: { dev: number; ino: number },
): Dir {
  let d: Dir;
  try {
    d = follow
      ? sys.openDir(a.src.abs, true)
      : sys.openDirAt(a.srcDir, a.src.name);
  } catch (e) {
    throw vanished(e, "copy", a.src.abs);
  }
  const now = sys.fstat(d);
  if (now.dev !== st.dev || now.ino !== st.ino) {
    sys.close(d);
    throw new SourceChangedError(
      `Cannot copy '${a.src.abs}': it was replaced while it was being opened; nothing was published`,
      { code: "ESRCCHANGED", op: "copy", path: a.src.abs },
    );
  }
  return d;
}

function* copyPaths(
  src: PathLike,
  dest: PathLike,
  options: CopyOptions,
): Gen<CopyResult> {
  const s = locate(src, "copy", true);
  const d = locate(dest, "copy");
  // The source is opened by name in its directory: that directory is read.
  const needs: Need[] = [
    { kind: "read", path: s.abs, followLast: options.dereference ?? false },
    { kind: "read", path: s.parent, followLast: true },
    { kind: "read", path: d.parent, followLast: true },
    { kind: "write", path: d.parent, followLast: true },
  ];
  preflight("copy", needs);
  const dots = s.name === "." || s.name === "..";
  const srcDir = dots
    ? sys.openDir(s.abs, true)
    : openParent(s, "copy", `'${s.abs}'`);
  try {
    const destDir = openParent(d, "copy", `'${s.abs}' to '${d.abs}'`);
    try {
      return yield* copyAt({ src: s, srcDir, dest: d, destDir }, options);
    } finally {
      sys.close(destDir);
    }
  } finally {
    sys.close(srcDir);
  }
}

/**
 * Copies `src` to `dest`, atomically and durably.
 *
 * The whole file or tree is built under one temp name
 * (`.<name>.<uuid>.safefs-tmp`) in `dest`'s directory, then published in one
 * step: without `overwrite`, by a call that cannot replace anything
 * (`renameat2(RENAME_NOREPLACE)`, or `link`; see {@linkcode CopyResult.publish});
 * with it, by a rename (or, onto a directory, an atomic exchange). A reader
 * of `dest` sees its old state or the complete copy, never a partial file or
 * tree.
 *
 * The source is read safely: every file is opened once, without following a
 * symlink; its open descriptor must be the file that was examined (same
 * device and inode) and its data and metadata are read from that
 * descriptor only. A file whose size, mtime or ctime moved while it was
 * copied fails the copy with `SourceChangedError`; after a tree is built its
 * source is examined again, and the copy itself is checked against what was
 * made (an entry removed by another process fails it). FIFOs, sockets and
 * devices are refused before anything is opened. Sparse files stay sparse;
 * on xfs and btrfs a file is copied as a reflink.
 *
 * Symlinks stay symlinks (unless `dereference`), hard links inside a tree stay
 * hard links, modes and times are kept (directory times after their children),
 * owner too with `preserve.owner`, all applied before the publish.
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
 * @example Copy a tree, leaving out build output, verifying every file
 * ```ts
 * import { copy } from "@safefs/safefs";
 * import { equal as assertEquals } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/site/css`, { recursive: true });
 * await Deno.mkdir(`${dir}/site/node_modules/x`, { recursive: true });
 * await Deno.writeTextFile(`${dir}/site/css/main.css`, "body {}");
 * await copy(`${dir}/site`, `${dir}/backup`, {
 *   verify: "sha256",
 *   filter: (src) => !src.endsWith("/node_modules"),
 * });
 * assertEquals(await Deno.readTextFile(`${dir}/backup/css/main.css`), "body {}");
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
 * @throws {NotEmptyError} `overwrite` onto a non-empty directory where directories cannot be exchanged.
 * @throws {UnsupportedFileTypeError} A FIFO, socket or device in the source.
 * @throws {SourceChangedError} The source was replaced or modified while it was copied.
 * @throws {PermissionError} A Deno permission is missing (names the flag) or the OS refused.
 * @throws {AbortedError} `signal` fired before the publish.
 * @throws {SafeFsError} Anything else, with the errno name as `code` (e.g. `"ENOSPC"`).
 */
export function copy(
  src: PathLike,
  dest: PathLike,
  options: CopyOptions = {},
): Promise<CopyResult> {
  try {
    return runAsync(copyPaths(src, dest, options));
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * {@linkcode copy}, synchronously: the same contract, blocking the thread
 * until the copy is published and durable (use it in scripts, not in a
 * server's request path). `signal` can only stop it before it starts, and a
 * `filter` must return a boolean.
 *
 * @example
 * ```ts
 * import { copySync } from "@safefs/safefs";
 * import { equal as assertEquals } from "node:assert/strict";
 *
 * const dir = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${dir}/a.txt`, "hello");
 * copySync(`${dir}/a.txt`, `${dir}/b.txt`);
 * assertEquals(Deno.readTextFileSync(`${dir}/b.txt`), "hello");
 * Deno.removeSync(dir, { recursive: true });
 * ```
 *
 * @param src The file, symlink or directory to copy.
 * @param dest The path of the copy.
 * @param options See {@linkcode CopyOptions}.
 * @returns What was copied.
 */
export function copySync(
  src: PathLike,
  dest: PathLike,
  options: CopyOptions = {},
): CopyResult {
  return runSync(copyPaths(src, dest, options));
}
