// Copyright 2026 the safefs authors. MIT license.
// Speed of remove() against `rm -rf` and Deno.remove(recursive), on a tree of
// 100,000 empty files in 3 levels (10 x 10 x 10 directories, 100 files in
// each leaf).
//
//   deno bench -A bench/remove_bench.ts
//       The `deno bench` view: one group, `rm -rf` as the baseline. Each
//       iteration builds a fresh tree outside the timed region (b.start/b.end).
//   deno run -A bench/remove_bench.ts --compare [--rounds=5] [--files=100000] [--dir=/tmp]
//       The acceptance comparison: every round builds one fresh tree per
//       contender and times them back to back, in a rotating order (paired, so
//       load from other processes hits all of them alike). Prints the median
//       time of each and the median of the per-round ratios to `rm -rf`.
//
// Contenders:
// - `rm -rf` (GNU coreutils: fts, openat/unlinkat), spawned, so its time
//   includes starting a process (~1-2 ms);
// - `Deno.remove(recursive)` (Rust, openat-based; crosses mounts);
// - `safefs remove()` (sync calls, moves each directory aside, checks
//   identities, yields every 8 ms);
// - two strategy probes that show why remove() uses sync calls: the plain
//   walk (readDir, unlink each entry, rmdir) done with sync calls, and done
//   with async calls, 16 in flight.
import { remove } from "../src/remove.ts";

const FILES = Number(
  flag("files") ?? Deno.env.get("SAFEFS_BENCH_FILES") ?? 100_000,
);
const DIR = flag("dir") ?? Deno.env.get("SAFEFS_BENCH_DIR");

function flag(name: string): string | undefined {
  const hit = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return hit?.slice(name.length + 3);
}

/** Builds the 3-level tree (10 x 10 x 10 directories) holding `files` files. */
function makeTree(root: string, files: number): void {
  const perLeaf = Math.max(1, Math.round(files / 1000));
  const empty = new Uint8Array();
  Deno.mkdirSync(root);
  for (let i = 0; i < 10; i++) {
    for (let j = 0; j < 10; j++) {
      for (let k = 0; k < 10; k++) {
        const d = `${root}/d${i}/e${j}/f${k}`;
        Deno.mkdirSync(d, { recursive: true });
        for (let n = 0; n < perLeaf; n++) {
          Deno.writeFileSync(`${d}/file-${n}.txt`, empty);
        }
      }
    }
  }
}

function freshTree(): string {
  const parent = Deno.makeTempDirSync({
    prefix: "safefs-bench-rm-",
    ...(DIR ? { dir: DIR } : {}),
  });
  const root = `${parent}/tree`;
  makeTree(root, FILES);
  // Settle the page cache and the journal outside the timed region.
  new Deno.Command("sync").outputSync();
  return root;
}

function done(root: string): void {
  const parent = root.slice(0, root.lastIndexOf("/"));
  try {
    Deno.lstatSync(root);
    throw new Error(`${root} was not removed`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  Deno.removeSync(parent);
}

async function rmRf(root: string): Promise<void> {
  const out = await new Deno.Command("rm", {
    args: ["-rf", "--", root],
    stdin: "null",
  }).output();
  if (!out.success) throw new Error("rm -rf failed");
}

function syncWalk(root: string): void {
  const todo = [root];
  const dirs: string[] = [];
  while (todo.length > 0) {
    const d = todo.pop()!;
    dirs.push(d);
    for (const e of Deno.readDirSync(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) todo.push(p);
      else Deno.removeSync(p);
    }
  }
  for (let i = dirs.length - 1; i >= 0; i--) Deno.removeSync(dirs[i]);
}

async function asyncWalk(root: string, inFlight: number): Promise<void> {
  const todo = [root];
  const dirs: string[] = [];
  while (todo.length > 0) {
    const d = todo.pop()!;
    dirs.push(d);
    const files: string[] = [];
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) todo.push(p);
      else files.push(p);
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < files.length) await Deno.remove(files[next++]);
      }),
    );
  }
  for (let i = dirs.length - 1; i >= 0; i--) await Deno.remove(dirs[i]);
}

interface Contender {
  name: string;
  run: (root: string) => Promise<unknown> | unknown;
  baseline?: boolean;
}

const CONTENDERS: Contender[] = [
  { name: "rm -rf", run: rmRf, baseline: true },
  {
    name: "Deno.remove(recursive)",
    run: (r) => Deno.remove(r, { recursive: true }),
  },
  { name: "safefs remove()", run: (r) => remove(r) },
  { name: "probe: plain walk, sync calls", run: syncWalk },
  { name: "probe: plain walk, async x16", run: (r) => asyncWalk(r, 16) },
];

const GROUP = `remove ${FILES.toLocaleString("en-US")} files`;

if (import.meta.main && Deno.args.includes("--compare")) {
  const rounds = Number(flag("rounds") ?? 5);
  const times = new Map<string, number[]>(CONTENDERS.map((c) => [c.name, []]));
  const ratios = new Map<string, number[]>(
    CONTENDERS.map((c) => [c.name, []]),
  );
  console.log(
    `${GROUP}, ${rounds} rounds, tree under ${DIR ?? "the temp dir"}`,
  );
  for (let round = 0; round < rounds; round++) {
    const order = CONTENDERS.map((_, i) =>
      CONTENDERS[(i + round) % CONTENDERS.length]
    );
    const row = new Map<string, number>();
    for (const c of order) {
      const root = freshTree();
      const t0 = performance.now();
      await c.run(root);
      const ms = performance.now() - t0;
      done(root);
      row.set(c.name, ms);
      times.get(c.name)!.push(ms);
    }
    const base = row.get("rm -rf")!;
    for (const c of CONTENDERS) {
      ratios.get(c.name)!.push(row.get(c.name)! / base);
    }
    console.log(
      `round ${round + 1}: ` +
        CONTENDERS.map((c) => `${c.name} ${row.get(c.name)!.toFixed(0)} ms`)
          .join(", "),
    );
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  console.log(
    "\ncontender                        median ms   median ratio to rm -rf",
  );
  for (const c of CONTENDERS) {
    console.log(
      `${c.name.padEnd(32)} ${
        median(times.get(c.name)!).toFixed(0).padStart(9)
      }   ${median(ratios.get(c.name)!).toFixed(2)}x`,
    );
  }
} else {
  for (const c of CONTENDERS) {
    Deno.bench({
      name: c.name,
      group: GROUP,
      baseline: c.baseline ?? false,
      n: 3,
      warmup: 1,
      async fn(b): Promise<void> {
        const root = freshTree();
        b.start();
        await c.run(root);
        b.end();
        done(root);
      },
    });
  }
}
