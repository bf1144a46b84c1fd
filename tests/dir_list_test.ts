// Copyright 2026 the safefs authors. MIT license.
import assert from "node:assert/strict";
import { DirList, kindByte, kindOfByte } from "../src/_dir_list.ts";
import type { DirEntry, Kind } from "../src/_sys_types.ts";

/** Every type a listing can give. */
const ALL_KINDS: Kind[] = [
  "file",
  "dir",
  "symlink",
  "fifo",
  "socket",
  "char",
  "block",
  "unknown",
];

Deno.test("a compact listing gives back every entry as it was added, past its first room", () => {
  const kinds: (Kind | null)[] = [...ALL_KINDS, null];
  const added: DirEntry[] = [];
  for (let k = 0; k < 5000; k++) {
    const name = k % 7 === 0
      ? `é-${k}-日本語-😀`
      : k % 11 === 0
      ? "x".repeat(200 + k % 50)
      : `f${k}`;
    const e: DirEntry = { name, kind: kinds[k % kinds.length] };
    // Inode numbers for some entries only, the first from entry 10, and
    // one past 2^32.
    if (k >= 10 && k % 3 === 0) e.ino = k === 12 ? 2 ** 40 + k : k;
    added.push(e);
  }
  const l = new DirList(4, 8);
  for (const e of added) l.push(e);
  assert.equal(l.length, added.length);
  for (let k = 0; k < added.length; k++) {
    assert.deepEqual(l.get(k), added[k], `entry ${k}`);
    assert.equal(l.name(k), added[k].name);
    assert.equal(kindOfByte(l.kindByte(k)), added[k].kind);
  }
});

Deno.test("every type has its own byte, and 0 is a type the listing did not give", () => {
  const all = ALL_KINDS;
  const bytes = all.map(kindByte);
  assert.equal(new Set(bytes).size, all.length);
  assert(!bytes.includes(0));
  assert.equal(kindByte(null), 0);
  for (const k of all) assert.equal(kindOfByte(kindByte(k)), k);
});
