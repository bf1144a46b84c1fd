// Copyright 2026 the safefs authors. MIT license.
// Shared test helpers: temp dirs on two filesystems, tree snapshots, tmpfs
// mounts, fault injection through the _sys seam.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { setSysHook, type SysCall } from "../src/_sys.ts";
import { isTempName } from "../src/_temp.ts";

/** A temp dir on the disk (ext4 here). */
export function diskDir(): string {
  return Deno.makeTempDirSync({ prefix: "safefs-test-" });
}

/** True when /dev/shm is a different filesystem from the disk temp dir. */
export const HAS_SHM: boolean = (() => {
  try {
    const a = Deno.statSync("/dev/shm");
    const b = Deno.statSync(Deno.makeTempDirSync({ prefix: "safefs-probe-" }));
    return a.isDirectory && a.dev !== b.dev;
  } catch {
    return false;
  }
})();

/** A temp dir on another filesystem (tmpfs at /dev/shm). */
export function shmDir(): string {
  return Deno.makeTempDirSync({ dir: "/dev/shm", prefix: "safefs-test-" });
}

/** Removes test dirs (best effort, unmounting anything left mounted). */
export function cleanup(...dirs: string[]): void {
  for (const d of dirs) {
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
