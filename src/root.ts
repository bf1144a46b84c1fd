// Copyright 2026 the safefs authors. MIT license.
/**
 * `openRoot()`: the safefs primitives confined beneath one directory, in the
 * manner of Go's `os.Root` and Rust's cap-std. Resolution is in
 * `_resolve.ts`, the methods in `_root_handle.ts`; this module is the public
 * surface: the options, the `Root` interface and `openRoot()`.
 *
 * @module
 */
import { locate, type PathLike } from "./_path.ts";
import { preflight } from "./_perm.ts";
import { type Dir, sys } from "./_sys.ts";
import type { CopyOptions, CopyResult } from "./copy.ts";
import type { MoveOptions, MoveResult } from "./move.ts";
import type { RemoveOptions, RemoveResult } from "./remove.ts";
import type { SweepOptions, SweepResult } from "./sweep.ts";
import type {
  WriteFileData,
  WriteFileOptions,
  WriteFileResult,
} from "./write_file.ts";
import { errorFor } from "./_errno.ts";
import { RootHandle } from "./_root_handle.ts";
import { InvalidArgumentError, NotFoundError, SafeFsError } from "./errors.ts";

/** Options for {@linkcode openRoot}. */
export interface OpenRootOptions {
  /**
   * How many symlinks one path may go through (a chain counts each link).
   * One more is refused with a `SafeFsError` of code `"ELOOP"`, which is also
   * how a loop of links ends. `0` refuses every symlink in a path except a
   * last component that the method does not follow (the behaviour of
   * `openat2`'s `RESOLVE_NO_SYMLINKS`).
   * @default {40}
   */
  maxSymlinks?: number;
}

/** Options for {@linkcode Root.readFile}. */
export interface RootReadFileOptions {
  /**
   * Aborts the read with `AbortedError`.
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** Options for {@linkcode Root.mkdir}. */
export interface RootMkdirOptions {
  /**
   * Create missing parent directories too, each one through the same
   * confined resolution, and succeed when the directory already exists. A
   * path refused part way (say `new/../../x`) keeps the directories created
   * before the refusal, all inside the root.
   * @default {false}
   */
  recursive?: boolean;
  /**
   * Permission bits of each directory created, less the umask.
   * @default {0o777}
   */
  mode?: number;
  /**
   * Make each created directory survive power loss before resolving: the
   * directory it was created in is fsynced. `false` skips that.
   * @default {true}
   */
  durable?: boolean;
}

/** One entry of {@linkcode Root.readDir}. */
export interface RootDirEntry {
  /** The entry's name (no path). */
  name: string;
  /** A regular file. */
  isFile: boolean;
  /** A directory. */
  isDirectory: boolean;
  /** A symlink (never followed by `readDir`). */
  isSymlink: boolean;
}

/**
 * A directory handle whose methods take paths relative to it and never act
 * outside it. Obtained from {@linkcode openRoot}; release it with `close()`
 * (or `using`).
 *
 * Every method resolves its paths inside the root (see {@linkcode openRoot})
 * and then runs the primitive of the same name on the directories it
 * reached, never on a path walked again. Results and errors carry absolute
 * paths under {@linkcode Root.path}.
 *
 * Refusals: an absolute path, a `..` or symlink leading above the root, an
 * absolute symlink, or (path backend) a root moved or replaced since it was
 * opened throw `PermissionError` (code `"ENOTCAPABLE"`) and do nothing. An
 * empty path, a NUL byte, or a call that would remove or replace the root
 * itself throw `InvalidArgumentError`. Too many symlinks in one path throw
 * a `SafeFsError` of code `"ELOOP"`. A missing directory in the middle of a
 * path throws `NotFoundError`, one that is not a directory a `SafeFsError`
 * of code `"ENOTDIR"`. A directory on the way swapped while the path was
 * resolved throws `PermissionError` (nothing done); a symlink replaced
 * while it was being read, `SourceChangedError`.
 */
export interface Root extends Disposable {
  /**
   * The root's real absolute path when it was opened (symlinks resolved).
   * On the ffi backend a root renamed while open is followed: calls go on
   * acting in it, and this path is then only where it was.
   */
  readonly path: string;

  /**
   * Releases the root's directory descriptor. Later calls throw.
   *
   * @example
   * ```ts
   * import { openRoot } from "@safefs/safefs";
   *
   * const dir = await Deno.makeTempDir();
   * const root = await openRoot(dir);
   * root.close();
   * await Deno.remove(dir);
   * ```
   */
  close(): void;

  /**
   * {@linkcode move} inside the root. Neither path's last component is
   * followed: a symlink is moved, or replaced, as a link.
   *
   * @example
   * ```ts
   * import { openRoot } from "@safefs/safefs";
   * import { equal as assertEquals } from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const root = await openRoot(dir);
   * await root.writeFile("draft.txt", "hello");
   * await root.move("draft.txt", "final.txt");
   * assertEquals(new TextDecoder().decode(await root.readFile("final.txt")), "hello");
   * await Deno.remove(dir, { recursive: true });
   * ```
   *
   * @param src The entry to move, relative to the root.
   * @param dest Its new path, relative to the root.
   * @param options See {@linkcode MoveOptions}.
   * @returns What {@linkcode move} did.
   */
  move(src: string, dest: string, options?: MoveOptions): Promise<MoveResult>;

  /**
   * {@linkcode copy} inside the root. `dest`'s last component is not
   * followed. Without `dereference` a symlink in the source is copied as a
   * link (with the same target, which is not read). With `dereference: true`
   * the source and every symlink in its tree are resolved first, confined:
   * one that leads outside the root refuses the whole copy with
   * `PermissionError` before anything is read.
   *
   * @example
   * ```ts
   * import { openRoot } from "@safefs/safefs";
   * import { equal as assertEquals } from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const root = await openRoot(dir);
   * await root.mkdir("site/css", { recursive: true });
   * await root.writeFile("site/css/main.css", "body {}");
   * await root.copy("site", "backup");
   * assertEquals(new TextDecoder().decode(await root.readFile("backup/css/main.css")), "body {}");
   * await Deno.remove(dir, { recursive: true });
   * ```
   *
   * @param src The entry to copy, relative to the root.
   * @param dest The path of the copy, relative to the root.
   * @param options See {@linkcode CopyOptions}.
   * @returns What {@linkcode copy} did.
   */
  copy(src: string, dest: string, options?: CopyOptions): Promise<CopyResult>;

  /**
   * {@linkcode remove} inside the root. The last component is not followed:
   * a symlink is unlinked, wherever it points. With `missingOk`, a missing
   * directory in the middle of `path` is a no-op too.
   *
   * @example
   * ```ts
   * import { openRoot } from "@safefs/safefs";
   * import { equal as assertEquals } from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const root = await openRoot(dir);
   * await root.mkdir("build/cache", { recursive: true });
   * const r = await root.remove("build");
   * assertEquals(r.entriesRemoved, 2);
   * await Deno.remove(dir, { recursive: true });
   * ```
   *
   * @param path The entry to remove, relative to the root.
   * @param options See {@linkcode RemoveOptions}.
   * @returns What {@linkcode remove} did.
   */
  remove(path: string, options?: RemoveOptions): Promise<RemoveResult>;

  /**
   * {@linkcode writeFile} inside the root. The last component is not
   * followed: a symlink there is replaced by the new file.
   *
   * @example
   * ```ts
   * import { openRoot } from "@safefs/safefs";
   *
   * const dir = await Deno.makeTempDir();
   * const root = await openRoot(dir);
   * await root.writeFile("config.json", JSON.stringify({ port: 8080 }));
   * await Deno.remove(dir, { recursive: true });
   * ```
   *
   * @param path The file to write, relative to the root.
   * @param data What to write (see {@linkcode WriteFileData}).
   * @param options See {@linkcode WriteFileOptions}.
   * @returns What {@linkcode writeFile} did.
   */
  writeFile(
    path: string,
    data: WriteFileData,
    options?: WriteFileOptions,
  ): Promise<WriteFileResult>;

  /**
   * Reads a whole regular file. A symlink at the last component is followed,
   * confined. The file is opened once and the open handle must be the file
   * resolved inside the root (same device and inode); if it was replaced in
   * between, the path is resolved again (three attempts in all, then
   * `SourceChangedError`): a file swapped for a symlink (to outside or
   * anywhere) after its resolution is never read. The directories on the way
   * are checked again after the read too. (A concurrent process swapping one
   * of those directories can still win a race: see {@linkcode openRoot}.)
   * Directories (`EISDIR`) and FIFOs, sockets and devices
   * (`UnsupportedFileTypeError`) are refused before anything is opened.
   *
   * @example
   * ```ts
   * import { openRoot } from "@safefs/safefs";
   * import { equal as assertEquals } from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const root = await openRoot(dir);
   * await root.writeFile("a.txt", "alpha");
   * assertEquals(new TextDecoder().decode(await root.readFile("a.txt")), "alpha");
   * await Deno.remove(dir, { recursive: true });
   * ```
   *
   * @param path The file to read, relative to the root.
   * @param options See {@linkcode RootReadFileOptions}.
   * @returns The file's bytes.
   */
  readFile(path: string, options?: RootReadFileOptions): Promise<Uint8Array>;

  /**
   * Information about an entry, following a symlink at the last component
   * (confined). `"."` is the root itself.
   *
   * @example
   * ```ts
   * import { openRoot } from "@safefs/safefs";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const root = await openRoot(dir);
   * await root.writeFile("a.txt", "alpha");
   * await Deno.symlink("a.txt", `${dir}/link`);
   * assert((await root.stat("link")).isFile);
   * await Deno.remove(dir, { recursive: true });
   * ```
   *
   * @param path The entry, relative to the root.
   * @returns Its `Deno.FileInfo`.
   */
  stat(path: string): Promise<Deno.FileInfo>;

  /**
   * Information about an entry itself: a symlink at the last component is
   * not followed.
   *
   * @example
   * ```ts
   * import { openRoot } from "@safefs/safefs";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const root = await openRoot(dir);
   * await Deno.symlink("/etc/passwd", `${dir}/link`);
   * assert((await root.lstat("link")).isSymlink); // the link itself: allowed
   * await Deno.remove(dir, { recursive: true });
   * ```
   *
   * @param path The entry, relative to the root.
   * @returns Its `Deno.FileInfo`.
   */
  lstat(path: string): Promise<Deno.FileInfo>;

  /**
   * Creates a directory. The last component is not followed (an existing
   * entry, even a symlink, gives `AlreadyExistsError`), except that with
   * `recursive` an existing directory, or a symlink that leads to one inside
   * the root, is accepted.
   *
   * @example
   * ```ts
   * import { openRoot } from "@safefs/safefs";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const root = await openRoot(dir);
   * await root.mkdir("a/b/c", { recursive: true });
   * assert((await root.stat("a/b/c")).isDirectory);
   * await Deno.remove(dir, { recursive: true });
   * ```
   *
   * @param path The directory to create, relative to the root.
   * @param options See {@linkcode RootMkdirOptions}.
   * @returns Nothing.
   */
  mkdir(path: string, options?: RootMkdirOptions): Promise<void>;

  /**
   * Lists a directory, sorted by name. A symlink at the last component is
   * followed (confined); entries that are symlinks are reported as such, not
   * followed. `"."` is the root itself.
   *
   * @example
   * ```ts
   * import { openRoot } from "@safefs/safefs";
   * import { deepEqual } from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const root = await openRoot(dir);
   * await root.writeFile("b.txt", "b");
   * await root.mkdir("a");
   * deepEqual((await root.readDir(".")).map((e) => e.name), ["a", "b.txt"]);
   * await Deno.remove(dir, { recursive: true });
   * ```
   *
   * @param path The directory, relative to the root.
   * @returns Its entries.
   */
  readDir(path: string): Promise<RootDirEntry[]>;

  /**
   * {@linkcode sweep} of a directory inside the root (a symlink at the last
   * component is followed, confined).
   *
   * @example
   * ```ts
   * import { openRoot } from "@safefs/safefs";
   * import { deepEqual } from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const root = await openRoot(dir);
   * deepEqual((await root.sweep(".", { olderThan: 0 })).removed, []);
   * await Deno.remove(dir, { recursive: true });
   * ```
   *
   * @param dir The directory to clean, relative to the root.
   * @param options See {@linkcode SweepOptions}.
   * @returns What {@linkcode sweep} did.
   */
  sweep(dir: string, options?: SweepOptions): Promise<SweepResult>;
}

const DEFAULT_MAX_SYMLINKS = 40;

/**
 * Opens `dir` as a {@linkcode Root}: a handle whose methods (`move`, `copy`,
 * `remove`, `writeFile`, `readFile`, `stat`, `lstat`, `mkdir`, `readDir`,
 * `sweep`) take paths relative to `dir` and refuse, with `PermissionError`
 * (code `"ENOTCAPABLE"`) and nothing done, any path that leads outside it.
 *
 * Resolution (like `openat2(RESOLVE_BENEATH)`): a path is walked component
 * by component from the root, each directory opened relative to the one
 * before it without following a symlink. `..` leaves the directory reached
 * last, and is refused where it would climb above the root. A symlink in
 * the middle of a path, or at its end where the method follows it, is read:
 * an absolute target is refused (even one that points inside the root: the
 * root's location is not part of its contents), a relative target is
 * spliced in and the walk goes on, so a link may lead anywhere beneath the
 * root but not above it, at most `maxSymlinks` links per path (then code
 * `"ELOOP"`). Every component before the last must be a directory.
 *
 * The last component is NOT followed by `move`, `copy`'s destination,
 * `remove`, `writeFile`, `mkdir` and `lstat` (they act on a symlink itself,
 * which is always allowed, wherever it points), and IS followed, confined, by
 * `readFile`, `stat`, `readDir`, `sweep` and `copy`'s source with
 * `dereference` (which also checks that every symlink in the source tree
 * stays inside). A trailing slash is ignored. Hard links and mount points
 * are not symlinks: a file hard-linked from outside, or a filesystem mounted
 * inside the root, is part of the root (as for `openat2`).
 *
 * On the ffi backend (`--allow-ffi`), the root is a directory descriptor and
 * every call acts relative to the directories held open by its resolution:
 * a process that renames entries inside the root while a call runs (say, a
 * directory on the way swapped for a symlink to outside, in a tight loop)
 * cannot redirect it: the swapped-in symlink is refused when it is met, and
 * a directory already opened stays the one used. A root renamed while open
 * is followed, like any descriptor.
 *
 * On the path backend, a root is its path and its identity (device, inode),
 * checked before every call: a root moved or replaced refuses every later
 * call. The resolution is as exact against hostile names and symlinks that
 * hold still, but every call names a path that the kernel walks again, so
 * against a process renaming entries inside the root while a call runs it
 * is best effort (see the README).
 *
 * Deno permissions still apply (contract G8) to the real paths: grant them
 * for the root's real path.
 *
 * @example Serve untrusted names from a directory
 * ```ts
 * import { openRoot, PermissionError } from "@safefs/safefs";
 * import assert, { equal as assertEquals } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * using root = await openRoot(dir);
 * await root.mkdir("uploads");
 * await root.writeFile("uploads/photo.jpg", new Uint8Array([1, 2, 3]));
 * assertEquals((await root.readFile("uploads/photo.jpg")).length, 3);
 *
 * for (const evil of ["../../etc/passwd", "/etc/passwd", "uploads/../../x"]) {
 *   await assert.rejects(root.readFile(evil), PermissionError);
 * }
 * await Deno.symlink("/etc", `${dir}/uploads/etc`);
 * await assert.rejects(root.readFile("uploads/etc/passwd"), PermissionError);
 * await root.remove("uploads/etc"); // the link itself: allowed
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param dir The directory to confine calls to (a symlink to it is resolved
 * once, here).
 * @param options See {@linkcode OpenRootOptions}.
 * @returns The handle.
 * @throws {NotFoundError} `dir` does not exist.
 * @throws {SafeFsError} `dir` is not a directory (code `"ENOTDIR"`).
 * @throws {PermissionError} Read permission for `dir` is missing.
 * @throws {InvalidArgumentError} `dir` is empty or has a NUL byte, or `maxSymlinks` is not an integer >= 0.
 */
export function openRoot(
  dir: PathLike,
  options: OpenRootOptions = {},
): Promise<Root> {
  try {
    return Promise.resolve(openRootSync(dir, options));
  } catch (e) {
    return Promise.reject(e);
  }
}

function openRootSync(dir: PathLike, options: OpenRootOptions): Root {
  const op = "openRoot";
  const abs = locate(dir, op, true).abs;
  const maxSymlinks = options.maxSymlinks ?? DEFAULT_MAX_SYMLINKS;
  if (!Number.isInteger(maxSymlinks) || maxSymlinks < 0) {
    throw new InvalidArgumentError(
      `Cannot open root '${abs}': maxSymlinks must be an integer >= 0, got ${maxSymlinks}`,
      { code: "EINVAL", op, path: abs },
    );
  }
  preflight(op, [{ kind: "read", path: abs, followLast: true }]);
  let real: string;
  try {
    real = sys.realPath(abs);
  } catch (e) {
    if (e instanceof NotFoundError) {
      throw new NotFoundError(`Cannot open root '${abs}': it does not exist`, {
        code: "ENOENT",
        op,
        path: abs,
        cause: e,
      });
    }
    throw e;
  }
  let d: Dir;
  try {
    d = sys.openDir(real, false);
  } catch (e) {
    if (
      e instanceof SafeFsError && (e.code === "ENOTDIR" || e.code === "ELOOP")
    ) {
      throw errorFor(
        "ENOTDIR",
        `Cannot open root '${abs}': it is not a directory`,
        {
          code: "ENOTDIR",
          op,
          path: abs,
          cause: e,
        },
      );
    }
    throw e;
  }
  const st = sys.fstat(d);
  return new RootHandle({
    dir: d,
    path: real,
    dev: st.dev,
    ino: st.ino,
    maxSymlinks,
  });
}
