// Copyright 2026 the safefs authors. MIT license.
/**
 * A crash-state model of the filesystem (issue 7 part 2, issue 13's seam,
 * issue 21's modes).
 *
 * `recordTrace()` records the seam calls of an operation through the
 * `setSysHook` hook, each with its outcome, in the order the calls FINISH
 * (the hook's after-function): an fsync started alongside others (a batch
 * of parallel fsyncs) counts only once it has returned. `checkCrashStates()`
 * replays that trace over an abstract in-memory filesystem seeded from the
 * real initial state and, for every crash point k (power lost after the
 * k-th call, k = 0..N), computes the states the disk may hold under a
 * pessimistic POSIX model:
 *
 * - Directory entries. A change of an entry (made by openAt "create",
 *   mkdirAt, symlinkAt, linkAt; removed by unlinkAt, rmdirAt, and
 *   removeLeaf, which removes a whole directory as remove_dir_all does: each
 *   entry in its directory, then the directory in its parent; moved by
 *   renameAt "replace", or "noreplace", which behaves as a replace when it
 *   succeeds) is pending until the directory that holds it is fsynced; until
 *   then it may or may not be on disk. A rename is atomic (old or new, never
 *   both nor neither) and is pending until BOTH of its directories have been
 *   fsynced after it. An exchange (renameAt "exchange") swaps the two names
 *   atomically (both old or both swapped) and is pending until both
 *   directories have been fsynced. Changes to one name are ordered: a later
 *   change of a name is on disk only with all earlier changes of that name.
 *   Changes to different names are independent.
 * - File data (write, copyRange into the file, truncate) is pending until
 *   the file is fsynced; a file whose data is pending is taken as torn (the
 *   worst case for every check).
 * - Metadata. A mode set by chmod/chmodAt, and owner or times set by chown,
 *   utimes, lchownAt, lutimesAt, are pending until that inode is fsynced,
 *   and are taken as lost until then. A created entry's own mode (openAt,
 *   mkdirAt; the umask applied) is durable with its entry. A symlink cannot
 *   be fsynced: its owner and times become durable with an fsync of the
 *   directory holding it (or a syncfs).
 * - syncfs(h) makes everything pending on h's filesystem durable: entry
 *   changes in its directories, data and metadata of its inodes. Which
 *   filesystem an inode is on: the device `lstat` reports for entries that
 *   existed when the model was seeded, and, for entries the operation makes,
 *   the device of the directory it makes them in (a rename never crosses
 *   filesystems).
 *
 * Handles. A handle call (fsync, chmod, write, syncfs...) names the path its
 * handle was opened by; the ffi backend keeps that path, the path backend
 * moves it along with renames of its own. The model binds every path a
 * directory or file was opened by to the inode it opened, most recent open
 * first, and on a rename adds the renamed paths as aliases, so both
 * backends' traces resolve to the right inode. A name-relative call
 * (`<dir path>/<name>`) resolves `<dir path>` the same way, then the name in
 * the current view.
 *
 * Not modelled: hard-link counts, a filesystem that reorders or tears a
 * single rename, data written outside the seam (there is none in safefs).
 *
 * Every combination of the pending changes that can affect the checked paths
 * is enumerated when there are at most `EXHAUSTIVE` of them; beyond that a
 * bounded family is checked (every subset of at most 2 changes, every subset
 * missing at most 2, every in-order prefix and suffix, and seeded random
 * subsets).
 *
 * Checks, in every possible state after every call:
 * - G1: the destination holds its old state or the complete new one (modes,
 *   owner and times included); for remove: what is there is an unchanged
 *   part of the original;
 * - G2 (move, copy): at least one complete copy of the data exists, at the
 *   source or at the destination; a copy's source never changes;
 * - X (move): the source's name holds nothing but (a part of) the source: a
 *   replaced destination swapped out by an exchange must not land there;
 *   (every operation): every name the operation creates outside the source
 *   and destination trees (and the directories leading to the destination)
 *   is a temp name that sweep() recognises;
 * and after the last call (the operation returned): exactly one state is
 *   possible and it is the real final state (G3: nothing relevant pending);
 *   for remove: the removed path is gone in every state.
 *
 * @module
 */
import { setSysHook } from "../src/_sys.ts";
import { isTempName } from "../src/_temp.ts";
import { rng } from "./_reliability.ts";
import {
  applyChange,
  baseName,
  Fs,
  key,
  layered,
  parentOf,
  PARTIAL,
  plain,
  realView,
  sha,
  type TraceCall,
  type View,
} from "./_crash_fs.ts";

export { realView, TORN, type TraceCall, type View } from "./_crash_fs.ts";

/**
 * Records every seam call of `fn` with its outcome, in the order the calls
 * finish. `fn` may be synchronous (the sync twins).
 */
export async function recordTrace<T>(
  fn: () => Promise<T> | T,
): Promise<{ calls: TraceCall[]; result: T | unknown }> {
  const calls: TraceCall[] = [];
  const restore = setSysHook((c) => (error) => {
    calls.push({ ...c, ok: error === null });
  });
  try {
    return { calls, result: await fn() };
  } catch (e) {
    return { calls, result: e };
  } finally {
    restore();
  }
}

/** What `checkCrashStates` needs to know about the operation. */
export interface CrashSpec {
  /** The directories modelled (every path the operation changes is under one). */
  roots: string[];
  kind: "move" | "copy" | "write" | "remove";
  src?: string;
  dest: string;
}

/** The rules a crash state can break. */
export type Rule = "G1" | "G2" | "G3" | "X";

/** One broken guarantee in one possible crash state. */
export interface Violation {
  /** Crash after this many calls (0: before the first). */
  k: number;
  /** The last call made before the crash. */
  after: string;
  rule: Rule;
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
  /**
   * States (of a move onto a non-empty directory, by an exchange) where the
   * source's name holds the complete replaced destination: the exchange is
   * on disk and the next call, the rename of the replaced tree to a temp
   * name, not yet. No order of calls closes this under this model (it keeps
   * changes to one name in order, but lets the exchange reach the disk
   * alone); a journaling filesystem commits the two adjacent calls together.
   * Counted and reported, not a violation.
   */
  exchangeWindow: number;
  /** Examples of violations (at most 5 per rule). */
  violations: Violation[];
  /** Possible states breaking each rule (G3: 1 when the final state is not unique). */
  counts: Record<Rule, number>;
  /**
   * fsyncs (and syncfs calls) made when nothing was pending on what they
   * sync: not wrong, but G3 asks for no more fsyncs than the guarantee needs.
   */
  redundant: string[];
}

/** Pending changes relevant to the checks are enumerated exhaustively up to this many. */
export const EXHAUSTIVE = 10;
const RANDOM_SAMPLES = 256;

function describeCall(c: TraceCall): string {
  return `${c.op}${c.how ? "(" + c.how + ")" : ""} ${c.path ?? ""}${
    c.dest ? " -> " + c.dest : ""
  }`;
}

/**
 * Replays `calls` (recorded on the real filesystem from the state the roots
 * had when `seed` was taken) and checks every crash state. `seed` must be
 * built before the operation ran: `new CrashSeed(roots)`. Unless `real` is
 * false, the replay must end in the real state of the roots (modes
 * included), which shows the model followed the trace.
 */
export function checkCrashStates(
  seed: CrashSeed,
  calls: TraceCall[],
  spec: CrashSpec,
  real = true,
): CrashReport {
  // Pass 1: replay everything to learn each created file's number of data
  // changes and final content (read from the real file it became), and to
  // check that the model's current view ends equal to the real filesystem.
  const fs1 = seed.fresh();
  calls.forEach((c, i) => fs1.apply(c, i));
  const finalLabel = new Map<number, string>();
  const totalWrites = new Map<number, number>();
  for (const n of fs1.inodes) if (n.writes > 0) totalWrites.set(n.id, n.writes);
  for (const root of spec.roots) {
    const stack: [string, number][] = [[root, fs1.anchors.get(root)!]];
    while (stack.length > 0) {
      const [p, ino] = stack.pop()!;
      const n = fs1.inodes[ino];
      if (n.kind === "file" && n.created && !finalLabel.has(ino)) {
        try {
          finalLabel.set(ino, sha(Deno.readFileSync(p)));
        } catch {
          finalLabel.set(ino, PARTIAL);
        }
      }
      if (n.kind === "dir") {
        for (const [name, child] of fs1.cur.get(ino)!) {
          stack.push([`${p}/${name}`, child]);
        }
      }
    }
  }
  fs1.finalLabel = finalLabel;
  fs1.totalWrites = totalWrites;
  if (real) {
    for (const root of spec.roots) {
      const model = key(fs1.view(root, plain(fs1.cur), false, false));
      const now = key(realView(root));
      if (model !== now) {
        throw new Error(
          `crash model: replay of the trace does not end in the real state of ${root}:\n model ${model}\n real  ${now}`,
        );
      }
    }
  }

  // The data trees: every directory ever reachable from the source or
  // destination name, and the directories on the way to the destination.
  const names = checkedNames(fs1, spec);
  const report: CrashReport = {
    calls: calls.length,
    crashPoints: 0,
    states: 0,
    distinct: 0,
    exhaustive: 0,
    bounded: 0,
    maxPending: 0,
    violations: [],
    counts: { G1: 0, G2: 0, G3: 0, X: 0 },
    exchangeWindow: 0,
    redundant: fs1.redundant,
  };
  const exchangedMove = spec.kind === "move" &&
    calls.some((c) =>
      c.ok && c.op === "renameAt" && c.how === "exchange" &&
      c.path === spec.src && c.dest === spec.dest
    );
  const bad = (
    k: number,
    after: string,
    rule: Rule,
    detail: string,
  ): void => {
    report.counts[rule]++;
    if (report.violations.filter((v) => v.rule === rule).length < 5) {
      report.violations.push({ k, after, rule, detail });
    }
  };
  // X, statically: a name made outside the data trees (every directory that
  // ever is inside the source or destination, or inside a temp) must be a
  // temp name.
  const children1 = childrenOf(fs1);
  const dataDirs = reachable(fs1, inodesAt(fs1, names.top), children1);
  const tempDirs = reachable(
    fs1,
    inodesAt(fs1, names.top, (s) => isTempName(s.slice(s.indexOf("/") + 1))),
    children1,
  );
  fs1.log.forEach((l) => {
    const made: [number, string][] = l.c.t === "add"
      ? [[l.c.dir, l.c.name]]
      : l.c.t === "mv"
      ? [[l.c.toDir, l.c.toName]]
      : l.c.t === "xchg"
      ? [[l.c.aDir, l.c.aName], [l.c.bDir, l.c.bName]]
      : [];
    for (const [d, n] of made) {
      if (dataDirs.has(d) || tempDirs.has(d) || names.top.has(`${d}/${n}`)) {
        continue;
      }
      if (names.onTheWay.has(`${d}/${n}`) || isTempName(n)) continue;
      bad(
        l.call + 1,
        describeCall(calls[l.call]),
        "X",
        `'${n}' is made outside the source and destination, under a name sweep() does not recognise`,
      );
    }
  });

  // Pass 2: at every crash point, enumerate the possible disk states.
  const fs = seed.fresh();
  fs.finalLabel = finalLabel;
  fs.totalWrites = totalWrites;
  const cur1 = plain(fs1.cur);
  const destAfter = key(fs1.view(spec.dest, cur1, false));
  const srcAfter = spec.src === undefined
    ? "null"
    : key(fs1.view(spec.src, cur1, false));
  const init = plain(fs.init);
  const destBeforeView = fs.view(spec.dest, init, false);
  const srcBeforeView = spec.src === undefined
    ? null
    : fs.view(spec.src, init, false);
  const destBefore = key(destBeforeView);
  const srcBefore = key(srcBeforeView);

  const distinct = new Set<string>();
  const random = rng(7);
  for (let k = 0; k <= calls.length; k++) {
    if (k > 0) fs.apply(calls[k - 1], k - 1);
    report.crashPoints++;
    const after = k === 0
      ? "(before the first call)"
      : `${k - 1}: ${describeCall(calls[k - 1])}`;
    const pending = relevantPending(fs, names);
    report.maxPending = Math.max(report.maxPending, pending.length);
    const subsets = pending.length <= EXHAUSTIVE
      ? allSubsets(pending.length)
      : boundedSubsets(pending.length, random);
    if (pending.length <= EXHAUSTIVE) report.exhaustive++;
    else report.bounded++;
    const base = fs.committedEntries();
    const seenHere = new Set<string>();
    for (const mask of subsets) {
      const included = [...closure(fs, mask.map((j) => pending[j]))].sort((
        a,
        b,
      ) => a - b);
      const over = new Map<number, Map<string, number | null>>();
      for (const i of included) {
        applyChange(fs.log[i].c, (d, n, v) => {
          let m = over.get(d);
          if (m === undefined) over.set(d, m = new Map());
          m.set(n, v);
        });
      }
      const ent = layered(base, over);
      const destV = fs.view(spec.dest, ent, true);
      const srcV = spec.src === undefined ? null : fs.view(spec.src, ent, true);
      const dest = key(destV);
      const src = spec.src === undefined ? "null" : key(srcV);
      const stateKey = `${src}\n${dest}`;
      report.states++;
      if (seenHere.has(stateKey)) continue;
      seenHere.add(stateKey);
      distinct.add(stateKey);
      const state = `\n   src=${src}\n   dest=${dest}`;
      if (spec.kind === "remove") {
        if (!remnant(destV, destBeforeView)) {
          bad(
            k,
            after,
            "G1",
            `what is left is not a part of the original${state}`,
          );
        }
      } else if (dest !== destBefore && dest !== destAfter) {
        bad(
          k,
          after,
          "G1",
          `the destination is neither its old state nor the complete new one${state}`,
        );
      }
      if (spec.kind === "move") {
        if (src !== srcBefore && dest !== destAfter) {
          bad(
            k,
            after,
            "G2",
            `no complete copy: the source is not intact and the destination is not complete${state}`,
          );
        }
        if (exchangedMove && k < calls.length && src === destBefore) {
          report.exchangeWindow++;
        } else if (!remnant(srcV, srcBeforeView)) {
          bad(
            k,
            after,
            "X",
            `the source's name holds something that is not the source${state}`,
          );
        }
      }
      if (spec.kind === "copy" && src !== srcBefore) {
        bad(k, after, "G2", `the source changed${state}`);
      }
    }
    if (k === calls.length) {
      const only = `${srcAfter}\n${destAfter}`;
      if (
        spec.kind === "remove" &&
        [...seenHere].some((s) => !s.endsWith("\nnull"))
      ) {
        bad(
          k,
          after,
          "G3",
          `remove() returned, but a power cut can bring '${spec.dest}' back`,
        );
      } else if (seenHere.size !== 1 || !seenHere.has(only)) {
        const others = [...seenHere].filter((s) => s !== only);
        bad(
          k,
          after,
          "G3",
          `after the call returned, ${seenHere.size} states are possible (pending: ${
            pending.map((i) => describe(fs, i)).join("; ")
          }); e.g.\n   ${others[0]?.replace("\n", "\n   ")}`,
        );
      }
    }
  }
  report.distinct = distinct.size;
  return report;
}

/** Every entry of `now` is in `orig`, the same (directories: still directories). */
function remnant(now: View, orig: View): boolean {
  if (now === null) return true;
  if (orig === null) return false;
  for (const [k, v] of Object.entries(now)) {
    const o = orig[k];
    if (o === undefined) return false;
    if (v.startsWith("d:") ? !o.startsWith("d:") : v !== o) return false;
  }
  return true;
}

function describe(fs: Fs, i: number): string {
  const c = fs.log[i].c;
  const name = (d: number, n: string): string => `${d}/${n}`;
  if (c.t === "mv") {
    return `rename ${name(c.fromDir, c.fromName)} -> ${
      name(c.toDir, c.toName)
    }`;
  }
  if (c.t === "xchg") {
    return `exchange ${name(c.aDir, c.aName)} <-> ${name(c.bDir, c.bName)}`;
  }
  return `${c.t} ${name(c.dir, c.name)}`;
}

interface Names {
  /** The slots (dir/name) of the source and destination. */
  top: Set<string>;
  /** Slots of the directories leading to the destination (made by writeFile's parents). */
  onTheWay: Set<string>;
}

/**
 * The slots the checks look at, from the whole trace (fs, fully replayed;
 * inode numbers are the same in every replay): the source and destination
 * slots and the directories leading to the destination.
 */
function checkedNames(fs: Fs, spec: CrashSpec): Names {
  const top = new Set<string>();
  const onTheWay = new Set<string>();
  const slotOf = (path: string): string | null => {
    const d = fs.inodeAt(parentOf(path), plain(fs.cur)) ??
      fs.inodeAt(parentOf(path), plain(fs.init));
    return d === undefined ? null : `${d}/${baseName(path)}`;
  };
  for (const p of [spec.dest, spec.src]) {
    if (p === undefined) continue;
    const s = slotOf(p);
    if (s !== null) top.add(s);
  }
  for (let p = parentOf(spec.dest); fs.anchorOf(p) !== null; p = parentOf(p)) {
    if (fs.anchors.has(p)) break;
    const s = slotOf(p);
    if (s !== null) onTheWay.add(s);
  }
  return { top, onTheWay };
}

/** Children of every directory through any entry made so far (or before). */
function childrenOf(fs: Fs): Map<number, Set<number>> {
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
    if (l.c.t === "xchg") {
      addChild(l.c.aDir, l.c.aIno);
      addChild(l.c.bDir, l.c.bIno);
    }
  }
  return children;
}

/** Every directory reachable from `roots` through any entry made so far. */
function reachable(
  fs: Fs,
  roots: Iterable<number>,
  children = childrenOf(fs),
): Set<number> {
  const dirs = new Set<number>();
  const stack = [...roots];
  while (stack.length > 0) {
    const i = stack.pop()!;
    if (fs.inodes[i].kind !== "dir" || dirs.has(i)) continue;
    dirs.add(i);
    for (const c of children.get(i) ?? []) stack.push(c);
  }
  return dirs;
}

/** Inodes that have been at one of `slots` so far (or before). */
function inodesAt(
  fs: Fs,
  slots: Set<string>,
  test = (s: string) => slots.has(s),
): Set<number> {
  const out = new Set<number>();
  for (const [d, m] of fs.init) {
    for (const [n, c] of m) if (test(`${d}/${n}`)) out.add(c);
  }
  for (const l of fs.log) {
    const c = l.c;
    if (c.t === "add" && test(`${c.dir}/${c.name}`)) out.add(c.ino);
    if (c.t === "mv" && test(`${c.toDir}/${c.toName}`)) out.add(c.ino);
    if (c.t === "xchg") {
      if (test(`${c.aDir}/${c.aName}`)) out.add(c.aIno);
      if (test(`${c.bDir}/${c.bName}`)) out.add(c.bIno);
    }
  }
  return out;
}

/**
 * Indexes of pending changes that can change what the checks see: changes of
 * the source's or destination's own name (and of the directories leading to
 * it), and changes inside any directory reachable from them through the
 * entries made so far.
 */
function relevantPending(fs: Fs, names: Names): number[] {
  const dataDirs = reachable(fs, inodesAt(fs, names.top));
  const out: number[] = [];
  fs.log.forEach((l, i) => {
    if (l.committed) return;
    const touches = l.slots.some((s) =>
      names.top.has(s) || names.onTheWay.has(s) ||
      dataDirs.has(Number(s.slice(0, s.indexOf("/"))))
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
}
