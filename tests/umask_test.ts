// Copyright 2026 the safefs authors. MIT license.
// A tree's files are created with their final mode when the umask keeps it
// (one chmod less per file). The umask is read once per process: a program
// that changes it later must still get the source's modes.
import { equal as assertEquals } from "node:assert/strict";
import { join } from "node:path";
import { backendInfo, copy } from "../mod.ts";
import { cleanup, diskDir } from "./_helpers.ts";

Deno.test(`copy() keeps a tree's modes after the process changed its umask (${backendInfo().name} backend)`, async () => {
  const dir = diskDir();
  const before = Deno.umask(0o022);
  try {
    Deno.mkdirSync(join(dir, "src"));
    for (const [name, mode] of [["a", 0o644], ["b", 0o640], ["c", 0o755]]) {
      Deno.writeTextFileSync(join(dir, "src", name as string), "x");
      Deno.chmodSync(join(dir, "src", name as string), mode as number);
    }
    await copy(join(dir, "src"), join(dir, "one")); // the umask is read here
    Deno.umask(0o077); // stricter than the one read
    await copy(join(dir, "src"), join(dir, "two"));
    for (const copyDir of ["one", "two"]) {
      for (const [name, mode] of [["a", 0o644], ["b", 0o640], ["c", 0o755]]) {
        assertEquals(
          Deno.statSync(join(dir, copyDir, name as string)).mode! & 0o7777,
          mode,
          `${copyDir}/${name}`,
        );
      }
    }
  } finally {
    Deno.umask(before);
    cleanup(dir);
  }
});
