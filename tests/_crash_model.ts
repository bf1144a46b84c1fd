// Copyright 2026 the safefs authors. MIT license.
/**
 * A crash-state model of the filesystem (issue 7, part 2).
 *
 * `recordTrace()` records the seam calls of an operation (through the
 * `setSysHook` hook, plus a thin wrapper on `backend` that notes whether each
 * call succeeded; a successful `open` of a name that did not exist created
 * it). `checkCrashStates()`
 * replays that trace over an abstract in-memory tree seeded from the real
 * initial state and, for every crash point k (power lost after the k-th call,
 * k = 0..N), computes the states the disk may hold under a pessimistic POSIX
 * model:
 *
 * - File data written but not fsynced (after its last write) may be lost or
 *   torn: it is taken as torn (the worst case for every check).
 * - A directory entry change (create through `open`, `mkdir`, `symlink`,
 *   `link`, `unlink`, `rmdir`, `rename`) is pending until the directory that
 *   holds it is fsynced (`fsyncDir`); until then it may or may not be on disk.
 *   A `rename` is atomic (old or new, never both nor neither) and is pending
 *   until BOTH of its directories have been fsynced after it.
 * - Changes to one name are ordered: a later change of a name can be on disk
 *   only with all earlier changes of that name (per-name prefixes). Changes to
 *   different names are independent.
 *
 * Not modelled: metadata (mode, owner, times) and hard-link counts; a
 * filesystem that reorders or tears a single rename; data written outside the
 * seam (there is none in safefs).
 *
 * Every combination of pending changes that can affect the checked paths is
 * enumerated when there are at most `EXHAUSTIVE` of them; beyond that a
 * bounded family is checked (every subset of at most 2 changes, every subset
 * missing at most 2, every in-order prefix, and seeded random subsets).
 *
 * Checks, in every possible state after every call:
 * - G1: the destination holds its old state or the complete new one;
 * - G2 (move, copy): at least one complete copy of the data exists, at the
 *   source or at the destination;
 * and after the last call (the operation returned): exactly one state is
 * possible and it is the real final state (G3: nothing relevant pending).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { backend, setSysHook, type SysCall } from "../src/_sys.ts";
import { rng } from "./_reliability.ts";

/** A seam call as recorded, with its outcome. */
export interface TraceCall extends SysCall {
  /** The call succeeded (only successful calls change the model). */
  ok: boolean;
}

/** Records every seam call of `fn`, with its outcome. */
export async function recordTrace<T>(
  fn: () => Promise<T>,
): Promise<{ calls: TraceCall[]; result: T | unknown }> {
  const calls: TraceCall[] = [];
  let current: TraceCall | null = null;
  const restoreHook = setSysHook((c) => {
    current = { ...c, ok: false };
    calls.push(current);
  });
  const b = backend as unknown as Record<string, (...a: unknown[]) => unknown>;
  const saved: Record<string, (...a: unknown[]) => unknown> = {};
  for (const key of Object.keys(b)) {
    if (key === "permission" || key === "umask" || key === "close") continue;
    const orig = b[key];
    saved[key] = orig;
    b[key] = (...args: unknown[]) => {
      const rec = current;
      current = null;
      const done = (v: unknown): unknown => {
        if (rec) rec.ok = true;
        return v;
      };
      const r = orig(...args);
      return r instanceof Promise ? r.then(done) : done(r);
    };
  }
  try {
    return { calls, result: await fn() };
  } catch (e) {
    return { calls, result: e };
  } finally {
    for (const [k, f] of Object.entries(saved)) b[k] = f;
    restoreHook();
  }
}

type IKind = "file" | "dir" | "symlink";

interface INode {
  id: number;
  kind: IKind;
  target?: string;
  /** Content label of a file that existed before the operation. */
  initLabel?: string;
  created: boolean;
}

type Change =
  | { t: "add"; dir: number; name: string; ino: number }
  | { t: "del"; dir: number; name: string }
  | {
    t: "mv";
    fromDir: number;
    fromName: string;
    toDir: number;
    toName: string;
    ino: number;
  };

interface LoggedChange {
  c: Change;
  slots: string[];
  /** Directories still to be fsynced before it is durable. */
  waiting: Set<number>;
  committed: boolean;
}

const EMPTY = sha(new Uint8Array());
/** Label of file data not (completely) on disk after a crash. */
export const TORN = "TORN";
/** Label of a file read while its writes were still going on. */
const PARTIAL = "PARTIAL";

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** A content-only view of a tree: rel -> "f:<hash>" | "d" | "l:<target>". */
export type View = Record<string, string> | null;

/** Content-only form of a `snapshot()` from _helpers (modes dropped). */
export function contentView(s: Record<string, string> | null): View {
  if (s === null) return null;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(s)) {
    out[k] = v.startsWith("f:")
      ? `f:${v.split(":")[2]}`
      : v.startsWith("d:")
      ? "d"
      : v;
  }
  return out;
}

function key(v: View): string {
  return JSON.stringify(v);
}

/** The in-memory filesystem: inodes, the current view, the change log. */
class Fs {
  inodes: INode[] = [];
  anchors = new Map<string, number>();
  /** Durable entries before the operation. */
  init = new Map<number, Map<string, number>>();
  /** Current (in-memory, what a reader sees) entries. */
  cur = new Map<number, Map<string, number>>();
  log: LoggedChange[] = [];
  /** Per file inode: writes so far, and whether fsynced since the last one. */
  writes = new Map<number, number>();
  synced = new Map<number, boolean>();
  /** Per file inode: total writes in the whole trace, final content label. */
  totalWrites = new Map<number, number>();
  finalLabel = new Map<number, string>();
  /** Handle calls name the path a handle was opened with: path -> inode opened. */
  handles = new Map<string, number>();

  constructor(roots: string[]) {
    const byIno = new Map<string, number>();
    const walk = (path: string): number => {
      const info = Deno.lstatSync(path);
      const k = `${info.dev}:${info.ino}`;
      const seen = byIno.get(k);
      if (seen !== undefined) return seen;
      const node: INode = {
        id: this.inodes.length,
        kind: info.isDirectory ? "dir" : info.isSymlink ? "symlink" : "file",
        created: false,
      };
      this.inodes.push(node);
      byIno.set(k, node.id);
      if (node.kind === "symlink") node.target = Deno.readLinkSync(path);
      else if (node.kind === "file") {
        node.initLabel = info.isFile ? sha(Deno.readFileSync(path)) : "special";
      } else {
        const m = new Map<string, number>();
        this.init.set(node.id, m);
        for (const e of Deno.readDirSync(path)) {
          m.set(e.name, walk(join(path, e.name)));
        }
      }
      return node.id;
    };
    for (const r of roots) this.anchors.set(r, walk(r));
    for (const [d, m] of this.init) this.cur.set(d, new Map(m));
  }

  clone(): Fs {
    const f = Object.create(Fs.prototype) as Fs;
    f.inodes = this.inodes.map((n) => ({ ...n }));
    f.anchors = new Map(this.anchors);
    f.init = new Map([...this.init].map(([k, v]) => [k, new Map(v)]));
    f.cur = new Map([...this.init].map(([k, v]) => [k, new Map(v)]));
    f.log = [];
    f.writes = new Map();
    f.synced = new Map();
    f.totalWrites = new Map();
    f.finalLabel = new Map();
    f.handles = new Map();
    return f;
  }

  newInode(kind: IKind, target?: string): number {
    const n: INode = { id: this.inodes.length, kind, created: true };
    if (target !== undefined) n.target = target;
    this.inodes.push(n);
    if (kind === "dir") {
      this.init.set(n.id, new Map());
      this.cur.set(n.id, new Map());
    }
    return n.id;
  }

  /** Resolves `path` in the current view: its parent dir, name, inode. */
  resolve(path: string): { dir: number; name: string; ino?: number } | null {
    let best: string | null = null;
    for (const a of this.anchors.keys()) {
      if (
        (path === a || path.startsWith(a + "/")) &&
        (best === null || a.length > best.length)
      ) best = a;
    }
    if (best === null) return null;
    const root = this.anchors.get(best)!;
    if (path === best) return { dir: -1, name: "", ino: root };
    const parts = path.slice(best.length + 1).split("/").filter((p) =>
      p !== ""
    );
    let dir = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const next = this.cur.get(dir)?.get(parts[i]);
      if (next === undefined || this.inodes[next].kind !== "dir") return null;
      dir = next;
    }
    const name = parts[parts.length - 1];
    const ino = this.cur.get(dir)?.get(name);
    return ino === undefined ? { dir, name } : { dir, name, ino };
  }

  push(c: Change): void {
    let slots: string[], waiting: number[];
    if (c.t === "mv") {
      slots = [`${c.fromDir}/${c.fromName}`, `${c.toDir}/${c.toName}`];
      waiting = [c.fromDir, c.toDir];
    } else {
      slots = [`${c.dir}/${c.name}`];
      waiting = [c.dir];
    }
    this.log.push({ c, slots, waiting: new Set(waiting), committed: false });
  }

  commit(i: number): void {
    const stack = [i];
    while (stack.length > 0) {
      const j = stack.pop()!;
      const l = this.log[j];
      if (l.committed) continue;
      l.committed = true;
      // Everything earlier on the same names is durable with it.
      for (let e = 0; e < j; e++) {
        if (
          !this.log[e].committed &&
          this.log[e].slots.some((s) => l.slots.includes(s))
        ) stack.push(e);
      }
    }
  }

  fsyncDir(dir: number): void {
    for (let i = 0; i < this.log.length; i++) {
      const l = this.log[i];
      if (l.committed) continue;
      l.waiting.delete(dir);
      if (l.waiting.size === 0) this.commit(i);
    }
  }

  /** Applies one successful seam call to the current view and the log. */
  apply(call: TraceCall, where: string): void {
    if (!call.ok) return;
    const need = (
      p: string | undefined,
    ): { dir: number; name: string; ino?: number } => {
      const r = p === undefined ? null : this.resolve(p);
      if (r === null) {
        throw new Error(`crash model: ${where}: cannot resolve '${p}'`);
      }
      return r;
    };
    switch (call.op) {
      case "open": {
        const r = need(call.path);
        let ino = r.ino;
        if (ino === undefined) {
          ino = this.newInode("file");
          this.cur.get(r.dir)!.set(r.name, ino);
          this.push({ t: "add", dir: r.dir, name: r.name, ino });
        }
        this.handles.set(call.path!, ino);
        return;
      }
      case "write": {
        const ino = this.handleInode(call.path, need);
        this.writes.set(ino, (this.writes.get(ino) ?? 0) + 1);
        this.synced.set(ino, false);
        return;
      }
      case "fsync": {
        this.synced.set(this.handleInode(call.path, need), true);
        return;
      }
      case "copyFile":
      case "createFile": {
        // Creates (copyFile: or truncates) the file with data not yet fsynced.
        const r = need(call.op === "copyFile" ? call.dest : call.path);
        let ino = r.ino;
        if (ino === undefined) {
          ino = this.newInode("file");
          this.cur.get(r.dir)!.set(r.name, ino);
          this.push({ t: "add", dir: r.dir, name: r.name, ino });
        }
        this.writes.set(ino, (this.writes.get(ino) ?? 0) + 1);
        this.synced.set(ino, false);
        return;
      }
      case "fsyncDir": {
        const ino = need(call.path).ino!;
        this.fsyncDir(ino);
        return;
      }
      case "mkdir":
      case "symlink": {
        const r = need(call.path);
        const ino = call.op === "mkdir"
          ? this.newInode("dir")
          : this.newInode("symlink", call.dest);
        this.cur.get(r.dir)!.set(r.name, ino);
        this.push({ t: "add", dir: r.dir, name: r.name, ino });
        return;
      }
      case "link": {
        const from = need(call.path);
        const to = need(call.dest);
        this.cur.get(to.dir)!.set(to.name, from.ino!);
        this.push({ t: "add", dir: to.dir, name: to.name, ino: from.ino! });
        return;
      }
      case "unlink":
      case "rmdir": {
        const r = need(call.path);
        this.cur.get(r.dir)!.delete(r.name);
        this.push({ t: "del", dir: r.dir, name: r.name });
        return;
      }
      case "rename": {
        const from = need(call.path);
        const to = need(call.dest);
        if (from.dir === to.dir && from.name === to.name) return;
        this.cur.get(from.dir)!.delete(from.name);
        this.cur.get(to.dir)!.set(to.name, from.ino!);
        this.push({
          t: "mv",
          fromDir: from.dir,
          fromName: from.name,
          toDir: to.dir,
          toName: to.name,
          ino: from.ino!,
        });
        return;
      }
      default:
        // lstat, stat, fstat, read, readLink, readDir, realPath, chmod, chown,
        // utime, futime: no change of names or data the checks look at.
        return;
    }
  }

  /** The inode a handle call acts on (the file opened with that path). */
  handleInode(
    path: string | undefined,
    need: (p: string | undefined) => { ino?: number },
  ): number {
    const h = path === undefined ? undefined : this.handles.get(path);
    if (h !== undefined) return h;
    const ino = need(path).ino;
    if (ino === undefined) {
      throw new Error(`crash model: no open file for '${path}'`);
    }
    return ino;
  }

  /** Durable content label of file `ino` after the calls applied so far. */
  durableLabel(ino: number): string {
    const n = this.inodes[ino];
    const w = this.writes.get(ino) ?? 0;
    if (w === 0) return n.created ? EMPTY : n.initLabel!;
    if (!this.synced.get(ino)) return TORN;
    return w === (this.totalWrites.get(ino) ?? w)
      ? (this.finalLabel.get(ino) ?? PARTIAL)
      : PARTIAL;
  }

  /** The directory entries on disk if exactly `included` (plus committed) changes made it. */
  durableEntries(included: Set<number>): Map<number, Map<string, number>> {
    const ent = new Map<number, Map<string, number>>();
    for (const [d, m] of this.init) ent.set(d, new Map(m));
    for (let i = 0; i < this.log.length; i++) {
      const l = this.log[i];
      if (!l.committed && !included.has(i)) continue;
      const c = l.c;
      if (c.t === "add") ent.get(c.dir)!.set(c.name, c.ino);
      else if (c.t === "del") ent.get(c.dir)!.delete(c.name);
      else {
        ent.get(c.fromDir)!.delete(c.fromName);
        ent.get(c.toDir)!.set(c.toName, c.ino);
      }
    }
    return ent;
  }

  /** Content-only view of `path` in a tree of `entries`, with `label` for files. */
  view(
    path: string,
    entries: Map<number, Map<string, number>>,
    label: (ino: number) => string,
  ): View {
    let best: string | null = null;
    for (const a of this.anchors.keys()) {
      if (
        (path === a || path.startsWith(a + "/")) &&
        (best === null || a.length > best.length)
      ) best = a;
    }
    if (best === null) {
      throw new Error(`crash model: '${path}' is outside the modelled dirs`);
    }
    let ino: number | undefined = this.anchors.get(best)!;
    if (path !== best) {
      for (
        const part of path.slice(best.length + 1).split("/").filter((p) =>
          p !== ""
        )
      ) {
        if (ino === undefined || this.inodes[ino].kind !== "dir") return null;
        ino = entries.get(ino)!.get(part);
      }
    }
    if (ino === undefined) return null;
    const out: Record<string, string> = {};
    const walk = (i: number, rel: string): void => {
      const n = this.inodes[i];
      if (n.kind === "symlink") out[rel] = `l:${n.target}`;
      else if (n.kind === "file") out[rel] = `f:${label(i)}`;
      else {
        out[rel] = "d";
        const names = [...entries.get(i)!.keys()].sort();
        for (const name of names) {
          walk(
            entries.get(i)!.get(name)!,
            rel === "" ? name : `${rel}/${name}`,
          );
        }
      }
    };
    walk(ino, "");
    return out;
  }
}

/** What `checkCrashStates` needs to know about the operation. */
export interface CrashSpec {
  /** The directories modelled (every path the operation touches is under one). */
  roots: string[];
  kind: "move" | "copy" | "write";
  src?: string;
  dest: string;
  /** Content views before the operation (taken with `contentView(snapshot())`). */
  srcBefore?: View;
  destBefore: View;
}

/** One broken guarantee in one possible crash state. */
export interface Violation {
  /** Crash after this many calls (0: before the first). */
  k: number;
  /** The last call made before the crash. */
  after: string;
  rule: "G1" | "G2" | "G3";
  detail: string;
}

/** What the model checked. */
export interface CrashReport {
  calls: number;
  crashPoints: number;
  /** Possible disk states examined, over all crash points. */
  states: number;
  /** Distinct (src, dest) views among them. */
  distinct: number;
  /** Crash points whose pending changes were enumerated exhaustively / bounded. */
  exhaustive: number;
  bounded: number;
  /** Most pending changes relevant to the checks at one crash point. */
  maxPending: number;
  /** Examples of violations (at most 5 per rule). */
  violations: Violation[];
  /** Possible states breaking each rule (G3: 1 when the final state is not unique). */
  counts: Record<Violation["rule"], number>;
}

/** Pending changes relevant to the checks are enumerated exhaustively up to this many. */
export const EXHAUSTIVE = 10;
const RANDOM_SAMPLES = 256;

/**
 * Replays `calls` (recorded on the real filesystem from the state the roots
 * had when `seed` was taken) and checks every crash state. `seed` must be
 * built before the operation ran: `new CrashSeed(roots)`.
 */
export function checkCrashStates(
  seed: CrashSeed,
  calls: TraceCall[],
  spec: CrashSpec,
): CrashReport {
  // Pass 1: replay everything to learn each created file's write count and
  // final content (read from the real file it became), and to check that the
  // model's current view ends equal to the real filesystem.
  const fs1 = seed.fresh();
  const writeCount = new Map<number, number>();
  calls.forEach((c, i) => {
    fs1.apply(c, `call ${i} ${c.op}`);
    if (c.ok && c.op === "write") {
      const ino = fs1.handles.get(c.path!) ?? fs1.resolve(c.path!)!.ino!;
      writeCount.set(ino, (writeCount.get(ino) ?? 0) + 1);
    }
  });
  const finalLabel = new Map<number, string>();
  for (const root of spec.roots) {
    const stack: [string, number][] = [[root, fs1.anchors.get(root)!]];
    while (stack.length > 0) {
      const [p, ino] = stack.pop()!;
      const n = fs1.inodes[ino];
      if (n.kind === "file" && n.created && !finalLabel.has(ino)) {
        finalLabel.set(ino, sha(Deno.readFileSync(p)));
      }
      if (n.kind === "dir") {
        for (const [name, child] of fs1.cur.get(ino)!) {
          stack.push([join(p, name), child]);
        }
      }
    }
  }
  for (const [ino, w] of writeCount) fs1.totalWrites.set(ino, w);
  for (const root of spec.roots) {
    const model = key(fs1.view(root, fs1.cur, (i) => {
      const n = fs1.inodes[i];
      return n.created ? (finalLabel.get(i) ?? EMPTY) : n.initLabel!;
    }));
    const real = key(seed.realView(root));
    if (model !== real) {
      throw new Error(
        `crash model: replay of the trace does not end in the real state of ${root}:\n model ${model}\n real  ${real}`,
      );
    }
  }

  // Pass 2: at every crash point, enumerate the possible disk states.
  const fs = seed.fresh();
  for (const [ino, w] of writeCount) fs.totalWrites.set(ino, w);
  for (const [ino, l] of finalLabel) fs.finalLabel.set(ino, l);
  const destAfter = key(fs1.view(spec.dest, fs1.cur, (i) => {
    const n = fs1.inodes[i];
    return n.created ? (finalLabel.get(i) ?? EMPTY) : n.initLabel!;
  }));
  const srcAfter = spec.src === undefined
    ? "null"
    : key(fs1.view(spec.src, fs1.cur, (i) => {
      const n = fs1.inodes[i];
      return n.created ? (finalLabel.get(i) ?? EMPTY) : n.initLabel!;
    }));
  const destBefore = key(spec.destBefore);
  const srcBefore = key(spec.srcBefore ?? null);

  const report: CrashReport = {
    calls: calls.length,
    crashPoints: 0,
    states: 0,
    distinct: 0,
    exhaustive: 0,
    bounded: 0,
    maxPending: 0,
    violations: [],
    counts: { G1: 0, G2: 0, G3: 0 },
  };
  const distinct = new Set<string>();
  const random = rng(7);
  for (let k = 0; k <= calls.length; k++) {
    if (k > 0) fs.apply(calls[k - 1], `call ${k - 1}`);
    report.crashPoints++;
    const after = k === 0
      ? "(before the first call)"
      : `${calls[k - 1].op} ${calls[k - 1].path ?? ""}${
        calls[k - 1].dest ? " -> " + calls[k - 1].dest : ""
      }`;
    const pending = relevantPending(fs, spec);
    report.maxPending = Math.max(report.maxPending, pending.length);
    const subsets = pending.length <= EXHAUSTIVE
      ? allSubsets(pending.length)
      : boundedSubsets(pending.length, random);
    if (pending.length <= EXHAUSTIVE) report.exhaustive++;
    else report.bounded++;
    const label = (i: number): string => fs.durableLabel(i);
    const seenHere = new Set<string>();
    for (const mask of subsets) {
      const included = closure(fs, mask.map((j) => pending[j]));
      const ent = fs.durableEntries(included);
      const dest = key(fs.view(spec.dest, ent, label));
      const src = spec.src === undefined
        ? "null"
        : key(fs.view(spec.src, ent, label));
      const stateKey = `${src}\n${dest}`;
      report.states++;
      if (seenHere.has(stateKey)) continue;
      seenHere.add(stateKey);
      distinct.add(stateKey);
      const bad = (rule: Violation["rule"], detail: string): void => {
        report.counts[rule]++;
        if (report.violations.filter((v) => v.rule === rule).length < 5) {
          report.violations.push({
            k,
            after,
            rule,
            detail: `${detail}\n   src=${src}\n   dest=${dest}`,
          });
        }
      };
      if (dest !== destBefore && dest !== destAfter) {
        bad(
          "G1",
          "the destination is neither its old state nor the complete new one",
        );
      }
      if (spec.kind === "move" && src !== srcBefore && dest !== destAfter) {
        bad(
          "G2",
          "no complete copy: the source is not intact and the destination is not complete",
        );
      }
      if (spec.kind === "copy" && src !== srcBefore) {
        bad("G2", "the source changed");
      }
    }
    if (k === calls.length) {
      const only = `${srcAfter}\n${destAfter}`;
      if (seenHere.size !== 1 || !seenHere.has(only)) {
        const others = [...seenHere].filter((s) => s !== only);
        report.counts.G3++;
        {
          report.violations.push({
            k,
            after,
            rule: "G3",
            detail:
              `after the call returned, ${seenHere.size} states are possible (pending: ${
                pending.map((i) => describe(fs, i)).join("; ")
              }); e.g.\n   ${others[0]?.replace("\n", "\n   ")}`,
          });
        }
      }
    }
  }
  report.distinct = distinct.size;
  return report;
}

function describe(fs: Fs, i: number): string {
  const c = fs.log[i].c;
  if (c.t === "mv") {
    return `rename ${c.fromDir}/${c.fromName} -> ${c.toDir}/${c.toName}`;
  }
  return `${c.t} ${c.dir}/${c.name}`;
}

/**
 * Indexes of pending changes that can change what the checks see: changes of
 * the source's or destination's own name, and changes inside any directory
 * that may ever be reachable from them.
 */
function relevantPending(fs: Fs, spec: CrashSpec): number[] {
  const slotsAt = (path: string): string | null => {
    const r = fs.resolve(join(path, ".."));
    if (r === null || r.ino === undefined) return null;
    return `${r.ino}/${path.slice(path.lastIndexOf("/") + 1)}`;
  };
  const top = [spec.dest, spec.src].filter((p): p is string => p !== undefined)
    .map(slotsAt).filter((s): s is string => s !== null);
  // Every inode that has ever been (or may be) at a relevant slot, and every
  // directory reachable from one through any entry ever made.
  const children = new Map<number, Set<number>>();
  const addChild = (d: number, c: number): void => {
    let s = children.get(d);
    if (!s) children.set(d, s = new Set());
    s.add(c);
  };
  for (const [d, m] of fs.init) for (const c of m.values()) addChild(d, c);
  for (const l of fs.log) {
    if (l.c.t === "add") addChild(l.c.dir, l.c.ino);
    if (l.c.t === "mv") addChild(l.c.toDir, l.c.ino);
  }
  const roots = new Set<number>();
  for (const s of top) {
    const [d, name] = [
      Number(s.slice(0, s.indexOf("/"))),
      s.slice(s.indexOf("/") + 1),
    ];
    const i0 = fs.init.get(d)?.get(name);
    if (i0 !== undefined) roots.add(i0);
    for (const l of fs.log) {
      if (l.c.t === "add" && l.c.dir === d && l.c.name === name) {
        roots.add(l.c.ino);
      }
      if (l.c.t === "mv" && l.c.toDir === d && l.c.toName === name) {
        roots.add(l.c.ino);
      }
    }
  }
  const dirs = new Set<number>();
  const stack = [...roots];
  while (stack.length > 0) {
    const i = stack.pop()!;
    if (fs.inodes[i].kind !== "dir" || dirs.has(i)) continue;
    dirs.add(i);
    for (const c of children.get(i) ?? []) stack.push(c);
  }
  const out: number[] = [];
  fs.log.forEach((l, i) => {
    if (l.committed) return;
    const touches = l.slots.some((s) =>
      top.includes(s) || dirs.has(Number(s.slice(0, s.indexOf("/"))))
    );
    if (touches) out.push(i);
  });
  return out;
}

/** The chosen pending changes plus every earlier pending change of the same names. */
function closure(fs: Fs, chosen: number[]): Set<number> {
  const inc = new Set<number>();
  const stack = [...chosen];
  while (stack.length > 0) {
    const j = stack.pop()!;
    if (inc.has(j)) continue;
    inc.add(j);
    const slots = fs.log[j].slots;
    for (let e = 0; e < j; e++) {
      const l = fs.log[e];
      if (
        !l.committed && !inc.has(e) && l.slots.some((s) => slots.includes(s))
      ) stack.push(e);
    }
  }
  return inc;
}

function allSubsets(n: number): number[][] {
  const out: number[][] = [];
  for (let m = 0; m < 1 << n; m++) {
    const s: number[] = [];
    for (let i = 0; i < n; i++) if (m & (1 << i)) s.push(i);
    out.push(s);
  }
  return out;
}

function boundedSubsets(n: number, random: () => number): number[][] {
  const all = Array.from({ length: n }, (_, i) => i);
  const out: number[][] = [[], all];
  for (let i = 0; i < n; i++) {
    out.push([i], all.filter((x) => x !== i));
    for (let j = i + 1; j < n; j++) {
      out.push(
        [i, j],
        all.filter((x) => x !== i && x !== j),
      );
    }
  }
  for (let j = 1; j < n; j++) out.push(all.slice(0, j), all.slice(j));
  for (let r = 0; r < RANDOM_SAMPLES; r++) {
    out.push(all.filter(() => random() < 0.5));
  }
  return out;
}

/** The real state of the modelled dirs, taken before the operation runs. */
export class CrashSeed {
  #proto: Fs;
  /** Seeds the model from the real trees at `roots` as they are now. */
  constructor(public roots: string[]) {
    this.#proto = new Fs(roots);
  }
  /** A fresh model in the seeded state. */
  fresh(): Fs {
    return this.#proto.clone();
  }
  /** Content view of the real tree at `root` now (after the operation). */
  realView(root: string): View {
    return realContentView(root);
  }
}

/** Content-only view of the real tree at `path` (hard links are two files). */
export function realContentView(path: string): View {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch {
    return null;
  }
  const out: Record<string, string> = {};
  const walk = (p: string, rel: string, i: Deno.FileInfo): void => {
    if (i.isSymlink) out[rel] = `l:${Deno.readLinkSync(p)}`;
    else if (i.isDirectory) {
      out[rel] = "d";
      const names = Array.from(Deno.readDirSync(p)).map((e) => e.name).sort();
      for (const n of names) {
        walk(
          join(p, n),
          rel === "" ? n : `${rel}/${n}`,
          Deno.lstatSync(join(p, n)),
        );
      }
    } else if (i.isFile) out[rel] = `f:${sha(Deno.readFileSync(p))}`;
    else out[rel] = "f:special";
  };
  walk(path, "", info);
  return out;
}
