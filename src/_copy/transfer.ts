// Copyright 2026 the safefs authors. MIT license.
/**
 * A whole copy, from the source's plan to the published, durable result:
 * what `copy()` does, and what the cross-filesystem path of `move()` does
 * before it removes the source.
 *
 * 1. plan the source (`planTree`);
 * 2. build the copy under one temp name beside the destination, re-check the
 *    source, verify the copy, make it durable (`build`);
 * 3. publish it with the publish routine (`_publish.ts`): a rename, an
 *    exchange with an existing directory, or the strongest no-clobber call
 *    the filesystem has;
 * 4. make the destination's directory durable; after an exchange, remove the
 *    old tree (now under the temp name) with the deletion engine.
 * On any failure before the publish, the temp is removed with the deletion
 * engine and the destination is untouched. A failure after the publish
 * carries `published` (the destination holds the complete copy).
 *
 * @module
 */
import { type Dir, feat, type Handle, type Stat, sys } from "../_sys.ts";
import type { Gen } from "../_run.ts";
import { under } from "../_path.ts";
import { deleteEntry } from "../_delete.ts";
import {
  dropExchanged,
  isOccupied,
  publish,
  type PublishMethod,
} from "../_publish.ts";
import { alreadyExists, statOrNull } from "../_dest.ts";
import { tempName } from "../_temp.ts";
import { build } from "./build.ts";
import { K_LINK, type Plan } from "./plan.ts";
import { planTree, type Source } from "./walk.ts";
import { chooseDurability, fsync, Syncer } from "./sync.ts";
import { checkAbort, type EngineOptions, Meter } from "./options.ts";
import { NotEmptyError, PermissionError, SafeFsError } from "../errors.ts";

/** The destination of a transfer. */
export interface Destination {
  /** Its directory, open. */
  dir: Dir;
  /** Its name there. */
  name: string;
  /** Its absolute path, for messages. */
  path: string;
  /** The directory's device. */
  dev: number;
  /** What is there now (not followed), or null. */
  existing: Stat | null;
}

/** What a transfer did. */
export interface Transferred {
  plan: Plan;
  /** How it was published. */
  method: PublishMethod;
  /** An existing destination was replaced. */
  replaced: boolean;
  /** The published root, still open (null for a symlink): the caller closes it. */
  handle: Handle | null;
  /** Its inode. */
  ino: number;
}

/**
 * Marks an error thrown after the publish: the destination holds the
 * complete copy. Returns the error.
 */
export function afterPublish(e: unknown, d: string, s: string): unknown {
  if (e instanceof SafeFsError && e.published === undefined) {
    e.published = d;
    e.message =
      `Published '${d}' (a complete copy of '${s}'), then failed: ${e.message}`;
  }
  return e;
}

/**
 * Deno creates symlinks only with UNSCOPED `--allow-read` and `--allow-write`
 * (a symlink may later lead a lexical permission check outside its scope):
 * on the path backend, a plan holding symlinks is refused before anything is
 * written (G8) rather than half-way. The ffi backend checks the link's own
 * path like any other.
 */
function checkSymlinkGrant(op: string, link: string): void {
  if (feat.name !== "path") return;
  const flags: string[] = [];
  for (const kind of ["read", "write"] as const) {
    if (sys.permission({ name: kind }) !== "granted") {
      flags.push(`--allow-${kind}`);
    }
  }
  if (flags.length === 0) return;
  throw new PermissionError(
    `Cannot ${op}: the source holds symlinks (such as '${link}'), and without ` +
      `--allow-ffi Deno creates symlinks only with unscoped --allow-read and ` +
      `--allow-write (run with ${flags.join(" ")}, or with --allow-ffi)`,
    { code: "ENOTCAPABLE", op, path: link, flag: flags[0], flags },
  );
}

/** Plans, builds, publishes and makes durable; see the module doc. */
export function* transfer(
  src: Source,
  dest: Destination,
  overwrite: boolean,
  o: EngineOptions,
): Gen<Transferred> {
  const meter = new Meter(o);
  meter.enter("plan", src.path);
  const p = yield* planTree(src, o, meter);
  // Symlinks onto a filesystem that cannot store them fail the build at
  // the first one (in walk order), named, before anything is published.
  const link = p.firstLink();
  if (link >= 0) checkSymlinkGrant(o.op, under(src.path, p.rel(link)));
  checkAbort(o.signal, o.op, src.path);
  const t = {
    dir: dest.dir,
    dev: dest.dev,
    name: tempName(dest.name, dest.dir),
  };
  const sync = new Syncer(chooseDurability(o.durable, p.n, dest.dir, dest.dev));
  let handle: Handle | null = null;
  let ino = 0;
  let published = false;
  try {
    const built = yield* build(
      p,
      src,
      t,
      o,
      meter,
      sync,
    );
    handle = built.handle;
    ino = built.ino;
    checkAbort(o.signal, o.op, src.path);
    meter.enter("publish", src.path);
    const kind = p.kind[0] === K_LINK
      ? "symlink"
      : p.kind[0] === 2
      ? "dir"
      : "file";
    let pub;
    try {
      pub = yield* publish(dest.dir, t.name, dest.dir, dest.name, {
        kind,
        overwrite,
        dev: dest.dev,
        ours: true,
        empty: kind === "dir" && p.n === 1,
        destIsDir: dest.existing?.kind === "dir",
      });
    } catch (e) {
      if (!overwrite && isOccupied(e)) {
        throw alreadyExists(o.op, src.path, dest.path, e);
      }
      if (e instanceof SafeFsError && e.code === "ENOTEMPTY") {
        throw new NotEmptyError(
          `Cannot replace directory '${dest.path}': it is not empty, and this ` +
            `filesystem or backend cannot exchange two directories atomically ` +
            `(renameat2 RENAME_EXCHANGE)`,
          {
            code: "ENOTEMPTY",
            op: o.op,
            path: src.path,
            dest: dest.path,
            cause: e,
          },
        );
      }
      throw e;
    }
    published = true;
    try {
      // A batch fsyncs the directory once at its end; an exchange cannot
      // wait (the old tree is removed next, which must not come first).
      if (pub.exchanged) {
        // The old tree now has the temp's name: removed like any temp,
        // once the exchange is durable.
        meter.enter("remove", dest.path);
        yield* dropExchanged(
          dest.dir,
          t.name,
          pub.replaced ?? null,
          o.op,
          o.durable,
        );
      } else if (o.durable && o.batch !== undefined) o.batch.add(dest.dir);
      else if (o.durable) yield* fsync(dest.dir);
    } catch (e) {
      throw afterPublish(e, dest.path, src.path);
    }
    const result: Transferred = {
      plan: p,
      method: pub.method,
      replaced: dest.existing !== null,
      handle,
      ino,
    };
    handle = null;
    return result;
  } catch (e) {
    if (!published) {
      sync.close();
      yield* cleanup(dest.dir, t.name, o.op);
    }
    throw e;
  } finally {
    if (handle !== null) sys.close(handle);
  }
}

/**
 * Removes a failed operation's temp with the deletion engine (never
 * following a symlink found there). Errors are swallowed: the original
 * failure is what the caller reports; what remains is found by `sweep()`.
 */
export function* cleanup(dir: Dir, name: string, op: string): Gen<void> {
  try {
    const st = statOrNull(dir, name);
    if (st === null) return;
    yield* deleteEntry(dir, name, st, { op, oneFileSystem: true });
  } catch {
    // Left for sweep().
  }
}
