// Copyright 2026 the safefs authors. MIT license.
/**
 * `symlink()`: create or atomically replace a symbolic link (the `current ->
 * releases/v42` of a deploy).
 *
 * @module
 */
import { locate, type PathLike } from "./_path.ts";
import { preflight } from "./_perm.ts";
import { sys } from "./_sys.ts";
import { type Gen, runAsync } from "./_run.ts";
import { claimName, tempName } from "./_temp.ts";
import { notADirectory, openParent, statOrNull } from "./_dest.ts";
import { isOccupied, publish, type PublishMethod } from "./_publish.ts";
import { afterPublish, cleanup } from "./_copy/transfer.ts";
import { fsync } from "./_copy/sync.ts";
import { errorFor } from "./_errno.ts";
import { AlreadyExistsError, InvalidArgumentError } from "./errors.ts";

/** Options for {@linkcode symlink}. */
export interface SymlinkOptions {
  /**
   * Replace an existing file or symlink at `path`, atomically: a reader
   * finds the old entry or the new link, never nothing. A directory is never
   * replaced.
   * @default {false}
   */
  overwrite?: boolean;
  /**
   * Make the link survive power loss before resolving (its directory is
   * fsynced). `false` skips that.
   * @default {true}
   */
  durable?: boolean;
}

/** What {@linkcode symlink} did. */
export interface SymlinkResult {
  /** The link's path, absolute. */
  path: string;
  /** What it points to, as given. */
  target: string;
  /** An existing entry was replaced. */
  replaced: boolean;
  /** How it was published (see {@linkcode CopyResult.publish}). */
  publish: PublishMethod;
}

function* symlinkPath(
  target: string,
  path: PathLike,
  options: SymlinkOptions,
): Gen<SymlinkResult> {
  const op = "symlink";
  if (typeof target !== "string" || target === "" || target.includes("\0")) {
    throw new InvalidArgumentError(
      `Cannot create a symlink: its target must be a non-empty string without NUL bytes`,
      { code: "EINVAL", op },
    );
  }
  const loc = locate(path, op);
  if (loc.name === "") {
    throw new InvalidArgumentError(`Cannot create a symlink at '/'`, {
      code: "EINVAL",
      op,
      path: "/",
    });
  }
  if (loc.slash) throw notADirectory(op, loc.abs);
  const overwrite = options.overwrite ?? false;
  const durable = options.durable ?? true;
  preflight(op, [
    { kind: "read", path: loc.parent, followLast: true },
    { kind: "write", path: loc.parent, followLast: true },
    { kind: "write", path: loc.abs },
  ]);
  const dir = openParent(loc, op, `'${loc.abs}'`);
  try {
    const existing = statOrNull(dir, loc.name);
    if (existing !== null && !overwrite) throw exists(loc.abs);
    if (existing?.kind === "dir") {
      throw errorFor(
        "EISDIR",
        `Cannot replace directory '${loc.abs}' with a symlink`,
        { code: "EISDIR", op, path: loc.abs },
      );
    }
    // A symlink cannot be locked: made under a claim name, which sweep()
    // leaves alone for a while whatever its olderThan (see _temp.ts).
    const tmp = claimName(tempName(loc.name, dir));
    sys.symlinkAt(target, dir, tmp);
    let pub;
    try {
      pub = yield* publish(dir, tmp, dir, loc.name, {
        kind: "symlink",
        overwrite,
        dev: sys.fstat(dir).dev,
        ours: true,
      });
    } catch (e) {
      yield* cleanup(dir, tmp, op);
      if (!overwrite && isOccupied(e)) throw exists(loc.abs, e);
      throw e;
    }
    try {
      if (durable) yield* fsync(dir);
    } catch (e) {
      throw afterPublish(e, loc.abs, target);
    }
    return {
      path: loc.abs,
      target,
      replaced: existing !== null,
      publish: pub.method,
    };
  } finally {
    sys.close(dir);
  }
}

function exists(p: string, cause?: unknown): AlreadyExistsError {
  return new AlreadyExistsError(
    `Cannot create the symlink '${p}': it exists (use overwrite to replace it)`,
    { code: "EEXIST", op: "symlink", path: p, cause },
  );
}

/**
 * Creates the symlink `path` pointing to `target`: made under a temp name
 * beside `path`, then published in one step. With `overwrite`, an existing
 * file or symlink at `path` is replaced by a rename, so a reader always
 * finds either the old entry or the new link (the usual way to switch a
 * `current` link between releases); without it, an existing `path` is
 * refused (`AlreadyExistsError`, code `"EEXIST"`) by the publishing call
 * itself. Durable by default. `target` is stored as given (relative targets
 * are relative to the link's directory) and need not exist.
 *
 * @example Switch a `current` link to a new release, atomically
 * ```ts
 * import { symlink } from "@safefs/safefs";
 * import { equal as assertEquals } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/v1`);
 * await Deno.mkdir(`${dir}/v2`);
 * await symlink("v1", `${dir}/current`);
 * await symlink("v2", `${dir}/current`, { overwrite: true });
 * assertEquals(await Deno.readLink(`${dir}/current`), "v2");
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param target What the link points to.
 * @param path Where the link is made.
 * @param options See {@linkcode SymlinkOptions}.
 * @returns What was done.
 * @throws {AlreadyExistsError} `path` exists and `overwrite` is not set.
 * @throws {NotFoundError} The directory of `path` does not exist.
 * @throws {IsADirectoryError} `path` is a directory.
 * @throws {PermissionError} A Deno permission is missing, or the OS refused (a filesystem without symlinks gives EPERM).
 * @throws {InvalidArgumentError} An empty target or path, or a NUL byte.
 */
export function symlink(
  target: string,
  path: PathLike,
  options: SymlinkOptions = {},
): Promise<SymlinkResult> {
  return runAsync(symlinkPath(target, path, options));
}
