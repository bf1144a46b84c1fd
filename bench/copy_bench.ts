// Copyright 2026 the safefs authors. MIT license.
/**
 * `deno bench -A bench/copy_bench.ts`: copy() through the public API against
 * `cp` and Deno.copyFile, on a 64 MiB file (page cache warm) and a tree of
 * 1,000 small files, durable and not. Quick figures for development; the
 * acceptance comparison (fresh ext4, medians, ratios) is `deno task
 * bench:compare`.
 *
 * The backend is whatever `SAFEFS_BACKEND` says (printed below); `deno task
 * bench:path` runs every bench with `SAFEFS_BACKEND=path`.
 *
 * @module
 */
import { copy } from "../mod.ts";

console.log(
  `safefs backend: SAFEFS_BACKEND=${
    Deno.env.get("SAFEFS_BACKEND") ?? "(unset: the library's default)"
  }`,
);

function makeFile(path: string, bytes: number): void {
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  const buf = new Uint8Array(Math.min(bytes, 16 << 20));
  crypto.getRandomValues(buf.subarray(0, 65536));
  for (let i = 65536; i < buf.length; i += 65536) buf.copyWithin(i, 0, 65536);
  for (let off = 0; off < bytes; off += buf.length) {
    buf[0] = (off >> 20) & 0xff; // every chunk differs a little
    f.writeSync(buf.subarray(0, Math.min(buf.length, bytes - off)));
  }
  f.close();
}

async function run(cmd: string, args: string[]): Promise<void> {
  const r = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
}

function rm(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch {
    // not there
  }
}

const dir = Deno.makeTempDirSync({
  dir: "/var/tmp",
  prefix: "safefs-bench-copy-",
});
const SIZE = 64 << 20;
const src = `${dir}/src`;
makeFile(src, SIZE);
new Deno.Command("cat", { args: [src], stdout: "null" }).outputSync();
const tree = `${dir}/tree`;
Deno.mkdirSync(tree);
for (let d = 0; d < 10; d++) {
  Deno.mkdirSync(`${tree}/d${d}`);
  for (let f = 0; f < 100; f++) {
    Deno.writeTextFileSync(`${tree}/d${d}/f${f}`, `file ${d}/${f}\n`);
  }
}
let n = 0;
const fresh = (): string => `${dir}/out${n++}`;
// Tree copies are moved aside, not deleted, until the end: /var/tmp may be on
// an ext4 without a journal (this machine's is), which scans past inodes
// freed in the last seconds on every create, so each contender would pay for
// the deletions of the one before it.
const kept = `${dir}/kept`;
Deno.mkdirSync(kept);
const aside = (path: string): void =>
  Deno.renameSync(path, `${kept}/${crypto.randomUUID()}`);

const FILE = "64 MiB file, same fs, not durable";
Deno.bench({
  name: "cp (coreutils)",
  group: FILE,
  baseline: true,
  async fn(b: Deno.BenchContext): Promise<void> {
    const d = fresh();
    b.start();
    await run("cp", [src, d]);
    b.end();
    rm(d);
  },
});
Deno.bench({
  name: "Deno.copyFile (no checks, no temp)",
  group: FILE,
  async fn(b: Deno.BenchContext): Promise<void> {
    const d = fresh();
    b.start();
    await Deno.copyFile(src, d);
    b.end();
    rm(d);
  },
});
Deno.bench({
  name: "safefs copy, durable: false",
  group: FILE,
  async fn(b: Deno.BenchContext): Promise<void> {
    const d = fresh();
    b.start();
    await copy(src, d, { durable: false });
    b.end();
    rm(d);
  },
});
Deno.bench({
  name: "safefs copy, durable: false, verify: sha256",
  group: FILE,
  async fn(b: Deno.BenchContext): Promise<void> {
    const d = fresh();
    b.start();
    await copy(src, d, { durable: false, verify: "sha256" });
    b.end();
    rm(d);
  },
});

const DFILE = "64 MiB file, durable";
Deno.bench({
  name: "cp && sync -f (coreutils)",
  group: DFILE,
  baseline: true,
  async fn(b: Deno.BenchContext): Promise<void> {
    const d = fresh();
    b.start();
    await run("cp", [src, d]);
    await run("sync", ["-f", d]);
    b.end();
    rm(d);
  },
});
Deno.bench({
  name: "safefs copy (durable)",
  group: DFILE,
  async fn(b: Deno.BenchContext): Promise<void> {
    const d = fresh();
    b.start();
    await copy(src, d);
    b.end();
    rm(d);
  },
});

for (const durable of [false, true]) {
  const group = `tree of 1,000 small files, ${
    durable ? "durable" : "not durable"
  }`;
  Deno.bench({
    name: durable ? "cp -a && sync -f (coreutils)" : "cp -a (coreutils)",
    group,
    baseline: true,
    async fn(b: Deno.BenchContext): Promise<void> {
      const d = fresh();
      b.start();
      await run("cp", ["-a", tree, d]);
      if (durable) await run("sync", ["-f", d]);
      b.end();
      aside(d);
    },
  });
  Deno.bench({
    name: durable ? "safefs copy (durable)" : "safefs copy, durable: false",
    group,
    async fn(b: Deno.BenchContext): Promise<void> {
      const d = fresh();
      b.start();
      await copy(tree, d, { durable });
      b.end();
      aside(d);
    },
  });
}

globalThis.addEventListener("unload", () => rm(dir));
