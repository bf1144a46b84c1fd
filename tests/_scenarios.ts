// Copyright 2026 the safefs authors. MIT license.
// The operations the reliability harness drives (fault sweep and crash model),
// as one table: primitive x shape x options. Each scenario works in two fresh
// directories `a` (disk) and `b` (disk, or /dev/shm for cross-filesystem ones).
import { join } from "node:path";
import { makeTree as makeSampleTree, writeBytes } from "./_helpers.ts";
import { P } from "./_primitives.ts";

/** What a primitive promises about its paths, which decides the checks. */
export type Kind = "move" | "copy" | "write" | "remove";

/** One operation with its fixture. */
export interface Scenario {
  /** e.g. "move cross-fs tree overwrite durable". */
  name: string;
  primitive: "move" | "copy" | "writeFile" | "remove";
  kind: Kind;
  /** `b` is on another filesystem (/dev/shm). */
  crossFs: boolean;
  durable: boolean;
  overwrite: boolean;
  /** The path whose data must survive (move, copy). */
  src?: (a: string, b: string) => string;
  /** The published path (for remove: the path removed). */
  dest: (a: string, b: string) => string;
  /** Builds the fixture in the (existing, empty) dirs. */
  setup: (a: string, b: string) => void;
  run: (a: string, b: string) => Promise<unknown>;
  /** The clean run fails with this code (e.g. EEXIST under no-clobber). */
  expectCode?: string;
}

const BIG = 3_000_000; // > 2 chunks of the 1 MiB copy buffer

/** Bytes of writeBytes(size, seed), generated once (fixtures are rebuilt thousands of times). */
const cache = new Map<string, Uint8Array>();
function data(size: number, seed: number): Uint8Array {
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

function fileSrc(a: string): void {
  Deno.writeFileSync(join(a, "s"), data(BIG, 11), { mode: 0o640 });
  Deno.chmodSync(join(a, "s"), 0o640);
}

/** The sample tree of _helpers.ts, from cached bytes. */
export function makeTree(root: string): void {
  makeSampleTree(root, data(300_000, 7));
}

function shapeSetup(
  shape: "file" | "tree" | "small",
): (a: string, b: string) => void {
  return (a) => {
    if (shape === "file") fileSrc(a);
    else if (shape === "small") Deno.writeTextFileSync(join(a, "s"), "payload");
    else makeTree(join(a, "s"));
  };
}

/** An old destination of the right type for `overwrite` (files: a file; trees: an empty dir). */
function oldDest(shape: "file" | "tree" | "small", d: string): void {
  if (shape === "tree") Deno.mkdirSync(d);
  else Deno.writeTextFileSync(d, "old contents");
}

function label(parts: (string | false)[]): string {
  return parts.filter((p) => p !== false).join(" ");
}

/** Every scenario for the primitives present in src/. */
export function scenarios(): Scenario[] {
  const out: Scenario[] = [];
  const flags = [
    { overwrite: false, durable: true },
    { overwrite: true, durable: true },
    { overwrite: false, durable: false },
    { overwrite: true, durable: false },
  ];

  // move(): one filesystem (a rename or link+unlink between two directories),
  // and across filesystems (copy, publish, remove the source).
  for (const shape of ["small", "tree"] as const) {
    for (const f of flags) {
      const dest = (a: string): string => join(a, "out", "d");
      out.push({
        name: label([
          "move same-fs",
          shape === "small" ? "file" : "dir",
          f.overwrite ? "overwrite" : "no-clobber",
          f.durable ? "durable" : "non-durable",
        ]),
        primitive: "move",
        kind: "move",
        crossFs: false,
        ...f,
        src: (a) => join(a, "s"),
        dest,
        setup: (a, b) => {
          shapeSetup(shape)(a, b);
          Deno.mkdirSync(join(a, "out"));
          if (f.overwrite) oldDest(shape, dest(a));
        },
        run: (a) => P.move(join(a, "s"), dest(a), f),
      });
    }
  }
  for (const shape of ["file", "tree"] as const) {
    for (const f of flags) {
      out.push({
        name: label([
          "move cross-fs",
          shape,
          f.overwrite ? "overwrite" : "no-clobber",
          f.durable ? "durable" : "non-durable",
        ]),
        primitive: "move",
        kind: "move",
        crossFs: true,
        ...f,
        src: (a) => join(a, "s"),
        dest: (_a, b) => join(b, "d"),
        setup: (a, b) => {
          shapeSetup(shape)(a, b);
          if (f.overwrite) oldDest(shape, join(b, "d"));
        },
        run: (a, b) => P.move(join(a, "s"), join(b, "d"), f),
      });
    }
  }
  for (const crossFs of [false, true]) {
    out.push({
      name: `move ${
        crossFs ? "cross-fs" : "same-fs"
      } file onto existing, no-clobber`,
      primitive: "move",
      kind: "move",
      crossFs,
      overwrite: false,
      durable: true,
      src: (a) => join(a, "s"),
      dest: (_a, b) => join(b, "d"),
      setup: (a, b) => {
        fileSrc(a);
        oldDest("file", join(b, "d"));
      },
      run: (a, b) => P.move(join(a, "s"), join(b, "d")),
      expectCode: "EEXIST",
    });
  }

  if (P.copy) {
    const copy = P.copy;
    for (
      const [shape, crossFs] of [["file", true], ["tree", true], [
        "small",
        false,
      ]] as const
    ) {
      for (const f of flags) {
        out.push({
          name: label([
            `copy ${crossFs ? "cross-fs" : "same-fs"}`,
            shape === "small" ? "file" : shape,
            f.overwrite ? "overwrite" : "no-clobber",
            f.durable ? "durable" : "non-durable",
          ]),
          primitive: "copy",
          kind: "copy",
          crossFs,
          ...f,
          src: (a) => join(a, "s"),
          dest: (_a, b) => join(b, "d"),
          setup: (a, b) => {
            shapeSetup(shape)(a, b);
            if (f.overwrite) oldDest(shape, join(b, "d"));
          },
          run: (a, b) => copy(join(a, "s"), join(b, "d"), f),
        });
      }
    }
    out.push({
      name: "copy file onto existing, no-clobber",
      primitive: "copy",
      kind: "copy",
      crossFs: false,
      overwrite: false,
      durable: true,
      src: (a) => join(a, "s"),
      dest: (_a, b) => join(b, "d"),
      setup: (a, b) => {
        fileSrc(a);
        oldDest("file", join(b, "d"));
      },
      run: (a, b) => copy(join(a, "s"), join(b, "d")),
      expectCode: "EEXIST",
    });
  }

  if (P.writeFile) {
    const writeFile = P.writeFile;
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
      for (const f of flags) {
        if (what !== "bytes" && !f.durable) continue;
        out.push({
          name: label([
            "writeFile",
            what,
            f.overwrite ? "overwrite" : "no-clobber",
            f.durable ? "durable" : "non-durable",
          ]),
          primitive: "writeFile",
          kind: "write",
          crossFs: false,
          ...f,
          dest: (a) => join(a, "w"),
          setup: (a) => {
            if (f.overwrite) oldDest("file", join(a, "w"));
          },
          run: (a) => writeFile(join(a, "w"), input(), f),
        });
      }
    }
    out.push({
      name: "writeFile onto existing, no-clobber",
      primitive: "writeFile",
      kind: "write",
      crossFs: false,
      overwrite: false,
      durable: true,
      dest: (a) => join(a, "w"),
      setup: (a) => oldDest("file", join(a, "w")),
      run: (a) => writeFile(join(a, "w"), "new", { overwrite: false }),
      expectCode: "EEXIST",
    });
  }

  if (P.remove) {
    const remove = P.remove;
    for (const shape of ["tree", "small"] as const) {
      out.push({
        name: `remove ${shape === "small" ? "file" : "tree"}`,
        primitive: "remove",
        kind: "remove",
        crossFs: false,
        overwrite: false,
        durable: true,
        dest: (a) => join(a, "s"),
        setup: shapeSetup(shape),
        run: (a) => remove(join(a, "s")),
      });
    }
  }
  return out;
}
