// Copyright 2026 the safefs authors. MIT license.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
} from "node:assert/strict";
import { dirname, join } from "node:path";
import {
  backendInfo,
  copy,
  move,
  NotEmptyError,
  remove,
  removeSync,
  SafeFsError,
  SourceChangedError,
  sweep,
} from "../mod.ts";
import { tempName } from "../src/_temp.ts";
import { type Dir, type DirEntry, setSysHook, sys } from "../src/_sys.ts";
import { type Gen, runAsync, runSync } from "../src/_run.ts";
import {
  cleanup,
  diskDir,
  HAS_SHM,
  rejects,
  shmDir,
  snapshot,
  temps,
} from "./_helpers.ts";
import { files } from "./_remove_helpers.ts";

// A directory is listed, planned, re-checked and verified a part at a time
// (a directory of 200,000 entries is never held whole): these tests use
// 15,000 entries, several parts on both backends and, at 300 KB of
// directory on tmpfs, a listing the path backend streams under the async
// driver; they change the tree after the first part.
const N = 15_000;

/** A directory of `n` files named `file-<k>`. */
function bigDir(root: string, n = N): void {
  Deno.mkdirSync(root);
  files(root, ...Array.from({ length: n }, (_, k) => `file-${k}`));
}

/**
 * Reads `d`'s listing part by part (from its start) under `driver`, up to
 * `max` parts, calling `between` after each part.
 */
function readParts(
  d: Dir,
  driver: "sync" | "async",
  max = Infinity,
  between?: () => void,
): Promise<DirEntry[][]> {
  function* parts(): Gen<DirEntry[][]> {
    const out: DirEntry[][] = [];
    for (let first = true; out.length < max; first = false) {
      const part = yield* sys.listPart(d, first);
      if (part === null) break;
      out.push(part);
      between?.();
    }
    return out;
  }
  return driver === "sync"
    ? Promise.resolve(runSync(parts()))
    : runAsync(parts());
}

Deno.test("a directory is listed in several parts, each entry once, and a listing restarts from the top", async () => {
  for (const driver of ["sync", "async"] as const) {
    const dir = shmDir();
    try {
      bigDir(join(dir, "big"));
      const d = sys.openDir(join(dir, "big"), true);
      try {
        const parts = await readParts(d, driver);
        assert(parts.length >= 2, `${driver}: ${parts.length} part(s)`);
        const names = parts.flat().map((e) => e.name).sort();
        deepStrictEqual(
          names,
          [...Array(N).keys()].map((i) => `file-${i}`).sort(),
        );
        // Read one part, drop the listing, list again: all of it, from the top.
        assertEquals((await readParts(d, driver, 1)).length, 1);
        assertEquals(sys.list(d).length, N);
        assertEquals((await readParts(d, driver, 1)).length, 1);
        assertEquals((await readParts(d, driver)).flat().length, N);
      } finally {
        sys.close(d);
      }
    } finally {
      cleanup(dir);
    }
  }
});

/**
 * How many entries of a directory of N files a listing under `driver`
 * returns when another process removes every entry after its first part.
 */
async function listedAfterRemoval(driver: "sync" | "async"): Promise<number> {
  const dir = shmDir();
  try {
    const src = join(dir, "big");
    bigDir(src);
    const d = sys.openDir(src, true);
    let removed = 0;
    try {
      const parts = await readParts(d, driver, Infinity, () => {
        if (removed > 0) return;
        for (const e of Deno.readDirSync(src).toArray()) {
          Deno.removeSync(join(src, e.name));
          removed++;
        }
      });
      assertEquals(removed, N);
      return parts.flat().length;
    } finally {
      sys.close(d);
    }
  } finally {
    cleanup(dir);
  }
}

Deno.test("under the async driver, a big directory is listed as it is read, not read whole first", async () => {
  // A whole read of 200,000 entries costs the path backend 160 MiB of heap.
  const listed = await listedAfterRemoval("async");
  assert(listed < N / 2, `${listed} of ${N} listed after the removal`);
});

Deno.test("backendInfo().syncListsInParts says whether the sync driver reads a big directory as it goes or whole", async () => {
  const listed = await listedAfterRemoval("sync");
  if (backendInfo().syncListsInParts) {
    assert(listed < N / 2, `${listed} of ${N} listed after the removal`);
  } else {
    assertEquals(listed, N);
  }
});

Deno.test("copy() of a directory of 15,000 entries copies each once", async () => {
  const dir = shmDir();
  try {
    bigDir(join(dir, "big"));
    const r = await copy(join(dir, "big"), join(dir, "copy"));
    assertEquals(r.entries, N + 1);
    deepStrictEqual(snapshot(join(dir, "copy")), snapshot(join(dir, "big")));
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() of a directory of 15,000 entries notices an entry gained or lost while it copied, and publishes nothing", async () => {
  for (const change of ["gained", "lost"] as const) {
    const dir = shmDir();
    try {
      const src = join(dir, "big");
      bigDir(src);
      let firstRead: string | null = null;
      let created = 0;
      let acted = false;
      const restore = setSysHook((c) => {
        if (c.op === "openAt" && c.how === "read") firstRead ??= c.path!;
        if (c.op !== "openAt" || c.how !== "create") return;
        // Half-way through the copy: the first file read is copied by now.
        if (++created !== N / 2 || acted) return;
        acted = true;
        if (change === "gained") Deno.writeTextFileSync(join(src, "new"), "x");
        else Deno.removeSync(firstRead!);
      });
      try {
        const e = await rejects(
          copy(src, join(dir, "copy")),
          SourceChangedError,
          "ESRCCHANGED",
        );
        assert(
          e.message.includes(
            change === "gained" ? "gained 'new'" : "lost entries",
          ),
          e.message,
        );
      } finally {
        restore();
      }
      assert(acted);
      assertEquals(snapshot(join(dir, "copy")), null);
      deepStrictEqual(temps(dir), []);
    } finally {
      cleanup(dir);
    }
  }
});

Deno.test("copy() of a directory of 15,000 entries notices an entry slipped into the copy being built, and publishes nothing", async () => {
  const dir = shmDir();
  try {
    const src = join(dir, "big");
    bigDir(src);
    let created = 0;
    let intruder: string | null = null;
    const restore = setSysHook((c) => {
      if (c.op !== "openAt" || c.how !== "create" || ++created !== N - 10) {
        return;
      }
      intruder = join(dirname(c.path!), "intruder");
      Deno.writeTextFileSync(intruder, "x");
    });
    try {
      const e = await rejects(copy(src, join(dir, "copy")), SafeFsError);
      assertEquals(e.code, "ETMPCHANGED", e.message);
    } finally {
      restore();
    }
    assert(intruder !== null);
    assertEquals(snapshot(join(dir, "copy")), null);
    deepStrictEqual(temps(dir), []);
    assertEquals(Deno.readDirSync(src).toArray().length, N);
  } finally {
    cleanup(dir);
  }
});

Deno.test({
  name:
    "move() across filesystems of a directory of 3,000 entries removes every planned entry and leaves one created or changed meanwhile",
  ignore: !HAS_SHM,
  fn: async () => {
    const a = shmDir(), b = diskDir();
    try {
      const src = join(a, "big");
      bigDir(src, 3000);
      // Right before the publish (the source's removal comes after it).
      let struck = false;
      const restore = setSysHook((c) => {
        if (struck || c.op !== "renameAt" || c.dest !== join(b, "big")) {
          return;
        }
        struck = true;
        Deno.writeTextFileSync(join(src, "file-2500"), "changed later");
        Deno.writeTextFileSync(join(src, "appeared"), "new");
      });
      let e: SourceChangedError;
      try {
        e = await rejects(move(src, join(b, "big")), SourceChangedError);
      } finally {
        restore();
      }
      assert(struck, "the writer never struck");
      assertEquals(e.published, join(b, "big"));
      deepStrictEqual(
        Deno.readDirSync(src).toArray().map((x) => x.name).sort(),
        ["appeared", "file-2500"],
      );
      assertEquals(Deno.readDirSync(join(b, "big")).toArray().length, 3000);
      assertEquals(
        Deno.readTextFileSync(join(b, "big", "file-2500")),
        "content of file-2500",
      );
    } finally {
      cleanup(a, b);
    }
  },
});

Deno.test("remove() and removeSync() of a directory of 15,000 entries remove each, and one created after the listing is left and named", async () => {
  for (const driver of ["async", "sync"] as const) {
    const dir = shmDir();
    try {
      const big = join(dir, "big");
      bigDir(big);
      await (driver === "async" ? remove(big) : removeSync(big));
      assertEquals(snapshot(big), null);
      // The whole listing is read before the first entry is removed: a file
      // created after it is not removed, and is named.
      bigDir(big);
      let created = "";
      const restore = setSysHook((c) => {
        if (c.op !== "list" || c.path !== big || created !== "") return;
        return (err) => {
          if (err !== null) return;
          created = join(big, "late");
          Deno.writeTextFileSync(created, "x");
        };
      });
      try {
        const e = driver === "async"
          ? await rejects(remove(big), NotEmptyError, "ENOTEMPTY")
          : await rejects(
            Promise.resolve().then(() => removeSync(big)),
            NotEmptyError,
            "ENOTEMPTY",
          );
        assertEquals(e.path, created);
      } finally {
        restore();
      }
      deepStrictEqual(Deno.readDirSync(big).toArray().map((x) => x.name), [
        "late",
      ]);
    } finally {
      cleanup(dir);
    }
  }
});

Deno.test("remove() and removeSync() report progress while a directory of 15,000 entries is being listed, before anything is removed", async () => {
  for (const driver of ["async", "sync"] as const) {
    const dir = shmDir();
    try {
      const big = join(dir, "big");
      bigDir(big);
      const seen: number[] = [];
      let duringListing = -1;
      const restore = setSysHook((c) => {
        if (c.op !== "list" || c.path !== big || duringListing !== -1) return;
        return () => {
          duringListing = seen.length;
        };
      });
      try {
        const onProgress = (p: { entriesRemoved: number }): void => {
          seen.push(p.entriesRemoved);
        };
        await (driver === "async"
          ? remove(big, { onProgress })
          : removeSync(big, { onProgress }));
      } finally {
        restore();
      }
      assert(duringListing > 0, `${driver}: no progress while listing`);
      assertEquals(seen[0], 0);
      assertEquals(seen.at(-1), N + 1);
    } finally {
      cleanup(dir);
    }
  }
});

Deno.test("sweep() finds the temps among the 15,000 entries of a directory and leaves every other entry", async () => {
  const dir = shmDir();
  try {
    const big = join(dir, "big");
    bigDir(big);
    const stale = ["a", "b", "c"].map((n) => tempName(n));
    files(big, ...stale);
    const r = await sweep(big, { olderThan: 0 });
    deepStrictEqual(r.removed, stale.map((n) => join(big, n)).sort());
    assertEquals(Deno.readDirSync(big).toArray().length, N);
  } finally {
    cleanup(dir);
  }
});

Deno.test("move() within a filesystem of a directory of 15,000 entries is a rename; without RENAME_NOREPLACE it is published by a check, and an empty directory by a claim", async () => {
  const dir = shmDir();
  try {
    const big = join(dir, "big");
    bigDir(big);
    const noReplace = backendInfo().noReplace;
    const r = await move(big, join(dir, "moved"));
    // A claim would show an empty directory at the destination for an
    // instant, which is not the whole content of this one.
    assertEquals(r.publish, noReplace ? "noreplace" : "checked");
    assertEquals(Deno.readDirSync(join(dir, "moved")).toArray().length, N);
    Deno.mkdirSync(join(dir, "empty"));
    const e = await move(join(dir, "empty"), join(dir, "moved-empty"));
    assertEquals(e.publish, noReplace ? "noreplace" : "claim");
  } finally {
    cleanup(dir);
  }
});
