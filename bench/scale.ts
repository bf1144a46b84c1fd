// Copyright 2026 the safefs authors. MIT license.
/**
 * `deno task bench:scale [--max N] [--sizes 10000,...] [--flat | --no-flat]
 *   [--fs tmpfs,ext4] [--ops copy,move,remove] [--backends default,path]
 *   [--reps N] [--label NAME] [--note TEXT] [--merge]`
 *
 * Million-file trees (issue 18): copy (durable: false and durable), move
 * across filesystems (tmpfs -> ext4 image and back) and remove of trees of
 * 10k, 100k, 200k and 1M empty files in directories of 1,000 (and one flat
 * directory of 200k), each measurement in its own process: its time, the
 * whole process's max RSS (`/usr/bin/time -f %M`), the RSS above an idle
 * Deno that has loaded safefs (per entry), and when the first progress
 * callback fired. Beside `cp -a`, `mv` and `rm -rf` on the same trees.
 *
 * Filesystems, when root: a tmpfs mounted for the purpose, and a fresh ext4
 * image (sparse file, loop device, default mount options: data=ordered).
 * Copies of one (size, filesystem) share one source tree and each copy is
 * deleted (untimed) before the next; every remove and move gets freshly made
 * filesystems. Not root: /dev/shm and a temp dir, said in the results.
 *
 * Written to bench/RESULTS.md (section `scale:<label>`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  type Backend,
  backendEnv,
  buildTree,
  dirPlace,
  ext4Journal,
  ext4Place,
  fmtInt,
  IS_ROOT,
  machineLines,
  measure,
  median,
  mountOf,
  type Place,
  releaseAll,
  runnerArgv,
  sh,
  syncAll,
  table,
  tmpfsPlace,
  writeSection,
} from "./_util.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    max: { type: "string" },
    sizes: { type: "string", default: "10000,100000,200000,1000000" },
    "no-flat": { type: "boolean" },
    fs: { type: "string", default: "tmpfs,ext4" },
    ops: { type: "string", default: "copy,move,remove" },
    backends: { type: "string", default: "default,path" },
    reps: { type: "string", default: "1" },
    label: { type: "string", default: "latest" },
    note: { type: "string" },
    merge: { type: "boolean" },
    out: {
      type: "string",
      default: new URL("./RESULTS.md", import.meta.url).pathname,
    },
  },
});
const MAX = Number(flags.max ?? Infinity);
const BACKENDS = flags.backends!.split(",") as Backend[];
const FS = flags.fs!.split(",") as ("tmpfs" | "ext4")[];
const OPS = new Set(flags.ops!.split(","));
const PER_DIR = 1000;
/** Repetitions per measurement (medians); 1M-entry trees always run once. */
const REPS = Number(flags.reps);

interface Shape {
  label: string;
  files: number;
  perDir: number;
}
const shapes: Shape[] = flags.sizes!.split(",").map(Number)
  .filter((n) => n <= MAX)
  .map((n) => ({ label: `${fmtShort(n)}`, files: n, perDir: PER_DIR }));
if (!flags["no-flat"] && 200_000 <= MAX) {
  const i = shapes.findIndex((s) => s.files > 200_000);
  shapes.splice(i < 0 ? shapes.length : i, 0, {
    label: "200k flat",
    files: 200_000,
    perDir: 0,
  });
}

function fmtShort(n: number): string {
  return n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : String(n);
}

const parent = Deno.makeTempDirSync({
  dir: "/var/tmp",
  prefix: "safefs-scale-",
});

/** A fresh place of kind `fs` sized for `entries` (and a copy of them). */
function place(fs: "tmpfs" | "ext4", entries: number): Place {
  if (fs === "tmpfs") {
    const p = tmpfsPlace(parent);
    if (!p) throw new Error("no tmpfs (not root and no /dev/shm)");
    return p;
  }
  if (!IS_ROOT) return dirPlace(parent, false);
  return ext4Place(parent, {
    inodes: Math.max(1 << 20, Math.ceil(entries * 2.2) + 65536),
  });
}

interface Result {
  shape: string;
  files: number;
  entries: number;
  fs: string;
  op: string;
  tool: string;
  backend?: Backend;
  opMs?: number;
  wallMs?: number;
  rssKiB?: number;
  cpuS?: number;
  firstProgressMs?: number | null;
  error?: string;
}
const raw: Result[] = [];
const idle = new Map<Backend, number>();

function exists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
/** The last file of a tree built by buildTree. */
function lastFile(root: string, s: Shape): string {
  if (s.perDir === 0) return `${root}/f${s.files - 1}`;
  const d = Math.floor((s.files - 1) / s.perDir);
  return `${root}/d${d}/f${(s.files - 1) % s.perDir}`;
}

async function run(
  r: Omit<Result, "opMs" | "wallMs" | "rssKiB" | "cpuS">,
  argv: string[],
  env: Record<string, string> | undefined,
  check: () => string | null,
): Promise<void> {
  syncAll();
  const m = await measure(argv, env ? { env } : {});
  const res: Result = {
    ...r,
    wallMs: m.wallMs,
    ...(m.opMs !== undefined ? { opMs: m.opMs } : {}),
    ...(m.maxRssKiB ? { rssKiB: m.maxRssKiB } : {}),
    ...(m.userS !== undefined ? { cpuS: m.userS + (m.sysS ?? 0) } : {}),
    ...(m.out ? { firstProgressMs: m.out.firstProgressMs } : {}),
  };
  if (!m.ok) res.error = m.error ?? "failed";
  else {
    const bad = check();
    if (bad) res.error = `did not do the job: ${bad}`;
  }
  raw.push(res);
  const t = (res.opMs ?? res.wallMs ?? 0) / 1000;
  console.error(
    `${r.shape} ${r.fs} ${r.op} ${r.tool}: ${t.toFixed(2)} s, ` +
      `${((res.rssKiB ?? 0) / 1024).toFixed(0)} MiB` +
      (res.firstProgressMs != null
        ? `, first progress ${(res.firstProgressMs / 1000).toFixed(2)} s`
        : "") +
      (res.error ? `  ERROR ${res.error.slice(0, 300)}` : ""),
  );
}

const safefsJob = (
  op: string,
  extra: Record<string, unknown>,
): Record<string, unknown> => ({
  op: `safefs.${op}`,
  progress: true,
  ...extra,
});

async function copies(s: Shape, fs: "tmpfs" | "ext4"): Promise<void> {
  const p = place(fs, s.files);
  try {
    const src = `${p.dir}/src`, dst = `${p.dir}/dst`;
    const entries = buildTree(src, s.files, s.perDir);
    const base = { shape: s.label, files: s.files, entries, fs: p.kind };
    const check = (): string | null =>
      exists(lastFile(dst, s)) ? null : `${lastFile(dst, s)} missing`;
    const clear = (): void => {
      if (exists(dst)) sh("rm", ["-rf", dst]);
    };
    await run(
      { ...base, op: "copy", tool: "cp -a" },
      [
        "cp",
        "-a",
        src,
        dst,
      ],
      undefined,
      check,
    );
    clear();
    for (const durable of [false, true]) {
      for (const b of BACKENDS) {
        await run(
          {
            ...base,
            op: durable ? "copy (durable)" : "copy (durable: false)",
            tool: `safefs [${b}]`,
            backend: b,
          },
          runnerArgv(safefsJob("copy", { src, dst, durable })),
          backendEnv(b),
          check,
        );
        clear();
      }
    }
  } finally {
    p.release();
  }
}

async function removes(s: Shape, fs: "tmpfs" | "ext4"): Promise<void> {
  const tools: (Backend | "rm -rf")[] = ["rm -rf", ...BACKENDS];
  for (const t of tools) {
    const p = place(fs, s.files);
    try {
      const victim = `${p.dir}/victim`;
      const entries = buildTree(victim, s.files, s.perDir);
      const r = {
        shape: s.label,
        files: s.files,
        entries,
        fs: p.kind,
        op: "remove",
        tool: t === "rm -rf" ? t : `safefs (durable) [${t}]`,
        ...(t === "rm -rf" ? {} : { backend: t }),
      };
      const check = (): string | null => exists(victim) ? "still there" : null;
      if (t === "rm -rf") {
        await run(r, ["rm", "-rf", victim], undefined, check);
      } else {
        await run(
          r,
          runnerArgv(safefsJob("remove", { path: victim })),
          backendEnv(t),
          check,
        );
      }
    } finally {
      p.release();
    }
  }
}

async function moves(
  s: Shape,
  from: "tmpfs" | "ext4",
  to: "tmpfs" | "ext4",
): Promise<void> {
  const tools: (Backend | "mv")[] = ["mv", ...BACKENDS];
  for (const t of tools) {
    const a = place(from, s.files);
    let b: Place | null = null;
    try {
      b = place(to, s.files);
      const src = `${a.dir}/src`, dst = `${b.dir}/dst`;
      const entries = buildTree(src, s.files, s.perDir);
      const r = {
        shape: s.label,
        files: s.files,
        entries,
        fs: `${a.kind} -> ${b.kind}`,
        op: "move across fs",
        tool: t === "mv" ? t : `safefs (durable) [${t}]`,
        ...(t === "mv" ? {} : { backend: t }),
      };
      const check = (): string | null =>
        exists(src)
          ? "source left"
          : exists(lastFile(dst, s))
          ? null
          : "destination incomplete";
      if (t === "mv") {
        await run(r, ["mv", src, dst], undefined, check);
      } else {
        await run(
          r,
          runnerArgv(safefsJob("move", { src, dst })),
          backendEnv(t),
          check,
        );
      }
    } finally {
      b?.release();
      a.release();
    }
  }
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

const key = `scale:${flags.label}`;
const started = new Date();
let fsLines: string[] = [];

/** Medians over repetitions, one row per (tree, fs, op, tool). */
function aggregate(): (Result & { n: number })[] {
  const groups = new Map<string, Result[]>();
  for (const r of raw) {
    const k = `${r.shape}|${r.fs}|${r.op}|${r.tool}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((rs) => {
    const ok = rs.filter((r) => !r.error);
    if (ok.length === 0) return { ...rs[0], n: rs.length };
    const med = (f: (r: Result) => number | undefined | null): number =>
      median(ok.map(f).filter((x): x is number => typeof x === "number"));
    const r: Result & { n: number } = { ...ok[0], n: ok.length };
    if (ok[0].opMs !== undefined) r.opMs = med((x) => x.opMs);
    r.wallMs = med((x) => x.wallMs);
    if (ok[0].rssKiB !== undefined) r.rssKiB = med((x) => x.rssKiB);
    if (ok[0].cpuS !== undefined) r.cpuS = med((x) => x.cpuS);
    if (ok.some((x) => x.firstProgressMs != null)) {
      r.firstProgressMs = med((x) => x.firstProgressMs);
    }
    return r;
  });
}

function report(finished: boolean): string {
  const results = aggregate();
  const ms = (r: Result): number => r.opMs ?? r.wallMs ?? NaN;
  const overIdle = (r: Result): number | null =>
    r.rssKiB && r.backend && idle.has(r.backend)
      ? (r.rssKiB - idle.get(r.backend)!) * 1024 / r.entries
      : r.rssKiB && !r.backend
      ? r.rssKiB * 1024 / r.entries
      : null;
  const main = table(
    [
      "tree",
      "entries",
      "filesystem",
      "operation",
      "tool",
      "time s",
      "µs / entry",
      "max RSS MiB",
      "bytes / entry",
      "first progress s",
      "CPU s",
    ],
    results.map((r) =>
      r.error
        ? [
          r.shape,
          fmtInt(r.entries),
          r.fs,
          r.op,
          r.tool,
          `FAILED: ${r.error.slice(0, 200).replace(/[|\n]/g, " ")}`,
          "",
          "",
          "",
          "",
          "",
        ]
        : [
          r.shape,
          fmtInt(r.entries),
          r.fs,
          r.op,
          r.tool,
          (ms(r) / 1000).toFixed(2),
          (ms(r) * 1000 / r.entries).toFixed(1),
          r.rssKiB ? (r.rssKiB / 1024).toFixed(0) : "?",
          overIdle(r)?.toFixed(0) ?? "?",
          r.firstProgressMs == null
            ? (r.backend ? "never" : "")
            : (r.firstProgressMs / 1000).toFixed(2),
          r.cpuS?.toFixed(2) ?? "?",
        ]
    ),
    [false, true, false, false, false, true, true, true, true, true, true],
  );
  // Curves: one row per (filesystem, operation, tool), one column per tree.
  const cols = shapes.map((s) => s.label);
  const curve = (f: (r: Result) => string): string[] => {
    const keys = [...new Set(results.map((r) => `${r.fs}|${r.op}|${r.tool}`))];
    return table(
      ["filesystem", "operation", "tool", ...cols],
      keys.map((k) => {
        const [fs, op, tool] = k.split("|");
        return [
          fs,
          op,
          tool,
          ...cols.map((c) => {
            const r = results.find((r) =>
              r.shape === c && r.fs === fs && r.op === op && r.tool === tool
            );
            return !r ? "" : r.error ? "failed" : f(r);
          }),
        ];
      }),
      [false, false, false, ...cols.map(() => true)],
    );
  };
  // Issue 18's targets, at 200,000 entries.
  const at = results.filter((r) => r.shape === "200k" && r.backend && !r.error);
  const targetLines = at.map((r) => {
    const mb = (r.rssKiB ?? 0) / 1024;
    const prog = r.firstProgressMs == null
      ? "progress never reported"
      : `first progress ${(r.firstProgressMs / 1000).toFixed(2)} s ${
        r.firstProgressMs <= 1000 ? "✓" : "✗"
      }`;
    return `- ${r.fs}, ${r.op}, ${r.tool}: max RSS ${mb.toFixed(0)} MiB ${
      mb <= 150 ? "✓" : "✗"
    } (target ≤ 150), ${prog} (target ≤ 1 s)`;
  });
  const idleLine = [...idle].map(([b, k]) =>
    `[${b}] ${(k / 1024).toFixed(1)} MiB`
  ).join(", ");
  return [
    `## bench:scale, ${flags.label}${finished ? "" : " (run in progress)"}`,
    "",
    ...(flags.note ? [flags.note, ""] : []),
    ...machineLines(),
    ...fsLines,
    `- trees: empty files in directories of ${PER_DIR} (root/dN/fN), and one ` +
    "flat directory (200k flat); entries = files + directories + the root",
    "- each measurement is its own process; safefs runs in `deno run -A` " +
    "through the public API (bench/_runner.ts) with an `onProgress` callback, " +
    "[default] with SAFEFS_BACKEND unset, [path] with SAFEFS_BACKEND=path; " +
    "time s = the call alone for safefs, the whole process for cp/mv/rm; " +
    "CPU s = user + system of the whole process (`/usr/bin/time`)",
    `- bytes / entry = (max RSS − the max RSS of an idle \`deno run\` that ` +
    `imported safefs: ${
      idleLine || "?"
    }) ÷ entries; for cp/mv/rm, max RSS ÷ entries`,
    "- copies of one (tree, filesystem) share one source tree, each copy deleted " +
    "(untimed, then `sync`) before the next; removes and moves get fresh " +
    "filesystems; a global `sync` before each measurement; caches not dropped; " +
    `median of ${REPS} run(s) per row (trees of 1M entries: 1 run)`,
    ...[...runs, thisRun(finished)].map((r) => `- run: ${r}`),
    "",
    "### Issue 18 targets at 200,000 entries (whole-process max RSS)",
    "",
    ...(targetLines.length ? targetLines : ["- (no 200k run yet)"]),
    "",
    "### Time per entry (µs) by tree size",
    "",
    ...curve((r) => (ms(r) * 1000 / r.entries).toFixed(1)),
    "",
    "### Memory: bytes per entry above an idle Deno, by tree size",
    "",
    ...curve((r) => overIdle(r)?.toFixed(0) ?? "?"),
    "",
    "### Time to first progress (s), by tree size",
    "",
    ...curve((r) =>
      r.backend
        ? r.firstProgressMs == null
          ? "never"
          : (r.firstProgressMs / 1000).toFixed(2)
        : "-"
    ),
    "",
    "### All measurements",
    "",
    ...main,
  ].join("\n");
}

const RAW_TAG = "<!-- scale-raw ";
/** The runs merged into this section (see `--merge`). */
const runs: string[] = [];
function thisRun(finished: boolean): string {
  const kept: string[] = [];
  for (let i = 0; i < Deno.args.length; i++) {
    if (Deno.args[i] === "--note") i++;
    else if (!Deno.args[i].startsWith("--note=")) kept.push(Deno.args[i]);
  }
  const args = kept.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(" ");
  return `\`deno task bench:scale ${args}\`, started ${started.toISOString()}${
    finished ? `, finished ${new Date().toISOString()}` : " (in progress)"
  }`;
}
function save(finished: boolean): void {
  const rawLine = `${RAW_TAG}${
    JSON.stringify({
      raw,
      idle: [...idle],
      shapes,
      runs: [...runs, thisRun(finished)],
    })
  } -->`;
  writeSection(flags.out!, key, `${report(finished)}\n\n${rawLine}`);
}

/**
 * `--merge`: keep the measurements of an earlier run under the same label
 * (rows this run measures again are replaced), e.g. `--max 200000` for both
 * backends, then `--sizes 1000000 --no-flat --backends default --merge`.
 */
function loadEarlier(todo: Shape[]): void {
  let text = "";
  try {
    text = Deno.readTextFileSync(flags.out!);
  } catch {
    return;
  }
  const begin = text.indexOf(`<!-- BEGIN ${key} -->`);
  const end = text.indexOf(`<!-- END ${key} -->`);
  if (begin < 0 || end < begin) return;
  const at = text.indexOf(RAW_TAG, begin);
  if (at < 0 || at > end) return;
  const json = text.slice(at + RAW_TAG.length, text.indexOf(" -->", at));
  const old = JSON.parse(json) as {
    raw: Result[];
    idle: [Backend, number][];
    shapes: Shape[];
    runs?: string[];
  };
  runs.push(...(old.runs ?? []));
  const again = (r: Result): boolean =>
    todo.some((t) => t.label === r.shape) &&
    (!r.backend || BACKENDS.includes(r.backend));
  raw.push(...old.raw.filter((r) => !again(r)));
  for (const [b, k] of old.idle) if (!idle.has(b)) idle.set(b, k);
  for (const sh of old.shapes) {
    if (!shapes.some((x) => x.label === sh.label)) shapes.push(sh);
  }
  shapes.sort((a, b) => a.files - b.files || b.perDir - a.perDir);
}

try {
  // Idle Deno with safefs loaded, per backend (median of 3).
  for (const b of BACKENDS) {
    const xs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await measure(runnerArgv({ op: "safefs.noop" }), {
        env: backendEnv(b),
      });
      if (m.maxRssKiB) xs.push(m.maxRssKiB);
    }
    if (xs.length) idle.set(b, median(xs));
  }
  // Describe the filesystems as mounted.
  {
    const lines: string[] = [];
    for (const fs of FS) {
      const p = place(fs, 0);
      try {
        const m = mountOf(p.dir);
        const j = "dev" in p
          ? `, ${ext4Journal((p as { dev: string }).dev)}`
          : "";
        lines.push(
          `- ${fs}: ${p.kind}${
            IS_ROOT
              ? fs === "ext4"
                ? " (fresh 16 GiB sparse image per place, loop device, mkfs.ext4 defaults, lazy init off, inodes sized to the tree)"
                : " (fresh mount per place, size=20g, nr_inodes=0)"
              : " (NOT ROOT: no fresh filesystem could be made)"
          }; ${m.type} ${m.options}${j}`,
        );
      } finally {
        p.release();
      }
    }
    fsLines = lines;
  }
  const todo = [...shapes];
  if (flags.merge) loadEarlier(todo);
  for (const s of todo) {
    const t = performance.now();
    const reps = s.files >= 1_000_000 ? 1 : REPS;
    for (let rep = 0; rep < reps; rep++) {
      for (const fs of FS) {
        if (OPS.has("copy")) await copies(s, fs);
        if (OPS.has("remove")) await removes(s, fs);
        save(false);
      }
      if (OPS.has("move") && FS.includes("tmpfs") && FS.includes("ext4")) {
        await moves(s, "tmpfs", "ext4");
        await moves(s, "ext4", "tmpfs");
      }
      save(false);
    }
    console.error(
      `== ${s.label} done in ${((performance.now() - t) / 1000).toFixed(0)} s`,
    );
  }
  save(true);
  console.error(`written to ${flags.out} (section ${key})`);
} finally {
  releaseAll();
  Deno.removeSync(parent, { recursive: true });
}
