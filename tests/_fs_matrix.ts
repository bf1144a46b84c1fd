// Copyright 2026 the safefs authors. MIT license.
// What the filesystem matrix (fs_matrix_test.ts) needs besides the mounts:
// what each filesystem can store, the sample trees, descriptions of trees to
// compare, a leftover finder, and a watcher that proves nothing was created.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { SafeFsError } from "../mod.ts";
import { writeBytes } from "./_helpers.ts";

/** What a filesystem can store. */
export interface Caps {
  /** Permission bits (chmod sticks). */
  modes: boolean;
  /** Symbolic links. */
  symlinks: boolean;
  /** Hard links. */
  hardlinks: boolean;
  /** Modification times to the millisecond (what Deno's stat shows). */
  subsecondTimes: boolean;
}

/** A POSIX filesystem: ext4, tmpfs, xfs, btrfs, overlayfs, squashfs, erofs. */
export const POSIX: Caps = {
  modes: true,
  symlinks: true,
  hardlinks: true,
  subsecondTimes: true,
};

/**
 * exFAT: no permission bits (exfat-fuse shows 0777 and ignores chmod; the
 * kernel driver shows its fmask/dmask), no symlinks (exfat-fuse: ENOSYS;
 * kernel: EPERM), no hard links (EPERM), mtimes to 1 s (exfat-fuse) or 10 ms
 * (kernel), names compared without case.
 */
export const EXFAT: Caps = {
  modes: false,
  symlinks: false,
  hardlinks: false,
  subsecondTimes: false,
};

/** What both of two filesystems can store. */
export function both(a: Caps, b: Caps): Caps {
  return {
    modes: a.modes && b.modes,
    symlinks: a.symlinks && b.symlinks,
    hardlinks: a.hardlinks && b.hardlinks,
    subsecondTimes: a.subsecondTimes && b.subsecondTimes,
  };
}

/**
 * Every time the matrix sets: whole even seconds, which every filesystem
 * here stores exactly (exFAT through FUSE keeps seconds; FAT's 2 s steps).
 */
export const T0: Date = new Date(Date.UTC(2020, 0, 2, 3, 4, 6));

/** `T0` plus `n` times 2 seconds. */
export function at(n: number): Date {
  return new Date(T0.getTime() + 2000 * n);
}

/** The 300,000 bytes of the trees' `sub/big.bin`, made once. */
let bigBytes: Uint8Array | null = null;

/** Writes `bytes` deterministic bytes to `path` with `mode` and mtime `time`. */
export function file(
  path: string,
  bytes: number | string,
  opts: { mode?: number; time?: Date; seed?: number } = {},
): void {
  if (typeof bytes === "string") Deno.writeTextFileSync(path, bytes);
  else writeBytes(path, bytes, opts.seed ?? 1);
  if (opts.mode !== undefined) Deno.chmodSync(path, opts.mode);
  const t = opts.time ?? T0;
  Deno.utimeSync(path, t, t);
}

/**
 * The sample tree at `root` (which must not exist): files of several sizes
 * (one above the 1 MiB where copies switch to the kernel's copy), odd modes,
 * an empty file, nested directories, and, where `caps` allow, a symlink, a
 * dangling symlink and a hard link. `marker` names one more file, so copies
 * of the tree can be counted.
 */
export function makeTree(root: string, caps: Caps, marker?: string): void {
  Deno.mkdirSync(`${root}/sub/deeper`, { recursive: true });
  file(`${root}/a.txt`, "alpha", { mode: 0o640, time: at(1) });
  file(`${root}/empty`, "", { time: at(2) });
  if (bigBytes === null) {
    const tmp = Deno.makeTempFileSync({ prefix: "safefs-fsmatrix-" });
    writeBytes(tmp, 300_000, 7);
    bigBytes = Deno.readFileSync(tmp);
    Deno.removeSync(tmp);
  }
  Deno.writeFileSync(`${root}/sub/big.bin`, bigBytes);
  Deno.utimeSync(`${root}/sub/big.bin`, at(3), at(3));
  file(`${root}/sub/large.bin`, (1 << 20) + 4096, { seed: 3, time: at(4) });
  file(`${root}/sub/deeper/c.txt`, "gamma", { mode: 0o600, time: at(5) });
  if (marker) file(`${root}/sub/${marker}`, marker, { time: at(6) });
  if (caps.symlinks) {
    Deno.symlinkSync("sub/deeper/c.txt", `${root}/link`);
    Deno.symlinkSync("/nonexistent/target", `${root}/dangling`);
  }
  if (caps.hardlinks) Deno.linkSync(`${root}/a.txt`, `${root}/sub/a-hard.txt`);
  Deno.chmodSync(`${root}/sub/deeper`, 0o750);
}

function sha(path: string): string {
  return createHash("sha256").update(Deno.readFileSync(path)).digest("hex");
}

/** A tree (or file, or symlink) described entry by entry. */
export type Description = Record<string, string>;

/**
 * Describes what is at `root`: for every entry (relative path, "" for root
 * itself) its type, its mode when `modes`, a file's SHA-256 and mtime, a
 * symlink's target, and for a file with more than one link the first path
 * (in sorted order) of its inode. Null when nothing is there.
 */
export function describe(
  root: string,
  opts: { modes: boolean },
): Description | null {
  let top: Deno.FileInfo;
  try {
    top = Deno.lstatSync(root);
  } catch {
    return null;
  }
  const out: Description = {};
  const inodes = new Map<string, string>();
  const walk = (path: string, rel: string, i: Deno.FileInfo): void => {
    const mode = opts.modes ? `:${(i.mode! & 0o7777).toString(8)}` : "";
    if (i.isSymlink) out[rel] = `link:${Deno.readLinkSync(path)}`;
    else if (i.isFile) {
      let d = `file${mode}:${sha(path)}:${i.mtime?.toISOString()}`;
      if (i.nlink! > 1) {
        const key = `${i.dev}:${i.ino}`;
        const first = inodes.get(key);
        if (first === undefined) inodes.set(key, rel);
        else d += `:same-inode-as:${first}`;
      }
      out[rel] = d;
    } else if (i.isDirectory) {
      out[rel] = `dir${mode}`;
      const names = [...Deno.readDirSync(path)].map((e) => e.name).sort();
      for (const n of names) {
        const p = `${path}/${n}`;
        walk(p, rel === "" ? n : `${rel}/${n}`, Deno.lstatSync(p));
      }
    } else out[rel] = "special";
  };
  walk(root, "", top);
  return out;
}

/**
 * `d` with the entries under `from` (relative to the described root) moved
 * under `to`, as a rename of `from` to `to` leaves it.
 */
export function renamed(d: Description, from: string, to: string): Description {
  const out: Description = {};
  for (const [k, v] of Object.entries(d)) {
    let key = k;
    if (k === from) key = to;
    else if (k.startsWith(`${from}/`)) key = to + k.slice(from.length);
    out[key] = v.replace(
      /:same-inode-as:(.*)$/,
      (_, p: string) =>
        `:same-inode-as:${
          p === from || p.startsWith(`${from}/`) ? to + p.slice(from.length) : p
        }`,
    );
  }
  return Object.fromEntries(
    Object.entries(out).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0),
  );
}

/** `d` with `rel` and everything under it left out. */
export function without(d: Description, rel: string): Description {
  return Object.fromEntries(
    Object.entries(d).filter(([k]) => k !== rel && !k.startsWith(`${rel}/`)),
  );
}

/** `d` re-rooted at `rel`: the description of that entry alone. */
export function under(d: Description, rel: string): Description {
  const out: Description = {};
  for (const [k, v] of Object.entries(d)) {
    if (k === rel) out[""] = v;
    else if (k.startsWith(`${rel}/`)) out[k.slice(rel.length + 1)] = v;
  }
  return out;
}

/**
 * Every name under `root` (recursively, never through symlinks) that looks
 * like a safefs temp: a leftover of some operation.
 */
export function leftovers(root: string): string[] {
  const found: string[] = [];
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop()!;
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = `${dir}/${e.name}`;
      if (e.name.endsWith(".safefs-tmp")) found.push(p);
      if (e.isDirectory) stack.push(p);
    }
  }
  return found.sort();
}

/** The names directly in `dir`, sorted ([] when it does not exist). */
export function names(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** How many entries named `name` are under `root` (not following symlinks). */
export function count(root: string, name: string): number {
  let n = 0;
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop()!;
    for (const e of Deno.readDirSync(dir)) {
      if (e.name === name) n++;
      if (e.isDirectory) stack.push(`${dir}/${e.name}`);
    }
  }
  return n;
}

/**
 * Runs `fn` while watching `dir` (inotify, through Deno.watchFs) and returns
 * every change seen in it. Complete, not timed: after `fn`, a sentinel file
 * is created in `dir`, and events are read until the sentinel's arrives
 * (inotify keeps their order), so every earlier change has been reported.
 */
export async function changesDuring(
  dir: string,
  fn: () => Promise<unknown>,
): Promise<string[]> {
  const watcher = Deno.watchFs(dir, { recursive: false });
  const sentinel = `${dir}/.fsmatrix-sentinel-${crypto.randomUUID()}`;
  const seen: string[] = [];
  let sawSentinel = false;
  const reading = (async (): Promise<void> => {
    for await (const ev of watcher) {
      if (ev.paths.includes(sentinel)) {
        sawSentinel = true;
        return;
      }
      if (ev.kind !== "access") seen.push(`${ev.kind} ${ev.paths.join(" ")}`);
    }
  })();
  try {
    await fn();
  } finally {
    Deno.writeFileSync(sentinel, new Uint8Array());
    // Only a guard against a broken watcher: it never decides the result.
    const guard = setTimeout(() => watcher.close(), 30_000);
    await reading;
    clearTimeout(guard);
    try {
      watcher.close();
    } catch {
      // closed by the guard
    }
    Deno.removeSync(sentinel);
  }
  assert(sawSentinel, `The watcher of '${dir}' never reported its sentinel`);
  return seen;
}

/** Asserts `e` is a SafeFsError with errno name `code`, and returns it. */
export function assertCode(e: unknown, code: string): SafeFsError {
  assert(
    e instanceof SafeFsError,
    `expected a SafeFsError with code ${code}, got ${
      e instanceof Error ? `${e.name}: ${e.message}` : String(e)
    }`,
  );
  assert.equal(e.code, code, `code of: ${e.message}`);
  return e;
}

/** Awaits `p` and returns what it rejected with; fails if it resolved. */
export async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new assert.AssertionError({
    message: "expected a rejection, but it resolved",
  });
}

/** A name in safefs's temp format, as a crash leaves them. */
export function tempName(name: string): string {
  return `.${name}.${crypto.randomUUID()}.safefs-tmp`;
}

/** Parsed `filefrag -v` extents (4 KiB blocks), merged where contiguous. */
export interface Extent {
  logical: number;
  physical: number;
  length: number;
  shared: boolean;
}

/** The extents of `path` by `filefrag -v`, contiguous runs merged. */
export async function extents(path: string): Promise<Extent[]> {
  const out = await new Deno.Command("filefrag", {
    args: ["-v", "-b4096", path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `filefrag failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  const list: Extent[] = [];
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    if (!/^\s*\d+:/.test(line)) continue;
    const parts = line.split(":");
    const [l0] = parts[1].split("..").map((s) => Number(s.trim()));
    const [p0] = parts[2].split("..").map((s) => Number(s.trim()));
    const length = Number(parts[3].trim());
    const flags = parts.length >= 5 ? parts[parts.length - 1] : "";
    const shared = flags.split(",").map((f) => f.trim()).includes("shared");
    const prev = list[list.length - 1];
    if (
      prev && prev.shared === shared && prev.logical + prev.length === l0 &&
      prev.physical + prev.length === p0
    ) prev.length += length;
    else list.push({ logical: l0, physical: p0, length, shared });
  }
  return list;
}

/** Reads `len` bytes of `path` at `offset`. */
export function readAt(path: string, offset: number, len: number): Uint8Array {
  const f = Deno.openSync(path);
  try {
    f.seekSync(offset, Deno.SeekMode.Start);
    const buf = new Uint8Array(len);
    let n = 0;
    while (n < len) {
      const r = f.readSync(buf.subarray(n));
      if (r === null) break;
      n += r;
    }
    return buf.subarray(0, n);
  } finally {
    f.close();
  }
}
