// Copyright 2026 the safefs authors. MIT license.
// Destinations whose path is near PATH_MAX (4095 bytes): the temp beside
// them has a longer name, which must not make a call fail where
// Deno.writeFile and cp succeed (issue 21). The ffi backend names the temp
// relative to its open directory; the path backend shortens the part of the
// destination's name kept in the temp's.
import assert, { equal as assertEquals } from "node:assert/strict";
import { backendInfo, copy, move, symlink, writeFile } from "../mod.ts";
import { cleanup, diskDir } from "./_helpers.ts";

const PATH_MAX = 4095;

/** A directory whose path leaves `left` bytes for a name below PATH_MAX. */
function deepDir(base: string, left: number): string {
  let p = base;
  while (p.length < PATH_MAX - left - 250) p += "/" + "d".repeat(200);
  const last = PATH_MAX - left - p.length - 1;
  p += "/" + "e".repeat(last);
  Deno.mkdirSync(p, { recursive: true });
  assertEquals(p.length, PATH_MAX - left);
  return p;
}

function entries(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test(`writeFile(), copy(), move() and symlink() of names ending 2 bytes short of PATH_MAX work, leaving no temp (${backendInfo().name} backend)`, async () => {
  const base = diskDir();
  try {
    // 60 bytes left: a name of 57 bytes makes a path of PATH_MAX - 2 bytes,
    // where a temp named after the whole name would be about 50 bytes over.
    const dir = deepDir(base, 60);
    const name = (c: string): string => c.repeat(57);
    const f = `${dir}/${name("f")}`;
    assertEquals(f.length, PATH_MAX - 2);
    // What Deno itself does with such a path: it works.
    Deno.writeTextFileSync(f, "deno");
    Deno.removeSync(f);

    await writeFile(f, "one");
    assertEquals(Deno.readTextFileSync(f), "one");
    await writeFile(f, "two"); // replacing it goes through a temp too
    assertEquals(Deno.readTextFileSync(f), "two");
    await copy(f, `${dir}/${name("g")}`);
    assertEquals(Deno.readTextFileSync(`${dir}/${name("g")}`), "two");
    await move(`${dir}/${name("g")}`, `${dir}/${name("h")}`);
    await symlink(name("f"), `${dir}/${name("l")}`);
    await symlink(name("h"), `${dir}/${name("l")}`, { overwrite: true });
    assertEquals(Deno.readLinkSync(`${dir}/${name("l")}`), name("h"));
    assert.deepEqual(entries(dir), [name("f"), name("h"), name("l")]);
  } finally {
    cleanup(base);
  }
});
