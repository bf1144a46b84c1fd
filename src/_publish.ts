// Copyright 2026 the safefs authors. MIT license.
/**
 * THE publish routine: putting a finished entry (a temp, or the source of a
 * rename) at its destination name in one atomic step, with the strongest
 * no-clobber or replacement the filesystem offers.
 *
 * Replacing (`overwrite`):
 * - a directory onto a directory: `renameat2(RENAME_EXCHANGE)`: the new tree
 *   and the old one trade names in one step, so `dest` is never missing and
 *   never a mix; the old tree is then under the temp name, for the caller
 *   to remove. Where the filesystem cannot exchange, a plain rename, which
 *   replaces only an EMPTY directory (ENOTEMPTY otherwise);
 * - anything else: rename(2).
 *
 * Not replacing, strongest first (each tried only where the filesystem has
 * not refused it before, see `_caps.ts`):
 * 1. `renameat2(RENAME_NOREPLACE)`: atomic, any type, no hard link needed
 *    (so `fs.protected_hardlinks` does not get in the way);
 * 2. files and symlinks: `link(2)` then unlink of the old name: atomic;
 * 3. an empty directory: `mkdir` of the destination as a claim, then a rename
 *    onto that empty claim: atomic (a reader may see the empty directory for
 *    an instant, which is then the whole content);
 * 4. check then rename: `lstat` finds nothing, then rename(2). The one race
 *    left is another process creating the destination in between, which
 *    the rename then replaces. Used only where none of the above exists
 *    (exFAT, many FUSE and SMB mounts) and reported as `"checked"`.
 *
 * @module
 */
import { type Dir, feat, type Kind, sys } from "./_sys.ts";
import { type Gen, heavy } from "./_run.ts";
import { deleteEntry } from "./_delete.ts";
import { renameAside, tempName } from "./_temp.ts";
import { capsOf, isUnsupported } from "./_caps.ts";
import { holds } from "./_dest.ts";
import { SafeFsError, SourceChangedError } from "./errors.ts";

/** How an entry was published. */
export type PublishMethod =
  | "rename"
  | "exchange"
  | "noreplace"
  | "link"
  | "claim"
  | "checked";

/** What `publish()` did. */
export interface Published {
  /** The call that published. */
  method: PublishMethod;
  /** With `"exchange"`: the old entry now has the source's name. */
  exchanged: boolean;
  /**
   * With `"exchange"`: the replaced directory, open and locked since before
   * the exchange (or null where it could not be), for
   * {@linkcode dropExchanged}, which closes it.
   */
  replaced?: Dir | null;
}

/** Where an entry goes, and how. */
export interface PublishPlan {
  /** The type of what is published. */
  kind: Kind;
  /** Replace an existing destination. */
  overwrite: boolean;
  /** The destination's device (where capabilities are cached). */
  dev: number;
  /** The entry is ours (a temp we made): EPERM from link(2) means no hard links. */
  ours: boolean;
  /** A directory with nothing in it (may publish with a claim). */
  empty?: boolean;
  /** The destination is a directory now (overwrite: exchange it). */
  destIsDir?: boolean;
  /**
   * With the link method, fsync the destination's directory between the
   * link and the unlink of the old name, so that no crash loses both (a
   * move between two directories).
   */
  durableLink?: boolean;
  /**
   * The identity of the entry examined before (not ours): with the link
   * method, the new name must be that inode before the old one is unlinked.
   */
  id?: { dev: number; ino: number };
  /**
   * With the link method, on an entry not ours: leave the old name for the
   * caller to unlink later (a batch unlinks every source once the
   * destination directory is durable: one fsync for all, not one each).
   */
  deferUnlink?: (dir: Dir, name: string) => void;
}

function code(e: unknown): string {
  return e instanceof SafeFsError ? e.code : "";
}

/** True for the errors a publish gives when the destination is taken. */
export function isOccupied(e: unknown): boolean {
  const c = code(e);
  return c === "EEXIST" || c === "ENOTEMPTY" || c === "ENOTDIR" ||
    c === "EISDIR";
}

/** Removes a link just made by a publish that does not go on. */
function undoLink(dir: Dir, name: string): void {
  try {
    sys.unlinkAt(dir, name);
  } catch {
    // Left: an extra name of a file, nothing lost.
  }
}

function taken(
  fromDir: Dir,
  from: string,
  toDir: Dir,
  to: string,
): SafeFsError {
  return new SafeFsError(
    `Cannot publish '${fromDir.path}/${from}' at '${toDir.path}/${to}': it exists`,
    {
      code: "EEXIST",
      op: "publish",
      path: `${fromDir.path}/${from}`,
      dest: `${toDir.path}/${to}`,
    },
  );
}

/**
 * Publishes `from` (in `fromDir`) as `to` (in `toDir`, the same filesystem).
 * Throws the seam's error when the destination is taken (EEXIST,
 * ENOTEMPTY, ...: see {@linkcode isOccupied}); any other error leaves
 * `from` where it was.
 */
export function* publish(
  fromDir: Dir,
  from: string,
  toDir: Dir,
  to: string,
  plan: PublishPlan,
): Gen<Published> {
  const caps = capsOf(plan.dev);
  if (plan.overwrite) {
    if (
      plan.kind === "dir" && plan.destIsDir && feat.renameFlags &&
      caps.exchange !== false
    ) {
      // Locked first: once replaced it has a temp name, which no sweep()
      // may take before the exchange is durable.
      const replaced = holdDir(toDir, to);
      try {
        sys.renameAt(fromDir, from, toDir, to, "exchange");
        caps.exchange = true;
        return { method: "exchange", exchanged: true, replaced };
      } catch (e) {
        if (replaced !== null) sys.close(replaced);
        if (isUnsupported(e)) caps.exchange = false;
        else if (code(e) !== "ENOENT") throw e;
        // Unsupported, or the destination went away: a plain rename.
      }
    }
    try {
      sys.renameAt(fromDir, from, toDir, to, "replace");
    } catch (e) {
      // A non-empty directory appeared at the destination since it was
      // checked: exchange with it, where the filesystem can.
      if (
        plan.kind === "dir" && !plan.destIsDir && code(e) === "ENOTEMPTY" &&
        feat.renameFlags && caps.exchange !== false
      ) {
        return yield* publish(fromDir, from, toDir, to, {
          ...plan,
          destIsDir: true,
        });
      }
      throw e;
    }
    return { method: "rename", exchanged: false };
  }

  if (feat.renameFlags && caps.noReplace !== false) {
    try {
      sys.renameAt(fromDir, from, toDir, to, "noreplace");
      caps.noReplace = true;
      return { method: "noreplace", exchanged: false };
    } catch (e) {
      if (!isUnsupported(e)) throw e;
      caps.noReplace = false;
    }
  }

  if (plan.kind !== "dir" && caps.link !== false) {
    let linked = false;
    try {
      sys.linkAt(fromDir, from, toDir, to);
      linked = true;
    } catch (e) {
      const c = code(e);
      if (c === "EEXIST") throw e;
      const noLinks = isUnsupported(e) || c === "EPERM" || c === "EMLINK";
      if (!noLinks) throw e;
      // EPERM on an entry of our own: the filesystem has no hard links.
      // On someone else's file it may be fs.protected_hardlinks: fall back
      // without concluding anything about the filesystem.
      if (plan.ours || c !== "EPERM") caps.link = false;
    }
    if (linked) {
      caps.link = true;
      let same = true;
      try {
        if (plan.id !== undefined) same = holds(toDir, to, plan.id);
      } catch (e) {
        undoLink(toDir, to);
        throw e;
      }
      if (!same) {
        // The path led to another file than the one examined (a directory
        // on the way swapped meanwhile: the path backend names paths): the
        // link is undone and the source's name is left alone.
        undoLink(toDir, to);
        throw new SourceChangedError(
          `Cannot publish '${fromDir.path}/${from}' at '${toDir.path}/${to}': ` +
            `it was replaced while it was being moved; nothing was moved`,
          {
            code: "ESRCCHANGED",
            op: "publish",
            path: `${fromDir.path}/${from}`,
            dest: `${toDir.path}/${to}`,
          },
        );
      }
      if (plan.deferUnlink !== undefined && !plan.ours) {
        plan.deferUnlink(fromDir, from);
        return { method: "link", exchanged: false };
      }
      try {
        if (plan.durableLink) {
          yield* heavy(() => sys.fsync(toDir), () => sys.fsyncAsync(toDir));
        }
        sys.unlinkAt(fromDir, from);
      } catch (e) {
        // Our temp is now a second name of the destination: published
        // all the same; its unlink is tried once more (what still stays is
        // found by sweep()). Someone else's entry: undo the link, so that
        // nothing changed, and fail.
        if (plan.ours) {
          try {
            sys.unlinkAt(fromDir, from);
          } catch {
            // Left, under its temp name.
          }
          return { method: "link", exchanged: false };
        }
        try {
          sys.unlinkAt(toDir, to);
        } catch {
          // Both names stay: nothing is lost.
        }
        throw e;
      }
      return { method: "link", exchanged: false };
    }
  }

  if (plan.kind === "dir" && plan.empty) {
    sys.mkdirAt(toDir, to, 0o700);
    try {
      sys.renameAt(fromDir, from, toDir, to, "replace");
    } catch (e) {
      // Someone filled our claim: it is theirs now. Otherwise remove it.
      if (!isOccupied(e)) {
        try {
          sys.rmdirAt(toDir, to);
        } catch {
          // Left empty; the rename's error is the one to report.
        }
      }
      throw e;
    }
    return { method: "claim", exchanged: false };
  }

  try {
    sys.statAt(toDir, to, false);
  } catch (e) {
    if (code(e) !== "ENOENT") throw e;
    sys.renameAt(fromDir, from, toDir, to, "replace");
    return { method: "checked", exchanged: false };
  }
  throw taken(fromDir, from, toDir, to);
}

function* fsyncDir(d: Dir): Gen<void> {
  yield* heavy(() => sys.fsync(d), () => sys.fsyncAsync(d));
}

/** The directory `name` in `dir`, open and locked (null where it cannot be opened). */
function holdDir(dir: Dir, name: string): Dir | null {
  let h: Dir;
  try {
    h = sys.openDirAt(dir, name);
  } catch {
    return null;
  }
  try {
    if (feat.lock) sys.lock(h);
  } catch {
    // No locks on this filesystem.
  }
  return h;
}

/**
 * Renames `name` in `dir` to a fresh temp name (without replacing anything
 * where the filesystem can refuse to) and returns that name: how a tree
 * replaced by an exchange leaves a moved source's name.
 */
export function toTempName(dir: Dir, name: string): string {
  const at = tempName(name, dir);
  renameAside(dir, name, at);
  return at;
}

/**
 * After an exchange, the replaced tree is the temp `name` in `dir` (the
 * copy's temp, or the name {@linkcode toTempName} gave a moved source's),
 * held locked by `held` (see {@linkcode Published.replaced}; closed here) so
 * no `sweep()` takes it early. The exchange is made durable (`others`: the exchange's other directory, fsynced first), and
 * only then is it removed with the deletion engine: removed earlier, a crash
 * could bring the half-removed tree back at the destination.
 *
 * When an fsync fails, the exchange may not be on disk: the replaced tree
 * stays under its temp name (only an empty one is removed), for `sweep()`,
 * and the error is thrown.
 */
export function* dropExchanged(
  dir: Dir,
  name: string,
  held: Dir | null,
  op: string,
  durable: boolean,
  others: Dir[] = [],
): Gen<void> {
  try {
    if (durable) {
      try {
        for (const d of others) yield* fsyncDir(d);
        yield* fsyncDir(dir);
      } catch (e) {
        try {
          sys.rmdirAt(dir, name);
        } catch {
          // Not empty (or gone): left as it is.
        }
        throw e;
      }
    }
    for (let attempt = 0;; attempt++) {
      try {
        const old = sys.tryStatAt(dir, name, false);
        if (old !== null) {
          yield* deleteEntry(dir, name, old, { op, oneFileSystem: true });
        }
        break;
      } catch (e) {
        // Once more (a passing failure); what still stays has a temp name.
        if (attempt > 0) throw e;
      }
    }
    if (durable) yield* fsyncDir(dir);
  } finally {
    if (held !== null) sys.close(held);
  }
}
