// Copyright 2026 the safefs authors. MIT license.
// openRoot(): every method confined beneath the root. An escape table (each
// case refused, with nothing changed inside or outside the root and only
// read-only calls made), the allowed cases, the root's identity, and races
// staged through the _sys seam.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
} from "node:assert/strict";
import { join } from "node:path";
import {
  AlreadyExistsError,
  InvalidArgumentError,
  NotFoundError,
  openRoot,
  PermissionError,
  type Root,
  SafeFsError,
  SourceChangedError,
  UnsupportedFileTypeError,
} from "../mod.ts";
import { setSysHook, type SysCall } from "../src/_sys.ts";
import {
  BACKEND,
  cleanup,
  diskDir,
  MOD_URL,
  rejects,
  runDeno,
  snapshot,
  temps,
} from "./_helpers.ts";
import { spawnActor } from "./_actor.ts";

const dec = new TextDecoder();

/** A root with hostile and friendly links, and a sibling "outside" dir. */
interface Fixture {
  base: string;
  root: string;
  outside: string;
  r: Root;
}

async function fixture(): Promise<Fixture> {
  const base = Deno.realPathSync(diskDir());
  const root = join(base, "root");
  const outside = join(base, "outside");
  Deno.mkdirSync(join(root, "a"), { recursive: true });
  Deno.mkdirSync(join(root, "sub/deep"), { recursive: true });
  Deno.mkdirSync(join(outside, "sub"), { recursive: true });
  Deno.writeTextFileSync(join(outside, "canary"), "keep");
  Deno.writeTextFileSync(join(root, "a/f"), "af");
  Deno.writeTextFileSync(join(root, "sub/deep/file"), "deep");
  const links: [string, string][] = [
    ["../outside", "out"], // relative, climbing out
    ["../../outside", "a/out2"], // relative, from a subdirectory
    [join(root, "sub"), "abs-in"], // absolute, pointing inside
    [outside, "abs-out"], // absolute, pointing outside
    ["/etc", "etc"],
    ["c2", "c1"], // chain: c1 -> c2 -> a/out2 -> outside
    ["a/out2", "c2"],
    ["i2", "i1"], // chain staying inside: i1 -> i2 -> sub/deep
    ["sub/deep", "i2"],
    ["../sub", "a/tosub"], // middle component, staying inside
    ["../outside/canary", "outfile"], // last component, to an outside file
    ["loop2", "loop1"],
    ["loop1", "loop2"],
    ["self", "self"],
  ];
  for (const [target, at] of links) Deno.symlinkSync(target, join(root, at));
  return { base, root, outside, r: await openRoot(root) };
}

/**
 * Seam calls that change nothing: opening directories, stat, listing,
 * reading links, access checks, realpath, and opening a file for reading.
 */
function readOnly(c: SysCall): boolean {
  if (c.op === "openAt") return c.how === "read";
  return [
    "openDir",
    "openDirAt",
    "openDirBeneath",
    "fstat",
    "statAt",
    "attrsAt",
    "list",
    "readLinkAt",
    "accessDir",
    "realPath",
    "read",
  ].includes(c.op);
}

interface EscapeCase {
  name: string;
  run: (fx: Fixture) => Promise<unknown>;
  error: new (...a: never[]) => Error;
  code: string;
}

const esc = (
  name: string,
  run: (fx: Fixture) => Promise<unknown>,
): EscapeCase => ({ name, run, error: PermissionError, code: "ENOTCAPABLE" });

const ESCAPES: EscapeCase[] = [
  esc("writeFile '../x'", ({ r }) => r.writeFile("../x", "x")),
  esc("writeFile 'a/../../x'", ({ r }) => r.writeFile("a/../../x", "x")),
  esc("remove '..'", ({ r }) => r.remove("..")),
  esc(
    "writeFile of an absolute path",
    ({ r, outside }) => r.writeFile(join(outside, "new"), "x"),
  ),
  esc(
    "readFile of an absolute path",
    ({ r, outside }) => r.readFile(join(outside, "canary")),
  ),
  esc(
    "writeFile 'out/f' through a link to an outside directory",
    ({ r }) => r.writeFile("out/f", "x"),
  ),
  esc("remove 'out/canary'", ({ r }) => r.remove("out/canary")),
  esc("remove 'abs-out/canary'", ({ r }) => r.remove("abs-out/canary")),
  esc("move 'a/f' into 'out/f'", ({ r }) => r.move("a/f", "out/f")),
  esc("copy 'a/f' into 'out/f'", ({ r }) => r.copy("a/f", "out/f")),
  esc("readFile 'out/canary'", ({ r }) => r.readFile("out/canary")),
  esc(
    "readFile 'abs-in/deep/file' (an absolute link, even to inside)",
    ({ r }) => r.readFile("abs-in/deep/file"),
  ),
  esc(
    "readFile 'a/out2/canary' (a relative link climbing out)",
    ({ r }) => r.readFile("a/out2/canary"),
  ),
  esc(
    "readFile 'c1/canary' (a chain of links ending outside)",
    ({ r }) => r.readFile("c1/canary"),
  ),
  esc(
    "readFile 'outfile' (a last-component link to an outside file)",
    ({ r }) => r.readFile("outfile"),
  ),
  esc("readFile 'etc/passwd'", ({ r }) => r.readFile("etc/passwd")),
  esc(
    "writeFile 'a/tosub/../../../x' (a link inside, then '..' out)",
    ({ r }) => r.writeFile("a/tosub/../../../x", "x"),
  ),
  esc(
    "move 'out/canary' in (source escaping)",
    ({ r }) => r.move("out/canary", "stolen"),
  ),
  esc(
    "move 'a/f' to '../stolen' (destination escaping)",
    ({ r }) => r.move("a/f", "../stolen"),
  ),
  esc(
    "copy 'out/canary' in (reading outside)",
    ({ r }) => r.copy("out/canary", "stolen"),
  ),
  esc(
    "copy 'outfile' with dereference",
    ({ r }) => r.copy("outfile", "stolen", { dereference: true }),
  ),
  esc(
    "copy of a tree holding a link to outside, with dereference",
    ({ r }) => r.copy("a", "a-copy", { dereference: true }),
  ),
  esc(
    "copy 'a/f' to an absolute destination",
    ({ r, outside }) => r.copy("a/f", join(outside, "stolen")),
  ),
  esc("sweep 'out'", ({ r }) => r.sweep("out", { olderThan: 0 })),
  esc("mkdir 'out/newdir'", ({ r }) => r.mkdir("out/newdir")),
  esc(
    "mkdir 'a/out2/x/y' recursive",
    ({ r }) => r.mkdir("a/out2/x/y", { recursive: true }),
  ),
  esc(
    "mkdir 'out' recursive (an existing link to outside)",
    ({ r }) => r.mkdir("out", { recursive: true }),
  ),
  esc("readDir 'out'", ({ r }) => r.readDir("out")),
  esc("readDir 'c1'", ({ r }) => r.readDir("c1")),
  esc("stat 'outfile'", ({ r }) => r.stat("outfile")),
  esc("lstat 'out/canary'", ({ r }) => r.lstat("out/canary")),
  {
    name: "writeFile of a path with a NUL byte",
    run: ({ r }) => r.writeFile("a\0b", "x"),
    error: InvalidArgumentError,
    code: "EINVAL",
  },
  {
    name: "writeFile of an empty path",
    run: ({ r }) => r.writeFile("", "x"),
    error: InvalidArgumentError,
    code: "EINVAL",
  },
  {
    name: "remove '.' (the root itself)",
    run: ({ r }) => r.remove("."),
    error: InvalidArgumentError,
    code: "EINVAL",
  },
  {
    name: "move 'a' onto 'sub/..' (the root itself)",
    run: ({ r }) => r.move("a", "sub/..", { overwrite: true }),
    error: InvalidArgumentError,
    code: "EINVAL",
  },
  {
    name: "readFile 'loop1/x' (a loop of links)",
    run: ({ r }) => r.readFile("loop1/x"),
    error: SafeFsError,
    code: "ELOOP",
  },
  {
    name: "readFile 'self' (a link to itself)",
    run: ({ r }) => r.readFile("self"),
    error: SafeFsError,
    code: "ELOOP",
  },
  {
    name: "writeFile 'i1/x' with maxSymlinks 0",
    run: async ({ root }) =>
      (await openRoot(root, { maxSymlinks: 0 })).writeFile("i1/x", "x"),
    error: SafeFsError,
    code: "ELOOP",
  },
];

assert(ESCAPES.length >= 20);

for (const c of ESCAPES) {
  Deno.test(`openRoot() refuses ${c.name} and touches nothing inside or outside`, async () => {
    const fx = await fixture();
    try {
      const outside = snapshot(fx.outside);
      const inside = snapshot(fx.root);
      // Each call with how it ended (null: it succeeded).
      const calls: { call: SysCall; code: string | null }[] = [];
      const restore = setSysHook((call) => {
        const rec = { call, code: "pending" as string | null };
        calls.push(rec);
        return (e) => {
          rec.code = e === null ? null : (e as SafeFsError).code ?? String(e);
        };
      });
      let result: unknown;
      try {
        result = await c.run(fx);
      } catch (e) {
        result = e;
      } finally {
        restore();
      }
      await rejects(Promise.reject(result), c.error, c.code);
      // Only read-only calls; the one exception is `mkdir -p`'s own atomic
      // existence check, a mkdirat that FAILED with EEXIST (it cannot
      // follow a symlink, nor change anything).
      const writes = calls.filter((k) =>
        !readOnly(k.call) && !(k.call.op === "mkdirAt" && k.code === "EEXIST")
      );
      deepStrictEqual(writes, [], "a refused call made only read-only calls");
      deepStrictEqual(snapshot(fx.outside), outside);
      deepStrictEqual(snapshot(fx.root), inside);
      deepStrictEqual(snapshot(join(fx.base, "x")), null);
      deepStrictEqual(snapshot(join(fx.base, "stolen")), null);
    } finally {
      cleanup(fx.base);
    }
  });
}

Deno.test("openRoot() escape refusals name the path, the link and the root", async () => {
  const fx = await fixture();
  try {
    let e = await rejects(fx.r.readFile("a/out2/canary"), PermissionError);
    assert(e.message.includes("'a/out2/canary'"), e.message);
    assert(e.message.includes("'a/out2' (-> '../../outside')"), e.message);
    assert(e.message.includes(`'${fx.root}'`), e.message);
    assertEquals(e.op, "readFile");
    assertEquals(e.path, "a/out2/canary");
    e = await rejects(fx.r.readFile("etc/passwd"), PermissionError);
    assert(e.message.includes("absolute target '/etc'"), e.message);
    e = await rejects(fx.r.writeFile("/etc/x", "x"), PermissionError);
    assert(e.message.includes("absolute path"), e.message);
    e = await rejects(fx.r.remove("a/../.."), PermissionError);
    assert(e.message.includes("'..' climbs above the root"), e.message);
  } finally {
    cleanup(fx.base);
  }
});

Deno.test("openRoot() removes a last-component link to outside as a link, leaving its target", async () => {
  const fx = await fixture();
  try {
    const outside = snapshot(fx.outside);
    await fx.r.remove("outfile");
    await fx.r.remove("out");
    await fx.r.remove("abs-out");
    assertEquals(snapshot(join(fx.root, "outfile")), null);
    assertEquals(snapshot(join(fx.root, "out")), null);
    deepStrictEqual(snapshot(fx.outside), outside);
  } finally {
    cleanup(fx.base);
  }
});

Deno.test("openRoot() writeFile() replaces a last-component link to outside instead of writing through it", async () => {
  const fx = await fixture();
  try {
    const outside = snapshot(fx.outside);
    assert((await fx.r.lstat("outfile")).isSymlink);
    await fx.r.writeFile("outfile", "mine");
    assert(Deno.lstatSync(join(fx.root, "outfile")).isFile);
    assertEquals(dec.decode(await fx.r.readFile("outfile")), "mine");
    deepStrictEqual(snapshot(fx.outside), outside);
  } finally {
    cleanup(fx.base);
  }
});

Deno.test("openRoot() follows relative links that stay inside: chains and middle components", async () => {
  const fx = await fixture();
  try {
    const { r, root } = fx;
    assertEquals(dec.decode(await r.readFile("i1/file")), "deep");
    assertEquals(dec.decode(await r.readFile("a/tosub/deep/file")), "deep");
    assertEquals(dec.decode(await r.readFile("a/tosub/../a/f")), "af");
    // '..' after a link goes up from where the link led (as the kernel does).
    assertEquals(dec.decode(await r.readFile("i1/../deep/file")), "deep");
    const w = await r.writeFile("i1/new", "n");
    assertEquals(w.path, join(root, "sub/deep/new"));
    assertEquals(Deno.readTextFileSync(join(root, "sub/deep/new")), "n");
    assert((await r.stat("i1")).isDirectory);
    assert((await r.lstat("i1")).isSymlink);
    deepStrictEqual(
      (await r.readDir("a/tosub")).map((e) => e.name),
      ["deep"],
    );
    await r.mkdir("a/tosub/made/here", { recursive: true });
    assert(Deno.statSync(join(root, "sub/made/here")).isDirectory);
    // mkdir -p onto a link that leads to a directory inside: fine.
    await r.mkdir("i1", { recursive: true });
  } finally {
    cleanup(fx.base);
  }
});

Deno.test("openRoot() runs every method inside the root", async () => {
  const fx = await fixture();
  try {
    const { r, root } = fx;
    const outside = snapshot(fx.outside);
    assertEquals(r.path, root);
    await r.mkdir("w");
    await r.mkdir("w/x/y", { recursive: true, mode: 0o750 });
    assertEquals(Deno.statSync(join(root, "w/x")).mode! & 0o777, 0o750);
    await rejects(r.mkdir("w"), AlreadyExistsError);
    await r.mkdir("w", { recursive: true });
    await r.mkdir(".", { recursive: true });
    const wr = await r.writeFile("w/x/y/f.txt", "hello", { mode: 0o600 });
    deepStrictEqual(wr, {
      path: join(root, "w/x/y/f.txt"),
      bytes: 5,
      replaced: false,
      publish: "rename",
    });
    await rejects(
      r.writeFile("w/x/y/f.txt", "again", { overwrite: false }),
      AlreadyExistsError,
    );
    assertEquals(dec.decode(await r.readFile("w/x/y/f.txt")), "hello");
    assertEquals((await r.stat("w/x/y/f.txt")).size, 5);
    assertEquals((await r.stat(".")).ino, Deno.statSync(root).ino);
    const cr = await r.copy("w/x/y/f.txt", "w/copy.txt");
    assertEquals(cr.dest, join(root, "w/copy.txt"));
    const mr = await r.move("w/copy.txt", "w/moved.txt");
    assertEquals(mr.src, join(root, "w/copy.txt"));
    assertEquals(mr.dest, join(root, "w/moved.txt"));
    deepStrictEqual(await r.readDir("w"), [
      { name: "moved.txt", isFile: true, isDirectory: false, isSymlink: false },
      { name: "x", isFile: false, isDirectory: true, isSymlink: false },
    ]);
    // A tree holding a link to outside is copied (link as a link) without
    // dereference: nothing is read through it.
    await r.copy("a", "a-copy");
    assertEquals(
      Deno.readLinkSync(join(root, "a-copy/out2")),
      "../../outside",
    );
    // With dereference, links that stay inside are followed.
    await r.mkdir("t");
    await r.writeFile("t/data", "d");
    Deno.symlinkSync("../i1", join(root, "t/deep"));
    Deno.symlinkSync("data", join(root, "t/alias"));
    await r.copy("t", "t-deref", { dereference: true });
    assert(Deno.lstatSync(join(root, "t-deref/deep")).isDirectory);
    assertEquals(
      Deno.readTextFileSync(join(root, "t-deref/deep/file")),
      "deep",
    );
    assertEquals(Deno.readTextFileSync(join(root, "t-deref/alias")), "d");
    // sweep
    const leftover = join(
      root,
      "w/.f.txt.0b5f4a3e-8a59-4a55-9d7e-5bd1c0f1f9a1.safefs-tmp",
    );
    Deno.writeTextFileSync(leftover, "half");
    deepStrictEqual(await r.sweep("w", { olderThan: 0 }), {
      removed: [leftover],
      live: [],
    });
    // remove
    const rr = await r.remove("w");
    deepStrictEqual(rr, { path: join(root, "w"), entriesRemoved: 5 });
    await rejects(r.remove("w"), NotFoundError);
    deepStrictEqual(await r.remove("w", { missingOk: true }), {
      path: join(root, "w"),
      entriesRemoved: 0,
    });
    // missing directory in the middle: NotFoundError, or nothing with missingOk
    await rejects(r.remove("nope/deeper/x"), NotFoundError, "ENOENT");
    assertEquals(
      (await r.remove("nope/deeper/x", { missingOk: true })).entriesRemoved,
      0,
    );
    deepStrictEqual(snapshot(fx.outside), outside);
    deepStrictEqual(temps(root), []);
  } finally {
    cleanup(fx.base);
  }
});

Deno.test("openRoot() reports missing, non-directory and wrong-type paths with typed errors", async () => {
  const fx = await fixture();
  try {
    const { r } = fx;
    await rejects(r.readFile("nope"), NotFoundError, "ENOENT");
    await rejects(r.readFile("nope/x"), NotFoundError, "ENOENT");
    await rejects(r.writeFile("nope/x", "x"), NotFoundError, "ENOENT");
    await rejects(r.readFile("a/f/x"), SafeFsError, "ENOTDIR");
    await rejects(r.readFile("a"), SafeFsError, "EISDIR");
    await rejects(r.readDir("a/f"), SafeFsError, "ENOTDIR");
    await rejects(r.stat("nope"), NotFoundError, "ENOENT");
    await rejects(r.lstat("nope"), NotFoundError, "ENOENT");
    await rejects(r.mkdir("nope/x"), NotFoundError, "ENOENT");
    await rejects(r.mkdir("a/f", { recursive: true }), AlreadyExistsError);
    const fifo = new Deno.Command("mkfifo", {
      args: [join(fx.root, "fifo")],
    }).outputSync();
    if (fifo.success) {
      // Refused before open: opening a FIFO would block.
      await rejects(r.readFile("fifo"), UnsupportedFileTypeError, "EFTYPE");
    }
    await rejects(r.readFile("a/f", { signal: AbortSignal.abort() }), Error);
    // A URL is not a relative path.
    await rejects(
      r.readFile(new URL("file:///etc/passwd") as unknown as string),
      InvalidArgumentError,
      "EINVAL",
    );
  } finally {
    cleanup(fx.base);
  }
});

Deno.test("openRoot() resolves its directory once, and refuses what is not a directory", async () => {
  const fx = await fixture();
  try {
    Deno.symlinkSync(fx.root, join(fx.base, "root-link"));
    const viaLink = await openRoot(join(fx.base, "root-link"));
    assertEquals(viaLink.path, fx.root);
    const viaUrl = await openRoot(new URL(`file://${fx.root}`));
    assertEquals(viaUrl.path, fx.root);
    await rejects(openRoot(join(fx.base, "nope")), NotFoundError, "ENOENT");
    await rejects(
      openRoot(join(fx.outside, "canary")),
      SafeFsError,
      "ENOTDIR",
    );
    await rejects(openRoot(""), InvalidArgumentError, "EINVAL");
    await rejects(
      openRoot(fx.root, { maxSymlinks: -1 }),
      InvalidArgumentError,
      "EINVAL",
    );
  } finally {
    cleanup(fx.base);
  }
});

Deno.test("openRoot() refuses a link replaced between two calls to point outside", async () => {
  const fx = await fixture();
  try {
    const { r, root } = fx;
    Deno.symlinkSync("sub", join(root, "l"));
    await r.writeFile("l/x", "first");
    assertEquals(Deno.readTextFileSync(join(root, "sub/x")), "first");
    Deno.removeSync(join(root, "l"));
    Deno.symlinkSync("../outside", join(root, "l"));
    const outside = snapshot(fx.outside);
    await rejects(r.writeFile("l/x", "second"), PermissionError, "ENOTCAPABLE");
    await rejects(r.readFile("l/canary"), PermissionError, "ENOTCAPABLE");
    await rejects(r.remove("l/canary"), PermissionError, "ENOTCAPABLE");
    deepStrictEqual(snapshot(fx.outside), outside);
    assertEquals(Deno.readTextFileSync(join(root, "sub/x")), "first");
  } finally {
    cleanup(fx.base);
  }
});

/** Every method, on paths that exist inside the (original) root. */
function everyMethod(r: Root): (() => Promise<unknown>)[] {
  return [
    () => r.readFile("a/f"),
    () => r.writeFile("a/new", "x"),
    () => r.remove("a/f"),
    () => r.move("a/f", "a/g"),
    () => r.copy("a/f", "a/g"),
    () => r.mkdir("a/d"),
    () => r.readDir("a"),
    () => r.stat("a/f"),
    () => r.lstat("a/f"),
    () => r.sweep(".", { olderThan: 0 }),
  ];
}

async function refusesAll(r: Root): Promise<void> {
  for (const call of everyMethod(r)) {
    const e = await rejects(call(), PermissionError, "ENOTCAPABLE");
    assert(e.message.includes("moved or replaced"), e.message);
  }
}

/**
 * The ffi backend: every method still works, in the directory the root was
 * opened on, now at `at` (the descriptor follows it, as Go's os.Root does).
 */
async function followsAll(r: Root, at: string): Promise<void> {
  assertEquals(dec.decode(await r.readFile("a/f")), "af");
  await r.writeFile("a/new", "x");
  assertEquals(Deno.readTextFileSync(join(at, "a/new")), "x");
  await r.copy("a/f", "a/g");
  await r.move("a/g", "a/h");
  assertEquals(Deno.readTextFileSync(join(at, "a/h")), "af");
  await r.mkdir("a/d");
  assert(Deno.statSync(join(at, "a/d")).isDirectory);
  deepStrictEqual(
    (await r.readDir("a")).map((e) => e.name),
    ["d", "f", "h", "new", "out2", "tosub"],
  );
  assertEquals((await r.stat("a/f")).ino, Deno.statSync(join(at, "a/f")).ino);
  assertEquals((await r.lstat("a/h")).size, 2);
  deepStrictEqual((await r.sweep(".", { olderThan: 0 })).removed, []);
  await r.remove("a/d");
  await r.remove("a/h");
  await r.remove("a/new");
  deepStrictEqual(
    Deno.readDirSync(join(at, "a")).toArray().map((e) => e.name).sort(),
    ["f", "out2", "tosub"],
  );
}

Deno.test(
  BACKEND === "ffi"
    ? "openRoot() follows its root renamed away (ffi: a descriptor, as Go's os.Root), and never acts on a new directory at its old path"
    : "openRoot() refuses every call once the root is renamed away, even with a new directory at its path (path backend)",
  async () => {
    const fx = await fixture();
    try {
      const moved = join(fx.base, "moved");
      Deno.renameSync(fx.root, moved);
      const before = snapshot(moved);
      if (BACKEND === "ffi") {
        await followsAll(fx.r, moved);
        deepStrictEqual(snapshot(moved), before);
      } else await refusesAll(fx.r);
      assertEquals(snapshot(fx.root), null);
      // Same path, same contents, another directory.
      Deno.mkdirSync(join(fx.root, "a"), { recursive: true });
      Deno.writeTextFileSync(join(fx.root, "a/f"), "impostor");
      const impostor = snapshot(fx.root);
      if (BACKEND === "ffi") await followsAll(fx.r, moved);
      else await refusesAll(fx.r);
      deepStrictEqual(snapshot(fx.root), impostor);
      deepStrictEqual(snapshot(moved), before);
    } finally {
      cleanup(fx.base);
    }
  },
);

Deno.test(
  BACKEND === "ffi"
    ? "openRoot() replaced by a symlink at its path goes on acting in its own directory, never through the symlink (ffi)"
    : "openRoot() refuses every call once the root is replaced by a symlink, even to itself (path backend)",
  async () => {
    const fx = await fixture();
    try {
      const moved = join(fx.base, "moved");
      Deno.renameSync(fx.root, moved);
      Deno.mkdirSync(join(fx.base, "decoy/a"), { recursive: true });
      Deno.writeTextFileSync(join(fx.base, "decoy/a/f"), "decoy");
      const decoy = snapshot(join(fx.base, "decoy"));
      for (const target of ["moved", "decoy"]) {
        Deno.symlinkSync(target, fx.root);
        const before = snapshot(moved);
        if (BACKEND === "ffi") await followsAll(fx.r, moved);
        else await refusesAll(fx.r);
        deepStrictEqual(snapshot(moved), before);
        deepStrictEqual(snapshot(join(fx.base, "decoy")), decoy);
        Deno.removeSync(fx.root);
      }
      // Put back: the same directory at the same path works (again).
      Deno.renameSync(moved, fx.root);
      assertEquals(dec.decode(await fx.r.readFile("a/f")), "af");
    } finally {
      cleanup(fx.base);
    }
  },
);

/** Installs a hook that runs `act` once, before the `n`th call matching `match`. */
function onCall(
  match: (c: SysCall) => boolean,
  n: number,
  act: () => void,
): () => void {
  let seen = 0;
  return setSysHook((c) => {
    if (match(c) && ++seen === n) act();
  });
}

Deno.test("openRoot() re-checks the directories it resolved: one swapped for a link to outside between its stat and its open is refused", async () => {
  const fx = await fixture();
  const sub = join(fx.root, "sub");
  // The resolution stats `sub`, then opens it (never following a symlink):
  // the swap lands in between.
  const restore = onCall(
    (c) => c.op === "openDirAt" && c.path === sub,
    1,
    () => {
      Deno.renameSync(sub, join(fx.root, "sub-moved"));
      Deno.symlinkSync(fx.outside, sub);
    },
  );
  try {
    const outside = snapshot(fx.outside);
    const e = await rejects(
      fx.r.writeFile("sub/canary", "pwned"),
      PermissionError,
      "ENOTCAPABLE",
    );
    assert(
      e.message.includes("was replaced while the path was resolved"),
      e.message,
    );
    deepStrictEqual(snapshot(fx.outside), outside);
    deepStrictEqual(temps(join(fx.root, "sub-moved")), []);
  } finally {
    restore();
    cleanup(fx.base);
  }
});

Deno.test(
  BACKEND === "ffi"
    ? "openRoot() writes into the directory it opened even when it is swapped for a link to outside before the write (ffi: held descriptor)"
    : "openRoot() refuses to write once a directory it opened is swapped for a link to outside before the write (path backend: identity re-check)",
  async () => {
    const fx = await fixture();
    const sub = join(fx.root, "sub");
    // After the resolution opened `sub`, before the temp is created in it.
    const restore = onCall(
      (c) =>
        c.op === "openAt" && c.how === "create" &&
        c.path!.startsWith(sub + "/"),
      1,
      () => {
        Deno.renameSync(sub, join(fx.root, "sub-moved"));
        Deno.symlinkSync(fx.outside, sub);
      },
    );
    try {
      const outside = snapshot(fx.outside);
      const r = fx.r.writeFile("sub/canary", "mine");
      if (BACKEND === "ffi") {
        await r;
        assertEquals(
          Deno.readTextFileSync(join(fx.root, "sub-moved/canary")),
          "mine",
        );
      } else {
        await rejects(r, SourceChangedError, "ESRCCHANGED");
        assertEquals(snapshot(join(fx.root, "sub-moved/canary")), null);
      }
      deepStrictEqual(snapshot(fx.outside), outside);
      deepStrictEqual(temps(join(fx.root, "sub-moved")), []);
      deepStrictEqual(temps(fx.outside), []);
    } finally {
      restore();
      cleanup(fx.base);
    }
  },
);

Deno.test("openRoot() readFile() never returns outside bytes when the file is swapped for a link just before open", async () => {
  const fx = await fixture();
  const f = join(fx.root, "a/f");
  const restore = onCall((c) => c.op === "openAt" && c.path === f, 1, () => {
    Deno.renameSync(f, join(fx.root, "a/f-moved"));
    Deno.symlinkSync("../../outside/canary", f);
  });
  try {
    await rejects(fx.r.readFile("a/f"), PermissionError, "ENOTCAPABLE");
  } finally {
    restore();
    cleanup(fx.base);
  }
});

Deno.test("openRoot() readFile() of a file replaced atomically just before open reads the new file", async () => {
  const fx = await fixture();
  const f = join(fx.root, "a/f");
  const restore = onCall((c) => c.op === "openAt" && c.path === f, 1, () => {
    Deno.writeTextFileSync(join(fx.root, "a/f.new"), "new");
    Deno.renameSync(join(fx.root, "a/f.new"), f);
  });
  try {
    assertEquals(dec.decode(await fx.r.readFile("a/f")), "new");
  } finally {
    restore();
    cleanup(fx.base);
  }
});

Deno.test("openRoot() works in a subprocess granted only --allow-read and --allow-write for the root", async () => {
  const dir = Deno.realPathSync(diskDir());
  const root = join(dir, "root");
  Deno.mkdirSync(root);
  Deno.writeTextFileSync(join(dir, "secret"), "secret");
  const script = `import { openRoot } from ${JSON.stringify(MOD_URL)};
const root = await openRoot(Deno.args[0]);
await root.mkdir("d/e", { recursive: true });
await root.writeFile("d/e/f.txt", "hello");
await root.copy("d/e/f.txt", "d/g.txt");
await root.move("d/g.txt", "d/h.txt");
const text = new TextDecoder().decode(await root.readFile("d/h.txt"));
const names = (await root.readDir("d")).map((e) => e.name);
const size = (await root.stat("d/e/f.txt")).size;
await root.remove("d/e");
const swept = (await root.sweep(".", { olderThan: 0 })).removed;
let escape = "allowed";
try {
  await root.readFile("../secret");
} catch (e) {
  escape = e.name + ":" + e.code;
}
console.log(JSON.stringify({ text, names, size, swept, escape }));`;
  try {
    const out = await runDeno(
      [`--allow-read=${root}`, `--allow-write=${root}`],
      script,
      [root],
    );
    assertEquals(out.code, 0, out.stderr);
    deepStrictEqual(JSON.parse(out.stdout), {
      text: "hello",
      names: ["e", "h.txt"],
      size: 5,
      swept: [],
      escape: "PermissionError:ENOTCAPABLE",
    });
    deepStrictEqual(Object.keys(snapshot(root)!).sort(), [
      "",
      "d",
      "d/h.txt",
    ]);
    assertEquals(Deno.readTextFileSync(join(root, "d/h.txt")), "hello");
  } finally {
    cleanup(dir);
  }
});

/**
 * Reads `d/x` in a loop while another process swaps it, atomically (rename
 * over), between a file holding "inside" and a symlink to `outside/x`
 * (holding "keep"); with `swapDir`, also swaps `d` itself for a symlink to
 * outside now and then. The swapper counts its swaps: the loop runs until it
 * has made `swaps` of them while the reads went on (and at least `reads`
 * reads, one of which read the file), so the race is run for a number of
 * events, not for a time; a swapper that dies fails the test. Returns how
 * often each outcome was seen, and the swaps made during the reads.
 * `swapDir` races a directory on the way, which this path-based backend
 * cannot win every time (src/root.ts quotes the rate measured with it); the
 * tests use only the last-component swap, which readFile() always wins.
 */
async function raceReads(
  fx: Fixture,
  swapDir: boolean,
  want: { reads: number; swaps: number },
): Promise<{ seen: Record<string, number>; swaps: number }> {
  const { root, outside } = fx;
  Deno.mkdirSync(join(root, "d"));
  Deno.writeTextFileSync(join(root, "d/x"), "inside");
  Deno.writeTextFileSync(join(outside, "x"), "keep");
  const swapper = spawnActor(
    "the swapper",
    `const [root, swapDir] = Deno.args;
const enc = new TextEncoder();
for (let i = 0; ; i++) {
  Deno.symlinkSync("../../outside/x", root + "/d/x.l");
  Deno.renameSync(root + "/d/x.l", root + "/d/x");
  act();
  Deno.writeFileSync(root + "/d/x.f", enc.encode("inside"));
  Deno.renameSync(root + "/d/x.f", root + "/d/x");
  if (swapDir === "1" && i % 4 === 0) {
    Deno.renameSync(root + "/d", root + "/d.real");
    Deno.symlinkSync("../outside", root + "/d");
    Deno.removeSync(root + "/d");
    Deno.renameSync(root + "/d.real", root + "/d");
  }
}`,
    [root, swapDir ? "1" : "0"],
  );
  const seen: Record<string, number> = {};
  let during = 0;
  try {
    await swapper.waitFor(1);
    const start = swapper.count();
    for (let i = 0;; i++) {
      during = swapper.count() - start;
      if (
        i >= want.reads && during >= want.swaps &&
        (seen["data:inside"] ?? 0) > 0
      ) break;
      // A dead swapper is reported by stop() below; a read that never
      // succeeds, by the caller (after a bounded number of reads).
      if (!swapper.alive() || i >= 100 * want.reads + want.swaps) break;
      let key: string;
      try {
        key = `data:${dec.decode(await fx.r.readFile("d/x"))}`;
      } catch (e) {
        key = e instanceof SafeFsError ? `${e.name}:${e.code}` : String(e);
      }
      seen[key] = (seen[key] ?? 0) + 1;
    }
  } finally {
    await swapper.stop();
  }
  return { seen, swaps: during };
}

Deno.test("openRoot() readFile() never returns outside bytes while another process swaps the file for a link to outside", async () => {
  const fx = await fixture();
  try {
    const { seen, swaps } = await raceReads(fx, false, {
      reads: 200,
      swaps: 100,
    });
    const why = `${JSON.stringify(seen)}, ${swaps} swaps during the reads`;
    console.log(`readFile() vs a swapper: ${why}`);
    assert(swaps >= 100, why);
    assertEquals(seen["data:keep"], undefined, why);
    assert((seen["data:inside"] ?? 0) > 0, why);
    for (const key of Object.keys(seen)) {
      assert(
        [
          "data:inside",
          "PermissionError:ENOTCAPABLE",
          "SourceChangedError:ESRCCHANGED",
        ].includes(key),
        why,
      );
    }
    assertEquals(Deno.readTextFileSync(join(fx.outside, "x")), "keep");
  } finally {
    cleanup(fx.base);
  }
});
