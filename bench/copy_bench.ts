// Copyright 2026 the safefs authors. MIT license.
// Throughput of copy() and of the strategies its engine can use.
//
//   deno bench -A bench/copy_bench.ts
//       64 MiB files and a 1,000-file tree, each strategy against `cp`.
//   deno run -A bench/copy_bench.ts --compare [--mib=1024] [--rounds=8] [--dir=/var/tmp]
//       The acceptance comparison: a 1 GiB file on one filesystem, page cache
//       warm, `cp` and each safefs strategy timed alternately in one run
//       (paired, so load from other processes hits both sides alike; `sync`
//       before each run, so no run pays for the previous one's writeback). Prints
//       per-strategy median time and the median of the per-round ratios
//       cp_time / safefs_time (>= 0.9 is the target).
//
// Strategies:
// - "loop N": the handle loop (read from the checked source handle, write to
//   the temp) with an N-byte buffer;
// - "kernel": copy_file_range through the seam's `copyFile` (Deno.copyFile)
//   with identity re-verification. If the seam has no `copyFile`, the bench
//   installs a stand-in with the same behaviour and says so.
import { copy } from "../src/copy.ts";
import { tuning } from "../src/_copy.ts";
import { sys } from "../src/_sys.ts";
import { toSafeFsError } from "../src/_errno.ts";

const seam = sys as { copyFile?: (a: string, b: string) => Promise<void> };
const realSeamCopy = seam.copyFile;
const standIn = async (a: string, b: string): Promise<void> => {
  try {
    await Deno.copyFile(a, b);
  } catch (e) {
    throw toSafeFsError(e, { op: "copyFile", path: a, dest: b });
  }
};
const KERNEL_LABEL = realSeamCopy
  ? "kernel (sys.copyFile)"
  : "kernel (sys.copyFile stand-in)";

type Strategy = { name: string; set: () => void };
const defaults = { ...tuning };
function strategies(): Strategy[] {
  const loop = (size: number): Strategy => ({
    name: `loop ${size >= 1 << 20 ? `${size >> 20} MiB` : `${size >> 10} KiB`}`,
    set: () => {
      Object.assign(tuning, defaults, {
        chunkSize: size,
        kernelCopyMin: Infinity,
      });
    },
  });
  return [
    loop(256 << 10),
    loop(1 << 20),
    loop(4 << 20),
    loop(16 << 20),
    {
      name: KERNEL_LABEL,
      set: () => {
        Object.assign(tuning, defaults);
        seam.copyFile = realSeamCopy ?? standIn;
      },
    },
  ];
}

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

function warm(path: string): void {
  new Deno.Command("cat", { args: [path], stdout: "null" }).outputSync();
}

async function cp(args: string[]): Promise<void> {
  const r = await new Deno.Command("cp", { args, stderr: "piped" }).output();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
}

function rm(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch {
    // not there
  }
}

// ---------------------------------------------------------------------------
// --compare: the 1 GiB side-by-side run
// ---------------------------------------------------------------------------
async function compare(args: string[]): Promise<void> {
  const opt = (k: string, d: string): string =>
    args.find((a) => a.startsWith(`--${k}=`))?.split("=")[1] ?? d;
  const mib = Number(opt("mib", "1024"));
  const rounds = Number(opt("rounds", "8"));
  const dir = Deno.makeTempDirSync({
    dir: opt("dir", "/var/tmp"),
    prefix: "safefs-bench-",
  });
  const src = `${dir}/src`, dst = `${dir}/dst`;
  try {
    makeFile(src, mib << 20);
    warm(src);
    const list = strategies();
    const times: Record<string, number[]> = { cp: [] };
    const ratios: Record<string, number[]> = {};
    const timed = async (f: () => Promise<unknown>): Promise<number> => {
      rm(dst);
      // Start every run from the same state: no dirty pages of an earlier
      // output still being written back (that throttles whoever runs next).
      new Deno.Command("sync").outputSync();
      const t = performance.now();
      await f();
      const ms = performance.now() - t;
      rm(dst);
      return ms;
    };
    for (let r = 0; r < rounds; r++) {
      for (const s of list) {
        s.set();
        const ours = (): Promise<unknown> => copy(src, dst, { durable: false });
        const theirs = (): Promise<unknown> => cp([src, dst]);
        // Alternate who goes first, so neither always runs on a warmer cache.
        let a: number, b: number;
        if (r % 2 === 0) {
          a = await timed(theirs);
          b = await timed(ours);
        } else {
          b = await timed(ours);
          a = await timed(theirs);
        }
        times.cp.push(a);
        (times[s.name] ??= []).push(b);
        (ratios[s.name] ??= []).push(a / b);
      }
    }
    Object.assign(tuning, defaults);
    if (realSeamCopy === undefined) delete seam.copyFile;
    const median = (v: number[]): number => {
      const s = [...v].sort((x, y) => x - y);
      const m = s.length >> 1;
      return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
    };
    const load = Deno.readTextFileSync("/proc/loadavg").split(" ")
      .slice(0, 3).join(" ");
    console.log(
      `${mib} MiB file, ${rounds} rounds, ${dir} (load average ${load})`,
    );
    console.log(
      `${"strategy".padEnd(34)} ${"median ms".padStart(10)} ${
        "MiB/s".padStart(7)
      }  cp/safefs per round (median)`,
    );
    for (const [name, v] of Object.entries(times)) {
      const m = median(v);
      const ratio = ratios[name]
        ? `${median(ratios[name]).toFixed(2)}  [${
          ratios[name].map((x) => x.toFixed(2)).join(" ")
        }]`
        : "";
      console.log(
        `${name.padEnd(34)} ${m.toFixed(0).padStart(10)} ${
          (mib / (m / 1000)).toFixed(0).padStart(7)
        }  ${ratio}`,
      );
    }
  } finally {
    rm(dir);
  }
}

if (Deno.args.includes("--compare")) {
  await compare(Deno.args);
} else {
  // -------------------------------------------------------------------------
  // deno bench
  // -------------------------------------------------------------------------
  const dir = Deno.makeTempDirSync({
    dir: "/var/tmp",
    prefix: "safefs-bench-copy-",
  });
  const SIZE = 64 << 20;
  const src = `${dir}/src`;
  makeFile(src, SIZE);
  warm(src);
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
  // Tree copies are moved aside, not deleted, until the end: ext4 scans past
  // inodes freed in the last minute or so on every create, which would make
  // each contender pay for the deletions of the one that ran before it.
  const kept = `${dir}/kept`;
  Deno.mkdirSync(kept);
  const aside = (path: string): void =>
    Deno.renameSync(path, `${kept}/${crypto.randomUUID()}`);

  Deno.bench({
    name: "cp (coreutils)",
    group: "64 MiB file, same fs, not durable",
    baseline: true,
    async fn(b: Deno.BenchContext): Promise<void> {
      const d = fresh();
      b.start();
      await cp([src, d]);
      b.end();
      rm(d);
    },
  });
  Deno.bench({
    name: "Deno.copyFile (no checks, no temp)",
    group: "64 MiB file, same fs, not durable",
    async fn(b: Deno.BenchContext): Promise<void> {
      const d = fresh();
      b.start();
      await Deno.copyFile(src, d);
      b.end();
      rm(d);
    },
  });
  for (const s of strategies()) {
    Deno.bench({
      name: `safefs copy, ${s.name}`,
      group: "64 MiB file, same fs, not durable",
      async fn(b: Deno.BenchContext): Promise<void> {
        const d = fresh();
        s.set();
        b.start();
        await copy(src, d, { durable: false });
        b.end();
        Object.assign(tuning, defaults);
        if (realSeamCopy === undefined) delete seam.copyFile;
        rm(d);
      },
    });
  }
  Deno.bench({
    name: "safefs copy, verify: sha256",
    group: "64 MiB file, same fs, not durable",
    async fn(b: Deno.BenchContext): Promise<void> {
      const d = fresh();
      b.start();
      await copy(src, d, { durable: false, verify: "sha256" });
      b.end();
      rm(d);
    },
  });

  Deno.bench({
    name: "cp + sync -f (coreutils)",
    group: "64 MiB file, durable",
    baseline: true,
    async fn(b: Deno.BenchContext): Promise<void> {
      const d = fresh();
      b.start();
      await cp([src, d]);
      await new Deno.Command("sync", { args: ["-f", d] }).output();
      b.end();
      rm(d);
    },
  });
  Deno.bench({
    name: "safefs copy (durable: file fsync + dir fsync)",
    group: "64 MiB file, durable",
    async fn(b: Deno.BenchContext): Promise<void> {
      const d = fresh();
      b.start();
      await copy(src, d);
      b.end();
      rm(d);
    },
  });

  Deno.bench({
    name: "cp -a (coreutils)",
    group: "tree of 1,000 small files, not durable",
    baseline: true,
    async fn(b: Deno.BenchContext): Promise<void> {
      const d = fresh();
      b.start();
      await cp(["-a", tree, d]);
      b.end();
      aside(d);
    },
  });
  Deno.bench({
    name: "safefs copy",
    group: "tree of 1,000 small files, not durable",
    async fn(b: Deno.BenchContext): Promise<void> {
      const d = fresh();
      b.start();
      await copy(tree, d, { durable: false });
      b.end();
      aside(d);
    },
  });
  Deno.bench({
    name: "safefs copy, durable",
    group: "tree of 1,000 small files, durable",
    async fn(b: Deno.BenchContext): Promise<void> {
      const d = fresh();
      b.start();
      await copy(tree, d);
      b.end();
      aside(d);
    },
  });

  globalThis.addEventListener("unload", () => rm(dir));
}
