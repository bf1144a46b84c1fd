// Copyright 2026 the safefs authors. MIT license.
// The operations the reliability harness drives (fault sweep and crash
// model), as one table: primitive x shape x options. Each scenario works in
// two fresh directories `a` and `b` (another filesystem for cross-filesystem
// ones).
//
// Shapes: "small" (a 7-byte file), "file" (3 MB: several chunks of the copy
// buffer), "tree" (10 entries: files, a hard link, symlinks, odd modes: a
// copy of it is made durable file by file, the "each" mode), "wide" (32
// entries, SYNCFS_MIN_ENTRIES: on the ffi backend a copy of it onto a local
// filesystem is made durable with one syncfs), "wider" (75 entries: more
// than one batch of parallel fsyncs in the "each" mode).
import { join } from "node:path";
import { feat } from "../src/_sys.ts";
import { SYNCFS_MIN_ENTRIES } from "../src/_copy/sync.ts";
import { makeTree as makeSampleTree, writeBytes } from "./_helpers.ts";
import { P } from "./_primitives.ts";

/** What a primitive promises about its paths, which decides the checks. */
export type Kind = "move" | "copy" | "write" | "remove";

/** The fixtures a scenario's source can have. */
export type Shape = "small" | "file" | "tree" | "wide" | "wider";

/** One operation with its fixture. */
export interface Scenario {
  /** e.g. "move cross-fs tree overwrite durable". */
  name: string;
  primitive:
    | "move"
    | "copy"
    | "writeFile"
    | "remove"
    | "symlink"
    | "moveSync"
    | "copySync"
    | "writeFileSync"
    | "removeSync";
  /** writeFile and symlink are "write": a destination, no source. */
  kind: Kind;
  /** `b` is on another filesystem. */
  crossFs: boolean;
  durable: boolean;
  overwrite: boolean;
  /** In the CI form of the fault sweep (the full form runs every scenario). */
  core: boolean;
  /** The path whose data must survive (move, copy). */
  src?: (a: string, b: string) => string;
  /** The published path (for remove: the path removed). */
  dest: (a: string, b: string) => string;
  /**
   * The topmost directory the operation may create on the way to `dest`
   * (writeFile with `parents`): it may stay, empty of anything else, after
   * a failure.
   */
  made?: (a: string, b: string) => string;
  /** Builds the fixture in the (existing, empty) dirs. */
  setup: (a: string, b: string) => void;
  run: (a: string, b: string) => Promise<unknown>;
  /** The clean run fails with this code (e.g. EEXIST under no-clobber). */
  expectCode?: string;
  /** A directory replaces a non-empty directory (an exchange where the backend has one). */
  exchange?: boolean;
  /** The durability mode a copy of this shape uses ("each" or "syncfs"), for tables. */
  mode?: string;
  /** Seam calls the clean run must make (the path the scenario is there for). */
  expectOps?: string[];
}

const BIG = 3_000_000; // > 2 chunks of the 1 MiB copy buffer

/** Bytes of writeBytes(size, seed), generated once (fixtures are rebuilt thousands of times). */
const cache = new Map<string, Uint8Array>();
/** The bytes `writeBytes(path, size, seed)` writes. */
export function data(size: number, seed: number): Uint8Array {
  const k = `${size}:${seed}`;
  let d = cache.get(k);
  if (d === undefined) {
    const p = Deno.makeTempFileSync();
    writeBytes(p, size, seed);
    d = Deno.readFileSync(p);
    Deno.removeSync(p);
    cache.set(k, d);
  }
  return d;
}

function fileSrc(p: string): void {
  Deno.writeFileSync(p, data(BIG, 11), { mode: 0o640 });
  Deno.chmodSync(p, 0o640);
}

/** The sample tree of _helpers.ts (10 entries), from cached bytes. */
export function makeTree(root: string): void {
  makeSampleTree(root, data(300_000, 7));
}

/** A tree of directories holding `files[d]` small files each, odd modes on some. */
export function makeWide(root: string, files: number[]): void {
  Deno.mkdirSync(root);
  for (let d = 0; d < files.length; d++) {
    const dir = join(root, `d${d}`);
    Deno.mkdirSync(dir);
    for (let f = 0; f < files[d]; f++) {
      Deno.writeTextFileSync(join(dir, `f${f}`), `${d}:${f}:`.repeat(f + 1));
    }
    Deno.chmodSync(join(dir, "f0"), 0o600);
    Deno.chmodSync(dir, 0o750);
  }
}

/**
 * Files per directory of "wide": 32 entries in all, the fewest that a copy
 * syncs with one syncfs; 16 files in d0, the fewest that remove() takes
 * away in one call (removeLeaf).
 */
const WIDE = [16, 13];
/** Files per directory of "wider": 75 entries, more files than one batch of parallel fsyncs (64). */
const WIDER = [24, 24, 24];

/** Entries of a shape (files, symlinks and directories, the root included). */
export function entriesOf(shape: Shape): number {
  return shape === "wide"
    ? 1 + WIDE.length + WIDE.reduce((a, b) => a + b)
    : shape === "wider"
    ? 1 + WIDER.length + WIDER.reduce((a, b) => a + b)
    : shape === "tree"
    ? 10
    : 1;
}

/** The durability mode of a durable copy of `shape` onto tmpfs or ext4 on this backend. */
export function modeOf(shape: Shape): string {
  return feat.syncfs && entriesOf(shape) >= SYNCFS_MIN_ENTRIES
    ? "syncfs"
    : "each";
}

/** Builds the source of `shape` at `p`. */
export function build(shape: Shape, p: string): void {
  if (shape === "file") fileSrc(p);
  else if (shape === "small") Deno.writeTextFileSync(p, "payload");
  else if (shape === "tree") makeTree(p);
  else if (shape === "wide") makeWide(p, WIDE);
  else makeWide(p, WIDER);
}

/** An old destination: files get a file, directories an empty one (or, `full`, a non-empty one). */
function oldDest(shape: Shape, d: string, full = false): void {
  if (shape === "small" || shape === "file") {
    Deno.writeTextFileSync(d, "old contents");
    return;
  }
  Deno.mkdirSync(d);
  if (full) {
    Deno.mkdirSync(join(d, "old-sub"));
    Deno.writeTextFileSync(join(d, "old-sub/x"), "old x");
    Deno.writeTextFileSync(join(d, "old-y"), "old y");
    Deno.chmodSync(join(d, "old-y"), 0o604);
  }
}

function label(parts: (string | false)[]): string {
  return parts.filter((p) => p !== false).join(" ");
}

/** The code an overwrite of a non-empty directory fails with here, if any. */
export function exchangeCode(): string | undefined {
  return feat.renameFlags ? undefined : "ENOTEMPTY";
}

type Flags = { overwrite: boolean; durable: boolean };
const FLAGS: Flags[] = [
  { overwrite: false, durable: true },
  { overwrite: true, durable: true },
  { overwrite: false, durable: false },
  { overwrite: true, durable: false },
];

function flagLabel(f: Flags): string[] {
  return [
    f.overwrite ? "overwrite" : "no-clobber",
    f.durable ? "durable" : "non-durable",
  ];
}

type TwoPath = "move" | "copy" | "moveSync" | "copySync";

function twoPath(
  primitive: TwoPath,
  shape: Shape,
  crossFs: boolean,
  f: Flags,
  o: { core?: boolean; exchange?: boolean; existing?: boolean } = {},
): Scenario {
  const kind = primitive.startsWith("move") ? "move" : "copy";
  const fn = P[primitive] as (
    s: string,
    d: string,
    o: Flags,
  ) => unknown;
  // Same-fs moves go between two directories of `a`; copies and cross-fs
  // moves from `a` to `b`.
  const dest = (a: string, b: string): string =>
    crossFs
      ? join(b, "d")
      : kind === "move"
      ? join(a, "out", "d")
      : join(b, "d");
  const sc: Scenario = {
    name: label([
      primitive,
      crossFs ? "cross-fs" : "same-fs",
      shape === "small" ? "file" : shape,
      o.exchange
        ? "onto a non-empty dir"
        : o.existing
        ? "onto existing"
        : false,
      ...flagLabel(f),
    ]),
    primitive,
    kind,
    crossFs,
    ...f,
    core: o.core ?? false,
    src: (a) => join(a, "s"),
    dest,
    setup: (a, b) => {
      build(shape, join(a, "s"));
      if (!crossFs && kind === "move") Deno.mkdirSync(join(a, "out"));
      if (f.overwrite || o.existing) oldDest(shape, dest(a, b), o.exchange);
    },
    run: async (a, b) => await fn(join(a, "s"), dest(a, b), f),
  };
  if (o.exchange) {
    sc.exchange = true;
    const code = exchangeCode();
    if (code !== undefined) sc.expectCode = code;
  }
  if (o.existing && !f.overwrite) sc.expectCode = "EEXIST";
  if (kind === "copy" || crossFs) {
    if (shape !== "small" && shape !== "file") sc.mode = modeOf(shape);
  }
  return sc;
}

/** Every scenario. */
export function scenarios(): Scenario[] {
  const out: Scenario[] = [];
  const D: Flags = { overwrite: false, durable: true };
  const DO: Flags = { overwrite: true, durable: true };

  // move(): one filesystem (rename, link+unlink, or an exchange), and across
  // filesystems (copy, publish, remove the source).
  for (const shape of ["small", "tree"] as const) {
    for (const f of FLAGS) {
      out.push(twoPath("move", shape, false, f, {
        core: f.durable && (shape === "small" || f.overwrite),
      }));
    }
  }
  out.push(twoPath("move", "tree", false, DO, { exchange: true, core: true }));
  for (const shape of ["file", "tree"] as const) {
    for (const f of FLAGS) {
      out.push(twoPath("move", shape, true, f, {
        core: f.durable && !f.overwrite,
      }));
    }
  }
  // A wide tree is a core scenario where it takes the syncfs path.
  const syncfs = modeOf("wide") === "syncfs";
  out.push(twoPath("move", "wide", true, D, {}));
  out.push(twoPath("move", "tree", true, DO, { exchange: true, core: true }));
  for (const crossFs of [false, true]) {
    out.push(
      twoPath("move", "small", crossFs, D, { existing: true, core: true }),
    );
  }

  // copy(): files and trees; trees in both durability modes.
  for (
    const [shape, crossFs] of [
      ["small", false],
      ["file", true],
      ["tree", true],
    ] as const
  ) {
    for (const f of FLAGS) {
      out.push(twoPath("copy", shape, crossFs, f, {
        core: f.durable && (shape === "file" || !f.overwrite),
      }));
    }
  }
  out.push(twoPath("copy", "wide", true, D, { core: syncfs }));
  out.push(twoPath("copy", "wide", true, DO, {}));
  out.push(twoPath("copy", "wide", false, D, {}));
  out.push(twoPath("copy", "wider", true, D, {}));
  out.push(twoPath("copy", "tree", true, DO, { exchange: true, core: true }));
  out.push(twoPath("copy", "tree", false, DO, { exchange: true }));
  out.push(twoPath("copy", "small", false, D, { existing: true, core: true }));

  // The synchronous twins: the same engines under the blocking driver.
  out.push(twoPath("moveSync", "small", false, D, { core: true }));
  out.push(twoPath("moveSync", "tree", true, D, { core: true }));
  out.push(twoPath("moveSync", "wide", true, D, {}));
  out.push(twoPath("moveSync", "tree", true, DO, { exchange: true }));
  out.push(twoPath("copySync", "tree", true, DO, { core: true }));
  out.push(twoPath("copySync", "wide", true, D, {}));
  out.push(twoPath("copySync", "small", false, D, { existing: true }));

  // writeFile(): bytes, a string, a stream; with parents: true.
  const bytes = data(BIG, 5);
  const inputs: [
    string,
    () => Uint8Array | string | ReadableStream<Uint8Array>,
  ][] = [
    ["bytes", () => bytes],
    ["string", () => "hello, durable world\n".repeat(100)],
    ["stream", () =>
      new ReadableStream<Uint8Array>({
        start(c): void {
          for (let i = 0; i < 3; i++) {
            c.enqueue(bytes.subarray(i * 100_000, (i + 1) * 100_000));
          }
          c.close();
        },
      })],
  ];
  for (const [what, input] of inputs) {
    for (const f of FLAGS) {
      if (what !== "bytes" && !f.durable) continue;
      out.push({
        name: label(["writeFile", what, ...flagLabel(f)]),
        primitive: "writeFile",
        kind: "write",
        crossFs: false,
        ...f,
        core: f.durable && what !== "string",
        dest: (a) => join(a, "w"),
        setup: (a) => {
          if (f.overwrite) oldDest("small", join(a, "w"));
        },
        run: (a) => P.writeFile(join(a, "w"), input(), f),
      });
    }
  }
  for (const sync of [false, true]) {
    out.push({
      name: `${sync ? "writeFileSync" : "writeFile"} parents: true durable`,
      primitive: sync ? "writeFileSync" : "writeFile",
      kind: "write",
      crossFs: false,
      overwrite: true,
      durable: true,
      core: true,
      dest: (a) => join(a, "p/q/w"),
      made: (a) => join(a, "p"),
      setup: () => {},
      run: async (a) =>
        sync
          ? P.writeFileSync(join(a, "p/q/w"), bytes, { parents: true })
          : await P.writeFile(join(a, "p/q/w"), bytes, { parents: true }),
    });
  }
  out.push({
    name: "writeFileSync bytes overwrite durable",
    primitive: "writeFileSync",
    kind: "write",
    crossFs: false,
    overwrite: true,
    durable: true,
    core: true,
    dest: (a) => join(a, "w"),
    setup: (a) => oldDest("small", join(a, "w")),
    run: (a) => Promise.resolve(P.writeFileSync(join(a, "w"), bytes)),
  });
  out.push({
    name: "writeFile onto existing, no-clobber",
    primitive: "writeFile",
    kind: "write",
    crossFs: false,
    overwrite: false,
    durable: true,
    core: true,
    dest: (a) => join(a, "w"),
    setup: (a) => oldDest("small", join(a, "w")),
    run: (a) => P.writeFile(join(a, "w"), "new", { overwrite: false }),
    expectCode: "EEXIST",
  });

  // symlink(): a new link, a link replacing a file or a link, and refused.
  for (
    const [what, overwrite, old] of [
      ["new", false, null],
      ["over a file", true, "file"],
      ["over a symlink", true, "symlink"],
      ["onto existing, no-clobber", false, "file"],
    ] as const
  ) {
    out.push({
      name: `symlink ${what}`,
      primitive: "symlink",
      kind: "write",
      crossFs: false,
      overwrite,
      durable: true,
      core: true,
      dest: (a) => join(a, "l"),
      setup: (a) => {
        if (old === "file") Deno.writeTextFileSync(join(a, "l"), "old");
        if (old === "symlink") Deno.symlinkSync("old-target", join(a, "l"));
      },
      run: (a) => P.symlink("new-target", join(a, "l"), { overwrite }),
      ...(old !== null && !overwrite ? { expectCode: "EEXIST" } : {}),
    });
  }

  // remove(): durable (the parent is fsynced once the entry is gone).
  for (
    const [primitive, shape, durable] of [
      ["remove", "tree", true],
      ["remove", "small", true],
      ["remove", "wide", true],
      ["remove", "tree", false],
      ["removeSync", "tree", true],
    ] as const
  ) {
    const fn = P[primitive] as (p: string, o: { durable: boolean }) => unknown;
    out.push({
      name: label([
        primitive,
        shape === "small" ? "file" : shape,
        durable ? "durable" : "non-durable",
      ]),
      primitive,
      kind: "remove",
      crossFs: false,
      overwrite: false,
      durable,
      core: durable,
      dest: (a) => join(a, "s"),
      setup: (a) => build(shape, join(a, "s")),
      run: async (a) => await fn(join(a, "s"), { durable }),
      // A directory of 16 files or more goes in one call where it can.
      ...(shape === "wide" && feat.removeLeaf
        ? { expectOps: ["removeLeaf"] }
        : {}),
    });
  }
  return out;
}
