// Copyright 2026 the safefs authors. MIT license.
// moveInto(): many sources into one directory as one job. On a filesystem
// with RENAME_NOREPLACE it renames each source without looking first; every
// case where that rename cannot be the whole move must still come out as
// move() would have it.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
} from "node:assert/strict";
import { join } from "node:path";
import {
  AlreadyExistsError,
  backendInfo,
  InvalidArgumentError,
  moveInto,
  NotFoundError,
} from "../mod.ts";
import { cleanup, diskDir, HAS_SHM, shmDir } from "./_helpers.ts";

const name = backendInfo().name;

function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (
      const e of [...Deno.readDirSync(d)].sort((a, b) =>
        a.name < b.name ? -1 : 1
      )
    ) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(
        e.isDirectory
          ? `${r}/`
          : `${r}=${Deno.readTextFileSync(join(d, e.name))}`,
      );
      if (e.isDirectory) walk(join(d, e.name), r);
    }
  };
  walk(dir, "");
  return out;
}

Deno.test(`moveInto() moves files and directories, and reports a taken name, a missing source and a directory into itself without changing them (${name} backend)`, async () => {
  const dir = diskDir();
  try {
    const src = join(dir, "src");
    const dst = join(dir, "dst");
    Deno.mkdirSync(join(src, "sub", "inner"), { recursive: true });
    Deno.mkdirSync(dst);
    for (let i = 0; i < 50; i++) {
      Deno.writeTextFileSync(join(src, `f${i}`), `${i}`);
    }
    Deno.writeTextFileSync(join(src, "sub", "inner", "x"), "x");
    Deno.writeTextFileSync(join(src, "taken"), "mine");
    Deno.writeTextFileSync(join(dst, "taken"), "theirs");
    const srcs = [
      ...Array.from({ length: 50 }, (_, i) => join(src, `f${i}`)),
      join(src, "taken"),
      join(src, "gone"),
      join(src, "sub"),
    ];
    const r = await moveInto(srcs, dst);
    assertEquals(r.moved.length, 51); // 50 files and sub
    assert(
      r.moved.every((m) => m.entries === 1 && !m.crossDevice && !m.replaced),
    );
    deepStrictEqual(r.failed.map((f) => [f.src, f.error.constructor]), [
      [join(src, "taken"), AlreadyExistsError],
      [join(src, "gone"), NotFoundError],
    ]);
    assertEquals(Deno.readTextFileSync(join(src, "taken")), "mine");
    assertEquals(Deno.readTextFileSync(join(dst, "taken")), "theirs");
    assertEquals(Deno.readTextFileSync(join(dst, "sub", "inner", "x")), "x");
    for (let i = 0; i < 50; i++) {
      assertEquals(Deno.readTextFileSync(join(dst, `f${i}`)), `${i}`);
    }
    deepStrictEqual(tree(src), ["taken=mine"]);

    // A directory into itself: refused, as move() refuses it.
    Deno.mkdirSync(join(dir, "a", "b"), { recursive: true });
    const self = await moveInto([join(dir, "a")], join(dir, "a", "b"));
    assertEquals(self.moved.length, 0);
    assert(self.failed[0].error instanceof InvalidArgumentError);
    deepStrictEqual(tree(join(dir, "a")), ["b/"]);
  } finally {
    cleanup(dir);
  }
});

Deno.test({
  name:
    `moveInto() of sources on another filesystem copies, publishes and removes each (${name} backend)`,
  ignore: !HAS_SHM,
  fn: async () => {
    const disk = diskDir();
    const shm = shmDir();
    try {
      Deno.mkdirSync(join(disk, "keep"));
      Deno.writeTextFileSync(join(disk, "keep", "k"), "k");
      Deno.writeTextFileSync(join(disk, "f"), "f");
      // First a source on the same filesystem (the no-clobber rename is
      // then known to work there), then two from another filesystem.
      Deno.writeTextFileSync(join(shm, "local"), "local");
      Deno.mkdirSync(join(shm, "into"));
      await moveInto([join(shm, "local")], join(shm, "into"));
      const r = await moveInto(
        [join(disk, "f"), join(disk, "keep")],
        join(shm, "into"),
      );
      assertEquals(r.failed.length, 0);
      assert(r.moved.every((m) => m.crossDevice));
      deepStrictEqual(tree(join(shm, "into")), [
        "f=f",
        "keep/",
        "keep/k=k",
        "local=local",
      ]);
      deepStrictEqual([...Deno.readDirSync(disk)], []);
    } finally {
      cleanup(disk, shm);
    }
  },
});
