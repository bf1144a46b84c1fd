// Copyright 2026 the safefs authors. MIT license.
/**
 * `openRoot()`: the safefs primitives confined beneath one directory, in the
 * manner of Go's `os.Root` and Rust's cap-std. Resolution is in
 * `_resolve.ts`; this module is the facade: each method resolves its paths
 * and runs the primitive's core on the directories reached.
 *
 * @module
 */
import { locate, type PathLike } from "./_path.ts";
import { type Need, preflight } from "./_perm.ts";
import { type Dir, feat, sys } from "./_sys.ts";
import { type Gen, heavy, runAsync } from "./_run.ts";
import {
  checkRoot,
  release,
  resolve,
  type Resolved,
  type RootDir,
  type Walk,
} from "./_resolve.ts";
import type { Loc } from "./_path.ts";
import { copyAt, type CopyOptions, type CopyResult } from "./copy.ts";
import { moveAt, type MoveOptions, type MoveResult } from "./move.ts";
import { removeAt, type RemoveOptions, type RemoveResult } from "./remove.ts";
import {
  checkAge,
  sweepDir,
  type SweepOptions,
  type SweepResult,
} from "./sweep.ts";
import {
  writeFileAt,
  type WriteFileData,
  type WriteFileOptions,
  type WriteFileResult,
} from "./write_file.ts";
import { fsync } from "./_copy/sync.ts";
import { checkAbort } from "./_copy/options.ts";
import { toFileInfo } from "./_copy/walk.ts";
import { errorFor } from "./_errno.ts";
import {
  AlreadyExistsError,
  InvalidArgumentError,
  NotFoundError,
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
/** readFile on the path backend: resolutions tried when the file is replaced meanwhile. */
const READ_ATTEMPTS = 3;
const READ_CHUNK = 256 * 1024;
const HOUR = 3_600_000;

/** The Loc of a resolved entry (for the primitives' cores). */
function locOf(r: Resolved): Loc {
  const cut = r.abs.lastIndexOf("/");
  return {
    abs: r.abs,
    parent: cut <= 0 ? "/" : r.abs.slice(0, cut),
    name: r.name,
    slash: false,
  };
}

/** Closes roots that were never closed, when they are collected. */
const leaks = new FinalizationRegistry<Dir>((d) => sys.close(d));

class RootHandle implements Root {
  readonly path: string;
  readonly #root: RootDir;
  #closed = false;

  constructor(root: RootDir) {
    this.path = root.path;
    this.#root = root;
    leaks.register(this, root.dir, this);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    leaks.unregister(this);
    sys.close(this.#root.dir);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #open(op: string, given: string): RootDir {
    if (this.#closed) {
      throw new SafeFsError(
        `Cannot ${op} '${given}': the root '${this.path}' was closed`,
        {
          code: "EBADF",
          op,
          path: this.path,
        },
      );
    }
    checkRoot(this.#root, op, given);
    return this.#root;
  }

  /**
   * Resolves an entry to act on (its last component not followed). A path
   * that names a directory through `.` or `..` is resolved again by the
   * names it led to; the root itself is refused.
   */
  *#entry(op: string, given: string): Gen<Resolved> {
    const root = this.#open(op, given);
    let r = yield* resolve(root, { op, given, follow: false });
    if (r.name === "" && r.names.length > 0) {
      release(root, r);
      r = yield* resolve(root, { op, given: r.names.join("/"), follow: false });
    }
    if (r.name === "") {
      release(root, r);
      throw new InvalidArgumentError(
        `Cannot ${op} '${given}': it names the root '${this.path}' itself`,
        { code: "EINVAL", op, path: this.path },
      );
    }
    return r;
  }

  *#followed(
    op: string,
    given: string,
    how: Partial<Walk> = {},
  ): Gen<Resolved> {
    const root = this.#open(op, given);
    return yield* resolve(root, { op, given, follow: true, ...how });
  }

  move(
    src: string,
    dest: string,
    options: MoveOptions = {},
  ): Promise<MoveResult> {
    return runAsync(this.#move(src, dest, options));
  }

  *#move(
    src: string,
    dest: string,
    options: MoveOptions,
  ): Gen<MoveResult> {
    const op = "move";
    const s = yield* this.#entry(op, src);
    try {
      const d = yield* this.#entry(op, dest);
      try {
        const needs: Need[] = [
          { kind: "write", path: s.abs },
          { kind: "write", path: d.abs },
        ];
        preflight(op, needs);
        return yield* moveAt(
          { src: locOf(s), srcDir: s.dir, dest: locOf(d), destDir: d.dir },
          options,
        );
      } finally {
        release(this.#root, d);
      }
    } finally {
      release(this.#root, s);
    }
  }

  copy(
    src: string,
    dest: string,
    options: CopyOptions = {},
  ): Promise<CopyResult> {
    return runAsync(this.#copy(src, dest, options));
  }

  *#copy(
    src: string,
    dest: string,
    options: CopyOptions,
  ): Gen<CopyResult> {
    const op = "copy";
    const dereference = options.dereference ?? false;
    const s = dereference
      ? yield* this.#followed(op, src)
      : yield* this.#entry(op, src);
    try {
      if (dereference && s.st === null) {
        throw new NotFoundError(
          `Cannot copy '${src}': '${s.abs}' does not exist`,
          {
            code: "ENOENT",
            op,
            path: s.abs,
          },
        );
      }
      if (dereference && s.st?.kind === "dir") {
        yield* this.#confineTree(op, s);
      }
      const d = yield* this.#entry(op, dest);
      try {
        preflight(op, [
          { kind: "read", path: s.abs },
          { kind: "write", path: d.abs },
        ]);
        // A source that is the directory reached by `.`/`..` (dereference)
        // is copied as that directory, by name in its parent.
        if (s.name === "") {
          return yield* this.#copyDirItself(s, d, options);
        }
        return yield* copyAt(
          { src: locOf(s), srcDir: s.dir, dest: locOf(d), destDir: d.dir },
          options,
        );
      } finally {
        release(this.#root, d);
      }
    } finally {
      release(this.#root, s);
    }
  }

  *#copyDirItself(
    s: Resolved,
    d: Resolved,
    options: CopyOptions,
  ): Gen<CopyResult> {
    return yield* copyAt(
      {
        src: { abs: s.abs, parent: s.abs, name: ".", slash: false },
        srcDir: s.dir,
        dest: locOf(d),
        destDir: d.dir,
      },
      options,
    );
  }

  remove(path: string, options: RemoveOptions = {}): Promise<RemoveResult> {
    return runAsync(this.#remove(path, options));
  }

  *#remove(path: string, options: RemoveOptions): Gen<RemoveResult> {
    const op = "remove";
    let r: Resolved;
    try {
      r = yield* this.#entry(op, path);
    } catch (e) {
      if (options.missingOk && e instanceof NotFoundError) {
        return { path: e.path ?? this.path, entriesRemoved: 0 };
      }
      throw e;
    }
    try {
      preflight(op, [{ kind: "write", path: r.abs }]);
      return yield* removeAt(locOf(r), r.dir, options);
    } finally {
      release(this.#root, r);
    }
  }

  writeFile(
    path: string,
    data: WriteFileData,
    options: WriteFileOptions = {},
  ): Promise<WriteFileResult> {
    return runAsync(this.#writeFile(path, data, options));
  }

  *#writeFile(
    path: string,
    data: WriteFileData,
    options: WriteFileOptions,
  ): Gen<WriteFileResult> {
    const op = "writeFile";
    const root = this.#open(op, path);
    const r = options.parents
      ? yield* resolve(root, {
        op,
        given: path,
        follow: false,
        create: { mode: 0o777, durable: options.durable ?? true },
      })
      : yield* this.#entry(op, path);
    try {
      if (r.name === "") {
        throw errorFor(
          "EISDIR",
          `Cannot write '${path}': it is a directory`,
          {
            code: "EISDIR",
            op,
            path: r.abs,
          },
        );
      }
      preflight(op, [{ kind: "write", path: r.abs }]);
      return yield* writeFileAt(locOf(r), r.dir, data, options, false);
    } finally {
      release(this.#root, r);
    }
  }

  readFile(
    path: string,
    options: RootReadFileOptions = {},
  ): Promise<Uint8Array> {
    return runAsync(this.#readFile(path, options));
  }

  *#readFile(
    path: string,
    options: RootReadFileOptions,
  ): Gen<Uint8Array> {
    const op = "readFile";
    for (let attempt = 1;; attempt++) {
      const r = yield* this.#followed(op, path);
      let st;
      let data: Uint8Array;
      try {
        st = this.#existing(op, path, r);
        if (st.kind === "dir") {
          throw errorFor(
            "EISDIR",
            `Cannot readFile '${path}': '${r.abs}' is a directory`,
            {
              code: "EISDIR",
              op,
              path: r.abs,
            },
          );
        }
        if (st.kind !== "file") {
          // Refused before open: on the path backend a FIFO would block.
          throw new UnsupportedFileTypeError(
            `Cannot readFile '${path}': '${r.abs}' is not a regular file`,
            { code: "EFTYPE", op, path: r.abs },
          );
        }
        preflight(op, [{ kind: "read", path: r.abs }]);
        checkAbort(options.signal, op, r.abs);
        data = yield* readAll(r, st, options.signal);
      } finally {
        release(this.#root, r);
      }
      if (feat.fdRelative) return data;
      // The path backend: the directories on the way were re-resolved by
      // path; the file must still be what the path leads to.
      const again = yield* this.#followed(op, path);
      release(this.#root, again);
      if (
        again.st !== null && again.st.dev === st.dev &&
        again.st.ino === st.ino
      ) {
        return data;
      }
      if (attempt >= READ_ATTEMPTS) {
        throw new SourceChangedError(
          `Cannot readFile '${path}': what it leads to changed while it was read, ` +
            `${READ_ATTEMPTS} times; nothing was returned`,
          { code: "ESRCCHANGED", op, path: r.abs },
        );
      }
    }
  }

  stat(path: string): Promise<Deno.FileInfo> {
    return runAsync(this.#stat(path));
  }

  *#stat(path: string): Gen<Deno.FileInfo> {
    const r = yield* this.#followed("stat", path);
    try {
      return toFileInfo(this.#existing("stat", path, r));
    } finally {
      release(this.#root, r);
    }
  }

  lstat(path: string): Promise<Deno.FileInfo> {
    return runAsync(this.#lstat(path));
  }

  *#lstat(path: string): Gen<Deno.FileInfo> {
    const op = "lstat";
    const root = this.#open(op, path);
    const r = yield* resolve(root, { op, given: path, follow: false });
    try {
      if (r.name === "") return toFileInfo(sys.fstat(r.dir));
      try {
        return toFileInfo(sys.statAt(r.dir, r.name, false));
      } catch (e) {
        if (e instanceof NotFoundError) throw notFound(op, path, r.abs, e);
        throw e;
      }
    } finally {
      release(this.#root, r);
    }
  }

  mkdir(path: string, options: RootMkdirOptions = {}): Promise<void> {
    return runAsync(this.#mkdir(path, options));
  }

  *#mkdir(path: string, options: RootMkdirOptions): Gen<void> {
    const op = "mkdir";
    const recursive = options.recursive ?? false;
    const durable = options.durable ?? true;
    const mode = options.mode ?? 0o777;
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
      throw new InvalidArgumentError(
        `Cannot mkdir '${path}': mode must be an integer from 0 to 0o7777, got ${mode}`,
        { code: "EINVAL", op, path },
      );
    }
    const root = this.#open(op, path);
    const r = yield* resolve(root, {
      op,
      given: path,
      follow: false,
      ...(recursive ? { create: { mode, durable } } : {}),
    });
    try {
      if (r.name === "") {
        if (recursive) return;
        throw new AlreadyExistsError(
          `Cannot mkdir '${path}': '${r.abs}' exists`,
          { code: "EEXIST", op, path: r.abs },
        );
      }
      preflight(op, [{ kind: "write", path: r.abs }]);
      try {
        sys.mkdirAt(r.dir, r.name, mode);
      } catch (e) {
        if (!(e instanceof AlreadyExistsError)) throw e;
        if (recursive && (yield* this.#isConfinedDir(op, path))) return;
        throw new AlreadyExistsError(
          `Cannot mkdir '${path}': '${r.abs}' exists${
            recursive ? " and is not a directory" : ""
          }`,
          { code: "EEXIST", op, path: r.abs, cause: e },
        );
      }
      if (durable) yield* fsync(r.dir);
    } finally {
      release(this.#root, r);
    }
  }

  /** mkdir -p onto an existing entry: a directory, or a symlink to one inside the root. */
  *#isConfinedDir(op: string, path: string): Gen<boolean> {
    const f = yield* this.#followed(op, path);
    release(this.#root, f);
    return f.st?.kind === "dir";
  }

  readDir(path: string): Promise<RootDirEntry[]> {
    return runAsync(this.#readDir(path));
  }

  *#readDir(path: string): Gen<RootDirEntry[]> {
    const op = "readDir";
    const r = yield* this.#followed(op, path);
    try {
      const d = this.#dirOf(op, path, r);
      try {
        const out: RootDirEntry[] = [];
        for (const e of sys.list(d)) {
          const kind = e.kind ?? sys.statAt(d, e.name, false).kind;
          out.push({
            name: e.name,
            isFile: kind === "file",
            isDirectory: kind === "dir",
            isSymlink: kind === "symlink",
          });
        }
        return out.sort((
          a,
          b,
        ) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      } finally {
        if (d !== r.dir) sys.close(d);
      }
    } finally {
      release(this.#root, r);
    }
  }

  sweep(dir: string, options: SweepOptions = {}): Promise<SweepResult> {
    return runAsync(this.#sweep(dir, options));
  }

  *#sweep(dir: string, options: SweepOptions): Gen<SweepResult> {
    const op = "sweep";
    const olderThan = checkAge(dir, options.olderThan ?? HOUR);
    const r = yield* this.#followed(op, dir);
    try {
      const d = this.#dirOf(op, dir, r);
      try {
        preflight(op, [{ kind: "write", path: r.abs }]);
        return yield* sweepDir(d, r.abs, olderThan, options.dryRun ?? false);
      } finally {
        if (d !== r.dir) sys.close(d);
      }
    } finally {
      release(this.#root, r);
    }
  }

  /** The directory a followed resolution names, open (r.dir itself, or opened from it). */
  #dirOf(op: string, given: string, r: Resolved): Dir {
    const st = this.#existing(op, given, r);
    if (st.kind !== "dir") {
      throw errorFor(
        "ENOTDIR",
        `Cannot ${op} '${given}': '${r.abs}' is not a directory`,
        {
          code: "ENOTDIR",
          op,
          path: r.abs,
        },
      );
    }
    if (r.name === "") return r.dir;
    const d = sys.openDirAt(r.dir, r.name);
    const now = sys.fstat(d);
    if (now.dev !== st.dev || now.ino !== st.ino) {
      sys.close(d);
      throw new SourceChangedError(
        `Cannot ${op} '${given}': '${r.abs}' was replaced while it was being opened`,
        { code: "ESRCCHANGED", op, path: r.abs },
      );
    }
    return d;
  }

  /** The stat of what a followed path names, or NotFoundError. */
  #existing(
    op: string,
    given: string,
    r: Resolved,
  ): NonNullable<Resolved["st"]> {
    if (r.st !== null) return r.st;
    throw notFound(op, given, r.abs);
  }

  /**
   * copy with dereference: every symlink in the source tree must resolve
   * inside the root (the copy would read what it leads to).
   */
  *#confineTree(op: string, top: Resolved): Gen<void> {
    const rel = (names: string[]): string =>
      names.length === 0 ? "." : names.join("/");
    const stack: { names: string[]; seen: Set<string> }[] = [
      { names: top.names, seen: new Set([`${top.st!.dev}:${top.st!.ino}`]) },
    ];
    while (stack.length > 0) {
      const cur = stack.pop()!;
      const r = yield* this.#followed(op, rel(cur.names));
      let entries: string[];
      try {
        const d = this.#dirOf(op, rel(cur.names), r);
        try {
          entries = sys.list(d).map((e) => e.name);
        } finally {
          if (d !== r.dir) sys.close(d);
        }
      } finally {
        release(this.#root, r);
      }
      for (const name of entries) {
        const child = yield* this.#followed(op, rel([...cur.names, name]));
        release(this.#root, child);
        const st = child.st;
        if (st === null || st.kind !== "dir") continue;
        const key = `${st.dev}:${st.ino}`;
        if (cur.seen.has(key)) continue;
        stack.push({ names: child.names, seen: new Set(cur.seen).add(key) });
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
  return new NotFoundError(`Cannot ${op} '${given}': '${abs}' does not exist`, {
    code: "ENOENT",
    op,
    path: abs,
    cause,
  });
}

/** Reads a whole file reached by a resolution (opened without following). */
function* readAll(
  r: Resolved,
  st: NonNullable<Resolved["st"]>,
  signal: AbortSignal | undefined,
): Gen<Uint8Array> {
  const op = "readFile";
  const f = sys.openAt(r.dir, r.name, { read: true });
  try {
    const now = sys.fstat(f);
    if (now.dev !== st.dev || now.ino !== st.ino || now.kind !== "file") {
      throw new SourceChangedError(
        `Cannot readFile '${r.abs}': it was replaced between its resolution and its open; nothing was read`,
        { code: "ESRCCHANGED", op, path: r.abs },
      );
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    while (true) {
      checkAbort(signal, op, r.abs);
      const buf = new Uint8Array(
        Math.max(Math.min(now.size + 1 - total, READ_CHUNK), 4096),
      );
      const at = total;
      const n = buf.length <= 65536
        ? sys.read(f, buf, at)
        : yield* heavy(() => sys.read(f, buf, at), () =>
          sys.readAsync(f, buf, at));
      if (n === 0) break;
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
  } finally {
    sys.close(f);
  }
}

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
