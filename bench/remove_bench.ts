// Copyright 2026 the safefs authors. MIT license.
/**
 * `deno bench -A bench/remove_bench.ts`: remove() through the public API
 * against `rm -rf` and Deno.remove(recursive), on a tree of 10,000 empty
 * files in 3 levels (10 x 10 x 10 directories, 10 files in each leaf), plus
 * two strategy probes (a plain walk with sync calls, and with async calls 16
 * in flight). Each iteration builds a fresh tree outside the timed region.
 *
 * Kept at 10,000 files so `deno task bench` stays short (the 100,000-file
 * group took over 10 minutes); the 100,000-file acceptance comparison is
 * `deno task bench:compare --only remove-tree`, and million-file trees are
 * `deno task bench:scale`.
 *
 * The trees are built in /dev/shm (tmpfs) when it exists: this machine's
 * root filesystem is an ext4 WITHOUT a journal, where creating files just
 * after deleting as many is 5-15x slower (ext4 scans past recently freed
 * inodes), which made each iteration's untimed set-up take 15 s.
 * `SAFEFS_BENCH_FILES` and `SAFEFS_BENCH_DIR` change the size and where the
 * trees are built.
 *
 * @module
 */
import { remove } from "../mod.ts";

const FILES = Number(Deno.env.get("SAFEFS_BENCH_FILES") ?? 10_000);
const DIR = Deno.env.get("SAFEFS_BENCH_DIR") ?? shm();

function shm(): string | undefined {
  try {
    return Deno.statSync("/dev/shm").isDirectory ? "/dev/shm" : undefined;
  } catch {
    return undefined;
  }
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

const GROUP = `remove ${FILES.toLocaleString("en-US")} files in ${
  DIR ?? "the temp dir"
}`;

for (const c of CONTENDERS) {
  Deno.bench({
    name: c.name,
    group: GROUP,
    baseline: c.baseline ?? false,
    n: 5,
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
