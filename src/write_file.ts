// Copyright 2026 the safefs authors. MIT license.
/**
 * `writeFile()` and `writeFileSync()`: replace a file's content atomically
 * and durably.
 *
 * @module
 */
import { type Loc, locate, type PathLike } from "./_path.ts";
import { preflight } from "./_perm.ts";
import { type Dir, type File, sys } from "./_sys.ts";
import { awaited, type Gen, heavy, runAsync, runSync } from "./_run.ts";
import { createTemp, tempName } from "./_temp.ts";
import { notADirectory, statOrNull } from "./_dest.ts";
import { isOccupied, publish, type PublishMethod } from "./_publish.ts";
import { afterPublish, cleanup } from "./_copy/transfer.ts";
import { fsync } from "./_copy/sync.ts";
import { checkAbort } from "./_copy/options.ts";
import { errorFor } from "./_errno.ts";
import {
  AlreadyExistsError,
  InvalidArgumentError,
  NotFoundError,
  SafeFsError,
} from "./errors.ts";

export type { PathLike } from "./_path.ts";

/** What {@linkcode writeFile} accepts as data. */
export type WriteFileData =
  | Uint8Array
  | string
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>;

/** Options for {@linkcode writeFile} and {@linkcode writeFileSync}. */
export interface WriteFileOptions {
  /**
   * Replace an existing file (or symlink) at `path`. With `false` the file is
   * created only if nothing is there, atomically: of concurrent no-clobber
   * writers exactly one succeeds (see {@linkcode WriteFileResult.publish}
   * for filesystems where that check cannot be atomic).
   * @default {true}
   */
  overwrite?: boolean;
  /**
   * Permission bits of the file, applied exactly (the umask does not apply).
   * When omitted: the mode of the regular file being replaced, else
   * `0o666 & ~umask`.
   * @default {undefined}
   */
  mode?: number;
  /**
   * Make the new content survive power loss before resolving: the file is
   * fsynced before it is published, its directory after. `false` skips both.
   * @default {true}
   */
  durable?: boolean;
  /**
   * Create the missing directories leading to `path` (mode 0o777 less the
   * umask), each made durable in its parent. Without it, a missing directory
   * is `NotFoundError`.
   * @default {false}
   */
  parents?: boolean;
  /**
   * Aborts the write: the temp is removed and `path` is left as it was. Once
   * the content is published the call completes.
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** What {@linkcode writeFile} did. */
export interface WriteFileResult {
  /** The path written, absolute. */
  path: string;
  /** Bytes written. */
  bytes: number;
  /** A file was replaced. */
  replaced: boolean;
  /** How the file was published (see {@linkcode CopyResult.publish}). */
  publish: PublishMethod;
}

const encoder = new TextEncoder();

function badData(p: string, what: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `Cannot write '${p}': data must be a Uint8Array, a string, a ReadableStream ` +
      `or an AsyncIterable of Uint8Array, got ${what}`,
    { code: "EINVAL", op: "writeFile", path: p },
  );
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  return (v as object).constructor?.name ?? "an object";
}

/** A source of chunks that can be stopped while a read is pending. */
interface Chunks {
  next():
    | { done?: boolean; value?: unknown }
    | Promise<{ done?: boolean; value?: unknown }>;
  stop(reason: unknown): void;
}

function once(chunk: Uint8Array): Chunks {
  let done = false;
  return {
    next: () => {
      if (done) return { done: true };
      done = true;
      return { value: chunk };
    },
    stop: () => {},
  };
}

/** The data as a source of chunks, checked before anything is done. */
function toChunks(p: string, data: WriteFileData): Chunks {
  if (data instanceof Uint8Array) return once(data);
  if (typeof data === "string") return once(encoder.encode(data));
  if (data instanceof ReadableStream) {
    if (data.locked) throw badData(p, "a locked ReadableStream");
    let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
    return {
      next: () => (reader ??= data.getReader()).read(),
      stop: (reason) => {
        (reader ?? data).cancel(reason).catch(() => {});
      },
    };
  }
  if (
    data !== null && typeof data === "object" &&
    typeof (data as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] ===
      "function"
  ) {
    const it = data[Symbol.asyncIterator]();
    return {
      next: () => it.next(),
      stop: () => {
        it.return?.().catch(() => {});
      },
    };
  }
  throw badData(p, describe(data));
}

/**
 * The next chunk, or `AbortedError` as soon as `signal` fires, even while the
 * producer is still waiting for data.
 */
function nextChunk(
  chunks: Chunks,
  signal: AbortSignal | undefined,
  p: string,
):
  | { done?: boolean; value?: unknown }
  | Promise<{ done?: boolean; value?: unknown }> {
  checkAbort(signal, "writeFile", p);
  const r = chunks.next();
  if (!(r instanceof Promise) || signal === undefined) return r;
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      try {
        checkAbort(signal, "writeFile", p);
      } catch (e) {
        reject(e);
      }
    };
    signal.addEventListener("abort", onAbort, { once: true });
    r.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}

/** An error of the data's producer, as a SafeFsError (the original as `cause`). */
function inputFailed(p: string, e: unknown): unknown {
  if (e instanceof SafeFsError) return e;
  return new SafeFsError(
    `Cannot write '${p}': reading the data failed: ${
      e instanceof Error ? e.message : String(e)
    }; nothing was written`,
    { code: "EINPUT", op: "writeFile", path: p, cause: e },
  );
}

/**
 * Opens the directory that holds `loc`, creating the missing ones first with
 * `parents` (each made durable in its parent when `durable`).
 */
export function* openOrMakeParent(
  loc: Loc,
  op: string,
  parents: boolean,
  durable: boolean,
): Gen<Dir> {
  try {
    return sys.openDir(loc.parent, true);
  } catch (e) {
    if (!(e instanceof NotFoundError) || !parents) {
      if (e instanceof NotFoundError) {
        throw new NotFoundError(
          `Cannot ${op} '${loc.abs}': the directory '${loc.parent}' does not exist ` +
            `(parents: true creates it)`,
          { code: "ENOENT", op, path: loc.abs, cause: e },
        );
      }
      if (e instanceof SafeFsError && e.code === "ENOTDIR") {
        throw errorFor(
          "ENOTDIR",
          `Cannot ${op} '${loc.abs}': '${loc.parent}' is not a directory`,
          { code: "ENOTDIR", op, path: loc.abs, cause: e },
        );
      }
      throw e;
    }
  }
  // mkdir -p: the longest existing prefix, then each missing name in turn
  // (a name that exists by then, even as a symlink to a directory, is used
  // as it is, as `mkdir -p` does).
  const parts = loc.parent.split("/").filter((x) => x !== "");
  let k = parts.length;
  let found: Dir | null = null;
  while (found === null && k > 0) {
    k--;
    try {
      found = sys.openDir("/" + parts.slice(0, k).join("/"), true);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }
  let cur: Dir = found ?? sys.openDir("/", true);
  try {
    for (let j = k; j < parts.length; j++) {
      const name = parts[j];
      let made = false;
      try {
        sys.mkdirAt(cur, name, 0o777);
        made = true;
      } catch (e) {
        if (!(e instanceof AlreadyExistsError)) throw e;
      }
      if (made && durable) yield* fsync(cur);
      const next = sys.openDir("/" + parts.slice(0, j + 1).join("/"), true);
      sys.close(cur);
      cur = next;
    }
  } catch (e) {
    sys.close(cur);
    throw e;
  }
  return cur;
}

/** The write itself, on the opened directory (also `Root.writeFile`). */
export function* writeFileAt(
  loc: Loc,
  dir: Dir,
  data: WriteFileData,
  options: WriteFileOptions,
  sync: boolean,
): Gen<WriteFileResult> {
  const op = "writeFile";
  const p = loc.abs;
  const overwrite = options.overwrite ?? true;
  const durable = options.durable ?? true;
  const { signal } = options;
  const chunks = toChunks(p, data);
  checkAbort(signal, op, p);
  const existing = statOrNull(dir, loc.name);
  if (existing?.kind === "dir") {
    throw errorFor("EISDIR", `Cannot write '${p}': it is a directory`, {
      code: "EISDIR",
      op,
      path: p,
    });
  }
  if (existing !== null && !overwrite) throw exists(p);
  // The mode to set, or null: a new file's default (0o666 less the umask)
  // is applied by the kernel when the temp is created.
  const mode = options.mode ??
    (existing?.kind === "file" ? existing.mode : null);
  let tmp = tempName(loc.name, dir);
  let bytes = 0;
  let published = false;
  let out: File | null = null;
  try {
    out = createTemp(dir, tmp, (name) =>
      sys.openAt(dir, name, {
        write: true,
        create: true,
        mode: mode === null ? 0o666 : 0o600,
      }), (name) => tmp = name);
    const f: File = out;
    try {
      while (true) {
        let r;
        try {
          r = yield* awaited(
            nextChunk(chunks, signal, p),
            "writeFileSync() takes a Uint8Array or a string",
          );
        } catch (e) {
          throw inputFailed(p, e);
        }
        if (r.done) break;
        const chunk: unknown = r.value;
        if (!(chunk instanceof Uint8Array)) {
          throw badData(p, `a chunk of type ${describe(chunk)}`);
        }
        if (chunk.length === 0) continue;
        const at = bytes;
        if (sync || chunk.length <= 65536) sys.writeAll(f, chunk, at);
        else {
          yield* heavy(
            () => sys.writeAll(f, chunk, at),
            () => sys.writeAllAsync(f, chunk, at),
          );
        }
        bytes += chunk.length;
      }
    } catch (e) {
      // Stop the producer (cancels a stream even while a read is pending).
      chunks.stop(e);
      throw e;
    }
    checkAbort(signal, op, p);
    if (mode !== null) sys.chmod(f, mode);
    if (durable) yield* fsync(f);
    checkAbort(signal, op, p);
    let pub;
    try {
      pub = yield* publish(dir, tmp, dir, loc.name, {
        kind: "file",
        overwrite,
        dev: sys.fstat(f).dev,
        ours: true,
      });
    } catch (e) {
      if (!overwrite && isOccupied(e)) throw exists(p, e);
      throw e;
    }
    published = true;
    sys.close(f);
    out = null;
    try {
      if (durable) yield* fsync(dir);
    } catch (e) {
      throw afterPublish(e, p, p);
    }
    return { path: p, bytes, replaced: existing !== null, publish: pub.method };
  } catch (e) {
    if (out !== null) sys.close(out);
    if (!published) yield* cleanup(dir, tmp, op);
    throw e;
  }
}

function exists(p: string, cause?: unknown): AlreadyExistsError {
  return new AlreadyExistsError(
    `Cannot write '${p}': it exists (use overwrite to replace it)`,
    { code: "EEXIST", op: "writeFile", path: p, cause },
  );
}

function* writePath(
  path: PathLike,
  data: WriteFileData,
  options: WriteFileOptions,
  sync: boolean,
): Gen<WriteFileResult> {
  const op = "writeFile";
  const loc = locate(path, op);
  if (loc.name === "") {
    throw errorFor("EISDIR", `Cannot write '/': it is a directory`, {
      code: "EISDIR",
      op,
      path: "/",
    });
  }
  if (loc.slash) throw notADirectory(op, loc.abs);
  const mode = options.mode;
  if (
    mode !== undefined && (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)
  ) {
    throw new InvalidArgumentError(
      `Cannot write '${loc.abs}': mode must be an integer from 0 to 0o7777, got ${mode}`,
      { code: "EINVAL", op, path: loc.abs },
    );
  }
  toChunks(loc.abs, data); // bad data is refused before anything is done
  checkAbort(options.signal, op, loc.abs);
  // The temp is created in the directory where it really is (a symlink at
  // its last component followed); `path` itself is replaced, never followed.
  preflight(op, [
    { kind: "read", path: loc.parent, followLast: true },
    { kind: "write", path: loc.parent, followLast: true },
    { kind: "write", path: loc.abs },
  ]);
  const dir = yield* openOrMakeParent(
    loc,
    op,
    options.parents ?? false,
    options.durable ?? true,
  );
  try {
    return yield* writeFileAt(loc, dir, data, options, sync);
  } finally {
    sys.close(dir);
  }
}

/**
 * Writes `data` to `path` atomically: readers of `path` see its old content or
 * the complete new content, never a partial file, even after a crash.
 *
 * The data goes to a temp file beside `path` (`.<name>.<uuid>.safefs-tmp`,
 * created exclusively and locked while it is written), which gets its mode,
 * is fsynced, and is then published in one step: a rename, or with
 * `overwrite: false` a call that cannot replace anything; then the directory
 * is fsynced. Of concurrent writers to one path, the file ends up holding
 * exactly one writer's complete data.
 *
 * A symlink at `path` is replaced by the new file; the file it points to is
 * not written. A directory at `path` is refused. `..` in `path` is resolved
 * by the kernel (after following symlinks before it), as every other tool
 * does. The new file belongs to the writing user: the replaced file's owner,
 * group, ACLs and extended attributes are not carried over (its mode is,
 * unless `mode` is given). An error of the data's producer (a failing
 * stream) fails the write with code `"EINPUT"` (the producer's error as
 * `cause`), and nothing is written.
 *
 * @example Write a config file atomically
 * ```ts
 * import { writeFile } from "@safefs/safefs";
 * import { equal as assertEquals } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await writeFile(`${dir}/config.json`, JSON.stringify({ port: 8080 }));
 * await writeFile(`${dir}/config.json`, JSON.stringify({ port: 9090 }));
 * assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/config.json`)).port, 9090);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @example Stream data in, creating the file (and its directory) only if it does not exist
 * ```ts
 * import { AlreadyExistsError, writeFile } from "@safefs/safefs";
 * import { rejects } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const body = ReadableStream.from([new TextEncoder().encode("line 1\n")]);
 * await writeFile(`${dir}/logs/log.txt`, body, { overwrite: false, mode: 0o600, parents: true });
 * await rejects(writeFile(`${dir}/logs/log.txt`, "again", { overwrite: false }), AlreadyExistsError);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param path The file to write.
 * @param data Bytes, a string (written as UTF-8), or a stream or async iterable of byte chunks.
 * @param options See {@linkcode WriteFileOptions}.
 * @returns The path, the number of bytes written and how it was published.
 * @throws {NotFoundError} The directory of `path` does not exist (and `parents` is not set).
 * @throws {AlreadyExistsError} `path` exists and `overwrite` is `false`.
 * @throws {InvalidArgumentError} `data` or `mode` is not valid.
 * @throws {PermissionError} A Deno permission is missing (names the flag) or the OS refused.
 * @throws {AbortedError} `signal` fired before the publish.
 * @throws {SafeFsError} Anything else, with the errno name as `code` (e.g. `"ENOSPC"`, `"EISDIR"`, `"EINPUT"`).
 */
export function writeFile(
  path: PathLike,
  data: WriteFileData,
  options: WriteFileOptions = {},
): Promise<WriteFileResult> {
  return runAsync(writePath(path, data, options, false));
}

/**
 * {@linkcode writeFile}, synchronously, for bytes or a string: the same
 * contract, blocking the thread until the file is published and durable.
 *
 * @example
 * ```ts
 * import { writeFileSync } from "@safefs/safefs";
 * import { equal as assertEquals } from "node:assert/strict";
 *
 * const dir = Deno.makeTempDirSync();
 * writeFileSync(`${dir}/config.json`, "{}");
 * assertEquals(Deno.readTextFileSync(`${dir}/config.json`), "{}");
 * Deno.removeSync(dir, { recursive: true });
 * ```
 *
 * @param path The file to write.
 * @param data Bytes, or a string (written as UTF-8).
 * @param options See {@linkcode WriteFileOptions}.
 * @returns The path, the number of bytes written and how it was published.
 */
export function writeFileSync(
  path: PathLike,
  data: Uint8Array | string,
  options: Omit<WriteFileOptions, "signal"> = {},
): WriteFileResult {
  if (!(data instanceof Uint8Array) && typeof data !== "string") {
    throw badData(String(path), describe(data));
  }
  return runSync(writePath(path, data, options, true));
}
