// Copyright 2026 the safefs authors. MIT license.
/**
 * Typed errors thrown by every safefs primitive.
 *
 * Every error is a {@linkcode SafeFsError} carrying the errno name (`code`), the
 * operation (`op`), the path and, for two-path operations, the destination. safefs
 * classifies every failure of the operating system by its errno, so `code`
 * is set even where Deno leaves it out (ESTALE, EMLINK, EDQUOT, ...).
 *
 * Each error is also an instance of the `Deno.errors` class that Deno's own
 * file API (or `@std/fs`) throws for the same failure, so code written for
 * them keeps working:
 *
 * | safefs class | code | also an instance of |
 * | --- | --- | --- |
 * | {@linkcode AlreadyExistsError} | `EEXIST` | `Deno.errors.AlreadyExists` |
 * | {@linkcode NotFoundError} | `ENOENT` | `Deno.errors.NotFound` |
 * | {@linkcode PermissionError} | `EACCES`, `EPERM` | `Deno.errors.PermissionDenied` |
 * | {@linkcode PermissionError} | `ENOTCAPABLE` | `Deno.errors.NotCapable` |
 * | {@linkcode IsADirectoryError} | `EISDIR` | `Deno.errors.IsADirectory` |
 * | {@linkcode NotADirectoryError} | `ENOTDIR` | `Deno.errors.NotADirectory` |
 * | {@linkcode InvalidArgumentError} | `EINVAL` | `Deno.errors.NotSupported` (as `@std/fs`'s `move` into itself) |
 * | {@linkcode UnsupportedFileTypeError} | `EFTYPE` | `Deno.errors.NotSupported` |
 * | {@linkcode SafeFsError} | `ELOOP` | `Deno.errors.FilesystemLoop` |
 * | {@linkcode SafeFsError} | `EINTR`, `EAGAIN`, `ETIMEDOUT` | `Deno.errors.Interrupted`, `WouldBlock`, `TimedOut` |
 * | {@linkcode CrossDeviceError}, {@linkcode NotEmptyError}, {@linkcode SourceChangedError}, {@linkcode AbortedError}, other codes | | none (Deno throws a plain `Error` for EXDEV, ENOTEMPTY, EBUSY, ENOSPC, ...) |
 *
 * `instanceof` works both ways: `err instanceof AlreadyExistsError`,
 * `err instanceof SafeFsError` and `err instanceof Deno.errors.AlreadyExists`
 * are all true, and `err instanceof NotFoundError` is false.
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
 * @example Code written for Deno's own errors keeps working
 * ```ts ignore
 * import { copy } from "@safefs/safefs";
 *
 * try {
 *   await copy("a.txt", "b.txt");
 * } catch (err) {
 *   if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
 * }
 * ```
 *
 * @module
 */

// How it is done. A prototype chain holds one `Deno.errors` class, and the
// classes here form their own hierarchy, so:
// - a class with a fixed Deno class (AlreadyExistsError -> AlreadyExists) has
//   its prototype re-parented once, at load, onto a "bridge": an object whose
//   parent is the Deno class's prototype and which carries SafeFsError's
//   prototype members and the BRAND. `instanceof` the class itself, and
//   Deno's console, work as usual;
// - where the Deno class depends on the code (PermissionError: EACCES vs
//   ENOTCAPABLE; a plain SafeFsError with ELOOP, ...), the instance gets a
//   prototype made once per (class, Deno class), tagged with the class (KIND);
// - `instanceof SafeFsError` looks for the BRAND, `instanceof` a subclass
//   also for the KIND (`static [Symbol.hasInstance]`, inherited by all).
// Errors without a Deno class keep the plain chain. Nothing global changes.

/**
 * The options of every {@linkcode SafeFsError} constructor: where an error
 * happened and why.
 */
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
  /** Where the operation published its result before it failed. */
  published?: string;
}

/** On SafeFsError's prototype and every bridge: what `instanceof SafeFsError` looks for. */
const BRAND: unique symbol = Symbol("safefs.error");
/** On a per-instance prototype: the safefs class that constructed the instance. */
const KIND: unique symbol = Symbol("safefs.kind");

// deno-lint-ignore no-explicit-any
type AnyClass = abstract new (...args: any[]) => unknown;
type DenoErrorClass = new (message?: string, options?: ErrorOptions) => Error;
type Members = Map<PropertyKey, PropertyDescriptor>;

const bridges = new Map<DenoErrorClass, object>();
const isBridge = new WeakSet<object>();
const instancePrototypes = new Map<AnyClass, Map<DenoErrorClass, object>>();

/** The members of `proto` and its parents, up to (not including) `stop`. */
function membersOf(proto: object, stop: (p: object) => boolean): Members {
  const members: Members = new Map();
  for (let p = proto; p !== null && !stop(p); p = Object.getPrototypeOf(p)) {
    for (const key of Reflect.ownKeys(p)) {
      if (!members.has(key)) {
        members.set(key, Object.getOwnPropertyDescriptor(p, key)!);
      }
    }
  }
  return members;
}

/** The bridge between the safefs classes and Deno class `base`. */
function bridge(base: DenoErrorClass): object {
  let b = bridges.get(base);
  if (b === undefined) {
    const members = membersOf(
      SafeFsError.prototype,
      (p) => p === Error.prototype,
    );
    members.delete("constructor");
    b = Object.create(base.prototype, Object.fromEntries(members)) as object;
    bridges.set(base, b);
    isBridge.add(b);
  }
  return b;
}

/** The prototype of an instance of `kind` that is also a `base`. */
function instancePrototype(kind: AnyClass, base: DenoErrorClass): object {
  let byBase = instancePrototypes.get(kind);
  if (byBase === undefined) instancePrototypes.set(kind, byBase = new Map());
  let proto = byBase.get(base);
  if (proto === undefined) {
    const members = membersOf(
      kind.prototype,
      (p) =>
        p === SafeFsError.prototype || p === Error.prototype || isBridge.has(p),
    );
    members.set("constructor", {
      value: kind,
      writable: true,
      configurable: true,
      enumerable: false,
    });
    proto = Object.create(bridge(base), Object.fromEntries(members)) as object;
    Object.defineProperty(proto, KIND, { value: kind });
    byBase.set(base, proto);
  }
  return proto;
}

/**
 * The base class of every error safefs throws.
 *
 * Constructed directly with a `code` that has its own subclass (`"EEXIST"`,
 * `"ENOENT"`, `"EISDIR"`, ...; see the table of this module), it returns an
 * instance of that subclass: the class of a safefs error always agrees with
 * its code.
 *
 * @example
 * ```ts
 * import { SafeFsError } from "@safefs/safefs";
 * import { equal as assertEquals } from "node:assert/strict";
 *
 * const err = new SafeFsError("Cannot read '/x'", { code: "EIO", op: "read", path: "/x" });
 * assertEquals(err.code, "EIO");
 * ```
 *
 * @example The subclass is picked from the code
 * ```ts
 * import { IsADirectoryError, SafeFsError } from "@safefs/safefs";
 * import { ok } from "node:assert/strict";
 *
 * const err = new SafeFsError("'/d' is a directory", { code: "EISDIR", op: "write" });
 * ok(err instanceof IsADirectoryError);
 * ok(err instanceof Deno.errors.IsADirectory);
 * ```
 */
export class SafeFsError extends Error {
  /** The errno name (`"EEXIST"`, `"EXDEV"`, ...) or a safefs code. */
  readonly code!: string;
  /** The operation that failed. */
  readonly op!: string;
  /** The path acted on, when there is one. */
  readonly path?: string;
  /** The destination of a two-path operation. */
  readonly dest?: string;
  /**
   * Set when the operation had already published its result at this path
   * when it failed: the destination is complete (for a `move`, the source
   * may still be there too; nothing is lost).
   */
  published?: string;

  /**
   * Creates an error.
   *
   * @param message A sentence-case message that quotes the paths.
   * @param options What failed, where, and why.
   */
  constructor(message: string, options: SafeFsErrorOptions) {
    if (new.target === SafeFsError) {
      const Sub = subclassFor(options.code);
      if (Sub !== undefined) {
        const err = new Sub(message, options);
        Error.captureStackTrace(err, SafeFsError);
        return err;
      }
    }
    super(
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = new.target.name;
    this.code = options.code;
    this.op = options.op;
    if (options.path !== undefined) this.path = options.path;
    if (options.dest !== undefined) this.dest = options.dest;
    if (options.published !== undefined) this.published = options.published;
    const base = denoClassByCode(new.target, options.code);
    if (base !== undefined) {
      Object.setPrototypeOf(this, instancePrototype(new.target, base));
    }
  }

  /**
   * `value instanceof C` for `C` this class or any subclass: true when
   * `value` was constructed by `C` or a subclass of it, whichever
   * `Deno.errors` class it is also an instance of.
   *
   * @param value Anything.
   * @returns Whether `value` is an instance of this class.
   */
  static override [Symbol.hasInstance]<T>(
    this: abstract new (...args: never[]) => T,
    value: unknown,
  ): value is T {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    if (typeof value !== "object" || value === null) return false;
    if ((this as unknown) === SafeFsError) return BRAND in value;
    const kind = (value as { [KIND]?: AnyClass })[KIND];
    return kind !== undefined &&
      (kind === this || Object.prototype.isPrototypeOf.call(this, kind));
  }
}
Object.defineProperty(SafeFsError.prototype, BRAND, { value: true });

/**
 * The destination (or the path to create) already exists and `overwrite` was not
 * given. Nothing was changed. Also a `Deno.errors.AlreadyExists`.
 *
 * @example
 * ```ts
 * import { AlreadyExistsError } from "@safefs/safefs";
 * import { ok } from "node:assert/strict";
 *
 * const err = new AlreadyExistsError("Destination 'b' exists", { code: "EEXIST", op: "move" });
 * ok(err instanceof Deno.errors.AlreadyExists);
 * ```
 */
export class AlreadyExistsError extends SafeFsError {}

/**
 * A path that must exist does not (the source, or the destination's parent).
 * Also a `Deno.errors.NotFound`.
 *
 * @example
 * ```ts
 * import { NotFoundError } from "@safefs/safefs";
 * import { ok } from "node:assert/strict";
 *
 * const err = new NotFoundError("Source 'a' does not exist", { code: "ENOENT", op: "move" });
 * ok(err instanceof Deno.errors.NotFound);
 * ```
 */
export class NotFoundError extends SafeFsError {}

/**
 * A directory is where something else was needed: a file would replace a
 * directory, or a directory was opened as a file. Code `"EISDIR"`. Also a
 * `Deno.errors.IsADirectory`.
 *
 * @example
 * ```ts
 * import { IsADirectoryError } from "@safefs/safefs";
 * import { ok } from "node:assert/strict";
 *
 * const err = new IsADirectoryError("Cannot replace directory 'd' with a file", {
 *   code: "EISDIR",
 *   op: "copy",
 * });
 * ok(err instanceof Deno.errors.IsADirectory);
 * ```
 */
export class IsADirectoryError extends SafeFsError {}

/**
 * Something other than a directory is where a directory was needed: a
 * directory would replace a file, or a path goes through a file. Code
 * `"ENOTDIR"`. Also a `Deno.errors.NotADirectory`.
 *
 * @example
 * ```ts
 * import { NotADirectoryError } from "@safefs/safefs";
 * import { ok } from "node:assert/strict";
 *
 * const err = new NotADirectoryError("Cannot replace file 'f' with a directory", {
 *   code: "ENOTDIR",
 *   op: "copy",
 * });
 * ok(err instanceof Deno.errors.NotADirectory);
 * ```
 */
export class NotADirectoryError extends SafeFsError {}

/**
 * The operation would cross a filesystem boundary and was told not to
 * (`crossDevice: "fail"`), or cannot (a mount point inside a tree). No
 * `Deno.errors` class: Deno throws a plain `Error` with code `"EXDEV"`.
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
 * published. Code `"ESRCCHANGED"`. No `Deno.errors` class.
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
 * Permission denied: by the operating system (`EACCES`, `EPERM`; `EROFS` is not
 * one of these), then also a `Deno.errors.PermissionDenied`; or by Deno's
 * permission system (`ENOTCAPABLE`, with `flag` naming the flag to add, e.g.
 * `--allow-write=/data/out`), then also a `Deno.errors.NotCapable`, as Deno's
 * own calls throw.
 *
 * @example
 * ```ts
 * import { PermissionError } from "@safefs/safefs";
 * import { ok } from "node:assert/strict";
 *
 * const err = new PermissionError("Missing write permission for '/x'", {
 *   code: "ENOTCAPABLE",
 *   op: "move",
 *   flag: "--allow-write=/x",
 * });
 * console.log(err.flag); // "--allow-write=/x"
 * ok(err instanceof Deno.errors.NotCapable);
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
 * A directory that had to be empty (or emptied) is not. No `Deno.errors`
 * class: Deno throws a plain `Error` with code `"ENOTEMPTY"`.
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
 * Also a `Deno.errors.NotSupported`.
 *
 * @example
 * ```ts
 * import { UnsupportedFileTypeError } from "@safefs/safefs";
 * import { ok } from "node:assert/strict";
 *
 * const err = new UnsupportedFileTypeError("'p' is a FIFO", { code: "EFTYPE", op: "copy" });
 * ok(err instanceof Deno.errors.NotSupported);
 * ```
 */
export class UnsupportedFileTypeError extends SafeFsError {}

/**
 * The arguments are wrong: an empty path, a NUL byte, source and destination
 * being the same file, a directory moved or copied into itself. Code
 * `"EINVAL"`. Also a `Deno.errors.NotSupported`, which is what `@std/fs`'s
 * `move()` throws for a directory moved into itself.
 *
 * @example
 * ```ts
 * import { InvalidArgumentError } from "@safefs/safefs";
 * import { ok } from "node:assert/strict";
 *
 * const err = new InvalidArgumentError("Cannot move directory 'd' into itself", {
 *   code: "EINVAL",
 *   op: "move",
 * });
 * ok(err instanceof Deno.errors.NotSupported);
 * ```
 */
export class InvalidArgumentError extends SafeFsError {}

/**
 * The operation was aborted through its `AbortSignal`; everything it had
 * started was undone. Code `"ABORT_ERR"`, `cause` is the signal's reason
 * (`err.cause === signal.reason`). Not a `DOMException`: its `name` is
 * `"AbortedError"`, like every safefs error's name is its class.
 *
 * @example
 * ```ts
 * import { AbortedError } from "@safefs/safefs";
 * const err = new AbortedError("Move of 'a' was aborted", { code: "ABORT_ERR", op: "move" });
 * console.log(err.code); // "ABORT_ERR"
 * ```
 */
export class AbortedError extends SafeFsError {}

/** The subclass `new SafeFsError()` builds for a code. */
function subclassFor(code: string): typeof SafeFsError | undefined {
  switch (code) {
    case "EEXIST":
      return AlreadyExistsError;
    case "ENOENT":
      return NotFoundError;
    case "EISDIR":
      return IsADirectoryError;
    case "ENOTDIR":
      return NotADirectoryError;
    case "EXDEV":
      return CrossDeviceError;
    case "ENOTEMPTY":
      return NotEmptyError;
    case "EACCES":
    case "EPERM":
    case "ENOTCAPABLE":
      return PermissionError;
    case "EINVAL":
      return InvalidArgumentError;
    case "ESRCCHANGED":
      return SourceChangedError;
    case "EFTYPE":
      return UnsupportedFileTypeError;
    case "ABORT_ERR":
      return AbortedError;
    default:
      return undefined;
  }
}

/**
 * The Deno class of an instance of `kind` with `code`, where the code
 * decides it: ENOTCAPABLE makes a `PermissionError` a `NotCapable` (as Deno's
 * own calls throw for a missing `--allow-*` flag); a plain `SafeFsError` takes
 * the class Deno gives its errno. `undefined` where the class decides alone.
 */
function denoClassByCode(
  kind: AnyClass,
  code: string,
): DenoErrorClass | undefined {
  if (
    kind === PermissionError ||
    Object.prototype.isPrototypeOf.call(PermissionError, kind)
  ) {
    return code === "ENOTCAPABLE" ? Deno.errors.NotCapable : undefined;
  }
  if (kind !== SafeFsError) return undefined;
  switch (code) {
    case "ELOOP":
      return Deno.errors.FilesystemLoop;
    case "EINTR":
      return Deno.errors.Interrupted;
    case "EAGAIN":
      return Deno.errors.WouldBlock;
    case "ETIMEDOUT":
      return Deno.errors.TimedOut;
    default:
      return undefined;
  }
}

// The classes whose Deno class is fixed: their prototypes now run through it.
// (CrossDeviceError, NotEmptyError, SourceChangedError and AbortedError have
// none: Deno throws a plain `Error` for EXDEV and ENOTEMPTY.)
for (
  const [cls, base] of [
    [AlreadyExistsError, Deno.errors.AlreadyExists],
    [NotFoundError, Deno.errors.NotFound],
    [IsADirectoryError, Deno.errors.IsADirectory],
    [NotADirectoryError, Deno.errors.NotADirectory],
    [PermissionError, Deno.errors.PermissionDenied],
    [InvalidArgumentError, Deno.errors.NotSupported],
    [UnsupportedFileTypeError, Deno.errors.NotSupported],
  ] as const
) {
  Object.setPrototypeOf(cls.prototype, bridge(base));
}

/**
 * Thrown by `remove()` when mount points inside the tree kept it from
 * being removed completely. Everything else that could be removed was; the
 * mount points (and the directories leading to them) are left in place.
 * Code `"EBUSY"`.
 *
 * @example
 * ```ts
 * import { MountPointError } from "@safefs/safefs";
 * import { deepEqual } from "node:assert/strict";
 *
 * const err = new MountPointError("Cannot remove '/t': 1 mount point left", {
 *   code: "EBUSY",
 *   op: "remove",
 *   path: "/t",
 *   mountPoints: ["/t/mnt"],
 * });
 * deepEqual(err.mountPoints, ["/t/mnt"]);
 * ```
 */
export class MountPointError extends NotEmptyError {
  /** The mount points left, as absolute paths. */
  readonly mountPoints: string[];

  /**
   * Creates the error.
   *
   * @param message A sentence-case message that quotes the paths.
   * @param options What failed, and the mount points left.
   */
  constructor(
    message: string,
    options: SafeFsErrorOptions & { mountPoints: string[] },
  ) {
    super(message, options);
    this.mountPoints = options.mountPoints;
  }
}
