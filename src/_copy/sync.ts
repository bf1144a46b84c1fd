// Copyright 2026 the safefs authors. MIT license.
/**
 * Making a built copy durable before it is published (contract G3), with as
 * few waits for the disk as the guarantee allows.
 *
 * - `"each"`: every file and directory is fsynced. Files are not fsynced one
 *   by one as they are written: up to `BATCH` written files stay open and
 *   are then fsynced together, in parallel (under the async driver), so the
 *   waits overlap; directories are fsynced once their metadata is final.
 * - `"syncfs"`: nothing per file; once everything is written, ONE `syncfs`
 *   on a descriptor of the copy's root opened before the first write. Since
 *   Linux 5.8 syncfs reports a writeback error of any file written on that
 *   filesystem since that descriptor was opened, so a 0 means every byte and
 *   every directory entry of the copy is on disk. It also waits for other
 *   processes' dirty data on that filesystem, so it is used only for
 *   copies of many entries onto a local filesystem (`chooseDurability`).
 *   The syncfs starts once everything is written and runs off-thread while
 *   the source is re-checked and the copy verified (both only read), so
 *   its wait overlaps them; the copy is published only after it returns 0.
 * - `"none"`: `durable: false`.
 *
 * @module
 */
import { type Dir, feat, type File, type Handle, sys } from "../_sys.ts";
import { fsOf, isLocal } from "../_caps.ts";
import { awaited, begin, each, type Gen, heavy } from "../_run.ts";

/** How a copy is made durable. */
export type DurableMode = "none" | "each" | "syncfs";

/** Files kept open for one parallel round of fsyncs. */
const BATCH = 64;
/** fsyncs in flight at once under the async driver. */
const WIDTH = 16;
/**
 * In `"syncfs"` mode under the async driver, a syncfs is started off-thread
 * once this many files, or `WRITE_BEHIND_BYTES` bytes, have been written
 * since the last one (when none is running), so the disk writes the copy
 * behind the build instead of all of it at the end.
 */
const WRITE_BEHIND = 1024;
/** See `WRITE_BEHIND`. */
const WRITE_BEHIND_BYTES = 64 * 1024 * 1024;
/** Entries from which a copy onto a local filesystem is synced with one syncfs. */
export const SYNCFS_MIN_ENTRIES = 32;

/**
 * The durability mode for a copy of `entries` entries into the directory
 * `dest` (on device `dev`).
 */
export function chooseDurability(
  durable: boolean,
  entries: number,
  dest: Dir,
  dev: number,
): DurableMode {
  if (!durable) return "none";
  if (
    feat.syncfs && entries >= SYNCFS_MIN_ENTRIES && isLocal(fsOf(dest, dev))
  ) {
    return "syncfs";
  }
  return "each";
}

/** fsync of one handle, blocking or off-thread as the driver runs. */
export function* fsync(h: Handle): Gen<void> {
  yield* heavy(() => sys.fsync(h), () => sys.fsyncAsync(h));
}

/** fsyncs of `handles`, up to `WIDTH` at once under the async driver. */
function* fsyncEach(handles: Handle[]): Gen<void> {
  yield* each(
    handles.length,
    WIDTH,
    (k) => sys.fsync(handles[k]),
    (k) => sys.fsyncAsync(handles[k]),
  );
}

/** Carries out a {@linkcode DurableMode} over one build. */
export class Syncer {
  #pending: File[] = [];
  /** Files and bytes written since the last write-behind syncfs. */
  #written = 0;
  #bytes = 0;
  /** The syncfs begun last (write-behind or final), until it is waited for. */
  #running: { result: void | Promise<void>; done: boolean } | null = null;

  /** @param mode How the copy is made durable. */
  constructor(readonly mode: DurableMode) {}

  /** A file is written and final: takes it (and closes it). */
  *file(f: File): Gen<void> {
    if (this.mode !== "each") {
      sys.close(f);
      return;
    }
    this.#pending.push(f);
    if (this.#pending.length >= BATCH) yield* this.flush();
  }

  /**
   * A file of the copy (`bytes` long) is written: true when, in `"syncfs"`
   * mode, a write-behind syncfs is due (see `WRITE_BEHIND`); then call
   * `behind`. A plain call, made for every file.
   */
  wrote(bytes: number): boolean {
    if (this.mode !== "syncfs") return false;
    this.#bytes += bytes;
    return ++this.#written >= WRITE_BEHIND ||
      this.#bytes >= WRITE_BEHIND_BYTES;
  }

  /**
   * Starts a write-behind syncfs on `root` (the copy's root, open before the
   * first write) off-thread, unless the last one is still running. Its
   * failure is thrown by a later call, `finish` at the latest: it may have
   * consumed the writeback error the final syncfs would report.
   */
  *behind(root: Handle): Gen<void> {
    if (this.#running !== null && !this.#running.done) return;
    yield* this.#wait();
    this.#written = 0;
    this.#bytes = 0;
    yield* this.#begin(() => {}, root);
  }

  /** Begins a syncfs on `root`: `sync` is its form under the sync driver. */
  *#begin(sync: () => void, root: Handle): Gen<void> {
    const result = yield* begin(sync, () => sys.syncfsAsync(root));
    const running = { result, done: !(result instanceof Promise) };
    if (result instanceof Promise) {
      const settled = (): void => {
        running.done = true;
      };
      result.then(settled, settled);
    }
    this.#running = running;
  }

  /** Waits for the syncfs begun last, if any; throws its failure. */
  *#wait(): Gen<void> {
    const running = this.#running;
    this.#running = null;
    if (running !== null) yield* awaited(running.result, "syncfs");
  }

  /** A directory's metadata is final. */
  *dir(d: Dir): Gen<void> {
    if (this.mode === "each") yield* fsync(d);
  }

  /** fsyncs the files taken so far, together, and closes them. */
  *flush(): Gen<void> {
    const files: (File | null)[] = this.#pending;
    this.#pending = [];
    // Each file is let go as soon as it is synced.
    const take = (k: number): File => {
      const f = files[k]!;
      files[k] = null;
      return f;
    };
    try {
      yield* each(files.length, WIDTH, (k) => {
        const f = take(k);
        try {
          sys.fsync(f);
        } finally {
          sys.close(f);
        }
      }, (k) => {
        const f = take(k);
        return sys.fsyncAsync(f).finally(() => sys.close(f));
      });
    } finally {
      // After a failure: the files whose fsync never started.
      for (const f of files) if (f !== null) sys.close(f);
    }
  }

  /**
   * Everything is written: starts making it durable where that is one call
   * (`"syncfs"`, on `root`: the copy's root, opened before the writes),
   * once a write-behind syncfs still running has returned. Then `finish`
   * or, after a failure, `settle`.
   */
  *start(root: Handle): Gen<void> {
    if (this.mode !== "syncfs") return;
    yield* this.#wait();
    yield* this.#begin(() => sys.syncfs(root), root);
  }

  /** Makes everything written durable: waits for `start`'s syncfs, or fsyncs what is pending. */
  *finish(): Gen<void> {
    if (this.mode === "each") yield* this.flush();
    yield* this.#wait();
  }

  /** After a failure: waits for a syncfs still running (its result no longer matters). */
  *settle(): Gen<void> {
    try {
      yield* this.#wait();
    } catch {
      // The failure being reported is the one that stopped the copy.
    }
  }

  /** After a failure: closes what is still held. */
  close(): void {
    for (const f of this.#pending) sys.close(f);
    this.#pending = [];
  }
}

/**
 * Directories whose fsync a batch of operations into one directory makes
 * once, at its end, instead of once per operation (`moveInto`, `copyInto`).
 * Each entry is published by a single atomic rename, so until that fsync a
 * crash leaves every entry at its source or at its destination (a move), or
 * at its destination or nowhere (a copy: the source is untouched); never a
 * partial entry, never neither.
 */
export class DirSyncs {
  #dirs = new Map<string, Dir>();
  #unlinks: { dir: Dir; name: string; ino: number }[] = [];

  /** Notes that `dir` must be fsynced before the batch resolves (kept open by the caller). */
  add(dir: Dir): void {
    const st = sys.idOf(dir);
    const key = `${st.dev}:${st.ino}`;
    if (!this.#dirs.has(key)) this.#dirs.set(key, dir);
  }

  /**
   * A source linked to its destination (a filesystem without
   * RENAME_NOREPLACE): its old name is unlinked once the destinations are
   * durable, if it still names the inode `ino`.
   */
  unlinkLater(dir: Dir, name: string, ino: number): void {
    this.#unlinks.push({ dir, name, ino });
  }

  /**
   * fsyncs every directory noted (in parallel under the async driver); then
   * unlinks the old names left by links, and fsyncs their directories.
   */
  *flush(): Gen<void> {
    const dirs = [...this.#dirs.values()];
    this.#dirs.clear();
    yield* fsyncEach(dirs);
    const unlinks = this.#unlinks;
    this.#unlinks = [];
    if (unlinks.length === 0) return;
    let first: unknown = null;
    for (const u of unlinks) {
      try {
        const st = sys.tryStatAt(u.dir, u.name, false);
        if (st !== null && st.ino === u.ino) sys.unlinkAt(u.dir, u.name);
        this.add(u.dir);
      } catch (e) {
        first ??= e;
      }
    }
    const again = [...this.#dirs.values()];
    this.#dirs.clear();
    yield* fsyncEach(again);
    if (first !== null) throw first;
  }
}
