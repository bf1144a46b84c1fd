/**
 * Typed errors thrown by every safefs primitive.
 *
 * Every error is a {@linkcode SafeFsError} carrying the errno name (`code`), the
 * operation (`op`), the path and, for two-path operations, the destination. safefs
 * classifies every failure of the operating system by its errno, so `code`
 * is set even where Deno leaves it out (ESTALE, EMLINK, EDQUOT, ...).
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
   * Every Deno flag missing for the call, when Deno refused: the preflight
   * reports them all at once (`flag` is the first). `["--allow-all"]` for
   * paths Deno reserves to `--allow-all` (under `/dev`, `/proc`, `/sys`).
   *
   * @example
   * ```ts
   * import { PermissionError } from "@safefs/safefs";
   * const err = new PermissionError("Missing 2 permissions", {
   *   code: "ENOTCAPABLE",
   *   op: "copy",
   *   flags: ["--allow-read=/src", "--allow-write=/dst"],
   * });
   * console.log(err.flag); // "--allow-read=/src"
   * ```
   */
  readonly flags?: string[];

  /**
   * Creates a permission error.
   *
   * @param message A sentence-case message that quotes the paths.
   * @param options What failed and, for Deno permissions, the missing flag
   * (`flag`) or flags (`flags`; `flag` defaults to the first of them).
   */
  constructor(
    message: string,
    options: SafeFsErrorOptions & { flag?: string; flags?: string[] },
  ) {
    super(message, options);
    const flag = options.flag ?? options.flags?.[0];
    if (flag !== undefined) this.flag = flag;
    const flags = options.flags ?? (flag === undefined ? undefined : [flag]);
    if (flags !== undefined) this.flags = [...flags];
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
