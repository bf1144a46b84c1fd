// Copyright 2026 the safefs authors. MIT license.
import { deepStrictEqual, equal as assertEquals } from "node:assert/strict";
import { join } from "node:path";
import { copySync, moveSync, removeSync, writeFileSync } from "../mod.ts";
import { cleanup, diskDir } from "./_helpers.ts";

// A relative path means the working directory at the time of the call, even
// when the program changed it a moment before, in the same synchronous
// stretch (no await in between), as Deno's own calls read it.
Deno.test("sync calls resolve relative paths against the working directory of the moment, after a chdir in the same tick", () => {
  const dir = diskDir();
  const here = Deno.cwd();
  try {
    for (const d of ["x", "y"]) {
      Deno.mkdirSync(join(dir, d));
      Deno.writeTextFileSync(join(dir, d, "a"), d);
    }
    Deno.chdir(join(dir, "x"));
    copySync("a", "copied");
    Deno.chdir(join(dir, "y"));
    copySync("a", "copied");
    moveSync("copied", "moved");
    writeFileSync("written", new TextEncoder().encode("w"));
    Deno.chdir(join(dir, "x"));
    removeSync("copied");
    Deno.chdir(here);
    assertEquals(Deno.readTextFileSync(join(dir, "y", "moved")), "y");
    assertEquals(Deno.readTextFileSync(join(dir, "y", "written")), "w");
    deepStrictEqual(
      [...Deno.readDirSync(join(dir, "x"))].map((e) => e.name).sort(),
      ["a"],
    );
    deepStrictEqual(
      [...Deno.readDirSync(join(dir, "y"))].map((e) => e.name).sort(),
      ["a", "moved", "written"],
    );
  } finally {
    Deno.chdir(here);
    cleanup(dir);
  }
});
