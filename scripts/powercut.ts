// Copyright 2026 the safefs authors. MIT license.
// Real power cuts, simulated on ext4 images (by hand, `deno task powercut`;
// needs root, losetup and mkfs.ext4). The recipe from DESIGN.md:
//
//   truncate -s 128M img; mkfs.ext4 -q -F img; losetup -f --show img
//   mount -o commit=600 /dev/loopN mnt    # only fsyncs commit the journal
//   ... run the operation ...; cp img cut  # cut = what the disk held then
//   losetup -f --show cut; mount ...       # the journal replays; check it
//
// Each operation runs on two such filesystems (A and B). Before every seam
// call that changes something (through the _sys hook, which holds the
// operation meanwhile), and right after the call returns, both images are
// copied: each pair of copies is the disk after a power cut at that instant.
// Every pair is then mounted (the journal replays) and checked:
// - G1: the destination is its old state or the complete new one (modes
//   included); for remove(), what is left is a part of the original;
// - G2: the data is complete at the source or at the destination; a copy's
//   source never changes;
// - X: a moved source's name holds only (a part of) the source, and every
//   other new name in the operation's directories is a safefs temp;
// - G3: the cut taken after the call returned holds the final state (for
//   remove(): the tree is gone, issue 12 item 6).
//
//   deno run -A scripts/powercut.ts [--only <name part>] [--break dir|file|syncfs] [--keep]
//
// --break makes those calls no-ops during the runs (the seam's fsync of a
// directory, of a file, or syncfs): the cuts must then show lost renames and
// torn files, which checks that the simulation is real. Exits 1 on any
// violation (without --break), 2 when it cannot run.
import { parseArgs } from "node:util";
import { join } from "node:path";
import { feat, type Handle, setSysHook, sys } from "../src/_sys.ts";
import { isTempName } from "../src/_temp.ts";
import { SafeFsError } from "../src/errors.ts";
import { copy } from "../src/copy.ts";
import { move } from "../src/move.ts";
import { remove } from "../src/remove.ts";
import { writeFile } from "../src/write_file.ts";
import { realView, type View } from "../tests/_crash_model.ts";
import { build, exchangeCode, makeTree } from "../tests/_scenarios.ts";
import { writeBytes } from "../tests/_helpers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    break: { type: "string" },
    only: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
const broken = values.break;
if (broken !== undefined && !["dir", "file", "syncfs"].includes(broken)) {
  console.error("powercut: --break takes dir, file or syncfs");
  Deno.exit(2);
}

function sh(cmd: string, ...args: string[]): string {
  const r = new Deno.Command(cmd, { args, stdin: "null" }).outputSync();
  if (!r.success) {
    throw new Error(
      `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`,
    );
  }
  return new TextDecoder().decode(r.stdout).trim();
}

if (Deno.uid() !== 0) {
  console.error("powercut: needs root (losetup, mount)");
  Deno.exit(2);
}

/** Seam calls that change nothing on disk: no cut before them. */
const READS = new Set([
  "openDir",
  "openDirAt",
  "openDirBeneath",
  "fstat",
  "statAt",
  "list",
  "readLinkAt",
  "read",
  "seek",
  "lock",
  "accessDir",
  "realPath",
]);

const work = Deno.makeTempDirSync({ prefix: "safefs-powercut-" });
const mounted: string[] = [];
const loops: string[] = [];

function attach(img: string, mnt: string, opts: string[]): void {
  const loop = sh("losetup", "-f", "--show", img);
  loops.push(loop);
  Deno.mkdirSync(mnt, { recursive: true });
  sh("mount", ...opts, loop, mnt);
  mounted.push(mnt);
}

function detach(mnt: string): void {
  const i = mounted.indexOf(mnt);
  const src = sh("findmnt", "-n", "-o", "SOURCE", mnt);
  sh("umount", mnt);
  mounted.splice(i, 1);
  sh("losetup", "-d", src);
  loops.splice(loops.indexOf(src), 1);
}

type At = ["A" | "B", string];

interface Op {
  name: string;
  kind: "move" | "copy" | "write" | "remove";
  /** Relative to the mount points A and B. */
  src?: At;
  dest: At;
  setup: (A: string, B: string) => void;
  run: (A: string, B: string) => Promise<unknown>;
  /** The call fails with this code (on this backend), changing nothing. */
  expectCode?: string;
}

const xcode = exchangeCode();
const ops: Op[] = [
  {
    name: "move file across filesystems",
    kind: "move",
    src: ["A", "f"],
    dest: ["B", "f"],
    setup: (A) => writeBytes(join(A, "f"), 3_000_000, 1),
    run: (A, B) => move(join(A, "f"), join(B, "f")),
  },
  {
    name: "move tree across filesystems",
    kind: "move",
    src: ["A", "t"],
    dest: ["B", "t"],
    setup: (A) => makeTree(join(A, "t")),
    run: (A, B) => move(join(A, "t"), join(B, "t")),
  },
  {
    name: "move file between directories (one filesystem)",
    kind: "move",
    src: ["A", "d1/f"],
    dest: ["A", "d2/f"],
    setup: (A) => {
      Deno.mkdirSync(join(A, "d1"));
      Deno.mkdirSync(join(A, "d2"));
      writeBytes(join(A, "d1/f"), 100_000, 2);
    },
    run: (A) => move(join(A, "d1/f"), join(A, "d2/f")),
  },
  {
    name: "copy tree across filesystems (each mode)",
    kind: "copy",
    src: ["A", "t"],
    dest: ["B", "t"],
    setup: (A) => makeTree(join(A, "t")),
    run: (A, B) => copy(join(A, "t"), join(B, "t")),
  },
  {
    name: `copy tree of 75 entries across filesystems (${
      feat.syncfs ? "one syncfs" : "each mode: no syncfs on this backend"
    })`,
    kind: "copy",
    src: ["A", "w"],
    dest: ["B", "w"],
    setup: (A) => build("wider", join(A, "w")),
    run: (A, B) => copy(join(A, "w"), join(B, "w")),
  },
  {
    name: `copy tree onto a non-empty directory (${
      xcode ? "refused: no exchange on this backend" : "an exchange"
    })`,
    kind: "copy",
    src: ["A", "t"],
    dest: ["B", "t"],
    setup: (A, B) => {
      makeTree(join(A, "t"));
      build("wide", join(B, "t"));
    },
    run: (A, B) => copy(join(A, "t"), join(B, "t"), { overwrite: true }),
    ...(xcode ? { expectCode: xcode } : {}),
  },
  {
    name: `move tree onto a non-empty directory, one filesystem (${
      xcode ? "refused: no exchange on this backend" : "an exchange"
    })`,
    kind: "move",
    src: ["A", "s/t"],
    dest: ["A", "d/t"],
    setup: (A) => {
      makeTree(join(A, "s/t"));
      Deno.mkdirSync(join(A, "d"));
      build("wide", join(A, "d/t"));
    },
    run: (A) => move(join(A, "s/t"), join(A, "d/t"), { overwrite: true }),
    ...(xcode ? { expectCode: xcode } : {}),
  },
  {
    name: "writeFile over an existing file",
    kind: "write",
    dest: ["A", "w"],
    setup: (A) => Deno.writeTextFileSync(join(A, "w"), "old contents"),
    run: (A) => writeFile(join(A, "w"), new Uint8Array(2_000_000).fill(7)),
  },
  {
    name: "remove tree (durable: gone once it resolves)",
    kind: "remove",
    dest: ["A", "t"],
    setup: (A) => build("wide", join(A, "t")),
    run: (A) => remove(join(A, "t")),
  },
];

function key(v: View): string {
  return JSON.stringify(v);
}

/** Every entry of `now` is in `orig`, the same (directories: still directories). */
function remnant(now: View, orig: View): boolean {
  if (now === null) return true;
  if (orig === null) return false;
  return Object.entries(now).every(([k, v]) =>
    orig[k] !== undefined &&
    (v.startsWith("d:") ? orig[k].startsWith("d:") : orig[k] === v)
  );
}

/** The directories holding the source and destination (side, relative path). */
function homes(op: Op): At[] {
  const out: At[] = [];
  for (const [s, rel] of [op.dest, ...(op.src ? [op.src] : [])]) {
    const d = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
    if (!out.some(([s2, d2]) => s2 === s && d2 === d)) out.push([s, d]);
  }
  return out;
}

/** The names in each of `dirs` (by "side:dir"), under the mount points `m`. */
function namesIn(
  m: Record<"A" | "B", string>,
  dirs: At[],
): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [s, d] of dirs) {
    let names: string[] = [];
    try {
      names = [...Deno.readDirSync(join(m[s], d))].map((e) => e.name);
    } catch {
      // not there (yet)
    }
    out.set(`${s}:${d}`, new Set(names));
  }
  return out;
}

// --break: those calls do nothing (outside src/: patched at run time).
const saved = { ...sys };
function breakCalls(): void {
  const noop = (h: Handle): boolean =>
    broken === "syncfs" ? false : broken === h.type;
  sys.fsync = (h) => noop(h) ? undefined : saved.fsync(h);
  sys.fsyncAsync = (h) => noop(h) ? Promise.resolve() : saved.fsyncAsync(h);
  if (broken === "syncfs") {
    sys.syncfs = () => {};
    sys.syncfsAsync = () => Promise.resolve();
  }
}

let violations = 0;
let cutsChecked = 0;
const summary: string[][] = [];
try {
  for (const op of ops) {
    if (values.only && !op.name.includes(values.only)) continue;
    const dir = join(work, op.name.replace(/\W+/g, "-").slice(0, 60));
    Deno.mkdirSync(dir);
    const img = { A: join(dir, "A.img"), B: join(dir, "B.img") };
    const mnt = { A: join(dir, "A"), B: join(dir, "B") };
    for (const s of ["A", "B"] as const) {
      sh("truncate", "-s", "128M", img[s]);
      sh("mkfs.ext4", "-q", "-F", img[s]);
      attach(img[s], mnt[s], ["-o", "commit=600"]);
    }
    op.setup(mnt.A, mnt.B);
    // The starting state is on disk.
    sh("sync");
    const path = ([s, rel]: At): string => join(mnt[s], rel);
    const srcBeforeV = op.src ? realView(path(op.src)) : null;
    const srcBefore = key(srcBeforeV);
    const destBeforeV = realView(path(op.dest));
    const destBefore = key(destBeforeV);
    const namesBefore = namesIn(mnt, homes(op));

    // Run, copying both images before every call that changes something.
    const cuts: { A: string; B: string; after: string }[] = [];
    let n = 0;
    let last = "(before the first call)";
    const cut = (): void => {
      const c = {
        A: join(dir, `cut${n}-A.img`),
        B: join(dir, `cut${n}-B.img`),
        after: last,
      };
      sh("cp", "--sparse=always", img.A, c.A);
      sh("cp", "--sparse=always", img.B, c.B);
      cuts.push(c);
      n++;
    };
    if (broken) breakCalls();
    const restore = setSysHook((c) => {
      if (!READS.has(c.op)) cut();
      last = `${c.op}${c.how ? "(" + c.how + ")" : ""} ${c.path ?? ""}${
        c.dest ? " -> " + c.dest : ""
      }`;
    });
    let result: unknown;
    try {
      result = await op.run(mnt.A, mnt.B);
    } catch (e) {
      result = e;
    } finally {
      restore();
      Object.assign(sys, saved);
    }
    last = "(the call returned)";
    cut(); // right after the call returned
    const ok = op.expectCode === undefined
      ? !(result instanceof Error)
      : result instanceof SafeFsError && result.code === op.expectCode;
    if (!ok) {
      throw new Error(
        `${op.name}: the run ${
          op.expectCode ? `should fail with ${op.expectCode}` : "failed"
        }: ${result}`,
      );
    }
    const srcAfter = op.src ? key(realView(path(op.src))) : "null";
    const destAfter = key(realView(path(op.dest)));
    const namesAfter = namesIn(mnt, homes(op));
    for (const s of ["A", "B"] as const) detach(mnt[s]);

    // Check every cut.
    let bad = 0;
    for (const [i, c] of cuts.entries()) {
      const m = { A: join(dir, "cA"), B: join(dir, "cB") };
      attach(c.A, m.A, []);
      attach(c.B, m.B, []);
      try {
        const at = ([s, rel]: At): string => join(m[s], rel);
        const srcV = op.src ? realView(at(op.src)) : null;
        const destV = realView(at(op.dest));
        const src = op.src ? key(srcV) : "null";
        const dest = key(destV);
        const problems: string[] = [];
        if (op.kind === "remove") {
          if (!remnant(destV, destBeforeV)) {
            problems.push("G1: what is left is not a part of the original");
          }
        } else if (dest !== destBefore && dest !== destAfter) {
          problems.push("G1: destination neither old nor complete");
        }
        if (op.kind === "move" && src !== srcBefore && dest !== destAfter) {
          problems.push("G2: no complete copy");
        }
        if (op.kind === "move" && !remnant(srcV, srcBeforeV)) {
          problems.push("X: the source's name holds something else");
        }
        if (op.kind === "copy" && src !== srcBefore) {
          problems.push("G2: source changed");
        }
        for (const [where, names] of namesIn(m, homes(op))) {
          for (const name of names) {
            if (
              !namesBefore.get(where)!.has(name) &&
              !namesAfter.get(where)!.has(name) && !isTempName(name)
            ) {
              problems.push(`X: an unknown new name '${name}' in ${where}`);
            }
          }
        }
        if (i === cuts.length - 1) {
          if (op.kind === "remove" && destV !== null) {
            problems.push("G3: remove() returned, but the tree came back");
          } else if (dest !== destAfter || src !== srcAfter) {
            problems.push("G3: the returned call's result is not on disk");
          }
        }
        if (problems.length > 0) {
          bad++;
          if (bad <= 3) {
            console.log(
              `  cut ${i} (after ${c.after}): ${problems.join("; ")}\n    src=${
                src.slice(0, 300)
              }\n    dest=${dest.slice(0, 300)}`,
            );
          }
        }
      } finally {
        detach(m.A);
        detach(m.B);
        if (!values.keep) {
          Deno.removeSync(c.A);
          Deno.removeSync(c.B);
        }
      }
    }
    cutsChecked += cuts.length;
    violations += bad;
    summary.push([op.name, String(cuts.length), String(bad)]);
    console.log(
      `${op.name}: ${cuts.length} power cuts checked, ${bad} violations`,
    );
    if (!values.keep) {
      Deno.removeSync(img.A);
      Deno.removeSync(img.B);
    }
  }
} finally {
  for (const m of [...mounted].reverse()) {
    new Deno.Command("umount", { args: ["-l", m], stderr: "null" })
      .outputSync();
  }
  for (const l of loops) {
    new Deno.Command("losetup", { args: ["-d", l], stderr: "null" })
      .outputSync();
  }
  if (!values.keep) Deno.removeSync(work, { recursive: true });
  else console.log(`kept ${work}`);
}
console.log(
  `powercut (${feat.name} backend): ${cutsChecked} power cuts checked, ${violations} violations` +
    (broken
      ? ` (with ${
        broken === "syncfs" ? "syncfs" : `${broken} fsyncs`
      } broken: violations expected)`
      : ""),
);
if (broken) Deno.exit(violations > 0 ? 0 : 1);
Deno.exit(violations === 0 ? 0 : 1);
