// Copyright 2026 the safefs authors. MIT license.
// Helpers for tests/remove_test.ts and tests/sweep_test.ts: tree builders,
// subprocesses (other deleters, creators, a symlink-swap attacker), checks.
import { join } from "node:path";
import { isTempName } from "../src/_temp.ts";
import { DENO } from "./_helpers.ts";

/** `mkdir -p` of every path, relative to `root`. */
export function mkdirs(root: string, ...rels: string[]): void {
  for (const r of rels) Deno.mkdirSync(join(root, r), { recursive: true });
}

/** Writes small files, relative to `root`. */
export function files(root: string, ...rels: string[]): void {
  for (const r of rels) {
    Deno.writeTextFileSync(join(root, r), `content of ${r}`);
  }
}

/**
 * Every path under `root` (relative, sorted; directories end in "/"), read
 * with `find` so that it works at any depth. `null` when `root` is missing.
 */
export function listing(root: string): string[] | null {
  try {
    Deno.lstatSync(root);
  } catch {
    return null;
  }
  const out = new Deno.Command("find", {
    args: [root, "-mindepth", "1", "-printf", "%P%y\\n"],
    stdin: "null",
  }).outputSync();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) =>
    l !== ""
  )
    .map((l) => (l.endsWith("d") ? l.slice(0, -1) + "/" : l.slice(0, -1)))
    .sort();
}

/** safefs temp names anywhere under `root` (at any depth). */
export function tempsUnder(root: string): string[] {
  return (listing(root) ?? []).filter((p) =>
    p.replace(/\/$/, "").split("/").some(isTempName)
  );
}

/** Runs `rm -rf path` in another process and waits for it. */
export function rmRfSync(path: string): void {
  const out = new Deno.Command("rm", {
    args: ["-rf", "--", path],
    stdin: "null",
  })
    .outputSync();
  if (!out.success) throw new Error(`rm -rf ${path} failed`);
}

/** Runs `touch path` in another process and waits for it. */
export function touchSync(path: string): void {
  const out = new Deno.Command("touch", { args: ["--", path], stdin: "null" })
    .outputSync();
  if (!out.success) throw new Error(`touch ${path} failed`);
}

/**
 * Builds a chain of `depth` nested directories at `root` (`root/d/d/d/...`)
 * without ever using a long path: the chain is grown from the bottom, renaming
 * the chain built so far into a fresh parent.
 */
export function deepChain(root: string, depth: number): void {
  const work = `${root}.build`;
  Deno.mkdirSync(work);
  let cur = `${work}/c0`;
  Deno.mkdirSync(cur);
  for (let i = 1; i < depth; i++) {
    const next = `${work}/c${i}`;
    Deno.mkdirSync(next);
    Deno.renameSync(cur, `${next}/d`);
    cur = next;
  }
  Deno.renameSync(cur, root);
  Deno.removeSync(work);
}

/** Deepest directory level under `root` and longest path, measured by `find`. */
export function depthOf(root: string): { dirs: number; longestPath: number } {
  const out = new Deno.Command("sh", {
    args: [
      "-c",
      'find "$1" -type d -printf "%d %p\\n" | awk \'{ if ($1 > d) d = $1; if (length($0) - length($1) - 1 > l) l = length($0) - length($1) - 1; n++ } END { print n, d, l }\'',
      "sh",
      root,
    ],
    stdin: "null",
  }).outputSync();
  const [n, , l] = new TextDecoder().decode(out.stdout).trim().split(" ").map(
    Number,
  );
  return { dirs: n, longestPath: l };
}

/** Spawns a deno script (code given inline) with stdin closed. */
export function spawnDeno(code: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(DENO, {
    args: ["eval", "--quiet", code, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Waits for a child and returns what it printed. */
export async function finished(
  child: Deno.ChildProcess,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await child.output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/**
 * A symlink-swap attacker (run it with `spawnActor`): keeps replacing the
 * directory `sub` with a symlink to `outside` (moving the real one aside to
 * `sub.away` and back), with random holds, until killed, counting each
 * symlink it plants. Errors (the tree vanishing) are ignored.
 * Args: sub, outside.
 */
export const SWAP_ATTACKER = `
const [sub, outside] = Deno.args;
const away = sub + ".away";
const nap = new Int32Array(new SharedArrayBuffer(4));
let x = 987654321;
const rand = () => ((x = (x * 1103515245 + 12345) >>> 0) / 4294967296);
while (true) {
  try {
    Deno.renameSync(sub, away);
    try { Deno.symlinkSync(outside, sub); act(); } catch {}
    if (rand() < 0.5) Atomics.wait(nap, 0, 0, rand() * 0.3);
    try { Deno.removeSync(sub); } catch {}
    Deno.renameSync(away, sub);
  } catch { /* not there right now */ }
  if (rand() < 0.5) Atomics.wait(nap, 0, 0, rand() * 0.5);
}`;

/**
 * The textbook check-then-act remover that safefs replaces: lstat an entry,
 * and if it is a directory, list it and recurse by path. Used as a control
 * to show that the attacker above is effective.
 */
export function naiveRemove(path: string): void {
  const info = Deno.lstatSync(path);
  if (!info.isDirectory) return Deno.removeSync(path);
  for (const e of Deno.readDirSync(path)) {
    const p = `${path}/${e.name}`;
    try {
      if (Deno.lstatSync(p).isDirectory) naiveRemove(p);
      else Deno.removeSync(p);
    } catch {
      // raced: keep going
    }
  }
  Deno.removeSync(path);
}
