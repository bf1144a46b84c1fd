// Copyright 2026 the safefs authors. MIT license.
// G8, symlink scope (issue 8): Deno's --allow-read/--allow-write scopes are
// lexical, so a symlink inside the granted directory reaches outside it.
// safefs must never be the tool that carries a read, a write or a delete
// through such a link. Every case runs in a subprocess granted only the
// inside directory (stdin closed), against links that leave it: to a file, to
// a directory, a chain of links, a link in a middle component and a relative
// link climbing out. After each batch: the outcome of every call, the outside
// tree unchanged (the inside too, for refusals), and no filesystem call of
// safefs (recorded through the _sys seam, resolved at the instant it was made)
// landed outside.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
} from "node:assert/strict";
import { join } from "node:path";
import {
  BACKEND,
  backendFlags,
  cleanup,
  DENO,
  diskDir,
  MOD_URL,
  ROOT,
  runDeno,
  snapshot,
} from "./_helpers.ts";

const SYS_URL = new URL("../src/_sys.ts", import.meta.url).href;
const CLI = join(ROOT, "src/cli.ts");
const LEFTOVER = ".f.0b5f4a3e-8a59-4a55-9d7e-5bd1c0f1f9a1.safefs-tmp";

/**
 * Runs a JSON list of `[primitive, ...args]` calls one after another and
 * prints one outcome per call, after the name of the backend that ran them.
 * A seam hook resolves the path(s) of every filesystem call at the instant it
 * is made and lists the calls that land outside. How a call reaches the
 * filesystem decides how its path is resolved:
 * - by a path whose last component it follows: `openDir` (how "follow"),
 *   `statAt` (how "follow"), `openAt` (it follows with `dereference`; taken
 *   as following always, the strict reading), `chmodAt`;
 * - by a path whose last component it never follows: `openDir` (how
 *   "nofollow"), `openDirAt`, `openDirBeneath`, `statAt` (how "nofollow"),
 *   `mkdirAt`, `unlinkAt`, `rmdirAt`, `renameAt`, `linkAt`, `symlinkAt`
 *   (its dest is the link text, not a path it touches), `readLinkAt`,
 *   `lchownAt`, `lutimesAt`;
 * - through a handle opened before (fstat, list, read, write, fsync, ...):
 *   the path it was opened by, followed (the path backend resolves it again
 *   on every call; on ffi it names what the descriptor holds).
 * realPath is how safefs checks: not listed. A call of any other name is
 * reported as unknown, so that a renamed seam call cannot slip past. The
 * number of calls the hook saw is printed too: a hook that saw nothing
 * checked nothing.
 */
const BATCH = `import * as safefs from ${JSON.stringify(MOD_URL)};
import { setSysHook } from ${JSON.stringify(SYS_URL)};
import { basename, dirname, join } from "node:path";
const calls = JSON.parse(Deno.args[0]);
const OUT = Deno.args[1];
const FOLLOW = new Set(["openAt", "chmodAt"]);
const NOFOLLOW = new Set(["openDirAt", "openDirBeneath", "mkdirAt", "unlinkAt", "rmdirAt", "renameAt", "linkAt", "symlinkAt", "readLinkAt", "lchownAt", "lutimesAt"]);
const BY_HOW = new Set(["openDir", "statAt"]);
const HANDLE = new Set(["fstat", "list", "chmod", "chown", "utimes", "read", "write", "truncate", "seek", "copyRange", "fsync", "syncfs", "lock", "accessDir"]);
const EXEMPT = new Set(["realPath"]);
function land(path, follow) {
  if (follow) {
    try { return Deno.realPathSync(path); } catch { /* not there (yet) */ }
  }
  let dir = dirname(path);
  const rest = [basename(path)];
  for (;;) {
    try { return join(Deno.realPathSync(dir), ...rest); } catch { /* climb */ }
    if (dirname(dir) === dir) return path;
    rest.unshift(basename(dir));
    dir = dirname(dir);
  }
}
const results = [];
let seen = 0;
for (const [fn, ...args] of calls) {
  const outside = [];
  const restore = setSysHook((c) => {
    seen++;
    if (EXEMPT.has(c.op)) return;
    let follow;
    if (FOLLOW.has(c.op) || HANDLE.has(c.op)) follow = true;
    else if (NOFOLLOW.has(c.op)) follow = false;
    else if (BY_HOW.has(c.op)) follow = c.how === "follow";
    else { outside.push("unknown op " + c.op); return; }
    // symlinkAt's dest is the link text, not a path the call touches.
    for (const p of c.op === "symlinkAt" ? [c.path] : [c.path, c.dest]) {
      if (p === undefined) continue;
      const l = land(p, follow);
      if (l === OUT || l.startsWith(OUT + "/")) outside.push(c.op + " " + p + " -> " + l);
    }
  });
  try {
    await safefs[fn](...args);
    results.push({ ok: true, outside });
  } catch (e) {
    results.push({ ok: false, name: e.name, code: e.code, flag: e.flag, message: e.message, dest: e.dest, path: e.path, outside });
  } finally {
    restore();
  }
}
console.log(safefs.backendInfo().name);
console.log(seen);
console.log(JSON.stringify(results));`;

type Call = [string, ...unknown[]];

interface Outcome {
  ok: boolean;
  name?: string;
  code?: string;
  flag?: string;
  message?: string;
  dest?: string;
  path?: string;
  /** Seam calls that landed outside: "op path -> where". */
  outside: string[];
}

/**
 * The world: `IN` is granted, `OUT` (its sibling) is not. Every link below
 * leads from `IN` into `OUT`.
 */
interface Fx {
  base: string;
  IN: string;
  OUT: string;
}

function fixture(): Fx {
  const base = Deno.realPathSync(diskDir());
  const IN = join(base, "in"), OUT = join(base, "out");
  const file = (p: string, s: string): void => Deno.writeTextFileSync(p, s);
  const link = (target: string, p: string): void =>
    Deno.symlinkSync(target, join(IN, p));

  Deno.mkdirSync(join(OUT, "sub/sub"), { recursive: true });
  file(join(OUT, "f"), "outside f");
  file(join(OUT, "victim.txt"), "victim");
  file(join(OUT, "sub/f"), "outside sub/f");
  file(join(OUT, "sub/g"), "outside sub/g");
  file(join(OUT, "sub/sub/f"), "outside sub/sub/f");
  for (const d of [OUT, join(OUT, "sub")]) {
    file(join(d, LEFTOVER), "a crash leftover, outside");
    Deno.utimeSync(join(d, LEFTOVER), new Date(1e12), new Date(1e12));
  }

  for (const d of ["a", "tree", "t-file", "t-dir", "t-chain", "t-rel/deep"]) {
    Deno.mkdirSync(join(IN, d), { recursive: true });
  }
  Deno.mkdirSync(join(IN, "t-middle"));
  Deno.mkdirSync(join(IN, "t-ok"));
  file(join(IN, "mine"), "mine");
  file(join(IN, "tree/t.txt"), "tree");
  // links to a directory outside
  link(OUT, "ld");
  link(OUT, "c2");
  link("c2", "c1"); // a chain: c1 -> c2 -> OUT
  link(OUT, "a/esc"); // a middle component: a/esc/sub/f
  link("../../out", "a/up"); // relative, climbing out
  // links to a file outside (the last component)
  link(join(OUT, "victim.txt"), "lf");
  link(join(OUT, "victim.txt"), "cf2");
  link("cf2", "cf1");
  link("../../out/victim.txt", "a/rf");
  // trees holding one link that leaves
  for (const t of ["t-file", "t-dir", "t-chain", "t-rel", "t-middle"]) {
    file(join(IN, t, "ok.txt"), t);
  }
  link(join(OUT, "victim.txt"), "t-file/x");
  link(join(OUT, "sub"), "t-dir/x");
  link("../c1", "t-chain/x");
  link("../../../out/victim.txt", "t-rel/deep/x");
  link(join(IN, "a/esc/sub/f"), "t-middle/x");
  // a tree whose links stay inside (control)
  file(join(IN, "t-ok/ok.txt"), "t-ok");
  link("../mine", "t-ok/x");
  link("../tree", "t-ok/y");
  return { base, IN, OUT };
}

/**
 * Directories inside `IN` that lead outside, by link shape. Each holds a file
 * `f` and a directory `sub`.
 */
function escapingDirs(fx: Fx): Record<string, string> {
  return {
    "a link to a directory": join(fx.IN, "ld"),
    "a chain of links": join(fx.IN, "c1"),
    "a link in a middle component": join(fx.IN, "a/esc/sub"),
    "a relative link climbing out": join(fx.IN, "a/up"),
  };
}

/** Links inside `IN` whose last component leads to a file outside. */
function fileLinks(fx: Fx): Record<string, string> {
  return {
    "a link to a file": join(fx.IN, "lf"),
    "a chain of links": join(fx.IN, "cf1"),
    "a relative link climbing out": join(fx.IN, "a/rf"),
  };
}

/** Links inside `IN` whose last component leads to a directory outside. */
function dirLinks(fx: Fx): Record<string, string> {
  return {
    "a link to a directory": join(fx.IN, "ld"),
    "a chain of links": join(fx.IN, "c1"),
    "a link below a real directory": join(fx.IN, "a/esc"),
    "a relative link climbing out": join(fx.IN, "a/up"),
  };
}

/** Trees inside `IN` holding a link that leaves, by link shape. */
function leakyTrees(fx: Fx): Record<string, string> {
  return {
    "a link to a file": join(fx.IN, "t-file"),
    "a link to a directory": join(fx.IN, "t-dir"),
    "a chain of links": join(fx.IN, "t-chain"),
    "a relative link climbing out": join(fx.IN, "t-rel"),
    "a link through a middle component": join(fx.IN, "t-middle"),
  };
}

function scoped(fx: Fx): string[] {
  return [`--allow-read=${fx.IN}`, `--allow-write=${fx.IN}`];
}

/**
 * Runs `calls` in a subprocess with `flags` on the backend under test, and
 * returns their outcomes. The subprocess must have run on that backend, and
 * its hook must have seen seam calls (an empty record would check nothing).
 */
async function batch(
  fx: Fx,
  calls: Call[],
  flags: string[] = scoped(fx),
): Promise<Outcome[]> {
  const r = await runDeno(
    // -A grants what backendFlags() would (and conflicts with them).
    [...flags, ...(flags.includes("-A") ? [] : backendFlags())],
    BATCH,
    [JSON.stringify(calls), fx.OUT],
  );
  assertEquals(r.code, 0, r.stderr);
  const [backend, seen, json] = r.stdout.trim().split("\n");
  assertEquals(
    backend,
    BACKEND,
    "the subprocess ran on the backend under test",
  );
  assert(Number(seen) > 0, "the hook saw no seam call");
  const out: Outcome[] = JSON.parse(json);
  assertEquals(out.length, calls.length);
  return out;
}

function show(call: Call, o: Outcome): string {
  return `${JSON.stringify(call)} -> ${JSON.stringify(o)}`;
}

/**
 * A refusal as a symlink escape: PermissionError, ENOTCAPABLE, the message
 * says so and names the path asked for (inside) and where it leads (outside),
 * the flag names the outside location, and nothing was done outside.
 */
function assertEscape(
  fx: Fx,
  call: Call,
  o: Outcome,
  kind?: "read" | "write",
): void {
  const why = show(call, o);
  assertEquals(o.ok, false, why);
  assertEquals(o.name, "PermissionError", why);
  assertEquals(o.code, "ENOTCAPABLE", why);
  const m = o.message ?? "";
  assert(m.includes("symlink escape"), why);
  assert(m.includes(`'${fx.IN}/`), `names the path asked for: ${why}`);
  assert(
    m.includes(`'${fx.OUT}'`) || m.includes(`'${fx.OUT}/`),
    `names where it leads: ${why}`,
  );
  assert(o.dest?.startsWith(fx.OUT), why);
  assert(/^--allow-(read|write)=/.test(o.flag ?? ""), why);
  assert(o.flag!.split("=")[1].startsWith(fx.OUT), why);
  if (kind !== undefined) {
    assert(m.startsWith(`Refusing to ${kind} `), `a ${kind} refusal: ${why}`);
    assert(o.flag!.startsWith(`--allow-${kind}=`), why);
  }
  deepStrictEqual(o.outside, [], `touched outside: ${why}`);
}

/**
 * A test whose calls must all be refused as symlink escapes (of `kind`, when
 * given), leaving both trees exactly as they were.
 */
function refusals(
  name: string,
  build: (fx: Fx) => Call[],
  kind?: "read" | "write",
): void {
  Deno.test(name, async () => {
    const fx = fixture();
    try {
      const calls = build(fx);
      const inBefore = snapshot(fx.IN), outBefore = snapshot(fx.OUT);
      const out = await batch(fx, calls);
      calls.forEach((c, i) => assertEscape(fx, c, out[i], kind));
      deepStrictEqual(snapshot(fx.OUT), outBefore);
      deepStrictEqual(snapshot(fx.IN), inBefore);
    } finally {
      cleanup(fx.base);
    }
  });
}

const each = <T>(
  shapes: Record<string, string>,
  f: (p: string) => T,
): T[] => Object.values(shapes).map(f);

// ---------------------------------------------------------------- move()

refusals(
  "move() refuses a source reached through a symlink that leaves the write grant",
  (fx) =>
    each(escapingDirs(fx), (d) => ["move", join(d, "f"), join(fx.IN, "got")]),
);

refusals(
  "move() refuses a destination reached through a symlink that leaves the write grant",
  (fx) => [
    ...each(escapingDirs(fx), (d): Call => [
      "move",
      join(fx.IN, "mine"),
      join(d, "new"),
    ]),
    ...each(escapingDirs(fx), (d): Call => [
      "move",
      join(fx.IN, "mine"),
      join(d, "f"),
      { overwrite: true },
    ]),
    ...each(escapingDirs(fx), (d): Call => [
      "move",
      join(fx.IN, "tree"),
      join(d, "tree"),
    ]),
  ],
  "write",
);

refusals(
  "move() refuses when both paths are reached through symlinks that leave the grant",
  (fx) =>
    each(escapingDirs(fx), (d) => ["move", join(d, "f"), join(d, "moved")]),
);

// ---------------------------------------------------------------- copy()

refusals(
  "copy() refuses to read a source reached through a symlink that leaves the read grant",
  (fx) => [
    ...each(escapingDirs(fx), (d): Call => [
      "copy",
      join(d, "f"),
      join(fx.IN, "got"),
    ]),
    ...each(escapingDirs(fx), (d): Call => [
      "copy",
      join(d, "f"),
      join(fx.IN, "got"),
      { dereference: true },
    ]),
    // a whole directory outside ("sub" in each)
    ...each(escapingDirs(fx), (d): Call => [
      "copy",
      join(d, "sub"),
      join(fx.IN, "got"),
    ]),
  ],
  "read",
);

refusals(
  "copy() refuses to write a destination reached through a symlink that leaves the write grant",
  (fx) => [
    ...each(escapingDirs(fx), (d): Call => [
      "copy",
      join(fx.IN, "mine"),
      join(d, "new"),
    ]),
    // without the times (Deno's futime happens to check the real path),
    // nothing else stood between the temp and the outside
    ...each(escapingDirs(fx), (d): Call => [
      "copy",
      join(fx.IN, "mine"),
      join(d, "new"),
      { preserve: { times: false }, durable: false },
    ]),
    ...each(escapingDirs(fx), (d): Call => [
      "copy",
      join(fx.IN, "mine"),
      join(d, "f"),
      { overwrite: true },
    ]),
    ...each(escapingDirs(fx), (d): Call => [
      "copy",
      join(fx.IN, "tree"),
      join(d, "tree"),
    ]),
  ],
  "write",
);

refusals(
  "copy() with dereference refuses to read through a source link that leaves the read grant",
  (fx) =>
    each(
      { ...fileLinks(fx), ...dirLinks(fx) },
      (l) => ["copy", l, join(fx.IN, "got"), { dereference: true }],
    ),
  "read",
);

Deno.test("copy() with dereference refuses to read through a link inside the tree that leaves the read grant", async () => {
  const fx = fixture();
  try {
    const trees = Object.values(leakyTrees(fx));
    const calls: Call[] = trees.map((
      t,
    ) => ["copy", t, `${t}-copy`, { dereference: true }]);
    // control: links that stay inside are followed
    calls.push([
      "copy",
      join(fx.IN, "t-ok"),
      join(fx.IN, "t-ok-copy"),
      { dereference: true },
    ]);
    const inBefore = snapshot(fx.IN), outBefore = snapshot(fx.OUT);
    const out = await batch(fx, calls);
    trees.forEach((_, i) => {
      const o = out[i];
      // Refused before the link is followed: nothing outside is even stat'ed.
      assertEscape(fx, calls[i], o, "read");
    });
    const control = out[trees.length];
    assert(control.ok, show(calls[trees.length], control));
    deepStrictEqual(control.outside, []);
    const copied = snapshot(join(fx.IN, "t-ok-copy"))!;
    assertEquals(copied.x, snapshot(join(fx.IN, "mine"))![""]);
    assertEquals(copied["y/t.txt"], snapshot(join(fx.IN, "tree/t.txt"))![""]);
    deepStrictEqual(snapshot(fx.OUT), outBefore);
    Deno.removeSync(join(fx.IN, "t-ok-copy"), { recursive: true });
    deepStrictEqual(snapshot(fx.IN), inBefore);
  } finally {
    cleanup(fx.base);
  }
});

Deno.test("copy() without dereference copies a link to outside as a link and never reads its target", async () => {
  const fx = fixture();
  try {
    const sources = [
      ...Object.values(fileLinks(fx)),
      ...Object.values(dirLinks(fx)),
      ...Object.values(leakyTrees(fx)),
    ];
    const calls: Call[] = sources.map((s) => ["copy", s, `${s}-copy`]);
    const outBefore = snapshot(fx.OUT), inBefore = snapshot(fx.IN);
    const refused = await batch(fx, calls);
    if (BACKEND === "path") {
      // Scoped, on the path backend: Deno creates symlinks only with
      // unscoped --allow-read and --allow-write, so copy() refuses before
      // creating anything, naming the flag and the first link.
      refused.forEach((o, i) => {
        const why = show(calls[i], o);
        assertEquals(o.name, "PermissionError", why);
        assertEquals(o.code, "ENOTCAPABLE", why);
        assertEquals(o.flag, "--allow-read", why);
        assert(o.path?.startsWith(sources[i]), why);
        assert(o.message?.includes(`'${o.path}'`), why);
        assert(o.message?.includes("symlink"), why);
        deepStrictEqual(o.outside, [], why);
      });
      deepStrictEqual(snapshot(fx.IN), inBefore);
    } else {
      // The ffi backend makes links itself (checking the write grant for
      // where the link goes): each is copied as the same link, scoped.
      refused.forEach((o, i) => {
        const why = show(calls[i], o);
        assert(o.ok, why);
        deepStrictEqual(o.outside, [], why);
        deepStrictEqual(snapshot(`${sources[i]}-copy`), snapshot(sources[i]));
        Deno.removeSync(`${sources[i]}-copy`, { recursive: true });
      });
      deepStrictEqual(snapshot(fx.IN), inBefore);
    }
    // Unscoped (as Deno.symlink requires): each link is copied as the same
    // link, and no call of safefs reaches outside.
    const copied = await batch(fx, calls, ["--allow-read", "--allow-write"]);
    copied.forEach((o, i) => {
      const why = show(calls[i], o);
      assert(o.ok, why);
      deepStrictEqual(o.outside, [], why);
      deepStrictEqual(snapshot(`${sources[i]}-copy`), snapshot(sources[i]));
    });
    deepStrictEqual(snapshot(fx.OUT), outBefore);
  } finally {
    cleanup(fx.base);
  }
});

// ------------------------------------------------------------ writeFile()

refusals(
  "writeFile() refuses a path reached through a symlink that leaves the write grant",
  (fx) => [
    ...each(escapingDirs(fx), (d): Call => [
      "writeFile",
      join(d, "new"),
      "data",
    ]),
    ...each(escapingDirs(fx), (d): Call => ["writeFile", join(d, "f"), "data"]),
    ...each(escapingDirs(fx), (d): Call => [
      "writeFile",
      join(d, "f"),
      "data",
      { overwrite: false },
    ]),
  ],
  "write",
);

Deno.test("writeFile(), copy() and move() onto a symlink to outside replace the link and leave its target alone", async () => {
  const fx = fixture();
  try {
    const { IN } = fx;
    const lf = join(IN, "lf"), cf1 = join(IN, "cf1"), rf = join(IN, "a/rf");
    const ld = join(IN, "ld"), up = join(IN, "a/up");
    const calls: Call[] = [
      // without overwrite: refused, the link stays
      ["writeFile", lf, "new", { overwrite: false }],
      ["copy", join(IN, "mine"), lf],
      ["move", join(IN, "mine"), lf],
      // with it: the link itself is replaced (rename(2) never follows it)
      ["writeFile", lf, "written"],
      ["writeFile", ld, "written over a link to a directory"],
      ["copy", join(IN, "mine"), cf1, { overwrite: true }],
      ["copy", join(IN, "mine"), up, { overwrite: true }],
      ["move", join(IN, "tree/t.txt"), rf, { overwrite: true }],
    ];
    const outBefore = snapshot(fx.OUT);
    const out = await batch(fx, calls);
    for (let i = 0; i < 3; i++) {
      assertEquals(out[i].name, "AlreadyExistsError", show(calls[i], out[i]));
    }
    for (let i = 3; i < calls.length; i++) {
      assert(out[i].ok, show(calls[i], out[i]));
    }
    out.forEach((o, i) => deepStrictEqual(o.outside, [], show(calls[i], o)));
    const content = (p: string): string => {
      assert(Deno.lstatSync(p).isFile, `${p} is a file now`);
      return Deno.readTextFileSync(p);
    };
    assertEquals(content(lf), "written");
    assertEquals(content(ld), "written over a link to a directory");
    assertEquals(content(cf1), "mine");
    assertEquals(content(up), "mine");
    assertEquals(content(rf), "tree");
    assertEquals(
      Deno.readLinkSync(join(IN, "cf2")),
      join(fx.OUT, "victim.txt"),
    );
    deepStrictEqual(snapshot(fx.OUT), outBefore);
  } finally {
    cleanup(fx.base);
  }
});

// ------------------------------------------------- '..' after a symlink

refusals(
  "a path with '..' after a symlink that leaves the grant lands where the kernel says, and is refused there",
  (fx) => {
    // IN/ld/sub/.. is OUT (the parent of OUT/sub), not IN/ld: by text these
    // all stay inside IN, by the kernel they land in OUT.
    const up = (l: string): string => join(fx.IN, l, "sub") + "/..";
    return [
      ["writeFile", `${up("ld")}/new`, "data"],
      ["writeFile", `${up("a/esc")}/f`, "data"],
      ["copy", join(fx.IN, "mine"), `${up("c1")}/new`],
      ["copy", `${up("ld")}/f`, join(fx.IN, "got")],
      ["move", join(fx.IN, "mine"), `${up("a/up")}/new`],
      ["move", `${up("ld")}/f`, join(fx.IN, "got")],
      ["remove", `${up("ld")}/f`],
      ["sweep", up("ld"), { olderThan: 0 }],
    ];
  },
);

const GRANTS = {
  "scoped grants": (fx: Fx): string[] => scoped(fx),
  "unscoped --allow-read --allow-write": (): string[] => [
    "--allow-read",
    "--allow-write",
  ],
  "-A": (): string[] => ["-A"],
};

for (const [grant, flags] of Object.entries(GRANTS)) {
  Deno.test(`writeFile(), copy() and move() through '..' after a symlink write next to the link's target, like the shell (${grant})`, async () => {
    const fx = fixture();
    try {
      const { IN } = fx;
      // g/outlink -> other/deep: g/outlink/.. is other, not g.
      Deno.mkdirSync(join(IN, "g"));
      Deno.mkdirSync(join(IN, "other/deep"), { recursive: true });
      Deno.symlinkSync(join(IN, "other/deep"), join(IN, "g/outlink"));
      const via = `${IN}/g/outlink/..`;
      const calls: Call[] = [
        ["writeFile", `${via}/x2`, "x2"],
        ["copy", join(IN, "mine"), `${via}/copied`],
        ["move", join(IN, "tree/t.txt"), `${via}/moved`],
        ["writeFile", `${via}/x3`, "x3", { overwrite: false }],
      ];
      const outBefore = snapshot(fx.OUT);
      const out = await batch(fx, calls, flags(fx));
      out.forEach((o, i) => {
        assert(o.ok, show(calls[i], o));
        deepStrictEqual(o.outside, [], show(calls[i], o));
      });
      for (const n of ["x2", "x3", "copied", "moved"]) {
        assertEquals(snapshot(join(IN, "g", n)), null, `${n} landed by text`);
      }
      assertEquals(Deno.readTextFileSync(join(IN, "other/x2")), "x2");
      assertEquals(Deno.readTextFileSync(join(IN, "other/x3")), "x3");
      assertEquals(Deno.readTextFileSync(join(IN, "other/copied")), "mine");
      assertEquals(Deno.readTextFileSync(join(IN, "other/moved")), "tree");
      deepStrictEqual(snapshot(fx.OUT), outBefore);
    } finally {
      cleanup(fx.base);
    }
  });
}

// --------------------------------------------------------------- remove()

refusals(
  "remove() refuses a path reached through a symlink that leaves the write grant",
  (fx) => [
    ...each(escapingDirs(fx), (d): Call => ["remove", join(d, "f")]),
    ["remove", join(fx.IN, "a/esc/sub")],
    ["remove", join(fx.IN, "a/up/sub"), { missingOk: true }],
  ],
);

Deno.test("remove() of a symlink to outside removes only the link", async () => {
  const fx = fixture();
  try {
    const links = [
      ...Object.values(fileLinks(fx)),
      ...Object.values(dirLinks(fx)),
    ];
    const outBefore = snapshot(fx.OUT);
    const out = await batch(fx, links.map((l) => ["remove", l]));
    out.forEach((o, i) => {
      assert(o.ok, show(["remove", links[i]], o));
      deepStrictEqual(o.outside, [], show(["remove", links[i]], o));
      assertEquals(snapshot(links[i]), null);
    });
    // the rest of each chain is still there
    assertEquals(
      Deno.readLinkSync(join(fx.IN, "cf2")),
      join(fx.OUT, "victim.txt"),
    );
    assertEquals(Deno.readLinkSync(join(fx.IN, "c2")), fx.OUT);
    deepStrictEqual(snapshot(fx.OUT), outBefore);
  } finally {
    cleanup(fx.base);
  }
});

Deno.test("remove() of a tree holding symlinks to outside removes the links, never their targets", async () => {
  const fx = fixture();
  try {
    const rt = join(fx.IN, "rt");
    Deno.mkdirSync(join(rt, "deep/deeper"), { recursive: true });
    Deno.writeTextFileSync(join(rt, "deep/own.txt"), "own");
    Deno.symlinkSync(join(fx.OUT, "victim.txt"), join(rt, "to-file"));
    Deno.symlinkSync(fx.OUT, join(rt, "to-dir"));
    Deno.symlinkSync("../c1", join(rt, "chain"));
    Deno.symlinkSync("../../../../out", join(rt, "deep/deeper/up"));
    Deno.symlinkSync(join(fx.IN, "a/esc/sub"), join(rt, "deep/middle"));
    const trees = [rt, ...Object.values(leakyTrees(fx))];
    const outBefore = snapshot(fx.OUT);
    const out = await batch(fx, trees.map((t) => ["remove", t]));
    out.forEach((o, i) => {
      assert(o.ok, show(["remove", trees[i]], o));
      deepStrictEqual(o.outside, [], show(["remove", trees[i]], o));
      assertEquals(snapshot(trees[i]), null);
    });
    deepStrictEqual(snapshot(fx.OUT), outBefore);
  } finally {
    cleanup(fx.base);
  }
});

// ---------------------------------------------------------------- sweep()

refusals(
  "sweep() refuses a directory reached through a symlink that leaves the grant",
  (fx) => [
    ...each(escapingDirs(fx), (d): Call => ["sweep", d, { olderThan: 0 }]),
    ...each(escapingDirs(fx), (d): Call => [
      "sweep",
      d,
      { olderThan: 0, dryRun: true },
    ]),
    ["sweep", join(fx.IN, "a/esc"), { olderThan: 0 }],
  ],
);

// ------------------------------------------------------------------ CLI

async function cliIn(fx: Fx, args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command(DENO, {
    args: [
      "run",
      "--no-prompt",
      "--quiet",
      ...scoped(fx),
      ...backendFlags(),
      CLI,
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test("the CLI refuses to move, copy, remove, write or sweep through a symlink that leaves the grant", async () => {
  const fx = fixture();
  try {
    const { IN } = fx;
    const d = escapingDirs(fx);
    const dirs = Object.values(d);
    // [argv, failures expected]
    const runs: [string[], number][] = [
      [["mv", join(IN, "mine"), join(d["a link to a directory"], "new")], 1],
      [
        ["mv", join(d["a link in a middle component"], "f"), join(IN, "got")],
        1,
      ],
      [
        ["cp", join(d["a relative link climbing out"], "f"), join(IN, "got")],
        1,
      ],
      [["cp", join(IN, "mine"), join(d["a chain of links"], "new")], 1],
      [[
        "cp",
        "--preserve=mode",
        join(IN, "mine"),
        join(d["a link to a directory"], "new"),
      ], 1],
      [["cp", "-L", join(IN, "lf"), join(IN, "got")], 1],
      [["cp", "-L", join(IN, "t-dir"), join(IN, "got")], 1],
      [["rm", ...dirs.map((x) => join(x, "f"))], dirs.length],
      [["write", join(d["a relative link climbing out"], "new")], 1],
      [["sweep", "--older-than=0", d["a link in a middle component"]], 1],
      [["sweep", "--older-than=0", d["a link to a directory"]], 1],
    ];
    const inBefore = snapshot(IN), outBefore = snapshot(fx.OUT);
    const outs = await Promise.all(runs.map(([args]) => cliIn(fx, args)));
    const dec = new TextDecoder();
    outs.forEach((r, i) => {
      const stderr = dec.decode(r.stderr);
      const why = `${JSON.stringify(runs[i][0])}: ${stderr}`;
      assertEquals(r.code, 1, why);
      const lines = stderr.split("\n").filter((l) =>
        l.startsWith("safefs: cannot")
      );
      assertEquals(lines.length, runs[i][1], why);
      for (const l of lines) {
        assert(l.includes("symlink escape"), why);
        assert(l.includes(`'${IN}/`) && l.includes(`'${fx.OUT}`), why);
        assert(l.endsWith("(ENOTCAPABLE)"), why);
      }
      assertEquals(dec.decode(r.stdout), "", why);
    });
    deepStrictEqual(snapshot(fx.OUT), outBefore);
    deepStrictEqual(snapshot(IN), inBefore);
  } finally {
    cleanup(fx.base);
  }
});
