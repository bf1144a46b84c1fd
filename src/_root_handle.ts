// Copyright 2026 the safefs authors. MIT license.
/**
 * The methods of a {@linkcode Root} (`openRoot()`): each resolves its paths
 * beneath the root (`_resolve.ts`) and runs the primitive's core on the
 * directories reached.
 *
 * @module
 */
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

import type {
  Root,
  RootDirEntry,
  RootMkdirOptions,
  RootReadFileOptions,
} from "./root.ts";

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

export class RootHandle implements Root {
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
        try {
          data = yield* readAll(r, st, options.signal);
        } catch (e) {
          // Replaced between its resolution and its open (by another file,
          // a symlink, or nothing): nothing was read; resolve it again.
          const code = e instanceof SafeFsError ? e.code : "";
          if (
            attempt < READ_ATTEMPTS &&
            (code === "ESRCCHANGED" || code === "ELOOP" || code === "ENOENT")
          ) continue;
          if (code === "ELOOP" || code === "ENOENT") {
            throw new SourceChangedError(
              `Cannot readFile '${path}': '${r.abs}' was replaced between its ` +
                `resolution and its open, ${READ_ATTEMPTS} times; nothing was read`,
              { code: "ESRCCHANGED", op, path: r.abs, cause: e },
            );
          }
          throw e;
        }
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
