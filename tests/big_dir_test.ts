// Copyright 2026 the safefs authors. MIT license.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
} from "node:assert/strict";
import { dirname, join } from "node:path";
import { copy, move, SafeFsError, SourceChangedError } from "../mod.ts";
import { setSysHook, sys } from "../src/_sys.ts";
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

// A directory is listed, planned, re-checked and verified a few thousand
// entries at a time (a directory of 200,000 entries is never held whole):
// these tests use 5,000 entries, several parts on both backends, and change
// the tree after the first part.
const N = 5000;

/** A directory of `n` files named `file-<k>`. */
function bigDir(root: string, n = N): void {
  Deno.mkdirSync(root);
  files(root, ...Array.from({ length: n }, (_, k) => `file-${k}`));
}

Deno.test("a directory is listed in several parts, each entry once, and a listing restarts from the top", () => {
  const dir = shmDir();
  try {
    bigDir(join(dir, "big"));
    const d = sys.openDir(join(dir, "big"), true);
    try {
      const parts = [...sys.listParts(d)];
      assert(parts.length >= 2, `${parts.length} part(s)`);
      const names = parts.flat().map((e) => e.name).sort();
      deepStrictEqual(
        names,
        [...Array(N).keys()].map((i) => `file-${i}`).sort(),
      );
      // Read one part, drop the listing, list again: all of it, from the top.
      for (const _ of sys.listParts(d)) break;
      assertEquals(sys.list(d).length, N);
      assertEquals([...sys.listParts(d)].flat().length, N);
    } finally {
      sys.close(d);
    }
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() of a directory of 5,000 entries copies each once", async () => {
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

Deno.test("copy() of a directory of 5,000 entries notices an entry gained or lost while it copied, and publishes nothing", async () => {
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

Deno.test("copy() of a directory of 5,000 entries notices an entry slipped into the copy being built, and publishes nothing", async () => {
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
