// Copyright 2026 the safefs authors. MIT license.
/**
 * `writeFile()`: replace a file's content atomically and durably.
 *
 * @module
 */
import { dirname, type PathLike, toAbsolute } from "./_path.ts";
import { preflight } from "./_perm.ts";
import { type FileInfo, type Handle, sys } from "./_sys.ts";
import { tempPathFor } from "./_temp.ts";
import { checkAbort, removeOwnTree } from "./_copy.ts";
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

/** Options for {@linkcode writeFile}. */
export interface WriteFileOptions {
  /**
   * Replace an existing file (or symlink) at `path`. With `false` the file is
   * created only if nothing is there, atomically (`link`, EEXIST otherwise):
   * of concurrent no-clobber writers exactly one succeeds.
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
   * Aborts the write: the temp is removed and `path` is left as it was. Once
   * the content is published the call completes.
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** What {@linkcode writeFile} did. */
export interface WriteFileResult {
  /** The absolute path written. */
  path: string;
  /** Bytes written. */
  bytes: number;
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

/**
 * Writes `data` to `path` atomically: readers of `path` see its old content or
 * the complete new content, never a partial file, even after a crash.
 *
 * The data goes to a temp file beside `path` (`.<name>.<uuid>.safefs-tmp`,
 * created with O_EXCL), which gets its mode, is fsynced, and is then published
 * with one `rename` (or, with `overwrite: false`, a `link`, so an existing file
 * is never replaced); then the directory is fsynced. Of concurrent writers to
 * one path, the file ends up holding exactly one writer's complete data.
 *
 * A symlink at `path` is replaced by the new file; the file it points to is
 * not written (use `Deno.realPath` first to write through a link). A directory
 * at `path` is refused. The new file belongs to the writing user: the replaced
 * file's owner, group, ACLs and extended attributes are not carried over (its
 * mode is, unless `mode` is given).
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
 * @example Stream data in, creating the file only if it does not exist
 * ```ts
 * import { AlreadyExistsError, writeFile } from "@safefs/safefs";
 * import { rejects } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const body = ReadableStream.from([new TextEncoder().encode("line 1\n")]);
 * await writeFile(`${dir}/log.txt`, body, { overwrite: false, mode: 0o600 });
 * await rejects(writeFile(`${dir}/log.txt`, "again", { overwrite: false }), AlreadyExistsError);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param path The file to write.
 * @param data Bytes, a string (written as UTF-8), or a stream or async iterable of byte chunks.
 * @param options See {@linkcode WriteFileOptions}.
 * @returns The path and the number of bytes written.
 * @throws {NotFoundError} The directory of `path` does not exist.
 * @throws {AlreadyExistsError} `path` exists and `overwrite` is `false`.
 * @throws {InvalidArgumentError} `data` or `mode` is not valid.
 * @throws {PermissionError} A Deno permission is missing (names the flag) or the OS refused.
 * @throws {AbortedError} `signal` fired before the publish.
 * @throws {SafeFsError} Anything else, with the errno name as `code` (e.g. `"ENOSPC"`, `"EISDIR"`).
 */
export async function writeFile(
  path: PathLike,
  data: WriteFileData,
  options: WriteFileOptions = {},
): Promise<WriteFileResult> {
  const op = "writeFile";
  const p = toAbsolute(path, op);
  const overwrite = options.overwrite ?? true;
  const durable = options.durable ?? true;
  const { signal } = options;
  if (
    options.mode !== undefined &&
    (!Number.isInteger(options.mode) || options.mode < 0 ||
      options.mode > 0o7777)
  ) {
    throw new InvalidArgumentError(
      `Cannot write '${p}': mode must be an integer from 0 to 0o7777, got ${options.mode}`,
      { code: "EINVAL", op, path: p },
    );
  }
  const chunks = toChunks(p, data);
  const dir = dirname(p);
  // The temp is created in `dir` where it really is (a symlink at its last
  // component followed); `p` itself is replaced, never followed.
  await preflight(op, [
    { kind: "read", path: dir, followLast: true },
    { kind: "write", path: dir, followLast: true },
    { kind: "write", path: p },
  ]);
  checkAbort(signal, op, p);

  let dirInfo: FileInfo;
  try {
    dirInfo = await sys.stat(dir);
  } catch (e) {
    if (e instanceof NotFoundError) {
      throw new NotFoundError(
        `Cannot write '${p}': the directory '${dir}' does not exist`,
        { code: "ENOENT", op, path: p, cause: e },
      );
    }
    throw e;
  }
  if (!dirInfo.isDirectory) {
    throw new SafeFsError(
      `Cannot write '${p}': '${dir}' is not a directory`,
      { code: "ENOTDIR", op, path: p },
    );
  }
  let existing: FileInfo | null = null;
  try {
    existing = await sys.lstat(p);
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
  }
  if (existing?.isDirectory) {
    throw new SafeFsError(
      `Cannot write '${p}': it is a directory`,
      { code: "EISDIR", op, path: p },
    );
  }
  if (existing !== null && !overwrite) throw exists(p);
  // The mode to chmod to, or null: a new file's default (0o666 less the
  // umask) is applied by the kernel when the temp is created (reading the
  // umask would need --allow-sys).
  const mode = options.mode ??
    (existing?.isFile && existing.mode !== null
      ? existing.mode & 0o7777
      : null);

  const tmp = tempPathFor(p);
  let bytes = 0;
  let published = false;
  try {
    const out: Handle = await sys.open(tmp, {
      write: true,
      createNew: true,
      mode: mode === null ? 0o666 : 0o600,
    });
    try {
      try {
        while (true) {
          const r = await nextOrAbort(chunks, signal, p);
          if (r.done) break;
          const chunk: unknown = r.value;
          if (!(chunk instanceof Uint8Array)) {
            throw badData(p, `a chunk of type ${describe(chunk)}`);
          }
          if (chunk.length === 0) continue;
          await sys.writeAll(out, chunk);
          bytes += chunk.length;
        }
      } catch (e) {
        // Stop the producer (cancels a stream even while a read is pending);
        // do not wait for it.
        chunks.stop(e);
        throw e;
      }
      checkAbort(signal, op, p);
      if (mode !== null) await sys.chmod(tmp, mode);
      if (durable) await sys.fsync(out);
    } finally {
      sys.close(out);
    }
    checkAbort(signal, op, p);
    if (overwrite) {
      await sys.rename(tmp, p);
      // From here the temp name is gone (it became `p`): it is never touched
      // again, not even on error.
      published = true;
    } else {
      try {
        await sys.link(tmp, p);
      } catch (e) {
        if (e instanceof SafeFsError && e.code === "EEXIST") throw exists(p, e);
        throw e;
      }
      published = true;
      // The temp is now a second name of `p`; failing to remove it does not
      // undo the publish (removeOwnTree retries, sweep() finds what remains).
      await sys.unlink(tmp).catch(() => removeOwnTree(tmp));
    }
  } catch (e) {
    if (!published) await removeOwnTree(tmp);
    throw e;
  }
  if (durable) {
    try {
      await sys.fsyncDir(dir);
    } catch (e) {
      if (e instanceof SafeFsError) {
        e.message = `Published '${p}', then failed: ${e.message}`;
      }
      throw e;
    }
  }
  return { path: p, bytes };
}

function exists(p: string, cause?: unknown): AlreadyExistsError {
  return new AlreadyExistsError(
    `Cannot write '${p}': it exists (use overwrite to replace it)`,
    { code: "EEXIST", op: "writeFile", path: p, cause },
  );
}

/** A source of chunks that can be stopped while a read is pending. */
interface Chunks {
  next(): Promise<{ done?: boolean; value?: unknown }>;
  stop(reason: unknown): void;
}

/** The data as a source of chunks, checked before anything is done. */
function toChunks(p: string, data: WriteFileData): Chunks {
  if (data instanceof Uint8Array) return fromIterator(once(data));
  if (typeof data === "string") return fromIterator(once(encoder.encode(data)));
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
    return fromIterator(data[Symbol.asyncIterator]());
  }
  throw badData(p, describe(data));
}

function fromIterator(it: AsyncIterator<Uint8Array>): Chunks {
  return {
    next: () => it.next(),
    stop: () => {
      it.return?.().catch(() => {});
    },
  };
}

/**
 * The next chunk, or `AbortedError` as soon as `signal` fires, even while the
 * producer is still waiting for data.
 */
function nextOrAbort(
  chunks: Chunks,
  signal: AbortSignal | undefined,
  p: string,
): Promise<{ done?: boolean; value?: unknown }> {
  checkAbort(signal, "writeFile", p);
  if (signal === undefined) return chunks.next();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      try {
        checkAbort(signal, "writeFile", p);
      } catch (e) {
        reject(e);
      }
    };
    signal.addEventListener("abort", onAbort, { once: true });
    chunks.next().then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}

async function* once(chunk: Uint8Array): AsyncGenerator<Uint8Array> {
  yield chunk;
}
