// Copyright 2026 the safefs authors. MIT license.
// The glob patterns of `cp --exclude` (issue 15), read as rsync reads them:
// a pattern without '/' against the name, one with '/' against the path
// relative to the source root (or any tail of it), a trailing '/' for
// directories only, '*' and '?' never across '/', '**' across it. The
// end-to-end comparison with rsync itself is in cli_test.ts.
import assert, { equal as assertEquals, throws } from "node:assert/strict";
import { compileGlob, excludeFilter } from "../src/cli/_glob.ts";

/** [pattern, relative path, is a directory, should match] */
const CASES: [string, string, boolean, boolean][] = [
  // A name pattern, at any depth, never across '/'.
  ["*.o", "a.o", false, true],
  ["*.o", "x/y/a.o", false, true],
  ["*.o", "a.o/inner", false, false],
  ["*.o", "a.c", false, false],
  ["x?y", "xzy", false, true],
  ["x?y", "x/y", false, false],
  ["a.b", "axb", false, false],
  ["é?", "éü", false, true],
  ["🙂*", "🙂.txt", false, true],
  ["?", "🙂", false, true],
  // A trailing slash: directories only.
  ["build/", "build", true, true],
  ["build/", "build", false, false],
  ["build/", "src/build", true, true],
  // A leading slash anchors at the source root.
  ["/build", "build", true, true],
  ["/build", "src/build", true, false],
  ["/a/*", "a/b", false, true],
  ["/a/*", "a/b/c", false, false],
  // A pattern with '/': the relative path or any tail of it.
  ["src/*.o", "src/a.o", false, true],
  ["src/*.o", "lib/src/a.o", false, true],
  ["src/*.o", "xsrc/a.o", false, false],
  ["src/*.o", "src/x/a.o", false, false],
  // '**' across directories; between two names at least one (rsync's
  // "/foo/**/bar": "note that /foo/bar is not excluded by this"), at the
  // start none as well.
  ["a/**/b", "a/b", false, false],
  ["/foo/**/bar", "foo/bar", false, false],
  ["/foo/**/bar", "foo/x/bar", false, true],
  ["**/b", "b", false, true],
  ["a/**/b", "a/x/y/b", false, true],
  ["a/**/b", "xa/b", false, false],
  ["**/*.log", "a.log", false, true],
  ["**/*.log", "d/e/a.log", false, true],
  ["**.log", "d/a.log", false, true],
  ["cache/**", "cache/x/y", false, true],
  ["cache/**", "cache", true, false],
  // 'dir/***': the directory and everything in it.
  ["node_modules/***", "node_modules", true, true],
  ["node_modules/***", "node_modules/x/y", false, true],
  ["node_modules/***", "node_modulesx", true, false],
  // Sets, ranges, negation, escapes.
  ["[ab]?.txt", "a1.txt", false, true],
  ["[ab]?.txt", "c1.txt", false, false],
  ["[!ab]?.txt", "a1.txt", false, false],
  ["[!ab]?.txt", "c1.txt", false, true],
  ["[^ab]", "c", false, true],
  ["[a-c]", "b", false, true],
  ["[a-c]", "d", false, false],
  ["[]]", "]", false, true],
  ["[!]]", "]", false, false],
  ["[a-]", "-", false, true],
  ["x[!a]y", "x/y", false, false],
  ["[[:digit:]]*", "7up", false, true],
  ["[[:digit:]]*", "up7", false, false],
  ["[![:alpha:]_]", "_", false, false],
  ["[![:alpha:]_]", "-", false, true],
  ["[[:upper:][:digit:]]", "Q", false, true],
  ["[[:bogus:]]", "[:bogus:]", false, false],
  ["[", "[", false, true],
  ["a[", "a[", false, true],
  ["\\*", "*", false, true],
  ["\\*", "a", false, false],
  ["\\[a]", "[a]", false, true],
  ["a+b(c)", "a+b(c)", false, true],
  ["$x^", "$x^", false, true],
  ["{a,b}", "{a,b}", false, true],
  ["{a,b}", "a", false, false],
];

Deno.test("--exclude globs match names, relative paths and directories as rsync does", () => {
  for (const [pattern, rel, dir, want] of CASES) {
    assertEquals(
      compileGlob(pattern).matches(rel, dir),
      want,
      `${pattern} vs ${rel}${dir ? "/" : ""}`,
    );
  }
});

Deno.test("--exclude refuses an empty pattern", () => {
  for (const p of ["", "/", "//"]) {
    throws(() => compileGlob(p), SyntaxError, JSON.stringify(p));
  }
});

Deno.test("the exclude filter judges paths relative to the root it is given", () => {
  const info = (isDirectory: boolean): Deno.FileInfo =>
    ({ isDirectory, isFile: !isDirectory }) as Deno.FileInfo;
  const keep = excludeFilter(
    ["/top", "*.tmp", "deep/x"].map(compileGlob),
    () => "/data/src",
  );
  assertEquals(keep("/data/src/top", info(true)), false);
  assertEquals(keep("/data/src/a/top", info(true)), true);
  assertEquals(keep("/data/src/a/b.tmp", info(false)), false);
  assertEquals(keep("/data/src/a/deep/x", info(false)), false);
  assertEquals(keep("/data/src/a/deep/y", info(false)), true);
  // The root's own name is not part of the relative path.
  const src = excludeFilter([compileGlob("/src")], () => "/data/src");
  assert(src("/data/src/x", info(false)));
  const slash = excludeFilter([compileGlob("/etc")], () => "/");
  assertEquals(slash("/etc", info(true)), false);
  assertEquals(slash("/usr/etc", info(true)), true);
});
