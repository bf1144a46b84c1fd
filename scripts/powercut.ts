// Copyright 2026 the safefs authors. MIT license.
// Real power cuts, simulated on ext4 images (by hand; needs root, losetup and
// mkfs.ext4). The recipe from DESIGN.md:
//
//   truncate -s 128M img; mkfs.ext4 -q -F img; losetup -f --show img
//   mount -o commit=600 /dev/loopN mnt    # only fsyncs commit the journal
//   ... run the operation ...; cp img cut  # cut = what the disk held then
//   losetup -f --show cut; mount ...       # the journal replays; check it
//
// Each operation runs on two such filesystems (A and B). Before every seam
// call (through the _sys hook, which pauses the operation meanwhile) both
// images are copied: each pair of copies is the disk after a power cut at that
// instant. Every pair is then mounted and checked: the destination is its old
// state or the complete new one (G1); the data is complete at the source or
// at the destination (G2); the copy taken after the call returned holds the
// final state (G3).
//
//   deno run -A scripts/powercut.ts [--break fsyncDir|fsync] [--keep]
//
// --break makes that backend call a no-op during the runs: the cuts must then
// show lost renames / torn files (this checks that the simulation is real).
import { parseArgs } from "node:util";
import { join } from "node:path";
import { backend, setSysHook } from "../src/_sys.ts";
import { copy } from "../src/copy.ts";
import { move } from "../src/move.ts";
import { writeFile } from "../src/write_file.ts";
import { realContentView, type View } from "../tests/_crash_model.ts";
import { makeTree } from "../tests/_scenarios.ts";
import { writeBytes } from "../tests/_helpers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    break: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});

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

interface Op {
  name: string;
  kind: "move" | "copy" | "write";
  /** Relative to the mount points A and B. */
  src?: ["A" | "B", string];
  dest: ["A" | "B", string];
  setup: (A: string, B: string) => void;
  run: (A: string, B: string) => Promise<unknown>;
}

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
    name: "copy tree across filesystems",
    kind: "copy",
    src: ["A", "t"],
    dest: ["B", "t"],
    setup: (A) => makeTree(join(A, "t")),
    run: (A, B) => copy(join(A, "t"), join(B, "t")),
  },
  {
    name: "writeFile over an existing file",
    kind: "write",
    dest: ["A", "w"],
    setup: (A) => Deno.writeTextFileSync(join(A, "w"), "old contents"),
    run: (A) => writeFile(join(A, "w"), new Uint8Array(2_000_000).fill(7)),
  },
];

function key(v: View): string {
  return JSON.stringify(v);
}

let violations = 0;
let cutsChecked = 0;
try {
  for (const op of ops) {
    const dir = join(work, op.name.replace(/\W+/g, "-"));
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
    const path = ([s, rel]: ["A" | "B", string]): string => join(mnt[s], rel);
    const srcBefore = op.src ? key(realContentView(path(op.src))) : "null";
    const destBefore = key(realContentView(path(op.dest)));

    // Run, copying both images before every seam call.
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
    const saved = { fsyncDir: backend.fsyncDir, fsync: backend.fsync };
    if (values.break === "fsyncDir") backend.fsyncDir = () => Promise.resolve();
    if (values.break === "fsync") backend.fsync = () => Promise.resolve();
    const restore = setSysHook((c) => {
      cut();
      last = `${c.op} ${c.path ?? ""}${c.dest ? " -> " + c.dest : ""}`;
    });
    try {
      await op.run(mnt.A, mnt.B);
    } finally {
      restore();
      Object.assign(backend, saved);
    }
    cut(); // after the call returned
    const srcAfter = op.src ? key(realContentView(path(op.src))) : "null";
    const destAfter = key(realContentView(path(op.dest)));
    for (const s of ["A", "B"] as const) detach(mnt[s]);

    // Check every cut.
    let bad = 0;
    for (const [i, c] of cuts.entries()) {
      const m = { A: join(dir, "cA"), B: join(dir, "cB") };
      attach(c.A, m.A, []);
      attach(c.B, m.B, []);
      try {
        const at = ([s, rel]: ["A" | "B", string]): string => join(m[s], rel);
        const src = op.src ? key(realContentView(at(op.src))) : "null";
        const dest = key(realContentView(at(op.dest)));
        const problems: string[] = [];
        if (dest !== destBefore && dest !== destAfter) {
          problems.push("G1: destination neither old nor complete");
        }
        if (op.kind === "move" && src !== srcBefore && dest !== destAfter) {
          problems.push("G2: no complete copy");
        }
        if (op.kind === "copy" && src !== srcBefore) {
          problems.push("G2: source changed");
        }
        if (i === cuts.length - 1 && (dest !== destAfter || src !== srcAfter)) {
          problems.push("G3: the returned call's result is not on disk");
        }
        if (problems.length > 0) {
          bad++;
          if (bad <= 3) {
            console.log(
              `  cut ${i} (after ${c.after}): ${
                problems.join("; ")
              }\n    src=${src}\n    dest=${dest}`,
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
  `powercut: ${cutsChecked} power cuts checked, ${violations} violations` +
    (values.break ? ` (with ${values.break} broken: violations expected)` : ""),
);
Deno.exit(violations === 0 || values.break ? 0 : 1);
