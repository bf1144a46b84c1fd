// Copyright 2026 the safefs authors. MIT license.
// Small helpers shared by the reliability harness (fault, crash, kill, hostile).
import { join } from "node:path";
import { feat } from "../src/_sys.ts";
import { ErrnoError } from "../src/_sys_types.ts";
import { isTempName } from "../src/_temp.ts";
import { snapshot } from "./_helpers.ts";

/**
 * The exhaustive form of the reliability runs (`deno task test:reliability`
 * sets SAFEFS_RELIABILITY=full): every scenario, every fitting errno. Without
 * it, the CI form: every seam call of a core set of scenarios fails once
 * (EIO).
 */
export const FULL: boolean = (() => {
  try {
    return Deno.env.get("SAFEFS_RELIABILITY") === "full";
  } catch {
    return false;
  }
})();

/** The backend the seam runs on ("ffi" or "path"), for messages and expectations. */
export const BACKEND: "ffi" | "path" = feat.name;

/** Every safefs temp name anywhere under `root` (symlinks are not followed). */
export function tempsDeep(root: string): string[] {
  const out: string[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let list: Deno.DirEntry[];
    try {
      list = Array.from(Deno.readDirSync(dir));
    } catch {
      continue;
    }
    for (const e of list) {
      const p = join(dir, e.name);
      if (isTempName(e.name)) out.push(p);
      if (e.isDirectory) stack.push(p);
    }
  }
  return out.sort();
}

/** `snapshot(root)` with the entries at and below `rels` left out. */
export function snapshotExcept(
  root: string,
  rels: string[],
): Record<string, string> | null {
  const s = snapshot(root);
  if (s === null) return null;
  for (const k of Object.keys(s)) {
    if (rels.some((r) => k === r || k.startsWith(r + "/"))) delete s[k];
  }
  return s;
}

/** Stable text of a snapshot, for equality and messages. */
export function show(s: Record<string, string> | null): string {
  return JSON.stringify(s);
}

/** True when two snapshots are equal. */
export function same(
  a: Record<string, string> | null,
  b: Record<string, string> | null,
): boolean {
  return show(a) === show(b);
}

/**
 * True when `now` is what is left of `orig` after a partial removal: every
 * entry still there is unchanged (files, symlinks) or still a directory.
 */
export function isRemnantOf(
  now: Record<string, string> | null,
  orig: Record<string, string> | null,
): boolean {
  if (now === null) return true;
  if (orig === null) return false;
  for (const [k, v] of Object.entries(now)) {
    const o = orig[k];
    if (o === undefined) return false;
    if (v.startsWith("d:") ? !o.startsWith("d:") : v !== o) return false;
  }
  return true;
}

const ERRNO: Record<string, [number, string, () => Error]> = {
  EIO: [5, "Input/output error", () => new Error("x")],
  ENOSPC: [28, "No space left on device", () => new Error("x")],
  EACCES: [
    13,
    "Permission denied",
    () => new Deno.errors.PermissionDenied("x"),
  ],
  ESTALE: [116, "Stale file handle", () => new Error("x")],
};

/**
 * Errors for fault injection, in the shape the running backend throws: an
 * `ErrnoError` on ffi, a Deno error ending in `(os error N)` on path.
 */
export const FAULTS: Record<string, () => Error> = Object.fromEntries(
  Object.entries(ERRNO).map(([code, [n, text, make]]) => [
    code,
    (): Error => {
      if (BACKEND === "ffi") return new ErrnoError(n, "injected");
      const e = make();
      e.message = `${text} (os error ${n})`;
      return e;
    },
  ]),
);

const ENOSPC_OPS = new Set([
  "write",
  "copyRange",
  "truncate",
  "fsync",
  "syncfs",
  "mkdirAt",
  "openAt",
  "linkAt",
  "symlinkAt",
  "renameAt",
]);
const EACCES_OPS = new Set([
  "removeLeaf",
  "openDir",
  "openDirAt",
  "openAt",
  "mkdirAt",
  "renameAt",
  "linkAt",
  "unlinkAt",
  "rmdirAt",
  "symlinkAt",
  "list",
  "statAt",
  "realPath",
  "readLinkAt",
  "chmod",
  "chmodAt",
  "chown",
  "utimes",
  "lchownAt",
  "lutimesAt",
  "accessDir",
]);
/**
 * ESTALE (NFS: the object is gone on the server). Not injected into unlinkAt,
 * rmdirAt, removeLeaf, statAt, openDirAt and list: the deletion engine reads ESTALE from
 * those as "removed by another process", by design (G6: tolerate concurrent
 * deleters), so an injected one there cannot be told from a real removal.
 */
const ESTALE_OPS = new Set([
  "openDir",
  "openAt",
  "fstat",
  "read",
  "write",
  "copyRange",
  "fsync",
  "renameAt",
  "linkAt",
  "readLinkAt",
  "realPath",
]);

/** Which injected errors a seam call can really return (EIO: every call). */
export function faultsFor(op: string): string[] {
  const out = ["EIO"];
  if (ENOSPC_OPS.has(op)) out.push("ENOSPC");
  if (EACCES_OPS.has(op)) out.push("EACCES");
  if (ESTALE_OPS.has(op)) out.push("ESTALE");
  return out;
}

/** A tiny deterministic PRNG (mulberry32), so failures can be replayed by seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Prints an aligned table (header row first). */
export function printTable(title: string, rows: string[][]): void {
  const widths = rows[0].map((_, c) =>
    Math.max(...rows.map((r) => (r[c] ?? "").length))
  );
  const line = (r: string[]): string =>
    r.map((x, c) => (x ?? "").padEnd(widths[c])).join("  ").trimEnd();
  console.log(
    `\n${title}\n${line(rows[0])}\n${
      widths.map((w) => "-".repeat(w)).join("  ")
    }\n${rows.slice(1).map(line).join("\n")}`,
  );
}
