// Copyright 2026 the safefs authors. MIT license.
import { equal as assertEquals } from "node:assert/strict";
import { decodeUtf8, encodeUtf8 } from "../src/_utf8.ts";

// Names take a JavaScript loop when they are short and ASCII, the web APIs
// otherwise; both ways must give exactly what TextEncoder/TextDecoder give.
const NAMES = [
  "",
  "a",
  "f0",
  "file-199999.txt",
  ".hidden",
  "x".repeat(64),
  "x".repeat(65),
  "y".repeat(255),
  "café",
  "naïve-" + "z".repeat(70),
  "日本語のファイル名",
  "emoji-😀",
  "ascii-then-é",
  "\u007f\u0080",
  "a\u0000b",
];

Deno.test("names encode to the bytes TextEncoder gives, at any offset", () => {
  const enc = new TextEncoder();
  for (const name of NAMES) {
    const want = enc.encode(name);
    for (const at of [0, 7]) {
      const buf = new Uint8Array(at + name.length * 3 + 1).fill(0xAA);
      const n = encodeUtf8(name, buf, at);
      assertEquals(n, want.length, `length of '${name}' at ${at}`);
      assertEquals(
        [...buf.subarray(at, at + n)].join(),
        [...want].join(),
        `bytes of '${name}' at ${at}`,
      );
      if (at > 0) assertEquals(buf[at - 1], 0xAA, "nothing written before");
    }
  }
});

Deno.test("names decode to the string TextDecoder gives, from a range", () => {
  const enc = new TextEncoder();
  for (const name of NAMES) {
    const bytes = enc.encode(name);
    const buf = new Uint8Array(bytes.length + 6);
    buf.set([0x41, 0xFF, 0x42], 0);
    buf.set(bytes, 3);
    buf.set([0xFF, 0x43, 0x44], 3 + bytes.length);
    assertEquals(decodeUtf8(buf, 3, 3 + bytes.length), name, `'${name}'`);
    assertEquals(decodeUtf8(bytes), name, `'${name}', whole`);
  }
});

Deno.test("bytes that are not UTF-8 decode to null, short or long", () => {
  for (
    const bad of [
      [0xFF],
      [0x61, 0xFF, 0x62],
      [0xC3],
      [0xED, 0xA0, 0x80], // an encoded surrogate
      [...new Array(80).fill(0x61), 0xC0, 0x80], // overlong, past the loop
    ]
  ) {
    assertEquals(decodeUtf8(new Uint8Array(bad)), null, `[${bad.join()}]`);
  }
});
