// Copyright 2026 the safefs authors. MIT license.
// A tree copied in syncfs mode (issue 20): the syncfs runs off-thread while
// the source is re-checked and the copy verified, and big trees start
// syncfs calls during the build (write-behind: after every 1,024 files or
// 64 MiB written). The copy is published only
// once the last syncfs has returned, and a failure of any of them publishes
// nothing.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
} from "node:assert/strict";
import { join } from "node:path";
import { copy } from "../src/copy.ts";
import { move } from "../src/move.ts";
import { AbortedError, SafeFsError } from "../src/errors.ts";
import { setSysHook, type SysCall } from "../src/_sys.ts";
import {
  cleanup,
  diskDir,
  EIO,
  HAS_SHM,
  isPublishAt,
  shmDir,
  snapshot,
  temps,
  treeDurability,
} from "./_helpers.ts";

/** Files in the big trees: more than one write-behind interval (1,024). */
const BIG = 2600;

/** Whether a copy of many entries into `dir` is synced with syncfs here. */
function syncfsIn(dir: () => string): boolean {
  const d = dir();
  try {
    return treeDurability(BIG, d) === "syncfs";
  } finally {
    cleanup(d);
  }
}

const SYNCFS_DISK = syncfsIn(diskDir);
const SYNCFS_SHM = HAS_SHM && syncfsIn(shmDir);

function bigTree(root: string, files: number): void {
  for (let d = 0; d < 4; d++) {
    Deno.mkdirSync(join(root, `d${d}`), { recursive: true });
  }
  for (let i = 0; i < files; i++) {
    Deno.writeTextFileSync(join(root, `d${i % 4}`, `f${i}`), `file ${i}`);
  }
}

/** A file created (the build's copies). */
function isCreate(c: SysCall): boolean {
  return c.op === "openAt" && c.how === "create";
}

/** One event per seam call started, and one when a syncfs has finished. */
interface Event {
  call: SysCall;
  done?: boolean;
}

/**
 * Runs `fn` recording calls. `atSyncfs` runs as each syncfs starts (given
 * the number of files created so far and of syncfs calls before this one):
 * what it throws is that syncfs's failure.
 */
async function withEvents<T>(
  fn: () => Promise<T>,
  atSyncfs: (created: number, syncfs: number) => void = () => {},
): Promise<{ events: Event[]; result: T | unknown }> {
  const events: Event[] = [];
  let syncfs = 0, created = 0;
  const restore = setSysHook((call) => {
    events.push({ call });
    if (isCreate(call)) created++;
    if (call.op !== "syncfs") return;
    atSyncfs(created, syncfs++);
    return () => events.push({ call, done: true });
  });
  try {
    return { events, result: await fn() };
  } catch (e) {
    return { events, result: e };
  } finally {
    restore();
  }
}

/** An `atSyncfs` failing with EIO the syncfs calls for which `when` is true. */
function failWhen(
  when: (created: number, syncfs: number) => boolean,
): (created: number, syncfs: number) => void {
  return (created, syncfs) => {
    if (when(created, syncfs)) throw EIO();
  };
}

function show(events: Event[]): string {
  return events.slice(-40).map((e, i) =>
    `${i} ${e.done ? "done " : ""}${e.call.op}${
      e.call.how ? `(${e.call.how})` : ""
    } ${e.call.path ?? ""}${e.call.dest ? ` -> ${e.call.dest}` : ""}`
  ).join("\n");
}

Deno.test({
  name:
    "copy() in syncfs mode publishes only after every syncfs has returned, and re-checks the source while the last one runs",
  ignore: !SYNCFS_DISK,
  fn: async () => {
    const dir = diskDir();
    try {
      bigTree(join(dir, "t"), BIG);
      const before = snapshot(join(dir, "t"));
      const { events, result } = await withEvents(() =>
        copy(join(dir, "t"), join(dir, "c"))
      );
      assert(!(result instanceof Error), String(result));
      deepStrictEqual(snapshot(join(dir, "c")), before);
      const why = show(events);
      const pub = events.findIndex((e) => isPublishAt(e.call, join(dir, "c")));
      assert(pub >= 0, why);
      const started = events.filter((e) => e.call.op === "syncfs" && !e.done);
      const done = events.filter((e) => e.call.op === "syncfs" && e.done);
      // At least one write-behind syncfs during the build, then the last.
      assert(started.length >= 2, `${started.length} syncfs calls:\n${why}`);
      assertEquals(done.length, started.length, why);
      assert(
        done.every((e) => events.indexOf(e) < pub),
        `a syncfs returned after the publish:\n${why}`,
      );
      const lastStart = events.indexOf(started.at(-1)!);
      const lastDone = events.indexOf(done.at(-1)!);
      // The build was still creating files after the first syncfs started.
      assert(
        events.slice(events.indexOf(started[0])).some((e) => isCreate(e.call)),
        `no write-behind: the first syncfs came after the last file:\n${why}`,
      );
      // Nothing is created or changed while the last syncfs runs; the
      // source is looked at again (the re-check) in that time.
      const during = events.slice(lastStart + 1, lastDone).map((e) => e.call);
      assert(
        during.every((c) =>
          c.op === "statAt" || c.op.startsWith("list") ||
          c.op === "openDirAt" || c.op === "openDir" || c.op === "close" ||
          c.op === "fstat"
        ),
        `a change while the last syncfs ran:\n${why}`,
      );
      assert(
        during.some((c) =>
          c.op === "statAt" && c.path?.startsWith(join(dir, "t"))
        ),
        `the source was not re-checked while the last syncfs ran:\n${why}`,
      );
    } finally {
      cleanup(dir);
    }
  },
});

Deno.test({
  name:
    "copy() in syncfs mode of a tree of a few big files starts a write-behind syncfs every 64 MiB written",
  ignore: !SYNCFS_DISK,
  fn: async () => {
    const dir = diskDir();
    try {
      // 40 files of 2 MiB: syncfs mode (32 entries or more), far fewer
      // files than a write-behind interval, 80 MiB in all.
      const chunk = new Uint8Array(2 << 20).fill(7);
      Deno.mkdirSync(join(dir, "t"));
      for (let i = 0; i < 40; i++) {
        chunk[0] = i;
        Deno.writeFileSync(
          join(dir, "t", `f${String(i).padStart(2, "0")}`),
          chunk,
        );
      }
      const before = snapshot(join(dir, "t"));
      const { events, result } = await withEvents(() =>
        copy(join(dir, "t"), join(dir, "c"))
      );
      assert(!(result instanceof Error), String(result));
      deepStrictEqual(snapshot(join(dir, "c")), before);
      const why = show(events);
      const started = events.filter((e) => e.call.op === "syncfs" && !e.done);
      assert(started.length >= 2, `${started.length} syncfs calls:\n${why}`);
      const at = events.indexOf(started[0]);
      const createdAfter = events.slice(at).filter((e) =>
        isCreate(e.call)
      ).length;
      // The first one came once 64 MiB (32 files) were written: 8 after it.
      assertEquals(createdAfter, 8, why);
    } finally {
      cleanup(dir);
    }
  },
});

for (const first of [true, false]) {
  Deno.test({
    name: `copy() in syncfs mode whose ${
      first
        ? "first syncfs (a write-behind one, during the build)"
        : "syncfs after the last file was written"
    } fails publishes nothing, removes its temp and reports the failure`,
    ignore: !SYNCFS_DISK,
    fn: async () => {
      const dir = diskDir();
      try {
        bigTree(join(dir, "t"), BIG);
        const before = snapshot(join(dir, "t"));
        const { events, result } = await withEvents(
          () => copy(join(dir, "t"), join(dir, "c")),
          failWhen((created, n) => first ? n === 0 : created >= BIG),
        );
        const why = show(events);
        assert(result instanceof SafeFsError, `${String(result)}\n${why}`);
        assertEquals(result.code, "EIO");
        assertEquals(result.published, undefined);
        assert(
          !events.some((e) => isPublishAt(e.call, join(dir, "c"))),
          `published after a failed syncfs:\n${why}`,
        );
        assertEquals(snapshot(join(dir, "c")), null);
        assertEquals(temps(dir).length, 0, `temps left: ${temps(dir)}`);
        deepStrictEqual(snapshot(join(dir, "t")), before);
        const syncs = events.filter((e) => e.call.op === "syncfs");
        if (first) {
          // It was a write-behind syncfs: files were created after it.
          const at = events.indexOf(syncs[0]);
          assert(
            events.slice(at).some((e) => isCreate(e.call)),
            why,
          );
        } else {
          // The write-behind ones before it succeeded.
          assert(syncs.length >= 2, why);
        }
      } finally {
        cleanup(dir);
      }
    },
  });
}

Deno.test({
  name:
    "move() across filesystems whose write-behind syncfs fails leaves the source whole and publishes nothing",
  ignore: !SYNCFS_SHM,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    try {
      bigTree(join(a, "t"), BIG);
      const before = snapshot(join(a, "t"));
      const { events, result } = await withEvents(
        () => move(join(a, "t"), join(b, "m")),
        failWhen((_created, n) => n === 0),
      );
      const why = show(events);
      assert(result instanceof SafeFsError, `${String(result)}\n${why}`);
      assertEquals(result.code, "EIO");
      // It was a write-behind syncfs: files were created after it.
      const at = events.findIndex((e) => e.call.op === "syncfs");
      assert(
        events.slice(at).some((e) => isCreate(e.call)),
        why,
      );
      assertEquals(snapshot(join(b, "m")), null);
      assertEquals(temps(b).length, 0);
      deepStrictEqual(snapshot(join(a, "t")), before);
    } finally {
      cleanup(a, b);
    }
  },
});

Deno.test({
  name:
    "copy() in syncfs mode aborted while a write-behind syncfs runs throws AbortedError, and removes its temp only once that syncfs has returned",
  ignore: !SYNCFS_DISK,
  fn: async () => {
    const dir = diskDir();
    try {
      bigTree(join(dir, "t"), BIG);
      const before = snapshot(join(dir, "t"));
      const ac = new AbortController();
      const { events, result } = await withEvents(
        () => copy(join(dir, "t"), join(dir, "c"), { signal: ac.signal }),
        () => ac.abort(),
      );
      const why = show(events);
      assert(result instanceof AbortedError, `${String(result)}\n${why}`);
      const started = events.findIndex((e) => e.call.op === "syncfs");
      const done = events.findIndex((e) => e.call.op === "syncfs" && e.done);
      assert(started >= 0 && done > started, why);
      // It was a write-behind syncfs: the build was not finished.
      const created = events.slice(0, started).filter((e) =>
        isCreate(e.call)
      ).length;
      assert(created < BIG, `${created} files created before it:\n${why}`);
      const removal = events.findIndex((e) =>
        ["unlinkAt", "rmdirAt", "removeLeaf"].includes(e.call.op)
      );
      assert(
        removal > done,
        `the temp was removed while the syncfs ran:\n${why}`,
      );
      assertEquals(snapshot(join(dir, "c")), null);
      assertEquals(temps(dir).length, 0, `temps left: ${temps(dir)}`);
      deepStrictEqual(snapshot(join(dir, "t")), before);
    } finally {
      cleanup(dir);
    }
  },
});
