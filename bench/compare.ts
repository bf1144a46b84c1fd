// Copyright 2026 the safefs authors. MIT license.
/**
 * `deno task bench:compare [--quick] [--reps N] [--only NAME,...]`
 *
 * Runs safefs and what a user would use instead (coreutils, Deno built-ins,
 * fs-extra, rimraf, write-file-atomic) on the same fixtures, alternately,
 * several times each, and prints a markdown table of medians and ratios
 * (safefs / contender), also written to bench/RESULTS.md with the machine,
 * the Deno version and the date. Peers do not fsync; safefs is reported
 * durable and non-durable separately. fsync counts per durable operation are
 * counted through the _sys seam and shown next to the contract's minimum.
 *
 * Never part of the test suite.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { parseArgs } from "node:util";
// @ts-types="@types/fs-extra"
import fse from "fs-extra";
import { rimraf } from "rimraf";
// @ts-types="@types/write-file-atomic"
import writeFileAtomic from "write-file-atomic";
import { copy, move, remove, writeFile } from "../mod.ts";
import { setSysHook } from "../src/_sys.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean" },
    reps: { type: "string" },
    only: { type: "string" },
    out: {
      type: "string",
      default: new URL("./RESULTS.md", import.meta.url).pathname,
    },
  },
});
const QUICK = flags.quick === true;
const REPS = Number(flags.reps ?? (QUICK ? 3 : 5));
const ONLY = flags.only ? new Set(flags.only.split(",")) : null;

const MiB = 1024 * 1024;
const BIG = QUICK ? 256 * MiB : 1024 * MiB;
const TREE_FILES = QUICK ? 2_000 : 10_000;
const RM_FILES = QUICK ? 20_000 : 100_000;
const WRITES = QUICK ? 2_000 : 10_000;

const disk = Deno.makeTempDirSync({ prefix: "safefs-cmp-" });
/** Where outputs wait until the end of the run (see the copy-tree reset). */
const trash = `${disk}/trash`;
Deno.mkdirSync(trash);
const shm = (() => {
  try {
    const d = Deno.makeTempDirSync({ dir: "/dev/shm", prefix: "safefs-cmp-" });
    if (Deno.statSync(d).dev !== Deno.statSync(disk).dev) return d;
    Deno.removeSync(d);
  } catch {
    // no /dev/shm
  }
  return null;
})();

function sh(cmd: string, ...args: string[]): void {
  const r = new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" })
    .outputSync();
  if (!r.success) {
    throw new Error(
      `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`,
    );
  }
}

function makeBig(path: string): void {
  const chunk = new Uint8Array(4 * MiB);
  crypto.getRandomValues(chunk.subarray(0, 65536));
  for (let i = 65536; i < chunk.length; i += 65536) {
    chunk.copyWithin(i, 0, 65536);
  }
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  for (let off = 0; off < BIG; off += chunk.length) f.writeSync(chunk);
  f.close();
}

/** A 3-level tree of `n` small files (10 x 10 x n/100). */
function makeTree(root: string, n: number): void {
  const per = Math.max(1, Math.floor(n / 100));
  const payload = new TextEncoder().encode("x".repeat(100));
  for (let a = 0; a < 10; a++) {
    for (let b = 0; b < 10; b++) {
      const dir = `${root}/d${a}/e${b}`;
      Deno.mkdirSync(dir, { recursive: true });
      for (let c = 0; c < per; c++) Deno.writeFileSync(`${dir}/f${c}`, payload);
    }
  }
}

interface Contender {
  name: string;
  safefs?: boolean;
  durable?: boolean;
  /** Prepares inputs (untimed); returns the timed action. */
  setup: () => () => Promise<unknown>;
}
interface Workload {
  id: string;
  title: string;
  contenders: Contender[];
  /** Runs after each timed action (untimed). */
  reset: () => void;
  note?: string;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? s[(s.length - 1) / 2]
    : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const workloads: Workload[] = [];

/** mv, fs-extra and safefs moving `src` to `dst`, each after `prep()`. */
function moveContenders(
  prep: () => void,
  src: string,
  dst: string,
): Contender[] {
  return [
    {
      name: "mv",
      setup: () => (prep(), () => Promise.resolve(sh("mv", src, dst))),
    },
    { name: "fs-extra move", setup: () => (prep(), () => fse.move(src, dst)) },
    {
      name: "safefs move (durable)",
      safefs: true,
      durable: true,
      setup: () => (prep(), () => move(src, dst)),
    },
    {
      name: "safefs move (durable: false)",
      safefs: true,
      setup: () => (prep(), () => move(src, dst, { durable: false })),
    },
  ];
}

// 1. Copy a large file on one filesystem.
{
  const src = `${disk}/big.bin`;
  const dst = `${disk}/big-copy.bin`;
  workloads.push({
    id: "copy-big",
    title: `copy ${BIG / MiB} MiB file, same fs (page cache warm)`,
    reset: () => {
      try {
        Deno.removeSync(dst);
      } catch { /* absent */ }
    },
    contenders: [
      { name: "cp", setup: () => () => Promise.resolve(sh("cp", src, dst)) },
      { name: "Deno.copyFile", setup: () => () => Deno.copyFile(src, dst) },
      { name: "fs-extra copy", setup: () => () => fse.copy(src, dst) },
      {
        name: "safefs copy (durable)",
        safefs: true,
        durable: true,
        setup: () => () => copy(src, dst),
      },
      {
        name: "safefs copy (durable: false)",
        safefs: true,
        setup: () => () => copy(src, dst, { durable: false }),
      },
    ],
  });
}

// 2. Move a large file across filesystems.
if (shm) {
  const src = `${disk}/big-mv.bin`;
  const dst = `${shm}/big-mv.bin`;
  const seed = `${disk}/big.bin`;
  const prep = (): void => {
    try {
      Deno.removeSync(dst);
    } catch { /* absent */ }
    sh("cp", seed, src);
  };
  workloads.push({
    id: "move-big-xfs",
    title: `move ${BIG / MiB} MiB file, disk -> /dev/shm`,
    reset: () => {},
    contenders: moveContenders(prep, src, dst),
  });
}

// 3. Copy a tree of small files.
{
  const src = `${disk}/tree`;
  const dst = `${disk}/tree-copy`;
  workloads.push({
    id: "copy-tree",
    title: `copy tree of ${TREE_FILES.toLocaleString("en")} files, same fs`,
    // Each copy is moved aside, not deleted, until the end of the run: ext4
    // will not reuse an inode freed in the last ~30 s and scans past every
    // one of them on each create (recently_deleted() in find_inode_bit()),
    // so creating 10,000 files right after deleting 10,000 costs 5-15x more
    // kernel time, for every contender, and measures that scan instead.
    reset: () => {
      try {
        Deno.renameSync(dst, `${trash}/${crypto.randomUUID()}`);
      } catch { /* absent */ }
    },
    note: "each copy is kept (moved aside) until the end of the run: " +
      "creating files on ext4 just after deleting as many is dominated by " +
      "its scan past recently freed inodes, which is not what this measures",
    contenders: [
      {
        name: "cp -a",
        setup: () => () => Promise.resolve(sh("cp", "-a", src, dst)),
      },
      { name: "fs-extra copy", setup: () => () => fse.copy(src, dst) },
      {
        name: "safefs copy (durable)",
        safefs: true,
        durable: true,
        setup: () => () => copy(src, dst),
      },
      {
        name: "safefs copy (durable: false)",
        safefs: true,
        setup: () => () => copy(src, dst, { durable: false }),
      },
    ],
  });
}

// 4. Move a tree across filesystems.
if (shm) {
  const src = `${disk}/tree-mv`;
  const dst = `${shm}/tree-mv`;
  const prep = (): void => {
    try {
      Deno.removeSync(dst, { recursive: true });
    } catch { /* absent */ }
    sh("cp", "-a", `${disk}/tree`, src);
  };
  workloads.push({
    id: "move-tree-xfs",
    title: `move tree of ${
      TREE_FILES.toLocaleString("en")
    } files, disk -> /dev/shm`,
    reset: () => {},
    contenders: moveContenders(prep, src, dst),
  });
}

// 5. Remove a large tree.
{
  const victim = `${disk}/rm-tree`;
  const prep = (): void => sh("cp", "-a", `${disk}/rm-template`, victim);
  workloads.push({
    id: "remove-tree",
    title: `remove tree of ${RM_FILES.toLocaleString("en")} files (3 levels)`,
    reset: () => {},
    contenders: [
      {
        name: "rm -rf",
        setup: () => (prep(), () => Promise.resolve(sh("rm", "-rf", victim))),
      },
      {
        name: "Deno.remove recursive",
        setup: () => (prep(), () => Deno.remove(victim, { recursive: true })),
      },
      { name: "rimraf", setup: () => (prep(), () => rimraf(victim)) },
      {
        name: "fs-extra remove",
        setup: () => (prep(), () => fse.remove(victim)),
      },
      {
        name: "safefs remove",
        safefs: true,
        setup: () => (prep(), () => remove(victim)),
      },
    ],
  });
}

// 6. Many small atomic writes.
{
  const dir = `${disk}/writes`;
  Deno.mkdirSync(dir, { recursive: true });
  const data = new TextEncoder().encode(
    JSON.stringify({ hello: "world", n: 42 }),
  );
  const loop = (f: (p: string) => Promise<unknown>) => async () => {
    for (let i = 0; i < WRITES; i++) await f(`${dir}/f${i % 100}.json`);
  };
  workloads.push({
    id: "small-writes",
    title: `${
      WRITES.toLocaleString("en")
    } small atomic writes (100 names, replaced)`,
    reset: () => {},
    note: "Deno.writeFile is not atomic (truncates in place); it is the floor.",
    contenders: [
      {
        name: "Deno.writeFile (not atomic)",
        setup: () => loop((p) => Deno.writeFile(p, data)),
      },
      {
        name: "write-file-atomic (fsync)",
        setup: () => loop((p) => writeFileAtomic(p, Buffer.from(data))),
      },
      {
        name: "write-file-atomic (fsync: false)",
        setup: () =>
          loop((p) => writeFileAtomic(p, Buffer.from(data), { fsync: false })),
      },
      {
        name: "safefs writeFile (durable)",
        safefs: true,
        durable: true,
        setup: () => loop((p) => writeFile(p, data)),
      },
      {
        name: "safefs writeFile (durable: false)",
        safefs: true,
        setup: () => loop((p) => writeFile(p, data, { durable: false })),
      },
    ],
  });
}

// 7. Durable move latency on one filesystem.
{
  let n = 0;
  const prep = (): [string, string] => {
    const a = `${disk}/lat-a${n}`, b = `${disk}/lat-b${n}`;
    n++;
    Deno.writeTextFileSync(a, "payload");
    return [a, b];
  };
  const N = QUICK ? 100 : 300;
  workloads.push({
    id: "move-latency",
    title: `durable move latency, same fs (${N} moves)`,
    reset: () => {},
    contenders: [
      {
        name: "Deno.rename (no fsync)",
        setup: () => {
          const pairs = Array.from({ length: N }, prep);
          return async () => {
            for (const [a, b] of pairs) await Deno.rename(a, b);
          };
        },
      },
      {
        name: "fs-extra move (no fsync)",
        setup: () => {
          const pairs = Array.from({ length: N }, prep);
          return async () => {
            for (const [a, b] of pairs) await fse.move(a, b);
          };
        },
      },
      {
        name: "safefs move (durable)",
        safefs: true,
        durable: true,
        setup: () => {
          const pairs = Array.from({ length: N }, prep);
          return async () => {
            for (const [a, b] of pairs) await move(a, b);
          };
        },
      },
      {
        name: "safefs move (durable: false)",
        safefs: true,
        setup: () => {
          const pairs = Array.from({ length: N }, prep);
          return async () => {
            for (const [a, b] of pairs) await move(a, b, { durable: false });
          };
        },
      },
    ],
  });
}

// Fixtures.
console.error(`fixtures in ${disk}${shm ? ` and ${shm}` : ""} ...`);
makeBig(`${disk}/big.bin`);
makeTree(`${disk}/tree`, TREE_FILES);
makeTree(`${disk}/rm-template`, RM_FILES);

/** fsync and fsyncDir calls made by one run of `f`. */
async function countFsyncs(f: () => Promise<unknown>): Promise<number> {
  let count = 0;
  const restore = setSysHook((c) => {
    if (c.op === "fsync" || c.op === "fsyncDir") count++;
  });
  try {
    await f();
  } finally {
    restore();
  }
  return count;
}

const rows: string[] = [];
const fsyncRows: string[] = [];
for (const w of workloads) {
  if (ONLY && !ONLY.has(w.id)) continue;
  const times = new Map<string, number[]>(
    w.contenders.map((c) => [c.name, []]),
  );
  for (let rep = 0; rep < REPS; rep++) {
    // Alternate the order every repetition.
    const order = rep % 2 === 0 ? w.contenders : [...w.contenders].reverse();
    for (const c of order) {
      const action = c.setup();
      // Untimed: write back what the setup (or the previous contender) left
      // dirty, so that no contender pays for another's writeback.
      sh("sync");
      const t0 = performance.now();
      await action();
      times.get(c.name)!.push(performance.now() - t0);
      w.reset();
    }
  }
  const med = new Map([...times].map(([k, v]) => [k, median(v)]));
  const peers = w.contenders.filter((c) => !c.safefs);
  const header = `| ${w.title} | median ms | ${
    peers.map((p) => `÷ ${p.name}`).join(" | ")
  } |`;
  rows.push("", header, `|---|---:|${peers.map(() => "---:").join("|")}|`);
  for (const c of w.contenders) {
    const m = med.get(c.name)!;
    const ratios = c.safefs
      ? peers.map((p) => (m / med.get(p.name)!).toFixed(2) + "×")
      : peers.map(() => "");
    rows.push(`| ${c.name} | ${m.toFixed(1)} | ${ratios.join(" | ")} |`);
  }
  if (w.note) rows.push("", `_${w.note}_`);
  // Printed as soon as known, so a long run interrupted later still reports.
  console.error(
    `done: ${w.title}\n${rows.slice(rows.indexOf(header)).join("\n")}\n`,
  );
}

// fsync counts per durable operation, against the contract's minimum.
{
  const d = `${disk}/fsync`;
  Deno.mkdirSync(`${d}/sub`, { recursive: true });
  Deno.writeTextFileSync(`${d}/a`, "a");
  fsyncRows.push(
    "| durable operation | fsyncs (file + dir) | contract minimum |",
    "|---|---:|---|",
  );
  fsyncRows.push(
    `| move, same fs, same dir, overwrite (rename) | ${await countFsyncs(() =>
      move(`${d}/a`, `${d}/b`, { overwrite: true })
    )} | 1 (the directory) |`,
  );
  fsyncRows.push(
    `| move, same fs, other dir (rename) | ${await countFsyncs(() =>
      move(`${d}/b`, `${d}/sub/b`, { overwrite: true })
    )} | 2 (both directories) |`,
  );
  fsyncRows.push(
    `| move, same fs, no-clobber (link + unlink) | ${await countFsyncs(() =>
      move(`${d}/sub/b`, `${d}/c`)
    )} | 2 (dest dir before unlink, src dir after) |`,
  );
  Deno.writeTextFileSync(`${d}/w`, "w");
  fsyncRows.push(
    `| writeFile | ${await countFsyncs(() =>
      writeFile(`${d}/w`, "new")
    )} | 2 (file data, directory) |`,
  );
  fsyncRows.push(
    `| copy file | ${await countFsyncs(() =>
      copy(`${d}/w`, `${d}/w2`)
    )} | 2 (file data, directory) |`,
  );
  if (shm) {
    fsyncRows.push(
      `| move file across fs | ${await countFsyncs(() =>
        move(`${d}/w2`, `${shm}/w2`)
      )} | 3 (file, dest dir, src dir) |`,
    );
    sh("cp", "-a", `${disk}/tree`, `${d}/t`);
    fsyncRows.push(
      `| move ${
        TREE_FILES.toLocaleString("en")
      }-file tree across fs | ${await countFsyncs(() =>
        move(`${d}/t`, `${shm}/t`)
      )} | files + dirs of the copy + dest dir + src dir (${
        TREE_FILES + 111 + 2
      }) |`,
    );
  }
}

// Where the time goes in the tree workloads: seam calls per file, by call.
const callRows: string[] = [];
{
  const perFile = async (f: () => Promise<unknown>): Promise<string[]> => {
    const counts = new Map<string, number>();
    const restore = setSysHook((c) => {
      counts.set(c.op, (counts.get(c.op) ?? 0) + 1);
    });
    try {
      await f();
    } finally {
      restore();
    }
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const ops = [...counts].sort((a, b) => b[1] - a[1])
      .filter(([, n]) => n >= TREE_FILES / 2)
      .map(([op, n]) => `${op} ${(n / TREE_FILES).toFixed(1)}`).join(", ");
    return [(total / TREE_FILES).toFixed(1), ops];
  };
  const d = `${disk}/calls`;
  Deno.mkdirSync(d);
  callRows.push(
    "| operation | seam calls per file | the main ones, per file |",
    "|---|---:|---|",
  );
  for (const durable of [false, true]) {
    const [n, ops] = await perFile(() =>
      copy(`${disk}/tree`, `${d}/c${durable}`, { durable })
    );
    callRows.push(`| copy tree, durable: ${durable} | ${n} | ${ops} |`);
  }
  if (shm) {
    for (const durable of [false, true]) {
      sh("cp", "-a", `${disk}/tree`, `${d}/m${durable}`);
      const [n, ops] = await perFile(() =>
        move(`${d}/m${durable}`, `${shm}/m${durable}`, { durable })
      );
      callRows.push(
        `| move tree across fs, durable: ${durable} | ${n} | ${ops} |`,
      );
    }
  }
}

const cpu = (() => {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)
      ?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
})();
const fsOf = (p: string): string => {
  const r = new Deno.Command("df", { args: ["-T", p], stdout: "piped" })
    .outputSync();
  return new TextDecoder().decode(r.stdout).trim().split("\n")[1]?.split(
    /\s+/,
  )[1] ?? "?";
};
const report = [
  "# safefs benchmark results",
  "",
  `- date: ${new Date().toISOString()}`,
  `- machine: ${cpu}, ${navigator.hardwareConcurrency} cores, ${
    (Deno.systemMemoryInfo().total / 1024 ** 3).toFixed(0)
  } GiB, ${Deno.build.os} ${Deno.osRelease()}`,
  `- deno: ${Deno.version.deno} (V8 ${Deno.version.v8})`,
  `- filesystems: ${disk} (${fsOf(disk)})${
    shm ? `, ${shm} (${fsOf(shm)})` : ""
  }`,
  `- method: median of ${REPS} runs per contender, contenders alternated; fixtures built, and \`sync\` run, outside the timed region`,
  `- reproduce: \`deno task bench:compare${QUICK ? " --quick" : ""}\``,
  "- peers (cp, mv, fs-extra, rimraf, Deno built-ins) do not fsync; write-file-atomic fsyncs by default.",
  "- ratio = safefs time ÷ contender time (below 1 = safefs faster).",
  ...rows,
  "",
  "## fsyncs per durable operation",
  "",
  ...fsyncRows,
  "",
  "## Seam calls per file in the tree workloads",
  "",
  "Every filesystem call safefs makes goes through src/_sys.ts; counted there.",
  "Files of up to 64 KiB are read with synchronous calls (~1-6 µs of Deno",
  "overhead each) and, when not durable, created with their data in one",
  "off-thread call (createFile); larger files and fsyncs use async calls",
  "(~20-200 µs of thread hand-off each). `cp -a` makes ~17 syscalls per file",
  "here, at ~1 µs each from C.",
  "",
  ...callRows,
  "",
].join("\n");
console.log(report);
Deno.writeTextFileSync(flags.out!, report);
Deno.removeSync(disk, { recursive: true });
if (shm) Deno.removeSync(shm, { recursive: true });
