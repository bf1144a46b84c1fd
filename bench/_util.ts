// Copyright 2026 the safefs authors. MIT license.
/**
 * Shared machinery of `bench:compare`, `bench:scale` and `bench:profile`:
 * fresh filesystems (ext4 loop images, tmpfs mounts) and their teardown,
 * fixtures, timed subprocesses with their max RSS, the machine description,
 * and the sections of bench/RESULTS.md.
 *
 * Benchmarks reach safefs only through `../mod.ts` (in `_runner.ts`) and the
 * CLI named by `deno.json`'s `./cli` export, so they run unchanged on any
 * build of the library.
 *
 * @module
 */

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

const dec = new TextDecoder();

/** True when this process may mount filesystems and attach loop devices. */
export const IS_ROOT: boolean = Deno.uid() === 0;

/** `/usr/bin/time`, which reports a child's max RSS, if installed. */
export const TIME_BIN: string | null = (() => {
  try {
    Deno.statSync("/usr/bin/time");
    return "/usr/bin/time";
  } catch {
    return null;
  }
})();

/** Runs a command to completion; throws with its stderr when it fails. */
export function sh(cmd: string, args: string[], cwd?: string): string {
  const r = new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(cwd ? { cwd } : {}),
  }).outputSync();
  if (!r.success) {
    throw new Error(
      `${cmd} ${args.join(" ").slice(0, 200)}: exit ${r.code}: ${
        dec.decode(r.stderr).trim()
      }`,
    );
  }
  return dec.decode(r.stdout);
}

/** Like {@linkcode sh}, but returns null instead of throwing. */
export function trySh(cmd: string, args: string[]): string | null {
  try {
    return sh(cmd, args);
  } catch {
    return null;
  }
}

/** Flushes every filesystem (untimed, before each timed run). */
export function syncAll(): void {
  // Twice: a loop-mounted filesystem's writeback dirties its backing file,
  // which lives on another filesystem that one pass may have synced already.
  sh("sync", []);
  sh("sync", []);
}

/** Drops the page, dentry and inode caches (root only; see `--cold`). */
export function dropCaches(): void {
  syncAll();
  Deno.writeTextFileSync("/proc/sys/vm/drop_caches", "3");
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function fmtInt(n: number): string {
  return n.toLocaleString("en-US");
}

// ---------------------------------------------------------------------------
// Places: fresh filesystems to run one measurement in
// ---------------------------------------------------------------------------

/** A directory on a filesystem made (or chosen) for one measurement. */
export interface Place {
  /** Where to work (a subdirectory of the mount, away from lost+found). */
  dir: string;
  /** "ext4 image", "tmpfs" or, when not root, the temp dir's filesystem. */
  kind: string;
  /** Unmounts, detaches and deletes what was made. */
  release(): void;
}

const live = new Set<() => void>();
let cleanupInstalled = false;

/** Releases every live place (on exit, Ctrl-C or an uncaught error). */
export function releaseAll(): void {
  for (const f of [...live].reverse()) {
    try {
      f();
    } catch (e) {
      console.error(`cleanup: ${e instanceof Error ? e.message : e}`);
    }
  }
  live.clear();
}

function track(f: () => void): () => void {
  if (!cleanupInstalled) {
    cleanupInstalled = true;
    globalThis.addEventListener("unload", releaseAll);
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(sig, () => {
        console.error(`\n${sig}: unmounting and removing what the bench made`);
        releaseAll();
        Deno.exit(130);
      });
    }
  }
  let done = false;
  const once = (): void => {
    if (done) return;
    done = true;
    live.delete(once);
    f();
  };
  live.add(once);
  return once;
}

function umount(mnt: string): void {
  // A process that just exited may still pin the mount for an instant.
  for (let i = 0;; i++) {
    try {
      sh("umount", [mnt]);
      return;
    } catch (e) {
      if (i >= 20) throw e;
      sh("sleep", ["0.2"]);
    }
  }
}

function attach(img: string): string {
  for (let i = 0;; i++) {
    try {
      return sh("losetup", ["-f", "--show", img]).trim();
    } catch (e) {
      // Another process may take the free loop device between the two steps.
      if (i >= 10) throw e;
      sh("sleep", ["0.1"]);
    }
  }
}

/** How every ext4 image the benches make is created (see RESULTS.md). */
export const EXT4_SIZE = "16G";

/**
 * Makes an ext4 image file (sparse, 16 GiB, journal, lazy init off so no
 * background zeroing runs during measurements), or copies `template` (an
 * image made here earlier, unmounted), attaches it to a loop device and
 * mounts it with the defaults (data=ordered).
 */
export function ext4Place(
  parent: string,
  opts: { inodes?: number; template?: string } = {},
): Place & { dev: string; img: string } {
  const id = crypto.randomUUID().slice(0, 8);
  const img = `${parent}/ext4-${id}.img`;
  const mnt = `${parent}/mnt-${id}`;
  if (opts.template) {
    sh("cp", ["--sparse=always", opts.template, img]);
  } else {
    mkfsExt4(img, opts.inodes);
  }
  Deno.mkdirSync(mnt);
  let dev = "";
  const release = track(() => {
    try {
      if (dev) {
        umount(mnt);
        sh("losetup", ["-d", dev]);
      }
    } finally {
      Deno.removeSync(mnt);
      Deno.removeSync(img);
    }
  });
  try {
    dev = attach(img);
    sh("mount", ["-t", "ext4", dev, mnt]);
  } catch (e) {
    if (dev) {
      trySh("losetup", ["-d", dev]);
      dev = "";
    }
    release();
    throw e;
  }
  const dir = `${mnt}/w`;
  Deno.mkdirSync(dir, { recursive: true });
  return { dir, kind: "ext4 image", dev, img, release };
}

/** Runs mkfs.ext4 the one way the benches do. */
export function mkfsExt4(img: string, inodes?: number): void {
  sh("truncate", ["-s", EXT4_SIZE, img]);
  sh("mkfs.ext4", [
    "-q",
    "-F",
    "-E",
    "lazy_itable_init=0,lazy_journal_init=0",
    ...(inodes ? ["-N", String(inodes)] : []),
    img,
  ]);
}

/**
 * An ext4 image holding a fixture, built once and copied (sparse) for every
 * measurement: each measurement gets a fresh filesystem in the same state,
 * one that has never seen a deletion (see "ext4 recently deleted" in
 * RESULTS.md), without paying to rebuild the fixture.
 */
export class Ext4Template {
  readonly img: string;
  constructor(
    parent: string,
    build: (dir: string) => void,
    opts: { inodes?: number } = {},
  ) {
    const p = ext4Place(parent, opts);
    try {
      build(p.dir);
      syncAll();
    } catch (e) {
      p.release();
      throw e;
    }
    // Keep the image: detach it without deleting it.
    this.img = `${parent}/tmpl-${crypto.randomUUID().slice(0, 8)}.img`;
    Deno.linkSync(p.img, this.img);
    p.release();
    track(() => {
      try {
        Deno.removeSync(this.img);
      } catch { /* gone */ }
    });
  }
  /** A fresh mounted copy; `dir` holds what `build` made. */
  clone(parent: string): Place & { dev: string } {
    return ext4Place(parent, { template: this.img });
  }
  delete(): void {
    try {
      Deno.removeSync(this.img);
    } catch { /* gone */ }
  }
}

/** A fresh tmpfs mount (root), else a fresh dir in /dev/shm, else null. */
export function tmpfsPlace(parent: string): Place | null {
  const id = crypto.randomUUID().slice(0, 8);
  if (IS_ROOT) {
    const mnt = `${parent}/tmpfs-${id}`;
    Deno.mkdirSync(mnt);
    const release = track(() => {
      try {
        umount(mnt);
      } finally {
        Deno.removeSync(mnt);
      }
    });
    try {
      // nr_inodes=0: no inode limit (1M-entry trees and their copies).
      sh("mount", ["-t", "tmpfs", "-o", "size=20g,nr_inodes=0", "tmpfs", mnt]);
    } catch (e) {
      live.delete(release);
      Deno.removeSync(mnt);
      throw e;
    }
    const dir = `${mnt}/w`;
    Deno.mkdirSync(dir);
    return { dir, kind: "tmpfs", release };
  }
  try {
    const d = Deno.makeTempDirSync({ dir: "/dev/shm", prefix: "safefs-b-" });
    if (Deno.statSync(d).dev === Deno.statSync(parent).dev) {
      Deno.removeSync(d);
      return null;
    }
    return {
      dir: d,
      kind: "tmpfs (/dev/shm)",
      release: track(() => Deno.removeSync(d, { recursive: true })),
    };
  } catch {
    return null;
  }
}

/**
 * Not root: a fresh directory under `parent`, whatever filesystem that is.
 * Outputs are moved aside into `trash` instead of deleted until the end of
 * the run (ext4 slows creation after mass deletes).
 */
export function dirPlace(parent: string, keep = true): Place {
  const d = Deno.makeTempDirSync({ dir: parent, prefix: "run-" });
  return {
    dir: d,
    kind: fsType(d),
    release: track(() => {
      if (!keep) return Deno.removeSync(d, { recursive: true });
      const trash = `${parent}/trash`;
      Deno.mkdirSync(trash, { recursive: true });
      Deno.renameSync(d, `${trash}/${crypto.randomUUID()}`);
    }),
  };
}

/** Filesystem type and mount options of the mount holding `path`. */
export function mountOf(path: string): { type: string; options: string } {
  const out = trySh("findmnt", [
    "-n",
    "-o",
    "SOURCE,FSTYPE,OPTIONS",
    "-T",
    path,
  ]);
  if (!out) return { type: "?", options: "?" };
  const [source, type, options] = out.trim().split(/\s+/);
  // ext4 lists every option there, the defaults too (data=ordered):
  try {
    const all = Deno.readTextFileSync(
      `/proc/fs/ext4/${source.replace("/dev/", "")}/options`,
    );
    return { type, options: all.trim().split("\n").join(",") };
  } catch {
    return { type, options };
  }
}

export function fsType(path: string): string {
  return mountOf(path).type;
}

/** The journal of an ext4 image or device (from dumpe2fs -h). */
export function ext4Journal(devOrImg: string): string {
  const out = trySh("dumpe2fs", ["-h", devOrImg]) ?? "";
  const size = out.match(/Journal size:\s*(.*)/)?.[1] ??
    out.match(/Total journal size:\s*(.*)/)?.[1] ?? "?";
  const feat = (out.match(/Filesystem features:\s*(.*)/)?.[1] ?? "?")
    .replace(" needs_recovery", "");
  return `journal ${size.trim()} (features: ${feat.trim()})`;
}

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/**
 * `files` files in directories of `perDir` (root/dNNNN/fNNNN), or all in
 * `root` when `perDir` is 0. Returns the entry count (files, dirs, root).
 */
export function buildTree(
  root: string,
  files: number,
  perDir: number,
  payload: Uint8Array = new Uint8Array(),
): number {
  Deno.mkdirSync(root, { recursive: true });
  let dirs = 0;
  let dir = root;
  for (let i = 0; i < files; i++) {
    if (perDir > 0 && i % perDir === 0) {
      dir = `${root}/d${dirs++}`;
      Deno.mkdirSync(dir);
    }
    Deno.writeFileSync(`${dir}/f${perDir > 0 ? i % perDir : i}`, payload);
  }
  return files + dirs + 1;
}

/** The compare trees: 10 x 10 directories, `files / 100` files in each. */
export function buildTree3(
  root: string,
  files: number,
  payload: Uint8Array,
): void {
  const per = Math.max(1, Math.floor(files / 100));
  for (let a = 0; a < 10; a++) {
    for (let b = 0; b < 10; b++) {
      const dir = `${root}/d${a}/e${b}`;
      Deno.mkdirSync(dir, { recursive: true });
      for (let c = 0; c < per; c++) Deno.writeFileSync(`${dir}/f${c}`, payload);
    }
  }
}

/** A file of `bytes` bytes of incompressible-looking data. */
export function buildBig(path: string, bytes: number): void {
  const chunk = new Uint8Array(4 * MiB);
  crypto.getRandomValues(chunk.subarray(0, 65536));
  for (let i = 65536; i < chunk.length; i += 65536) {
    chunk.copyWithin(i, 0, 65536);
  }
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  for (let off = 0; off < bytes; off += chunk.length) {
    chunk[0] = off / chunk.length; // no two chunks alike
    f.writeSync(chunk.subarray(0, Math.min(chunk.length, bytes - off)));
  }
  f.close();
}

/** A sparse file of `size` bytes holding `data` bytes in 16 spread pieces. */
export function buildSparse(path: string, size: number, data: number): void {
  const piece = new Uint8Array(data / 16);
  crypto.getRandomValues(piece.subarray(0, Math.min(piece.length, 65536)));
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  f.truncateSync(size);
  for (let i = 0; i < 16; i++) {
    f.seekSync(Math.floor((size / 16) * i), Deno.SeekMode.Start);
    f.writeSync(piece);
  }
  f.close();
}

/** Reads every byte of `path` (puts a file in the page cache). */
export function warmFile(path: string): void {
  sh("cat", [path]);
}

/** Stats every entry under `dir` (puts a tree's inodes in the cache). */
export function warmTree(dir: string): void {
  sh("du", ["-s", dir]);
}

/** Bytes a file occupies on disk (st_blocks x 512). */
export function diskUse(path: string): number {
  return (Deno.statSync(path).blocks ?? 0) * 512;
}

// ---------------------------------------------------------------------------
// Timed subprocesses
// ---------------------------------------------------------------------------

/** The backends the rebuilt library offers (`SAFEFS_BACKEND`). */
export type Backend = "default" | "path";

/** What one timed subprocess did. */
export interface Measured {
  /** Wall time of the whole process, measured by the parent. */
  wallMs: number;
  /** The operation alone, timed inside the runner (JS contenders). */
  opMs?: number;
  /** Whole process max RSS in KiB (`/usr/bin/time -f %M`). */
  maxRssKiB?: number;
  userS?: number;
  sysS?: number;
  /** Exit status 0 and, for the runner, no error. */
  ok: boolean;
  /** The error: stderr, or the runner's error name and message. */
  error?: string;
  /** The runner's JSON answer. */
  out?: RunnerOut;
}

/** What `_runner.ts` prints (one JSON line). */
export interface RunnerOut {
  ms: number;
  firstProgressMs: number | null;
  progressCalls: number;
  vmHwmKiB: number | null;
  backendEnv: string | null;
  backendInfo: string | null;
  error?: { name: string; code?: string; message: string };
}

export const RUNNER: string = new URL("./_runner.ts", import.meta.url).pathname;

/** The environment for a safefs subprocess of `backend`. */
export function backendEnv(backend: Backend): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.SAFEFS_BACKEND;
  if (backend === "path") env.SAFEFS_BACKEND = "path";
  return env;
}

/** argv of the runner doing `job`. */
export function runnerArgv(job: Record<string, unknown>): string[] {
  return [
    Deno.execPath(),
    "run",
    "-A",
    "--no-prompt",
    RUNNER,
    JSON.stringify(job),
  ];
}

/** The CLI module named by deno.json's "./cli" export. */
export function cliPath(): string {
  const root = new URL("../", import.meta.url);
  const cfg = JSON.parse(Deno.readTextFileSync(new URL("deno.json", root)));
  const rel = cfg.exports?.["./cli"] ?? "./src/cli.ts";
  return new URL(rel, root).pathname;
}

/**
 * Runs `argv` (under /usr/bin/time when installed), returns its wall time,
 * max RSS, CPU times and, when it is the runner, its answer.
 */
export async function measure(
  argv: string[],
  opts: { env?: Record<string, string>; cwd?: string } = {},
): Promise<Measured> {
  const tfile = Deno.makeTempFileSync({ prefix: "safefs-time-" });
  try {
    const full = TIME_BIN
      ? [TIME_BIN, "-f", "%e %U %S %M", "-o", tfile, ...argv]
      : argv;
    const cmd = new Deno.Command(full[0], {
      args: full.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      ...(opts.env ? { env: opts.env, clearEnv: true } : {}),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    const t0 = performance.now();
    const r = await cmd.output();
    const wallMs = performance.now() - t0;
    const m: Measured = { wallMs, ok: r.success };
    if (TIME_BIN) {
      const line = Deno.readTextFileSync(tfile).trim().split("\n").pop() ?? "";
      const [, u, s, rss] = line.split(" ").map(Number);
      if (Number.isFinite(rss)) {
        m.userS = u;
        m.sysS = s;
        m.maxRssKiB = rss;
      }
    }
    const stdout = dec.decode(r.stdout).trim();
    const last = stdout.split("\n").pop() ?? "";
    if (argv.includes(RUNNER) && last.startsWith("{")) {
      m.out = JSON.parse(last) as RunnerOut;
      m.opMs = m.out.ms;
      if (m.out.error) {
        m.ok = false;
        m.error = `${m.out.error.name}${
          m.out.error.code ? ` (${m.out.error.code})` : ""
        }: ${m.out.error.message}`;
      }
    }
    if (!r.success && !m.error) {
      m.error = `exit ${r.code}: ${dec.decode(r.stderr).trim().slice(-2000)}`;
    }
    return m;
  } finally {
    Deno.removeSync(tfile);
  }
}

// ---------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------

export function machineLines(): string[] {
  const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  const cpu = cpuinfo.match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown";
  const mem = Deno.systemMemoryInfo();
  const load = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3)
    .join(" ");
  // The library is src/ and mod.ts: name the last commit that touched them.
  const repo = new URL("../", import.meta.url).pathname;
  const rev = trySh("git", [
    "-C",
    repo,
    "log",
    "-1",
    "--format=%h %s",
    "--",
    "src",
    "mod.ts",
  ])?.trim() ?? "?";
  const dirty =
    trySh("git", ["-C", repo, "status", "--porcelain", "--", "src", "mod.ts"])
        ?.trim()
      ? " + uncommitted changes"
      : "";
  return [
    `- date: ${new Date().toISOString()}`,
    `- library (src/, mod.ts): last changed in commit ${rev}${dirty}`,
    `- machine: ${cpu}, ${navigator.hardwareConcurrency} cores, ${
      (mem.total / GiB).toFixed(1)
    } GiB RAM, load average at start ${load}`,
    `- kernel: ${Deno.build.os} ${Deno.osRelease()}`,
    `- deno: ${Deno.version.deno} (V8 ${Deno.version.v8}); coreutils ${
      trySh("cp", ["--version"])?.split("\n")[0].replace(
        /^cp \(GNU coreutils\) /,
        "",
      ) ??
        "?"
    }; ${
      trySh("rsync", ["--version"])?.split("\n")[0].replace(/\s+/g, " ") ??
        "no rsync"
    }`,
    `- max RSS: ${
      TIME_BIN
        ? "`/usr/bin/time -f %M` of the whole process"
        : "not measured (no /usr/bin/time)"
    }`,
  ];
}

export function table(
  head: string[],
  rows: string[][],
  right?: boolean[],
): string[] {
  const al = head.map((_, i) => (right?.[i] ? "---:" : "---"));
  return [
    `| ${head.join(" | ")} |`,
    `|${al.join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
}

/**
 * Replaces the section `key` of the results file (between its BEGIN and END
 * markers), or appends it; other sections (other benches, other labels such
 * as the baseline) are kept.
 */
export function writeSection(out: string, key: string, body: string): void {
  let text = "";
  try {
    text = Deno.readTextFileSync(out);
  } catch { /* new file */ }
  if (!text.includes("<!-- BEGIN ")) {
    text = "# safefs benchmark results\n\n" +
      "Sections are written by `deno task bench:compare`, `bench:scale` and " +
      "`bench:profile`, each under its label (`--label`, default `latest`); " +
      "a run replaces only its own section.\n";
  }
  const begin = `<!-- BEGIN ${key} -->`;
  const end = `<!-- END ${key} -->`;
  const block = `${begin}\n\n${body.trim()}\n\n${end}`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i >= 0 && j > i) {
    text = text.slice(0, i) + block + text.slice(j + end.length);
  } else {
    text = `${text.trimEnd()}\n\n${block}\n`;
  }
  Deno.writeTextFileSync(out, text);
  // Keep `deno fmt --check` (deno task check) clean.
  new Deno.Command(Deno.execPath(), {
    args: ["fmt", "-q", out],
    stdout: "null",
    stderr: "null",
  }).outputSync();
}
