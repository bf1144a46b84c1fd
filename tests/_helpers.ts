// Copyright 2026 the safefs authors. MIT license.
// Shared test helpers: temp dirs on two filesystems, tree snapshots, tmpfs
// mounts, fault injection through the _sys seam.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setSysHook, type SysCall } from "../src/_sys.ts";
import { isTempName } from "../src/_temp.ts";

/** A temp dir on the disk (ext4 here). */
export function diskDir(): string {
  return Deno.makeTempDirSync({ prefix: "safefs-test-" });
}

/** True when /dev/shm is a different filesystem from the disk temp dir. */
export const HAS_SHM: boolean = (() => {
  let probe: string | undefined;
  try {
    const a = Deno.statSync("/dev/shm");
    probe = Deno.makeTempDirSync({ prefix: "safefs-probe-" });
    return a.isDirectory && a.dev !== Deno.statSync(probe).dev;
  } catch {
    return false;
  } finally {
    if (probe !== undefined) Deno.removeSync(probe);
  }
})();

/** A temp dir on another filesystem (tmpfs at /dev/shm). */
export function shmDir(): string {
  return Deno.makeTempDirSync({ dir: "/dev/shm", prefix: "safefs-test-" });
}

/**
 * Mount points at or below `dir`, deepest first (from /proc/self/mountinfo,
 * whose paths escape space, tab, newline and backslash as octal).
 */
function mountsUnder(dir: string): string[] {
  let info: string;
  try {
    info = Deno.readTextFileSync("/proc/self/mountinfo");
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of info.split("\n")) {
    const field = line.split(" ")[4];
    if (field === undefined) continue;
    const mnt = field.replace(
      /\\([0-7]{3})/g,
      (_, o) => String.fromCharCode(parseInt(o, 8)),
    );
    if (mnt === dir || mnt.startsWith(dir + "/")) out.push(mnt);
  }
  return out.sort((a, b) => b.length - a.length);
}

/**
 * Removes test dirs (best effort), unmounting first whatever a failed test
 * left mounted inside them (Deno.remove would empty a mounted filesystem and
 * leave the mount behind).
 */
export function cleanup(...dirs: string[]): void {
  for (const d of dirs) {
    if (d.startsWith("/")) { for (const m of mountsUnder(d)) umount(m); }
    try {
      Deno.removeSync(d, { recursive: true });
    } catch {
      // ignore
    }
  }
}

function sha(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * A description of a tree (or file, or symlink) at `root`: rel path → type,
 * mode, content hash or link target. `null` when nothing is there.
 */
export function snapshot(
  root: string,
  opts: { times?: boolean } = {},
): Record<string, string> | null {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(root);
  } catch {
    return null;
  }
  const out: Record<string, string> = {};
  const walk = (path: string, rel: string, i: Deno.FileInfo): void => {
    const mode = (i.mode! & 0o7777).toString(8);
    const t = opts.times ? `:${i.mtime?.getTime()}` : "";
    if (i.isSymlink) out[rel] = `l:${Deno.readLinkSync(path)}`;
    else if (i.isFile) {
      out[rel] = `f:${mode}:${sha(Deno.readFileSync(path))}${t}`;
    } else if (i.isDirectory) {
      out[rel] = `d:${mode}${t}`;
      const names = Array.from(Deno.readDirSync(path)).map((e) => e.name)
        .sort();
      for (const n of names) {
        walk(
          join(path, n),
          rel === "" ? n : `${rel}/${n}`,
          Deno.lstatSync(join(path, n)),
        );
      }
    } else out[rel] = "special";
  };
  walk(root, "", info);
  return out;
}

/** Names of safefs temp entries directly in `dir`. */
export function temps(dir: string): string[] {
  try {
    return Array.from(Deno.readDirSync(dir)).map((e) => e.name).filter(
      isTempName,
    );
  } catch {
    return [];
  }
}

/** Writes `bytes` pseudo-random bytes (deterministic per seed) to `path`. */
export function writeBytes(path: string, bytes: number, seed = 1): void {
  const CHUNK = 1 << 20;
  const pattern = new Uint8Array(Math.min(bytes, CHUNK));
  let x = (seed * 2654435761) >>> 0;
  const view = new DataView(pattern.buffer);
  for (let i = 0; i + 4 <= pattern.length; i += 4) {
    x = (x * 1664525 + 1013904223) >>> 0;
    view.setUint32(i, x);
  }
  for (let i = pattern.length & ~3; i < pattern.length; i++) {
    pattern[i] = i & 0xff;
  }
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  try {
    for (let off = 0, n = 0; off < bytes; off += CHUNK, n++) {
      const len = Math.min(CHUNK, bytes - off);
      // Make every MiB differ: stamp its index into its first bytes.
      if (len >= 8) new DataView(pattern.buffer).setFloat64(0, n + seed);
      let done = 0;
      while (done < len) done += f.writeSync(pattern.subarray(done, len));
    }
  } finally {
    f.close();
  }
}

/**
 * A small sample tree: files, a subdir, a symlink, a hard link, odd modes.
 * `big` gives the 300,000 bytes of `sub/big.bin` (callers that build many
 * trees pass cached bytes); by default they are generated.
 */
export function makeTree(root: string, big?: Uint8Array): void {
  Deno.mkdirSync(join(root, "sub/deeper"), { recursive: true });
  Deno.writeTextFileSync(join(root, "a.txt"), "alpha");
  if (big) Deno.writeFileSync(join(root, "sub/big.bin"), big);
  else writeBytes(join(root, "sub/big.bin"), 300_000, 7);
  Deno.writeTextFileSync(join(root, "sub/deeper/c.txt"), "gamma");
  Deno.chmodSync(join(root, "sub/deeper/c.txt"), 0o640);
  Deno.chmodSync(join(root, "sub/deeper"), 0o750);
  Deno.symlinkSync("sub/deeper/c.txt", join(root, "link"));
  Deno.symlinkSync("/nonexistent/target", join(root, "dangling"));
  Deno.linkSync(join(root, "a.txt"), join(root, "sub/a-hard.txt"));
  Deno.writeFileSync(join(root, "empty"), new Uint8Array());
  Deno.utimeSync(
    join(root, "a.txt"),
    new Date(1_000_000_000),
    new Date(1_000_000_000),
  );
}

/**
 * Runs `hook` before every seam call while `fn` runs (throwing from it makes
 * that call fail). Tests use it to act, or to look, at every step of an
 * operation: a reader that checks a destination before every call sees every
 * state a concurrent reader could see, deterministically.
 */
export async function onEverySysCall<T>(
  hook: (c: SysCall) => void,
  fn: () => Promise<T>,
): Promise<T> {
  const restore = setSysHook(hook);
  try {
    return await fn();
  } finally {
    restore();
  }
}

/** What {@linkcode abortTimer} saw. */
export interface AbortTimer {
  /** The seam hook to install. */
  hook: (c: SysCall) => void;
  /** Calls counted so far. */
  calls: number;
  /** The timer was armed (the `n`-th call was reached). */
  armed: boolean;
  /** The timer fired and aborted. */
  fired: boolean;
  /** Calls counted after the abort. */
  after: number;
}

/**
 * A seam hook that arms a timer (a macrotask, like `AbortSignal.timeout`'s)
 * at the `n`-th call `counts` accepts; the timer aborts `ac`. It can only
 * fire if the operation yields to the event loop after that call.
 */
export function abortTimer(
  ac: AbortController,
  n: number,
  counts: (c: SysCall) => boolean = () => true,
): AbortTimer {
  const t: AbortTimer = {
    calls: 0,
    armed: false,
    fired: false,
    after: 0,
    hook: (c) => {
      if (!counts(c)) return;
      if (ac.signal.aborted) t.after++;
      if (++t.calls === n) {
        t.armed = true;
        setTimeout(() => {
          t.fired = true;
          ac.abort(new Error("timer"));
        }, 0);
      }
    },
  };
  return t;
}

/** A seam call as `recordCalls` saw it, with its outcome once it finished. */
export type RecordedCall = SysCall & {
  /** True once it succeeded, false once it failed (unset while in flight). */
  ok?: boolean;
  /** The errno name it failed with. */
  code?: string;
};

/**
 * Records every seam call while `fn` runs, in the order the calls are made
 * (the order `failingAt` counts them in), each with its outcome.
 */
export async function recordCalls<T>(
  fn: () => Promise<T>,
): Promise<{ calls: RecordedCall[]; result: T | unknown }> {
  const calls: RecordedCall[] = [];
  const restore = setSysHook((c) => {
    const rec: RecordedCall = { ...c };
    calls.push(rec);
    return (error) => {
      rec.ok = error === null;
      if (error !== null) {
        rec.code = (error as { code?: string }).code ?? "EUNKNOWN";
      }
    };
  });
  try {
    return { calls, result: await fn() };
  } catch (e) {
    return { calls, result: e };
  } finally {
    restore();
  }
}

/**
 * A seam call as a stable key: op, its detail (`how`) and paths, with the
 * UUIDs of temp names (fresh on every run) reduced to a placeholder.
 */
export function callKey(c: SysCall): string {
  const norm = (p?: string): string =>
    (p ?? "").replace(
      /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g,
      "<uuid>",
    );
  return `${c.op}${c.how ? `(${c.how})` : ""} ${norm(c.path)} ${norm(c.dest)}`;
}

/**
 * Runs `fn` with one seam call failing with `error`. `target` is either a
 * call number (0-based, in order of arrival) or `{ calls, n }`: the n-th call
 * of a recorded clean run, found again by its key and occurrence (`callKey`),
 * so that calls made concurrently (tree copies run several files at once) are
 * hit whatever order they arrive in.
 */
export async function failingAt<T>(
  target: number | { calls: SysCall[]; n: number },
  error: () => Error,
  fn: () => Promise<T>,
): Promise<{ hit: SysCall | null; result: T | unknown }> {
  let match: (c: SysCall, i: number) => boolean;
  if (typeof target === "number") {
    match = (_c, i) => i === target;
  } else {
    const key = callKey(target.calls[target.n]);
    let occurrence = 0;
    for (let k = 0; k < target.n; k++) {
      if (callKey(target.calls[k]) === key) occurrence++;
    }
    let seen = 0;
    match = (c) => callKey(c) === key && seen++ === occurrence;
  }
  let i = 0;
  let hit: SysCall | null = null;
  const restore = setSysHook((c) => {
    if (hit === null && match(c, i++)) {
      hit = c;
      throw error();
    }
  });
  let result: T | unknown;
  try {
    result = await fn();
  } catch (e) {
    result = e;
  } finally {
    restore();
  }
  return { hit, result };
}

export const EIO = (): Error => new Error("Input/output error (os error 5)");

/** True when this process may mount a tmpfs (root, mount available). */
export const CAN_MOUNT: boolean = (() => {
  try {
    const dir = Deno.makeTempDirSync({ prefix: "safefs-mountprobe-" });
    const ok = new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir],
      stderr: "null",
      stdout: "null",
    })
      .outputSync().success;
    if (ok) new Deno.Command("umount", { args: [dir] }).outputSync();
    Deno.removeSync(dir);
    return ok;
  } catch {
    return false;
  }
})();

/** Mounts a tmpfs at `dir` with mount options `opts` (e.g. "size=1m", "ro"). */
export function mountTmpfs(dir: string, opts: string): void {
  const r = new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", opts, "tmpfs", dir],
  }).outputSync();
  if (!r.success) {
    throw new Error(`mount failed: ${new TextDecoder().decode(r.stderr)}`);
  }
}

/** Unmounts `dir` (lazily if busy). */
export function umount(dir: string): void {
  const r = new Deno.Command("umount", { args: [dir], stderr: "null" })
    .outputSync();
  if (!r.success) {
    new Deno.Command("umount", { args: ["-l", dir] }).outputSync();
  }
}

/** True when a thread of this process sleeps in the kernel's FIFO open. */
function blockedOpeningFifo(): boolean {
  let tasks: Deno.DirEntry[];
  try {
    tasks = Array.from(Deno.readDirSync("/proc/self/task"));
  } catch {
    return false;
  }
  for (const t of tasks) {
    try {
      const w = Deno.readTextFileSync(`/proc/self/task/${t.name}/wchan`);
      // wait_for_partner since Linux 2.6.x (fifo_open calls it).
      if (w === "wait_for_partner" || w === "fifo_open") return true;
    } catch {
      // the thread ended
    }
  }
  return false;
}

/**
 * Awaits `p` while watching this process's threads: one sleeping in the
 * kernel's FIFO open means the call opened a FIFO, which blocks until a
 * partner opens it too. Then `unblock()` is called (it must open the FIFO so
 * that the open returns) and `openedFifo` is true. Nothing here is timed: a
 * call that does not open a FIFO settles as it would anyway. (A synchronous
 * open of a FIFO would freeze this isolate, this watch included, as it would
 * freeze any timer: the test would hang instead of failing.)
 */
export async function watchFifoOpens(
  p: Promise<unknown>,
  unblock: () => void,
): Promise<{ openedFifo: boolean; result: unknown }> {
  let settled = false;
  let result: unknown;
  const done = p.then((v) => {
    result = v;
  }, (e) => {
    result = e;
  }).finally(() => (settled = true));
  let openedFifo = false;
  while (!settled) {
    if (blockedOpeningFifo()) {
      openedFifo = true;
      unblock();
    }
    await Promise.race([done, new Promise((r) => setTimeout(r, 2))]);
  }
  return { openedFifo, result };
}

/** The deno executable running the tests, for subprocesses. */
export const DENO: string = Deno.execPath();

/** Runs `cmd` (stdout and stderr piped) and returns its exit code and output. */
export async function outputOf(
  cmd: Deno.Command,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await cmd.output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** Runs a deno script in a subprocess with the given flags, stdin closed. */
export async function runDeno(
  flags: string[],
  code: string,
  args: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = Deno.makeTempFileSync({ prefix: "safefs-sub-", suffix: ".ts" });
  Deno.writeTextFileSync(file, code);
  try {
    return await outputOf(
      new Deno.Command(DENO, {
        args: ["run", "--no-prompt", "--quiet", ...flags, file, ...args],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }),
    );
  } finally {
    Deno.removeSync(file);
  }
}

/** file:// URL of the package's mod.ts, for subprocess scripts. */
export const MOD_URL: string = new URL("../mod.ts", import.meta.url).href;

/**
 * The checkout's root directory as a path (decoded: the checkout may live in
 * a path with spaces, which a URL's `.pathname` would give as `%20`).
 */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url))
  .replace(/\/$/, "");

/** `path` quoted for sh (for commands that only take a command line). */
export function shellQuote(path: string): string {
  return `'${path.replaceAll("'", `'\\''`)}'`;
}

/**
 * Awaits `p`, asserts it rejects with an instance of `cls` (and `code`, when
 * given), and returns the error.
 */
export async function rejects<T extends Error>(
  p: Promise<unknown>,
  cls: new (...a: never[]) => T,
  code?: string,
): Promise<T> {
  try {
    await p;
  } catch (e) {
    assert(
      e instanceof cls,
      `expected ${cls.name}, got ${
        e instanceof Error ? `${e.name}: ${e.message}` : e
      }`,
    );
    if (code !== undefined) {
      assert.equal((e as unknown as { code?: string }).code, code);
    }
    return e as T;
  }
  throw new assert.AssertionError({
    message: `expected ${cls.name}, but it resolved`,
  });
}

import { feat } from "../src/_sys.ts";
import { SYNCFS_MIN_ENTRIES } from "../src/_copy/sync.ts";

// ---------------------------------------------------------------------------
// Backend-aware predicates over recorded seam calls. The seam speaks in
// (directory, name) calls whose op names are the seam's method names; what a
// guarantee looks like in calls depends on the backend (ffi: renameat2 with
// RENAME_NOREPLACE/EXCHANGE, copy_file_range, syncfs; path: link then
// unlink, read/write, fsync only). These say it once for every test.
// ---------------------------------------------------------------------------

/** The running backend's name ("ffi" or "path"). */
export const BACKEND: "ffi" | "path" = feat.name;

/**
 * True where a directory can atomically replace a non-empty directory
 * (renameat2 RENAME_EXCHANGE: the ffi backend, on the filesystems the tests
 * use, ext4 and tmpfs); false on the path backend, where `overwrite` onto a
 * non-empty directory is `NotEmptyError` with nothing changed.
 */
export const CAN_EXCHANGE: boolean = feat.renameFlags;

/** An fsync of a directory (of `path`, when given). */
export function isDirFsync(c: SysCall, path?: string): boolean {
  return c.op === "fsync" && c.how === "dir" &&
    (path === undefined || c.path === path);
}

/** An fsync of a file (of `path`, when given). */
export function isFileFsync(c: SysCall, path?: string): boolean {
  return c.op === "fsync" && c.how === "file" &&
    (path === undefined || c.path === path);
}

/** A syncfs (one commit of a whole filesystem). */
export function isSyncfs(c: SysCall): boolean {
  return c.op === "syncfs";
}

/** Any call that waits for the disk: fsync (file or directory) or syncfs. */
export function isDurabilityCall(c: SysCall): boolean {
  return c.op === "fsync" || c.op === "syncfs";
}

/**
 * A call that makes an entry appear at `dest` in one step: `renameAt` onto it
 * (replace, noreplace or exchange) or `linkAt` onto it (the path backend's
 * no-clobber publish of a file or symlink).
 */
export function isPublishAt(c: SysCall, dest: string): boolean {
  return (c.op === "renameAt" || c.op === "linkAt") && c.dest === dest;
}

/** A no-clobber publish at `dest`: renameAt noreplace, or linkAt. */
export function isNoClobberPublishAt(c: SysCall, dest: string): boolean {
  return c.dest === dest &&
    ((c.op === "renameAt" && c.how === "noreplace") || c.op === "linkAt");
}

/**
 * A call that removes the name `path`: `unlinkAt`/`rmdirAt` of it, or a
 * `renameAt` from it (a rename moves the name away in the same step as it
 * publishes the new one).
 */
export function isNameGone(c: SysCall, path: string): boolean {
  return c.path === path &&
    (c.op === "unlinkAt" || c.op === "rmdirAt" ||
      (c.op === "renameAt" && c.how !== "exchange"));
}

/** A call that reads file data from `src` (read, or copy_file_range from it). */
export function isDataRead(c: SysCall, src?: string): boolean {
  return (c.op === "read" || c.op === "copyRange") &&
    (src === undefined || c.path === src);
}

/** A call that writes file data to `dest` (write, or copy_file_range into it). */
export function isDataWrite(c: SysCall, dest?: string): boolean {
  if (c.op === "write") return dest === undefined || c.path === dest;
  if (c.op === "copyRange") return dest === undefined || c.dest === dest;
  return false;
}

/** The data call of the running backend: "copyRange" (ffi) or "write" (path). */
export const DATA_OP: "copyRange" | "write" = feat.copyRange
  ? "copyRange"
  : "write";

/** Index of the first call matching `pred` at or after `from` (-1 when none). */
export function indexOf(
  calls: SysCall[],
  pred: (c: SysCall) => boolean,
  from = 0,
): number {
  for (let i = from; i < calls.length; i++) if (pred(calls[i])) return i;
  return -1;
}

/** Recorded calls as text, one per line (for assertion messages). */
export function showCalls(calls: SysCall[]): string {
  return calls.map((c, i) =>
    `${i} ${c.op}${c.how ? `(${c.how})` : ""} ${c.path ?? ""}${
      c.dest ? ` -> ${c.dest}` : ""
    }`
  ).join("\n");
}

/** Filesystems on which a copy of many entries is made durable with one syncfs (`stat -f -c %T` names). */
const LOCAL_FS = new Set(["ext2/ext3", "xfs", "btrfs", "tmpfs", "f2fs"]);

/** The filesystem type of `dir` as `stat -f -c %T` names it. */
export function fsType(dir: string): string {
  const out = new Deno.Command("stat", {
    args: ["-f", "-c", "%T", dir],
    stdin: "null",
  }).outputSync();
  return new TextDecoder().decode(out.stdout).trim();
}

/**
 * How a durable copy of `entries` entries into `destDir` is made durable on
 * the running backend: one syncfs for 32 or more entries on a local
 * filesystem where the backend has syncfs (ffi), else an fsync of every file
 * and directory ("each").
 */
export function treeDurability(
  entries: number,
  destDir: string,
): "each" | "syncfs" {
  return feat.syncfs && entries >= SYNCFS_MIN_ENTRIES &&
      LOCAL_FS.has(fsType(destDir))
    ? "syncfs"
    : "each";
}

/** What {@linkcode pollDirectory}'s reader saw. */
export interface PollReport {
  /** Polls made (each: stat, list, stat). */
  polls: number;
  /** Polls that found nothing at the path (ENOENT). */
  missing: number;
  /** Listings holding names of both trees. */
  mixed: number;
  /** Listings of the new directory (by inode) that were not all of it. */
  partialNew: number;
  /** Listings of the old directory (by inode, stable over the listing). */
  sawOld: number;
  /** Listings of the new directory (by inode, stable over the listing). */
  sawNew: number;
  /** Any other failure of the reader. */
  errors: string[];
}

/**
 * The script of a reader process: `body` defines `r` (its report) and
 * `poll()`, reading the arguments before the last. The reader polls until
 * the stop file (its last argument) exists, says "ready" after its first
 * poll, polls once more once stopped, and prints `r` as JSON.
 */
export function readerScript(body: string): string {
  return `const stop = Deno.args.at(-1);
const exists = (p) => { try { Deno.lstatSync(p); return true; } catch { return false; } };
${body}
let announced = false;
for (;;) {
  const stopping = exists(stop);
  poll();
  if (!announced) { console.log("ready"); announced = true; }
  if (stopping) break;
}
console.log(JSON.stringify(r));`;
}

/**
 * Runs `during()` while a reader process (see {@linkcode readerScript})
 * polls with `args`: the reader has polled before `during()` starts and
 * polls once more after it ends. Returns the reader's report and what
 * `during()` returned (or threw).
 */
export async function withReader<R>(
  script: string,
  args: string[],
  during: () => Promise<unknown>,
): Promise<{ report: R; result: unknown }> {
  const work = Deno.makeTempDirSync({ prefix: "safefs-poll-" });
  const stop = join(work, "stop");
  const child = new Deno.Command(DENO, {
    args: ["eval", script, ...args, stop],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
    }
    assert(text.startsWith("ready\n"), `the reader did not start: ${text}`);
    let result: unknown;
    try {
      result = await during();
    } catch (e) {
      result = e;
    }
    Deno.writeTextFileSync(stop, "");
    for (;;) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
    }
    const status = await child.status;
    assert(status.success, `the reader failed: ${text}`);
    const report = JSON.parse(text.trim().split("\n").at(-1)!) as R;
    return { report, result };
  } finally {
    try {
      child.kill();
    } catch {
      // already gone
    }
    Deno.removeSync(work, { recursive: true });
  }
}

const POLLER = readerScript(`const [dest, oldIno, newCount] = Deno.args;
const r = { polls: 0, missing: 0, mixed: 0, partialNew: 0, sawOld: 0, sawNew: 0, errors: [] };
function poll() {
  r.polls++;
  try {
    const a = Deno.statSync(dest).ino;
    const names = Array.from(Deno.readDirSync(dest), (e) => e.name);
    const b = Deno.statSync(dest).ino;
    const o = names.filter((n) => n.startsWith("old-")).length;
    const n = names.filter((n) => n.startsWith("new-")).length;
    if (o > 0 && n > 0) r.mixed++;
    if (a === b && a === Number(oldIno)) r.sawOld++;
    else if (a === b) {
      r.sawNew++;
      if (n !== Number(newCount) || o > 0) r.partialNew++;
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) r.missing++;
    else r.errors.push(String(e));
  }
}`);

/**
 * Runs `during()` while another process polls the directory `dest` as fast
 * as it can: each poll stats it, lists it (a fresh open) and stats it again.
 * The old directory holds entries named `old-*` (`oldIno` is its inode), the
 * new one `newCount` entries named `new-*`. The reader has polled the old
 * state before `during()` starts and polls once more after it ends. A
 * listing is attributed to a directory only when both stats agree; the old
 * directory may be seen partial (it is emptied once it has left `dest`,
 * possibly under a reader that opened it just before), the new one never.
 */
export function pollDirectory(
  dest: string,
  oldIno: number,
  newCount: number,
  during: () => Promise<unknown>,
): Promise<{ report: PollReport; result: unknown }> {
  return withReader<PollReport>(
    POLLER,
    [dest, String(oldIno), String(newCount)],
    during,
  );
}

/** True when this process can mount an exFAT image (root, mkfs.exfat, a loop device, FUSE). */
export const CAN_EXFAT: boolean = CAN_MOUNT && (() => {
  try {
    return new Deno.Command("sh", {
      args: ["-c", "command -v mkfs.exfat && command -v mount.exfat-fuse"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
})();

function run(cmd: string, args: string[]): string {
  const r = new Deno.Command(cmd, { args, stdin: "null" }).outputSync();
  if (!r.success) {
    throw new Error(
      `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`,
    );
  }
  return new TextDecoder().decode(r.stdout).trim();
}

/**
 * Mounts a fresh 16 MiB exFAT filesystem (no symlinks, no hard links) at
 * `dir` (through a loop device and FUSE); returns the function that unmounts
 * it and frees the loop device and the image.
 */
export function mountExfat(dir: string): () => void {
  const img = Deno.makeTempFileSync({
    prefix: "safefs-exfat-",
    suffix: ".img",
  });
  Deno.truncateSync(img, 16 << 20);
  run("mkfs.exfat", [img]);
  const loop = run("losetup", ["-f", "--show", img]);
  try {
    run("mount.exfat-fuse", [loop, dir]);
  } catch (e) {
    run("losetup", ["-d", loop]);
    Deno.removeSync(img);
    throw e;
  }
  return () => {
    umount(dir);
    try {
      run("losetup", ["-d", loop]);
    } finally {
      Deno.removeSync(img);
    }
  };
}

/**
 * Deno flags that make a subprocess run on the same backend as this test
 * process: the ffi backend is chosen only with --allow-ffi, and
 * SAFEFS_BACKEND (inherited) is read only with --allow-env for it. Scoped
 * permission tests add these to their scoped read/write grants, so that G8
 * is checked on the backend under test (the ffi backend makes the
 * permission checks itself).
 */
export function backendFlags(): string[] {
  return BACKEND === "ffi"
    ? ["--allow-ffi", "--allow-env=SAFEFS_BACKEND"]
    : ["--allow-env=SAFEFS_BACKEND"];
}
