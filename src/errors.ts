/**
 * Typed errors thrown by every safefs primitive.
 *
 * Every error is a {@linkcode SafeFsError} carrying the errno name (`code`), the
 * operation (`op`), the path and, for two-path operations, the destination. Deno
 * leaves `.code` unset for many errnos (ESTALE, EMLINK, EDQUOT, ...) and reports
 * EXDEV, EBUSY, ENOTEMPTY as plain `Error`; safefs classifies by the
 * `(os error N)` number at the end of the message instead.
 *
 * @example Telling "destination exists" apart from other failures
 * ```ts ignore
 * import { AlreadyExistsError, move } from "@safefs/safefs";
 *
 * try {
 *   await move("report.pdf", "archive/report.pdf");
 * } catch (err) {
 *   if (err instanceof AlreadyExistsError) console.log("already archived");
 *   else throw err;
 * }
 * ```
 *
 * @module
 */

/** Linux errno numbers to their names, for the errnos a file library meets. */
const ERRNO_NAMES: Record<number, string> = {
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
  95: "EOPNOTSUPP",
  116: "ESTALE",
  122: "EDQUOT",
  125: "ECANCELED",
};

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

/**
 * The errno name of an error thrown by a Deno file API: the `(os error N)` number
 * in its message first (it is always right), then Deno's `.code`, then the
 * class name. Returns `"EUNKNOWN"` when nothing identifies it.
 *
 * @example
 * ```ts
 * import { errnoName } from "@safefs/safefs";
 * import { equal as assertEquals } from "node:assert/strict";
 *
 * const err = new Error("Stale file handle (os error 116): stat '/nfs/x'");
 * assertEquals(errnoName(err), "ESTALE");
 * ```
 *
 * @param err The error to classify.
 * @returns The errno name, such as `"ENOENT"`.
 */
export function errnoName(err: unknown): string {
  if (err instanceof SafeFsError) return err.code;
  if (err instanceof Error) {
    const m = /\(os error (\d+)\)/.exec(err.message);
    if (m) return ERRNO_NAMES[Number(m[1])] ?? `ERRNO${m[1]}`;
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && code.length > 0) return code;
    const byName = DENO_ERROR_CODES[err.name];
    if (byName) return byName;
  }
  return "EUNKNOWN";
}

/** Where an error happened: what every {@linkcode SafeFsError} carries. */
export interface SafeFsErrorOptions {
  /** The errno name, such as `"EEXIST"`, or a safefs code such as `"ESRCCHANGED"`. */
  code: string;
  /** The operation that failed, such as `"move"` or `"rename"`. */
  op: string;
  /** The path the operation acted on. */
  path?: string;
  /** The destination path of a two-path operation. */
  dest?: string;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * The base class of every error safefs throws.
 *
 * @example
 * ```ts
 * import { SafeFsError } from "@safefs/safefs";
 * import { equal as assertEquals } from "node:assert/strict";
 *
 * const err = new SafeFsError("Cannot read '/x'", { code: "EIO", op: "read", path: "/x" });
 * assertEquals(err.code, "EIO");
 * ```
 */
export class SafeFsError extends Error {
  /** The errno name (`"EEXIST"`, `"EXDEV"`, ...) or a safefs code. */
  readonly code: string;
  /** The operation that failed. */
  readonly op: string;
  /** The path acted on, when there is one. */
  readonly path?: string;
  /** The destination of a two-path operation. */
  readonly dest?: string;

  /**
   * Creates an error.
   *
   * @param message A sentence-case message that quotes the paths.
   * @param options What failed, where, and why.
   */
  constructor(message: string, options: SafeFsErrorOptions) {
    super(
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = new.target.name;
    this.code = options.code;
    this.op = options.op;
    if (options.path !== undefined) this.path = options.path;
    if (options.dest !== undefined) this.dest = options.dest;
  }
}

/**
 * The destination (or the path to create) already exists and `overwrite` was not
 * given. Nothing was changed.
 *
 * @example
 * ```ts
 * import { AlreadyExistsError } from "@safefs/safefs";
 * const err = new AlreadyExistsError("Destination 'b' exists", { code: "EEXIST", op: "move" });
 * console.log(err.code); // "EEXIST"
 * ```
 */
export class AlreadyExistsError extends SafeFsError {}

/**
 * A path that must exist does not (the source, or the destination's parent).
 *
 * @example
 * ```ts
 * import { NotFoundError } from "@safefs/safefs";
 * const err = new NotFoundError("Source 'a' does not exist", { code: "ENOENT", op: "move" });
 * console.log(err.code); // "ENOENT"
 * ```
 */
export class NotFoundError extends SafeFsError {}

/**
 * The operation would cross a filesystem boundary and was told not to
 * (`crossDevice: "fail"`), or cannot (a mount point inside a tree).
 *
 * @example
 * ```ts
 * import { CrossDeviceError } from "@safefs/safefs";
 * const err = new CrossDeviceError("Cannot move 'a' across devices", { code: "EXDEV", op: "move" });
 * console.log(err.code); // "EXDEV"
 * ```
 */
export class CrossDeviceError extends SafeFsError {}

/**
 * The source was replaced or modified while it was being read: nothing was
 * published. Code `"ESRCCHANGED"`.
 *
 * @example
 * ```ts
 * import { SourceChangedError } from "@safefs/safefs";
 * const err = new SourceChangedError("Source 'a' changed", { code: "ESRCCHANGED", op: "copy" });
 * console.log(err.code); // "ESRCCHANGED"
 * ```
 */
export class SourceChangedError extends SafeFsError {}

/**
 * Permission denied: by the operating system (`EACCES`, `EPERM`, `EROFS` is not
 * one of these) or by Deno's permission system (`ENOTCAPABLE`, with `flag`
 * naming the flag to add, e.g. `--allow-write=/data/out`).
 *
 * @example
 * ```ts
 * import { PermissionError } from "@safefs/safefs";
 * const err = new PermissionError("Missing write permission for '/x'", {
 *   code: "ENOTCAPABLE",
 *   op: "move",
 *   flag: "--allow-write=/x",
 * });
 * console.log(err.flag); // "--allow-write=/x"
 * ```
 */
export class PermissionError extends SafeFsError {
  /** The Deno flag that would grant what is missing, when Deno refused. */
  readonly flag?: string;

  /**
   * Creates a permission error.
   *
   * @param message A sentence-case message that quotes the paths.
   * @param options What failed and, for Deno permissions, the missing flag.
   */
  constructor(
    message: string,
    options: SafeFsErrorOptions & { flag?: string },
  ) {
    super(message, options);
    if (options.flag !== undefined) this.flag = options.flag;
  }
}

/**
 * A directory that had to be empty (or emptied) is not.
 *
 * @example
 * ```ts
 * import { NotEmptyError } from "@safefs/safefs";
 * const err = new NotEmptyError("Directory 'd' is not empty", { code: "ENOTEMPTY", op: "move" });
 * console.log(err.code); // "ENOTEMPTY"
 * ```
 */
export class NotEmptyError extends SafeFsError {}

/**
 * The file type is not supported by the operation (a FIFO, socket or device
 * where a regular file, directory or symlink was needed). Code `"EFTYPE"`.
 *
 * @example
 * ```ts
 * import { UnsupportedFileTypeError } from "@safefs/safefs";
 * const err = new UnsupportedFileTypeError("'p' is a FIFO", { code: "EFTYPE", op: "copy" });
 * console.log(err.code); // "EFTYPE"
 * ```
 */
export class UnsupportedFileTypeError extends SafeFsError {}

/**
 * The arguments are wrong: an empty path, a NUL byte, source and destination
 * being the same file, a directory moved into itself. Code `"EINVAL"`.
 *
 * @example
 * ```ts
 * import { InvalidArgumentError } from "@safefs/safefs";
 * const err = new InvalidArgumentError("Path is empty", { code: "EINVAL", op: "move" });
 * console.log(err.code); // "EINVAL"
 * ```
 */
export class InvalidArgumentError extends SafeFsError {}

/**
 * The operation was aborted through its `AbortSignal`; everything it had
 * started was undone. Code `"ABORT_ERR"`, `cause` is the signal's reason.
 *
 * @example
 * ```ts
 * import { AbortedError } from "@safefs/safefs";
 * const err = new AbortedError("Move of 'a' was aborted", { code: "ABORT_ERR", op: "move" });
 * console.log(err.code); // "ABORT_ERR"
 * ```
 */
export class AbortedError extends SafeFsError {}

/** What a failing system call was doing, for {@linkcode toSafeFsError}. */
export interface FailedCall {
  /** The call or primitive, such as `"rename"`. */
  op: string;
  /** Its path. */
  path?: string;
  /** Its second path. */
  dest?: string;
}

function describe(call: FailedCall): string {
  if (call.path !== undefined && call.dest !== undefined) {
    return `'${call.path}' to '${call.dest}'`;
  }
  if (call.path !== undefined) return `'${call.path}'`;
  return "";
}

/**
 * Wraps an error from a Deno file API into the matching {@linkcode SafeFsError}
 * subclass. A `SafeFsError` passes through unchanged.
 *
 * @example
 * ```ts
 * import { NotFoundError, toSafeFsError } from "@safefs/safefs";
 * import assert from "node:assert/strict";
 *
 * let caught: unknown;
 * try {
 *   await Deno.lstat("/no/such/path");
 * } catch (e) {
 *   caught = toSafeFsError(e, { op: "lstat", path: "/no/such/path" });
 * }
 * assert(caught instanceof NotFoundError);
 * ```
 *
 * @param err The error thrown.
 * @param call What was being done.
 * @returns A typed error carrying `code`, `op`, `path`, `dest` and `cause`.
 */
export function toSafeFsError(err: unknown, call: FailedCall): SafeFsError {
  if (err instanceof SafeFsError) return err;
  const code = errnoName(err);
  const where = describe(call);
  const detail = err instanceof Error
    ? err.message.replace(/: [a-z]+ '.*$/s, "")
    : String(err);
  const message = `Cannot ${call.op}${where ? " " + where : ""}: ${detail}`;
  const options: SafeFsErrorOptions = { code, op: call.op, cause: err };
  if (call.path !== undefined) options.path = call.path;
  if (call.dest !== undefined) options.dest = call.dest;
  switch (code) {
    case "EEXIST":
      return new AlreadyExistsError(message, options);
    case "ENOENT":
      return new NotFoundError(message, options);
    case "EXDEV":
      return new CrossDeviceError(message, options);
    case "ENOTEMPTY":
      return new NotEmptyError(message, options);
    case "EACCES":
    case "EPERM":
    case "ENOTCAPABLE":
      return new PermissionError(message, options);
    case "EINVAL":
      return new InvalidArgumentError(message, options);
    default:
      return new SafeFsError(message, options);
  }
}
