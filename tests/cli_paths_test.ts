// Copyright 2026 the safefs authors. MIT license.
import { equal as assertEquals } from "node:assert/strict";
import * as node from "node:path";
import * as ours from "../src/cli/_paths.ts";

// The CLI names destinations and permission paths with its own helpers (so
// that no safefs process loads node:path); they must agree with node:path.
const ATOMS = ["", "/", "//", ".", "..", "a", "b", "a/", "./", "../", "a//"];

function inputs(): string[] {
  const all = new Set<string>(["/x/y/../../..", "a/./b/../../..", "///x//"]);
  for (const x of ATOMS) {
    for (const y of ATOMS) for (const z of ATOMS) all.add(x + y + z);
  }
  return [...all];
}

Deno.test("the CLI's normalize, basename and dirname agree with node:path", () => {
  for (const p of inputs()) {
    assertEquals(
      ours.normalize(p),
      node.posix.normalize(p),
      `normalize '${p}'`,
    );
    assertEquals(ours.basename(p), node.posix.basename(p), `basename '${p}'`);
    assertEquals(ours.dirname(p), node.posix.dirname(p), `dirname '${p}'`);
  }
});

Deno.test("the CLI's join and resolve agree with node:path, in / too", async () => {
  const here = Deno.cwd();
  try {
    for (const dir of [here, "/"]) {
      Deno.chdir(dir);
      // The CLI reads the working directory once per synchronous stretch
      // (it never changes it itself): a turn of the event loop after chdir.
      await new Promise((r) => setTimeout(r, 0));
      for (const p of inputs()) {
        assertEquals(ours.resolve(p), node.posix.resolve(p), `resolve '${p}'`);
        for (const q of ["x", "", "../y", "/z/", "."]) {
          assertEquals(
            ours.join(p, q),
            node.posix.join(p, q),
            `join '${p}' '${q}'`,
          );
        }
      }
    }
  } finally {
    Deno.chdir(here);
  }
});
