// Copyright 2026 the safefs authors. MIT license.
/**
 * `openRoot()`: the safefs primitives confined beneath one directory, in the
 * manner of Go's `os.Root` and Rust's cap-std.
 *
 * A {@linkcode Root} takes paths relative to its directory. Each path is
 * resolved component by component from the root's real path: `..` may not
 * climb above the root, absolute paths and absolute symlinks are refused,
 * relative symlinks are followed only while they stay beneath the root. The
 * resolved path, whose directory components were all seen to be real
 * directories (no symlink left in them), is handed to the ordinary primitive.
 *
 * This backend is path-based (Deno has no `openat`, `O_NOFOLLOW` or
 * `openat2`): it is exact against hostile path strings and hostile symlinks
 * that hold still, and best effort against a process that renames entries
 * inside the root while a call runs. {@linkcode openRoot} says precisely where
 * the line is.
 *
 * @module
 */
import { isAbsolute, type PathLike, toAbsolute } from "./_path.ts";
import { preflight } from "./_perm.ts";
import { type FileInfo, type Handle, sys } from "./_sys.ts";
import { checkAbort, sameIdentity } from "./_copy.ts";
import { lstatOrNull } from "./_dest.ts";
import { copy, type CopyOptions, type CopyResult } from "./copy.ts";
import { move, type MoveOptions, type MoveResult } from "./move.ts";
import { remove, type RemoveOptions, type RemoveResult } from "./remove.ts";
import { sweep, type SweepOptions, type SweepResult } from "./sweep.ts";
import {
  writeFile,
  type WriteFileData,
  type WriteFileOptions,
  type WriteFileResult,
} from "./write_file.ts";
import {
  AlreadyExistsError,
  InvalidArgumentError,
  NotFoundError,
  PermissionError,
  SafeFsError,
  SourceChangedError,
  UnsupportedFileTypeError,
} from "./errors.ts";

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
 * outside it. Obtained from {@linkcode openRoot}.
 *
 * Every method first checks that the root is still the directory opened
 * (same device and inode at the same path), resolves its paths inside it,
 * checks the directories it went through again, and then calls the
 * primitive of the same name with the resolved absolute path. Results and
 * errors of those primitives carry absolute paths under {@linkcode Root.path}.
 *
 * Refusals: an absolute path, a `..` or symlink leading above the root, an
 * absolute symlink, or a root moved or replaced since it was opened throw
 * `PermissionError` (code `"ENOTCAPABLE"`) and do nothing. An empty path, a
 * NUL byte, or a call that would remove or replace the root itself throw
 * `InvalidArgumentError`. Too many symlinks in one path throw a
 * `SafeFsError` of code `"ELOOP"`. A missing directory in the middle of a
 * path throws `NotFoundError`, one that is not a directory a `SafeFsError`
 * of code `"ENOTDIR"`. Concurrent changes: a directory on the way found
 * removed or replaced at the re-check throws `PermissionError` (nothing
 * done); a symlink replaced while it was being read, `SourceChangedError`.
 */
export interface Root {
  /** The root's real absolute path (symlinks resolved at open). */
  readonly path: string;

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

/** A directory checked during a resolution: checked again before acting. */
interface Checked {
  path: string;
  info: FileInfo;
}

/** One component waiting to be resolved, and the symlink it came from. */
interface Part {
  name: string;
  /** Root-relative path of the symlink whose target supplied it. */
  via?: string;
  /** That symlink's target. */
  target?: string;
}

/** Where a path led. */
interface Resolved {
  /** Absolute path: the root's real path plus `names`. */
  abs: string;
  /** Components below the root; none of them but the last is a symlink. */
  names: string[];
  /** The directories gone through (the root first) and their lstat. */
  chain: Checked[];
  /**
   * lstat of what the path names when its last component was followed (never
   * a symlink then); null when nothing is there, or when it was not followed.
   */
  info: FileInfo | null;
}

/** Options of one resolution. */
interface Walk {
  /** Follow a symlink at the last component (confined). */
  follow: boolean;
  /** Create missing directories on the way (mkdir recursive). */
  create?: { mode: number | undefined; durable: boolean };
}

const DEFAULT_MAX_SYMLINKS = 40;
/** readFile: resolutions tried when the file is replaced before it is opened. */
const READ_ATTEMPTS = 3;
const READ_CHUNK = 256 * 1024;

function parts(target: string): string[] {
  return target.split("/").filter((c) => c !== "" && c !== ".");
}

class RootHandle implements Root {
  readonly path: string;
  readonly #info: FileInfo;
  readonly #maxSymlinks: number;

  constructor(path: string, info: FileInfo, maxSymlinks: number) {
    this.path = path;
    this.#info = info;
    this.#maxSymlinks = maxSymlinks;
  }

  async move(
    src: string,
    dest: string,
    options: MoveOptions = {},
  ): Promise<MoveResult> {
    const op = "move";
    await this.#checkRoot(op, src);
    const s = await this.#resolve(op, src, { follow: false });
    const d = await this.#resolve(op, dest, { follow: false });
    this.#notRoot(op, src, s);
    this.#notRoot(op, dest, d);
    await this.#recheck(op, src, s, d);
    return await move(s.abs, d.abs, options);
  }

  async copy(
    src: string,
    dest: string,
    options: CopyOptions = {},
  ): Promise<CopyResult> {
    const op = "copy";
    const dereference = options.dereference ?? false;
    await this.#checkRoot(op, src);
    const s = await this.#resolve(op, src, { follow: dereference });
    const d = await this.#resolve(op, dest, { follow: false });
    this.#notRoot(op, dest, d);
    if (dereference && s.info?.isDirectory) await this.#confineTree(op, s);
    await this.#recheck(op, src, s, d);
    return await copy(s.abs, d.abs, options);
  }

  async remove(
    path: string,
    options: RemoveOptions = {},
  ): Promise<RemoveResult> {
    const op = "remove";
    await this.#checkRoot(op, path);
    let r: Resolved;
    try {
      r = await this.#resolve(op, path, { follow: false });
    } catch (e) {
      if (options.missingOk && e instanceof NotFoundError) {
        return { path: e.path ?? this.path, entriesRemoved: 0 };
      }
      throw e;
    }
    this.#notRoot(op, path, r);
    await this.#recheck(op, path, r);
    return await remove(r.abs, options);
  }

  async writeFile(
    path: string,
    data: WriteFileData,
    options: WriteFileOptions = {},
  ): Promise<WriteFileResult> {
    const op = "writeFile";
    await this.#checkRoot(op, path);
    const r = await this.#resolve(op, path, { follow: false });
    this.#notRoot(op, path, r);
    await this.#recheck(op, path, r);
    return await writeFile(r.abs, data, options);
  }

  async readFile(
    path: string,
    options: RootReadFileOptions = {},
  ): Promise<Uint8Array> {
    const op = "readFile";
    const { signal } = options;
    for (let attempt = 1;; attempt++) {
      await this.#checkRoot(op, path);
      const r = await this.#resolve(op, path, { follow: true });
      const info = this.#existing(op, path, r);
      if (info.isDirectory) {
        throw new SafeFsError(
          `Cannot readFile '${path}': '${r.abs}' is a directory`,
          { code: "EISDIR", op, path: r.abs },
        );
      }
      if (!info.isFile) {
        // Refused before open: opening a FIFO blocks until a writer comes.
        throw new UnsupportedFileTypeError(
          `Cannot readFile '${path}': '${r.abs}' is not a regular file`,
          { code: "EFTYPE", op, path: r.abs },
        );
      }
      await this.#recheck(op, path, r);
      checkAbort(signal, op, r.abs);
      const h = await sys.open(r.abs, { read: true });
      try {
        const now = await sys.fstat(h);
        if (now.dev !== info.dev || now.ino !== info.ino) {
          // Replaced between the resolution and the open (perhaps by a
          // symlink leading out): read nothing, resolve again.
          if (attempt < READ_ATTEMPTS) continue;
          throw new SourceChangedError(
            `Cannot readFile '${path}': '${r.abs}' was replaced between its resolution ` +
              `and its open, ${READ_ATTEMPTS} times; nothing was read`,
            { code: "ESRCCHANGED", op, path: r.abs },
          );
        }
        const data = await readAll(h, now.size, signal, r.abs);
        // The directories resolved must still be there: a swap that lasted
        // through the read is refused (the data is dropped).
        await this.#recheck(op, path, r);
        return data;
      } finally {
        sys.close(h);
      }
    }
  }

  async stat(path: string): Promise<Deno.FileInfo> {
    const op = "stat";
    await this.#checkRoot(op, path);
    const r = await this.#resolve(op, path, { follow: true });
    const info = this.#existing(op, path, r);
    await this.#recheck(op, path, r);
    return info;
  }

  async lstat(path: string): Promise<Deno.FileInfo> {
    const op = "lstat";
    await this.#checkRoot(op, path);
    const r = await this.#resolve(op, path, { follow: false });
    let info: FileInfo;
    try {
      info = await sys.lstat(r.abs);
    } catch (e) {
      if (e instanceof NotFoundError) throw notFound(op, path, r.abs, e);
      throw e;
    }
    // What was read must have come through the directories checked.
    await this.#recheck(op, path, r);
    return info;
  }

  async mkdir(path: string, options: RootMkdirOptions = {}): Promise<void> {
    const op = "mkdir";
    const recursive = options.recursive ?? false;
    const durable = options.durable ?? true;
    const { mode } = options;
    if (
      mode !== undefined &&
      (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)
    ) {
      throw new InvalidArgumentError(
        `Cannot mkdir '${path}': mode must be an integer from 0 to 0o7777, got ${mode}`,
        { code: "EINVAL", op, path },
      );
    }
    await this.#checkRoot(op, path);
    const r = await this.#resolve(op, path, {
      follow: false,
      create: recursive ? { mode, durable } : undefined,
    });
    if (r.names.length === 0) {
      if (recursive) return;
      throw new AlreadyExistsError(
        `Cannot mkdir '${path}': it is the root '${this.path}' itself, which exists`,
        { code: "EEXIST", op, path: this.path },
      );
    }
    await this.#recheck(op, path, r);
    if (recursive && await this.#isConfinedDir(op, path, r)) return;
    try {
      await sys.mkdir(r.abs, mode);
    } catch (e) {
      // Created meanwhile by someone else: accepted like an existing one.
      if (
        !(recursive && e instanceof AlreadyExistsError &&
          await this.#isConfinedDir(op, path, r))
      ) throw e;
      return;
    }
    if (durable) await sys.fsyncDir(r.chain[r.chain.length - 1].path);
  }

  /**
   * mkdir -p on an existing entry: true for a directory, or a symlink that
   * leads to one without leaving the root (PermissionError if it leaves);
   * false when nothing is there; AlreadyExistsError for anything else.
   */
  async #isConfinedDir(
    op: string,
    path: string,
    r: Resolved,
  ): Promise<boolean> {
    const f = await this.#resolve(op, path, { follow: true });
    if (f.info === null) return false;
    if (f.info.isDirectory) return true;
    throw new AlreadyExistsError(
      `Cannot mkdir '${path}': '${r.abs}' exists and is not a directory`,
      { code: "EEXIST", op, path: r.abs },
    );
  }

  async readDir(path: string): Promise<RootDirEntry[]> {
    const op = "readDir";
    await this.#checkRoot(op, path);
    const r = await this.#resolve(op, path, { follow: true });
    const info = this.#existing(op, path, r);
    if (!info.isDirectory) {
      throw new SafeFsError(
        `Cannot readDir '${path}': '${r.abs}' is not a directory`,
        { code: "ENOTDIR", op, path: r.abs },
      );
    }
    await this.#recheck(op, path, r);
    const list = await sys.readDir(r.abs);
    // The names must have come from the directory checked.
    await this.#recheck(op, path, r);
    return list
      .map((e) => ({
        name: e.name,
        isFile: e.isFile,
        isDirectory: e.isDirectory,
        isSymlink: e.isSymlink,
      }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async sweep(dir: string, options: SweepOptions = {}): Promise<SweepResult> {
    const op = "sweep";
    await this.#checkRoot(op, dir);
    const r = await this.#resolve(op, dir, { follow: true });
    await this.#recheck(op, dir, r);
    return await sweep(r.abs, options);
  }

  // ---- confinement ---------------------------------------------------------

  /** The absolute path of root-relative components. */
  #under(names: string[]): string {
    if (names.length === 0) return this.path;
    return `${this.path === "/" ? "" : this.path}/${names.join("/")}`;
  }

  #escape(op: string, given: string, why: string): PermissionError {
    return new PermissionError(
      `Refusing to ${op} '${given}': ${why}`,
      { code: "ENOTCAPABLE", op, path: given },
    );
  }

  /** Throws unless the root is still the directory that was opened. */
  async #checkRoot(op: string, given: string): Promise<void> {
    const now = await lstatOrNull(this.path);
    if (now === null) {
      throw this.#replaced(op, given, "it is gone (moved or removed)");
    }
    if (!sameIdentity(now, this.#info)) {
      const what = now.isSymlink
        ? "a symlink is there now"
        : now.isDirectory
        ? "another directory is there now"
        : "something else is there now";
      throw this.#replaced(op, given, what);
    }
  }

  #replaced(
    op: string,
    given: string,
    what: string,
    cause?: unknown,
  ): PermissionError {
    return new PermissionError(
      `Refusing to ${op} '${given}': the root '${this.path}' was moved or replaced ` +
        `since openRoot() (${what}); nothing was done`,
      { code: "ENOTCAPABLE", op, path: this.path, cause },
    );
  }

  /** Checks the shape of a path argument and splits it into components. */
  #split(op: string, given: string): string[] {
    if (typeof given !== "string") {
      throw new InvalidArgumentError(
        `Cannot ${op}: a root takes paths as strings relative to it, got ${typeof given}`,
        { code: "EINVAL", op },
      );
    }
    if (given.length === 0) {
      throw new InvalidArgumentError(
        `Cannot ${op}: the path is empty (use '.' for the root itself)`,
        { code: "EINVAL", op, path: given },
      );
    }
    if (given.includes("\0")) {
      throw new InvalidArgumentError(
        `Cannot ${op} '${
          given.replaceAll("\0", "\\0")
        }': it contains a NUL byte`,
        { code: "EINVAL", op, path: given },
      );
    }
    if (isAbsolute(given)) {
      throw this.#escape(
        op,
        given,
        `it is an absolute path, and a root takes only paths relative to it ('${this.path}')`,
      );
    }
    return parts(given);
  }

  #resolve(op: string, given: string, how: Walk): Promise<Resolved> {
    return this.#walk(op, given, this.#split(op, given), how);
  }

  /**
   * Resolves `names` (root-relative components) one by one: each is lstat'ed
   * under the directories resolved so far; a symlink's target is spliced in
   * (absolute: refused), `..` goes back one directory (above the root:
   * refused), and every component but the last must be a directory. The last
   * one is lstat'ed and followed only with `how.follow`.
   */
  async #walk(
    op: string,
    given: string,
    names: string[],
    how: Walk,
  ): Promise<Resolved> {
    const done: string[] = [];
    const chain: Checked[] = [{ path: this.path, info: this.#info }];
    const queue: Part[] = names.map((name) => ({ name }));
    let hops = 0;
    let info: FileInfo | null = null;
    let ended = false;
    while (queue.length > 0) {
      const part = queue.shift()!;
      if (part.name === "..") {
        if (done.length === 0) {
          throw this.#escape(
            op,
            given,
            part.via === undefined
              ? `'..' climbs above the root '${this.path}'`
              : `the symlink '${part.via}' (-> '${part.target}') climbs above the root '${this.path}'`,
          );
        }
        done.pop();
        chain.pop();
        continue;
      }
      const last = queue.length === 0;
      const path = this.#under([...done, part.name]);
      if (last && !how.follow) {
        done.push(part.name);
        ended = true;
        break;
      }
      let st: FileInfo;
      try {
        st = await sys.lstat(path);
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
        if (last) {
          // Nothing there: the primitive creates it or reports it.
          done.push(part.name);
          ended = true;
          break;
        }
        if (how.create === undefined) {
          throw new NotFoundError(
            `Cannot ${op} '${given}': '${path}' does not exist`,
            { code: "ENOENT", op, path, cause: e },
          );
        }
        await this.#createDir(path, chain, how.create);
        st = await sys.lstat(path);
      }
      if (st.isSymlink) {
        const link = [...done, part.name].join("/");
        if (++hops > this.#maxSymlinks) {
          throw new SafeFsError(
            `Cannot ${op} '${given}': more than ${this.#maxSymlinks} symlinks ` +
              `on the way (the last one '${link}'; a loop of links?)`,
            { code: "ELOOP", op, path },
          );
        }
        let target: string;
        try {
          target = await sys.readLink(path);
        } catch (e) {
          // No longer a symlink (EINVAL) or gone (ENOENT): replaced since
          // its lstat, by another process.
          if (!(e instanceof SafeFsError)) throw e;
          if (e.code !== "EINVAL" && e.code !== "ENOENT") throw e;
          throw new SourceChangedError(
            `Cannot ${op} '${given}': '${path}' was replaced while the path was resolved`,
            { code: "ESRCCHANGED", op, path, cause: e },
          );
        }
        if (isAbsolute(target)) {
          throw this.#escape(
            op,
            given,
            `the symlink '${link}' has the absolute target '${target}', and a root ` +
              `follows only relative symlinks that stay beneath it ('${this.path}')`,
          );
        }
        queue.unshift(
          ...parts(target).map((name) => ({ name, via: link, target })),
        );
        continue;
      }
      if (!last && !st.isDirectory) {
        throw new SafeFsError(
          `Cannot ${op} '${given}': '${path}' is not a directory`,
          { code: "ENOTDIR", op, path },
        );
      }
      done.push(part.name);
      if (st.isDirectory) chain.push({ path, info: st });
      if (last) {
        info = st;
        ended = true;
      }
    }
    // Ended on `..`, `.` or a symlink to one: the last directory reached is
    // what the path names.
    if (!ended && how.follow) info = chain[chain.length - 1].info;
    return { abs: this.#under(done), names: done, chain, info };
  }

  /** mkdir recursive: creates a missing directory found on the way. */
  async #createDir(
    path: string,
    chain: Checked[],
    create: { mode: number | undefined; durable: boolean },
  ): Promise<void> {
    try {
      await sys.mkdir(path, create.mode);
    } catch (e) {
      // Created meanwhile by someone else: it is checked like any other.
      if (!(e instanceof AlreadyExistsError)) throw e;
      return;
    }
    if (create.durable) await sys.fsyncDir(chain[chain.length - 1].path);
  }

  /** Throws unless a resolution led to a root other than the root itself. */
  #notRoot(op: string, given: string, r: Resolved): void {
    if (r.names.length > 0) return;
    throw new InvalidArgumentError(
      `Cannot ${op} '${given}': it names the root '${this.path}' itself`,
      { code: "EINVAL", op, path: this.path },
    );
  }

  /** The info of what a followed path names, or NotFoundError. */
  #existing(op: string, given: string, r: Resolved): FileInfo {
    if (r.info !== null) return r.info;
    throw notFound(op, given, r.abs);
  }

  /**
   * Checks again, right before acting, that the root and every directory a
   * resolution went through are still the same directories (not replaced by
   * another directory or a symlink). Best effort: see {@linkcode openRoot}.
   */
  async #recheck(op: string, given: string, ...rs: Resolved[]): Promise<void> {
    await this.#checkRoot(op, given);
    const seen = new Set<string>([this.path]);
    for (const r of rs) {
      for (const c of r.chain) {
        if (seen.has(c.path)) continue;
        seen.add(c.path);
        const now = await lstatOrNull(c.path);
        if (now === null || !sameIdentity(now, c.info)) {
          throw new PermissionError(
            `Refusing to ${op} '${given}': the directory '${c.path}' was ${
              now === null
                ? "removed"
                : now.isSymlink
                ? "replaced by a symlink"
                : "replaced"
            } while the path was resolved; nothing was done`,
            { code: "ENOTCAPABLE", op, path: c.path },
          );
        }
      }
    }
  }

  /**
   * copy with dereference: every symlink in the source tree must resolve
   * inside the root (the copy would read what it leads to). Walks the tree
   * the way the copy will, following links to directories.
   */
  async #confineTree(op: string, top: Resolved): Promise<void> {
    const key = (i: FileInfo): string => `${i.dev}:${i.ino}`;
    const stack: { names: string[]; ancestors: Set<string> }[] = [
      { names: top.names, ancestors: new Set([key(top.info!)]) },
    ];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      for (const ent of await sys.readDir(this.#under(dir.names))) {
        let names = [...dir.names, ent.name];
        let info: FileInfo;
        try {
          info = await sys.lstat(this.#under(names));
        } catch (e) {
          if (e instanceof NotFoundError) continue; // copy() reports it
          throw e;
        }
        if (info.isSymlink) {
          const rel = names.join("/");
          const r = await this.#walk(op, rel, names, { follow: true });
          if (r.info === null) continue; // dangling: copy() reports it
          info = r.info;
          names = r.names;
        }
        if (!info.isDirectory || dir.ancestors.has(key(info))) continue;
        stack.push({
          names,
          ancestors: new Set(dir.ancestors).add(key(info)),
        });
      }
    }
  }
}

function notFound(
  op: string,
  given: string,
  abs: string,
  cause?: unknown,
): NotFoundError {
  return new NotFoundError(
    `Cannot ${op} '${given}': '${abs}' does not exist`,
    { code: "ENOENT", op, path: abs, cause },
  );
}

async function readAll(
  h: Handle,
  sizeHint: number,
  signal: AbortSignal | undefined,
  path: string,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const size = Math.max(Math.min(sizeHint + 1, READ_CHUNK), 1);
  while (true) {
    checkAbort(signal, "readFile", path);
    const buf = new Uint8Array(size);
    const n = await sys.read(h, buf);
    if (n === null) break;
    chunks.push(buf.subarray(0, n));
    total += n;
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * Opens `dir` as a {@linkcode Root}: a handle whose methods (`move`, `copy`,
 * `remove`, `writeFile`, `readFile`, `stat`, `lstat`, `mkdir`, `readDir`,
 * `sweep`) take paths relative to `dir` and refuse, with `PermissionError`
 * (code `"ENOTCAPABLE"`) and nothing done, any path that leads outside it.
 *
 * `dir` is resolved to its real path and its identity (device, inode) kept.
 * Every call checks that the same directory is still at that path; a root
 * renamed away, removed, or replaced (by another directory, even a new one
 * with the same name, or by a symlink, even one pointing back to it) refuses
 * every later call.
 *
 * Path resolution (like `openat2(RESOLVE_BENEATH)`): a path is walked
 * component by component from the root's real path, with `lstat`. `..`
 * removes the previous component, and refuses when there is none (it would
 * climb above the root). A symlink in the middle of a path, or at its end
 * where the method follows it, is read: an absolute target is refused (even
 * one that points inside the root: the root's location is not part of its
 * contents), a relative target is spliced in and the walk goes on, so a link
 * may lead anywhere beneath the root but not above it, at most `maxSymlinks`
 * links per path (then code `"ELOOP"`). Every component before the last must
 * then be a real directory. The path given to the primitive is the root's
 * real path plus the resolved components: no symlink in its directories.
 * Before handing it over, the root and each directory on the way are
 * `lstat`ed again and must be unchanged.
 *
 * The last component is NOT followed by `move`, `copy`'s destination,
 * `remove`, `writeFile`, `mkdir` and `lstat` (they act on a symlink itself,
 * which is always allowed, wherever it points), and IS followed, confined, by
 * `readFile`, `stat`, `readDir`, `sweep` and `copy`'s source with
 * `dereference`. A trailing slash is ignored. `copy` with `dereference`
 * first walks the source tree and resolves every symlink in it the same way:
 * one leading outside refuses the copy. Hard links and mount points are not
 * symlinks: a file hard-linked from outside, or a filesystem mounted inside
 * the root, is part of the root (as for `openat2`).
 *
 * What this path-based implementation guarantees: a call never acts outside
 * the root because of its path arguments, or of symlinks that do not change
 * while it runs (untrusted names; trees holding untrusted links, such as
 * unpacked archives), and never once its root was moved or replaced.
 *
 * What it cannot guarantee: against a process that renames entries inside
 * the root WHILE a call runs, it is best effort. Every `lstat` of the
 * resolution, and every system call the primitive makes after it, names a
 * path, so the kernel walks its directories again each time: a directory on
 * the way swapped for a symlink to outside in between (and swapped back
 * before the re-check) redirects that call outside. The re-checks of the
 * root and of each directory on the way, right before acting (and after
 * reading, for `readFile`, `lstat` and `readDir`), make that window short,
 * not closed; for a long `copy` or `move` it lasts the whole call, since the
 * primitive re-resolves its paths at each step. `readFile` also compares the
 * device and inode of its open handle with the file resolved, so a last
 * component swapped for a symlink after the resolution is never read; only
 * a directory swapped on the way, timed around the resolution, can still
 * redirect it (a test racing such a swapper in a tight loop saw about one
 * read in four thousand return outside data); and its `open` may reach a
 * swapped-in FIFO, which blocks it. `copy` with `dereference` has a wider
 * window: from its walk of the source tree to `copy()`'s own (after that,
 * `copy()`'s identity checks fail the copy on any change).
 *
 * A file-descriptor backend would close these windows: the root opened once
 * as a directory descriptor, every path resolved by the kernel in one call
 * with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)` (or `openat` with
 * `O_NOFOLLOW | O_DIRECTORY` per component where `openat2` is missing), and
 * every change made with `mkdirat`, `unlinkat`, `renameat2`, `linkat` and
 * `fstatat(AT_SYMLINK_NOFOLLOW)` relative to a held directory descriptor, as
 * Go's `os.Root` and cap-std do; final opens with `O_NOFOLLOW | O_NONBLOCK`.
 * A renamed root would then be followed rather than refused. It needs Deno
 * FFI (`--allow-ffi`); the `_sys` seam is where it would go.
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
 * const root = await openRoot(dir);
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
export async function openRoot(
  dir: PathLike,
  options: OpenRootOptions = {},
): Promise<Root> {
  const op = "openRoot";
  const abs = toAbsolute(dir, op);
  const maxSymlinks = options.maxSymlinks ?? DEFAULT_MAX_SYMLINKS;
  if (!Number.isInteger(maxSymlinks) || maxSymlinks < 0) {
    throw new InvalidArgumentError(
      `Cannot open root '${abs}': maxSymlinks must be an integer >= 0, got ${maxSymlinks}`,
      { code: "EINVAL", op, path: abs },
    );
  }
  await preflight(op, [{ kind: "read", path: abs, followLast: true }]);
  let real: string;
  try {
    real = await sys.realPath(abs);
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
  const info = await sys.lstat(real);
  if (!info.isDirectory) {
    throw new SafeFsError(`Cannot open root '${abs}': it is not a directory`, {
      code: "ENOTDIR",
      op,
      path: abs,
    });
  }
  return new RootHandle(real, info, maxSymlinks);
}
