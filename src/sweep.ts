// Copyright 2026 the safefs authors. MIT license.
/**
 * `sweep()`: remove what crashed safefs operations left behind.
 *
 * @module
 */
import { locate, type PathLike } from "./_path.ts";
import { preflight } from "./_perm.ts";
import { type Dir, feat, type Handle, type Stat, sys } from "./_sys.ts";
import { type Gen, runAsync } from "./_run.ts";
import { CLAIM_GRACE_MS, isClaimName, isTempName } from "./_temp.ts";
import { deleteEntry, leftoverError } from "./_delete.ts";
import { fsync } from "./_copy/sync.ts";
import { holds } from "./_dest.ts";
import { errorFor } from "./_errno.ts";
import { InvalidArgumentError, NotFoundError, SafeFsError } from "./errors.ts";

/** Options for {@linkcode sweep}. */
export interface SweepOptions {
  /**
   * Only remove leftovers whose status-change time (ctime: which, unlike the
   * mtime, no copy can set to the past) is more than this many milliseconds
   * ago. A leftover still held by a running operation is never removed,
   * whatever its age (see {@linkcode sweep}); this is a second guard, and
   * the only one on a filesystem without locks. `0` removes every leftover
   * no live operation holds (a claim, `.safefs-new`, once it is a minute
   * old).
   * @default {3_600_000}
   */
  olderThan?: number;
  /**
   * List what would be removed, and remove nothing.
   * @default {false}
   */
  dryRun?: boolean;
}

/** What {@linkcode sweep} did. */
export interface SweepResult {
  /**
   * Absolute paths of the leftovers removed (with `dryRun`: that would be
   * removed), sorted. Leftovers another process removed first are not listed.
   */
  removed: string[];
  /** Temps left alone because a running operation holds them (sorted). */
  live: string[];
}

const HOUR = 3_600_000;

/**
 * The temp, open and locked, if its lock can be taken; "live" when a
 * running operation holds it, "unlockable" where it cannot be locked,
 * "gone" when it went away or changed kind since it was listed.
 */
function takeLock(
  dir: Dir,
  name: string,
  st: Stat,
): Handle | "live" | "unlockable" | "gone" {
  if (!feat.lock) return "unlockable";
  let h: Handle;
  try {
    if (st.kind === "dir") h = sys.openDirAt(dir, name);
    else if (st.kind === "file") h = sys.openAt(dir, name, { read: true });
    else return "unlockable"; // a symlink: its age alone protects it
  } catch (e) {
    // Published or swept meanwhile, or another kind of entry now.
    if (e instanceof NotFoundError) return "gone";
    const code = e instanceof SafeFsError ? e.code : "";
    if (code === "ENOTDIR" || code === "ELOOP" || code === "EISDIR") {
      return "gone";
    }
    throw e;
  }
  try {
    const now = sys.fstat(h);
    if (now.dev !== st.dev || now.ino !== st.ino) {
      sys.close(h);
      return "live"; // replaced since it was listed: look again next time
    }
    if (!sys.lock(h)) {
      sys.close(h);
      return "live";
    }
    // Its operation may have published it (renamed it away) and let go of
    // its lock between our open and our lock: what we locked must still be
    // at the name we are about to remove.
    if (!holds(dir, name, st)) {
      sys.close(h);
      return "gone";
    }
    return h;
  } catch (e) {
    sys.close(h);
    // Renamed away meanwhile (the path backend locks by path), or no locks
    // on this filesystem.
    const code = e instanceof SafeFsError ? e.code : "";
    return code === "ENOENT" || code === "ESRCCHANGED" ? "gone" : "unlockable";
  }
}

function* sweepAt(
  abs: string,
  olderThan: number,
  dryRun: boolean,
): Gen<SweepResult> {
  const op = "sweep";
  let dir: Dir;
  try {
    dir = sys.openDir(abs, false);
  } catch (e) {
    if (e instanceof NotFoundError) {
      throw new NotFoundError(`Cannot sweep '${abs}': it does not exist`, {
        code: "ENOENT",
        op,
        path: abs,
        cause: e,
      });
    }
    if (
      e instanceof SafeFsError && (e.code === "ENOTDIR" || e.code === "ELOOP")
    ) {
      throw errorFor(
        "ENOTDIR",
        `Cannot sweep '${abs}': it is not a directory`,
        {
          code: "ENOTDIR",
          op,
          path: abs,
          cause: e,
        },
      );
    }
    throw e;
  }
  try {
    return yield* sweepDir(dir, abs, olderThan, dryRun);
  } finally {
    sys.close(dir);
  }
}

/** The sweep itself, in an opened directory (also `Root.sweep`). */
export function* sweepDir(
  dir: Dir,
  abs: string,
  olderThan: number,
  dryRun: boolean,
): Gen<SweepResult> {
  const op = "sweep";
  {
    // The listing is held compactly (and read as it goes where the backend
    // can): the directory may hold 200,000 entries that are not temps.
    const listing = yield* sys.listWhole(dir);
    const names: string[] = [];
    for (let k = 0; k < listing.length; k++) {
      const name = listing.name(k);
      if (isTempName(name)) names.push(name);
    }
    names.sort();
    const now = Date.now();
    const removed: string[] = [];
    const live: string[] = [];
    let firstError: unknown = null;
    for (const name of names) {
      const path = `${abs === "/" ? "" : abs}/${name}`;
      let st: Stat;
      try {
        st = sys.statAt(dir, name, false);
      } catch (e) {
        if (!(e instanceof NotFoundError)) firstError ??= e;
        continue;
      }
      const ctime = st.ctimeSec * 1000 + st.ctimeNsec / 1e6;
      // A claim is a temp being created, not locked yet (see _temp.ts).
      const min = isClaimName(name)
        ? Math.max(olderThan, CLAIM_GRACE_MS)
        : olderThan;
      if (min > 0 && !(now - ctime > min)) continue;
      const lock = takeLock(dir, name, st);
      if (lock === "live") {
        live.push(path);
        continue;
      }
      if (lock === "gone") continue;
      try {
        if (dryRun) {
          removed.push(path);
          continue;
        }
        const r = yield* deleteEntry(dir, name, st, {
          op,
          oneFileSystem: true,
        });
        const left = leftoverError(op, path, r);
        if (left !== null) throw left;
        if (r.removed > 0) removed.push(path);
      } catch (e) {
        firstError ??= e;
      } finally {
        if (typeof lock !== "string") sys.close(lock);
      }
    }
    if (removed.length > 0 && !dryRun) yield* fsync(dir);
    if (firstError !== null) throw firstError;
    return { removed, live };
  }
}

/** Checks `olderThan` (milliseconds, a number >= 0). */
export function checkAge(abs: string, olderThan: unknown): number {
  if (typeof olderThan !== "number" || !(olderThan >= 0)) {
    throw new InvalidArgumentError(
      `Cannot sweep '${abs}': olderThan must be a number of milliseconds >= 0, got ${olderThan}`,
      { code: "EINVAL", op: "sweep", path: abs },
    );
  }
  return olderThan;
}

/**
 * Removes the leftovers of crashed safefs operations found directly in `dir`:
 * entries named like safefs temps (`.<name>.<uuid>.safefs-tmp`, or
 * `.safefs-new` for one not yet locked), whether
 * files, symlinks (the link only, never its target) or whole directory trees
 * (removed by the same engine as {@linkcode remove}: no symlink is followed,
 * no other filesystem entered).
 *
 * It never removes the temp of an operation still running, whatever the
 * times on it (a copy gives its temp the source's old times): every safefs
 * operation holds an exclusive lock (`flock`) on its temp from right after
 * creating it until it is published or removed, and the kernel drops that
 * lock when the process ends, however it ends. A locked temp is left and
 * listed in `live`. A temp gets its name only once it is locked: until then
 * it has a claim name (`.<name>.<uuid>.safefs-new`), which `sweep()` leaves
 * alone for a minute whatever `olderThan` says (a symlink, which cannot be
 * locked, keeps its claim name until it is published). As a second guard,
 * only leftovers whose ctime is older than `olderThan` are considered.
 *
 * Guarantees: it never touches an entry whose name is not a safefs temp name,
 * never looks below `dir` for them (temps are always created directly beside
 * their destination), and with `dryRun` changes nothing. Entries that vanish
 * meanwhile (another sweep) are skipped. Where a filesystem has no locks
 * (some network filesystems), the ctime age is the only guard: keep
 * `olderThan` above your longest operation there.
 *
 * @example Clean a directory after a crash
 * ```ts
 * import { sweep } from "@safefs/safefs";
 * import { deepEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const leftover = `${dir}/.report.pdf.0b5f4a3e-8a59-4a55-9d7e-5bd1c0f1f9a1.safefs-tmp`;
 * await Deno.writeTextFile(leftover, "half a report");
 * await Deno.writeTextFile(`${dir}/report.pdf`, "the report");
 *
 * const { removed } = await sweep(dir, { olderThan: 0 });
 * deepEqual(removed, [leftover]);
 * deepEqual(await Deno.readTextFile(`${dir}/report.pdf`), "the report");
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param dir The directory to clean (not recursively).
 * @param options See {@linkcode SweepOptions}.
 * @returns The leftovers removed (or, with `dryRun`, found) and the live temps left.
 * @throws {NotFoundError} `dir` does not exist.
 * @throws {PermissionError} A Deno permission is missing, or the OS refused.
 * @throws {InvalidArgumentError} `dir` is empty, has a NUL byte, or `olderThan` is not a number >= 0.
 * @throws {SafeFsError} A leftover could not be removed (the first such
 * failure, thrown after every other leftover was dealt with), or `dir` is
 * not a directory (`ENOTDIR`).
 */
export function sweep(
  dir: PathLike,
  options: SweepOptions = {},
): Promise<SweepResult> {
  const op = "sweep";
  let abs: string;
  try {
    abs = locate(dir, op, true).abs;
  } catch (e) {
    return Promise.reject(e);
  }
  const dryRun = options.dryRun ?? false;
  let olderThan: number;
  try {
    olderThan = checkAge(abs, options.olderThan ?? HOUR);
    // `dir` is checked where it really is: a symlink to a directory outside
    // the grant is refused as a symlink escape.
    preflight(
      op,
      dryRun ? [{ kind: "read", path: abs, followLast: true }] : [
        { kind: "read", path: abs, followLast: true },
        { kind: "write", path: abs, followLast: true },
      ],
    );
  } catch (e) {
    return Promise.reject(e);
  }
  return runAsync(sweepAt(abs, olderThan, dryRun));
}
