// Copyright 2026 the safefs authors. MIT license.
/**
 * Turning a failed call into a typed error: the errno name of any failure
 * (an {@linkcode ErrnoError} of the ffi backend, or a Deno error), and the
 * `SafeFsError` subclass that stands for it.
 *
 * Deno's `.code` is right where it is set, but it is missing for many errnos
 * (ESTALE, EMLINK, EDQUOT, ...), and EXDEV, EBUSY and ENOTEMPTY arrive as
 * plain `Error`s whose message ends in `(os error N)`. So: `.code` first,
 * then that number, read with the errno table of the operating system
 * running (Linux and macOS number differently), then Deno's class name.
 *
 * @module
 */
import { ErrnoError } from "./_sys_types.ts";
import { SafeFsError, type SafeFsErrorOptions } from "./errors.ts";

/** Linux errno numbers to their names, for the errnos a file library meets. */
const LINUX: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  18: "EXDEV",
  19: "ENODEV",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  26: "ETXTBSY",
  27: "EFBIG",
  28: "ENOSPC",
  29: "ESPIPE",
  30: "EROFS",
  31: "EMLINK",
  36: "ENAMETOOLONG",
  38: "ENOSYS",
  39: "ENOTEMPTY",
  40: "ELOOP",
  61: "ENODATA",
  84: "EILSEQ",
  95: "EOPNOTSUPP",
  116: "ESTALE",
  122: "EDQUOT",
  125: "ECANCELED",
};

/** macOS (and the BSDs) where they differ from Linux. */
const DARWIN: Record<number, string> = {
  ...Object.fromEntries(
    Object.entries(LINUX).filter(([n]) => Number(n) <= 34),
  ),
  11: "EDEADLK",
  35: "EAGAIN",
  45: "ENOTSUP",
  62: "ELOOP",
  63: "ENAMETOOLONG",
  66: "ENOTEMPTY",
  69: "EDQUOT",
  70: "ESTALE",
  78: "ENOSYS",
  89: "ECANCELED",
  92: "EILSEQ",
  93: "ENOATTR",
  102: "EOPNOTSUPP",
};

const TABLE: Record<number, string> = Deno.build.os === "linux"
  ? LINUX
  : Deno.build.os === "darwin" || Deno.build.os === "freebsd"
  ? DARWIN
  : {};

/** Names Deno gives its error classes, mapped to the errno they stand for. */
const DENO_ERROR_CODES: Record<string, string> = {
  NotFound: "ENOENT",
  AlreadyExists: "EEXIST",
  PermissionDenied: "EACCES",
  NotCapable: "ENOTCAPABLE",
  IsADirectory: "EISDIR",
  NotADirectory: "ENOTDIR",
  Busy: "EBUSY",
  FilesystemLoop: "ELOOP",
  InvalidData: "EINVAL",
  TimedOut: "ETIMEDOUT",
  Interrupted: "EINTR",
  WriteZero: "EIO",
  UnexpectedEof: "EIO",
};

/** The name of errno `n` on this operating system (`"ERRNO<n>"` when unknown). */
export function errnoOf(n: number): string {
  return TABLE[n] ?? `ERRNO${n}`;
}

/**
 * The errno name of a failure: a `SafeFsError`'s code, an `ErrnoError`'s
 * number, Deno's `.code`, the `(os error N)` of the message, or Deno's class
 * name. `"EUNKNOWN"` when nothing identifies it.
 */
export function errnoName(err: unknown): string {
  if (err instanceof SafeFsError) return err.code;
  if (err instanceof ErrnoError) return errnoOf(err.errno);
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && /^E[A-Z0-9]+$/.test(code)) return code;
    const m = /\(os error (\d+)\)/.exec(err.message);
    if (m) return errnoOf(Number(m[1]));
    const byName = DENO_ERROR_CODES[err.name];
    if (byName) return byName;
  }
  return "EUNKNOWN";
}

/** What a failing call was doing. */
export interface FailedCall {
  /** The call or primitive, such as `"renameAt"`. */
  op: string;
  /** Its path. */
  path?: string | undefined;
  /** Its second path. */
  dest?: string | undefined;
}

function where(call: FailedCall): string {
  if (call.path !== undefined && call.dest !== undefined) {
    return ` '${call.path}' to '${call.dest}'`;
  }
  if (call.path !== undefined) return ` '${call.path}'`;
  return "";
}

const REASONS: Record<string, string> = {
  EPERM: "operation not permitted",
  ENOENT: "no such file or directory",
  EIO: "input/output error",
  EACCES: "permission denied",
  EBUSY: "device or resource busy",
  EEXIST: "file exists",
  EXDEV: "cross-device link",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  EINVAL: "invalid argument",
  ENOSPC: "no space left on device",
  EROFS: "read-only file system",
  EMLINK: "too many links",
  ENAMETOOLONG: "file name too long",
  ENOTEMPTY: "directory not empty",
  ELOOP: "too many levels of symbolic links",
  EOPNOTSUPP: "operation not supported",
  ESTALE: "stale file handle",
  EDQUOT: "disk quota exceeded",
  EMFILE: "too many open files",
  EFBIG: "file too large",
  ETXTBSY: "text file busy",
  EILSEQ: "invalid or incomplete multibyte or wide character",
};

/**
 * Wraps a failure into the matching `SafeFsError` subclass, carrying
 * `code`, `op`, `path`, `dest` and the original error as `cause`. A
 * `SafeFsError` passes through unchanged.
 */
export function toSafeFsError(err: unknown, call: FailedCall): SafeFsError {
  if (err instanceof SafeFsError) return err;
  const code = errnoName(err);
  let detail: string;
  if (err instanceof ErrnoError) {
    detail = `${REASONS[code] ?? code.toLowerCase()} (${code})`;
    // A backend's own detail (which name, why errno is unknown) is kept.
    const plain = `${err.syscall} failed (os error ${err.errno})`;
    if (err.message !== plain && err.message.startsWith(plain + ": ")) {
      detail += `: ${err.message.slice(plain.length + 2)}`;
    }
  } else if (err instanceof Error) {
    detail = err.message.replace(/: [a-z]+ '.*$/s, "");
  } else {
    detail = String(err);
  }
  const message = `Cannot ${call.op}${where(call)}: ${detail}`;
  const options: SafeFsErrorOptions = { code, op: call.op, cause: err };
  if (call.path !== undefined) options.path = call.path;
  if (call.dest !== undefined) options.dest = call.dest;
  return errorFor(code, message, options);
}

/**
 * The `SafeFsError` subclass for `code`, constructed: `new SafeFsError()`
 * picks it from the code (EEXIST, ENOENT, EISDIR, ENOTDIR, EXDEV, ENOTEMPTY,
 * EACCES/EPERM/ENOTCAPABLE, EINVAL, ESRCCHANGED, EFTYPE, ABORT_ERR; the table
 * is in `errors.ts`), and a plain `SafeFsError` for any other code. Each is
 * also an instance of the matching `Deno.errors` class.
 */
export function errorFor(
  code: string,
  message: string,
  options: SafeFsErrorOptions,
): SafeFsError {
  return new SafeFsError(message, { ...options, code });
}
