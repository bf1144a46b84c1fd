// Copyright 2026 the safefs authors. MIT license.
// A cross-filesystem move whose source cannot be removed afterwards is
// refused before anything is copied (issue 12, item 4): before, it copied
// and PUBLISHED the destination, then failed removing the source, and a
// retry failed with AlreadyExistsError.
import assert, { deepStrictEqual } from "node:assert/strict";
import { join } from "node:path";
import { backendInfo, move, PermissionError } from "../mod.ts";
import {
  cleanup,
  diskDir,
  HAS_SHM,
  rejects,
  shmDir,
  snapshot,
  temps,
} from "./_helpers.ts";

function chattr(flag: string, path: string): boolean {
  try {
    return new Deno.Command("chattr", { args: [flag, path], stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** True when this process can set chattr flags on the test disk (root, ext4). */
const CAN_CHATTR: boolean = (() => {
  const d = diskDir();
  try {
    Deno.writeTextFileSync(join(d, "f"), "x");
    const ok = chattr("+i", join(d, "f"));
    if (ok) chattr("-i", join(d, "f"));
    return ok;
  } finally {
    cleanup(d);
  }
})();

const cases: [string, string, (a: string) => void][] = [
  [
    "the source file is immutable (chattr +i)",
    "+i",
    (a) => chattr("+i", join(a, "src/f")),
  ],
  [
    "the source file is append-only (chattr +a)",
    "+a",
    (a) => chattr("+a", join(a, "src/f")),
  ],
  [
    "the source's directory is immutable (chattr +i)",
    "+i",
    (a) => chattr("+i", join(a, "src")),
  ],
  [
    "the source's directory is append-only (chattr +a)",
    "+a",
    (a) => chattr("+a", join(a, "src")),
  ],
];

/**
 * The ffi backend reads chattr flags with statx and refuses before copying.
 * The path backend cannot read them without changing something (a write
 * open copies an overlayfs file up): it finds out when the removal fails,
 * after the copy was published, and says so (`published`); nothing is lost.
 */
const READS_FLAGS = backendInfo().name === "ffi";

for (const [what, flag, set] of cases) {
  for (const tree of [false, true]) {
    Deno.test({
      name: READS_FLAGS
        ? `move() across filesystems refuses before copying when ${what}${
          tree ? " (inside a tree)" : ""
        }`
        : `move() across filesystems, path backend: when ${what}${
          tree ? " (inside a tree)" : ""
        }, the removal fails after the publish, says so, and nothing is lost`,
      ignore: !HAS_SHM || !CAN_CHATTR,
      fn: async () => {
        const a = diskDir(), b = shmDir();
        const root = tree ? join(a, "t") : a;
        try {
          Deno.mkdirSync(join(root, "src"), { recursive: true });
          Deno.writeTextFileSync(join(root, "src/f"), "data");
          set(root);
          const moved = tree ? join(a, "t") : join(root, "src/f");
          const before = snapshot(a);
          const e = await rejects(
            move(moved, join(b, "dest")),
            PermissionError,
          );
          deepStrictEqual(temps(b), []);
          deepStrictEqual(snapshot(a), before, "the source is untouched");
          if (!READS_FLAGS) {
            assert.equal(e.published, join(b, "dest"), e.message);
            assertEqualsMoved(b, tree);
            return;
          }
          assert(e.message.includes("nothing was copied"), e.message);
          deepStrictEqual(snapshot(join(b, "dest")), null, "nothing published");
          // Undone, the same move goes through: nothing was left in its way.
          chattr(flag.replace("+", "-"), join(root, "src/f"));
          chattr(flag.replace("+", "-"), join(root, "src"));
          await move(moved, join(b, "dest"));
          assertEqualsMoved(b, tree);
        } finally {
          chattr(flag.replace("+", "-"), join(root, "src/f"));
          chattr(flag.replace("+", "-"), join(root, "src"));
          cleanup(a, b);
        }
      },
    });
  }
}

function assertEqualsMoved(b: string, tree: boolean): void {
  const f = tree ? join(b, "dest/src/f") : join(b, "dest");
  assert.equal(Deno.readTextFileSync(f), "data");
}
