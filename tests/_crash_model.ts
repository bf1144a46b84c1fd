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
 *   mkdirAt, symlinkAt, linkAt; removed by unlinkAt, rmdirAt; moved by
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
import { createHash } from "node:crypto";
import process from "node:process";
import { setSysHook, type SysCall } from "../src/_sys.ts";
import { isTempName } from "../src/_temp.ts";
import { rng } from "./_reliability.ts";

/** A seam call as recorded, with its outcome. */
export interface TraceCall extends SysCall {
  /** The call succeeded (only successful calls change the model). */
  ok: boolean;
}

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

type IKind = "file" | "dir" | "symlink";

interface INode {
  id: number;
  kind: IKind;
  dev: number;
  target?: string;
  /** Content label of a file that existed before the operation. */
  initLabel?: string;
  created: boolean;
  /** Permission bits now, and as last made durable. */
  mode: number;
  dMode: number;
  /** Owner and times changes made, and made durable. */
  stamp: number;
  dStamp: number;
  /** Data changes made, and whether fsynced since the last one. */
  writes: number;
  synced: boolean;
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
  }
  | {
    t: "xchg";
    aDir: number;
    aName: string;
    aIno: number;
    bDir: number;
    bName: string;
    bIno: number;
  };

interface LoggedChange {
  c: Change;
  slots: string[];
  /** Directories still to be fsynced before it is durable. */
  waiting: Set<number>;
  committed: boolean;
  /** The call that made it. */
  call: number;
}

const EMPTY = sha(new Uint8Array());
/** Label of file data not (completely) on disk after a crash. */
export const TORN = "TORN";
/** Label of a file read while its writes were still going on. */
const PARTIAL = "PARTIAL";

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/**
 * A view of a tree: rel -> "f:<mode>:<content>[:<stamp>]" | "d:<mode>[:<stamp>]"
 * | "l:<target>[:<stamp>]"; null when nothing is there. Stamps (how many
 * owner/times changes are on disk) only in model views.
 */
export type View = Record<string, string> | null;

function key(v: View): string {
  return JSON.stringify(v);
}

function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

type Entries = Map<number, Map<string, number>>;

/** Looks entries up in `base` overlaid by `over` (null: removed). */
interface Lookup {
  get(dir: number, name: string): number | undefined;
  names(dir: number): string[];
}

function layered(
  base: Entries,
  over: Map<number, Map<string, number | null>>,
): Lookup {
  return {
    get(dir, name): number | undefined {
      const o = over.get(dir);
      if (o !== undefined && o.has(name)) return o.get(name) ?? undefined;
      return base.get(dir)?.get(name);
    },
    names(dir): string[] {
      const o = over.get(dir);
      const out = new Set(base.get(dir)?.keys() ?? []);
      if (o !== undefined) {
        for (const [n, v] of o) {
          if (v === null) out.delete(n);
          else out.add(n);
        }
      }
      return [...out].sort();
    },
  };
}

function plain(m: Entries): Lookup {
  return layered(m, new Map());
}

/** The in-memory filesystem: inodes, the current view, the change log. */
class Fs {
  inodes: INode[] = [];
  anchors = new Map<string, number>();
  /** Durable entries before the operation. */
  init: Entries = new Map();
  /** Current (in-memory, what a reader sees) entries. */
  cur: Entries = new Map();
  log: LoggedChange[] = [];
  /** Paths handles were opened by (and aliases after renames) -> inode. */
  handles = new Map<string, number>();
  /** fsyncs and syncfs calls that found nothing pending (call index: what). */
  redundant: string[] = [];
  /** Per created file inode: data changes in the whole trace, final content label. */
  totalWrites = new Map<number, number>();
  finalLabel = new Map<number, string>();
  umask = 0o022;

  constructor(roots: string[] | null) {
    if (roots === null) return;
    this.umask = process.umask();
    const byIno = new Map<string, number>();
    const walk = (path: string): number => {
      const info = Deno.lstatSync(path);
      const k = `${info.dev}:${info.ino}`;
      const seen = byIno.get(k);
      if (seen !== undefined) return seen;
      const mode = (info.mode ?? 0) & 0o7777;
      const node: INode = {
        id: this.inodes.length,
        kind: info.isDirectory ? "dir" : info.isSymlink ? "symlink" : "file",
        dev: info.dev,
        created: false,
        mode,
        dMode: mode,
        stamp: 0,
        dStamp: 0,
        writes: 0,
        synced: true,
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
          m.set(e.name, walk(`${path}/${e.name}`));
        }
      }
      return node.id;
    };
    for (const r of roots) this.anchors.set(r, walk(r));
    for (const [d, m] of this.init) this.cur.set(d, new Map(m));
  }

  clone(): Fs {
    const f = new Fs(null);
    f.umask = this.umask;
    f.inodes = this.inodes.map((n) => ({ ...n }));
    f.anchors = new Map(this.anchors);
    f.init = new Map([...this.init].map(([k, v]) => [k, new Map(v)]));
    f.cur = new Map([...this.init].map(([k, v]) => [k, new Map(v)]));
    return f;
  }

  newInode(kind: IKind, dev: number, mode: number, target?: string): number {
    const n: INode = {
      id: this.inodes.length,
      kind,
      dev,
      created: true,
      mode,
      dMode: mode,
      stamp: 0,
      dStamp: 0,
      writes: 0,
      synced: true,
    };
    if (target !== undefined) n.target = target;
    this.inodes.push(n);
    if (kind === "dir") {
      this.init.set(n.id, new Map());
      this.cur.set(n.id, new Map());
    }
    return n.id;
  }

  /** The anchor holding `path` (the longest), or null. */
  anchorOf(path: string): string | null {
    let best: string | null = null;
    for (const a of this.anchors.keys()) {
      if (
        (path === a || path.startsWith(a + "/")) &&
        (best === null || a.length > best.length)
      ) best = a;
    }
    return best;
  }

  /** The inode at `path` in `entries` (walking from its anchor), or undefined. */
  inodeAt(path: string, entries: Lookup): number | undefined {
    const best = this.anchorOf(path);
    if (best === null) return undefined;
    let ino: number | undefined = this.anchors.get(best)!;
    if (path === best) return ino;
    for (const part of path.slice(best.length + 1).split("/")) {
      if (part === "") continue;
      if (ino === undefined || this.inodes[ino].kind !== "dir") {
        return undefined;
      }
      ino = entries.get(ino, part);
    }
    return ino;
  }

  /** The inode a handle path names: the handle opened by it, else the current view. */
  handle(path: string | undefined): number | undefined {
    if (path === undefined) return undefined;
    return this.handles.get(path) ?? this.inodeAt(path, plain(this.cur));
  }

  /** A name-relative path: its directory (by handle or view) and name. */
  slot(
    path: string | undefined,
  ): { dir: number; name: string; ino?: number } | null {
    if (path === undefined) return null;
    const dir = this.handle(parentOf(path));
    if (dir === undefined || this.inodes[dir].kind !== "dir") return null;
    const name = baseName(path);
    const ino = this.cur.get(dir)!.get(name);
    return ino === undefined ? { dir, name } : { dir, name, ino };
  }

  /** The directory holding inode `ino` in the current view, or undefined. */
  parentDir(ino: number): number | undefined {
    for (const [d, m] of this.cur) {
      for (const v of m.values()) if (v === ino) return d;
    }
    return undefined;
  }

  push(c: Change, call: number): void {
    let slots: string[], waiting: number[];
    if (c.t === "mv") {
      slots = [`${c.fromDir}/${c.fromName}`, `${c.toDir}/${c.toName}`];
      waiting = [c.fromDir, c.toDir];
    } else if (c.t === "xchg") {
      slots = [`${c.aDir}/${c.aName}`, `${c.bDir}/${c.bName}`];
      waiting = [c.aDir, c.bDir];
    } else {
      slots = [`${c.dir}/${c.name}`];
      waiting = [c.dir];
    }
    this.log.push({
      c,
      slots,
      waiting: new Set(waiting),
      committed: false,
      call,
    });
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

  /** The directories `dirs` are fsynced: their pending entry changes may commit. */
  syncDirs(dirs: (d: number) => boolean): void {
    for (let i = 0; i < this.log.length; i++) {
      const l = this.log[i];
      if (l.committed) continue;
      for (const d of [...l.waiting]) if (dirs(d)) l.waiting.delete(d);
      if (l.waiting.size === 0) this.commit(i);
    }
  }

  /** Something of inode `n` is pending: data, metadata, or (a directory) entries. */
  pendingOn(n: INode): boolean {
    if (n.writes > 0 && !n.synced) return true;
    if (n.mode !== n.dMode || n.stamp !== n.dStamp) return true;
    if (n.kind !== "dir") return false;
    for (const c of this.cur.get(n.id)!.values()) {
      const s = this.inodes[c];
      if (s.kind === "symlink" && s.stamp !== s.dStamp) return true;
    }
    return this.log.some((l) => !l.committed && l.waiting.has(n.id));
  }

  /** An inode's data and metadata reach the disk. */
  syncInode(n: INode): void {
    if (n.writes > 0) n.synced = true;
    n.dMode = n.mode;
    n.dStamp = n.stamp;
  }

  /** Applies one seam call to the current view and the log. */
  apply(call: TraceCall, k: number): void {
    if (!call.ok) return;
    const where = `call ${k} ${call.op} ${call.path ?? ""}`;
    const need = (
      p: string | undefined,
    ): { dir: number; name: string; ino?: number } => {
      const r = this.slot(p);
      if (r === null) {
        throw new Error(`crash model: ${where}: cannot resolve '${p}'`);
      }
      return r;
    };
    const inode = (p: string | undefined): INode => {
      const ino = this.handle(p);
      if (ino === undefined) {
        throw new Error(`crash model: ${where}: no inode for '${p}'`);
      }
      return this.inodes[ino];
    };
    const dirOf = (d: number): Map<string, number> => this.cur.get(d)!;
    switch (call.op) {
      case "openDir": {
        const ino = this.inodeAt(call.path!, plain(this.cur));
        if (ino !== undefined) this.handles.set(call.path!, ino);
        return;
      }
      case "openDirAt": {
        if (baseName(call.path!) === "..") {
          const child = this.handle(parentOf(call.path!));
          const up = child === undefined ? undefined : this.parentDir(child);
          if (up !== undefined) this.handles.set(call.path!, up);
          return;
        }
        const r = this.slot(call.path);
        if (r?.ino !== undefined) this.handles.set(call.path!, r.ino);
        return;
      }
      case "openAt": {
        if (call.how === "create") {
          const r = need(call.path);
          const mode = (call.mode ?? 0o666) & ~this.umask & 0o7777;
          const ino = this.newInode("file", this.inodes[r.dir].dev, mode);
          dirOf(r.dir).set(r.name, ino);
          this.push({ t: "add", dir: r.dir, name: r.name, ino }, k);
          this.handles.set(call.path!, ino);
          return;
        }
        const r = this.slot(call.path);
        if (r?.ino !== undefined) this.handles.set(call.path!, r.ino);
        return;
      }
      case "mkdirAt":
      case "symlinkAt": {
        const r = need(call.path);
        const dev = this.inodes[r.dir].dev;
        const ino = call.op === "mkdirAt"
          ? this.newInode("dir", dev, (call.mode ?? 0o777) & ~this.umask)
          : this.newInode("symlink", dev, 0o777, call.dest);
        dirOf(r.dir).set(r.name, ino);
        this.push({ t: "add", dir: r.dir, name: r.name, ino }, k);
        return;
      }
      case "linkAt": {
        const from = need(call.path);
        const to = need(call.dest);
        dirOf(to.dir).set(to.name, from.ino!);
        this.push({ t: "add", dir: to.dir, name: to.name, ino: from.ino! }, k);
        return;
      }
      case "unlinkAt":
      case "rmdirAt": {
        const r = need(call.path);
        dirOf(r.dir).delete(r.name);
        this.push({ t: "del", dir: r.dir, name: r.name }, k);
        return;
      }
      case "renameAt": {
        const from = need(call.path);
        const to = need(call.dest);
        if (call.how === "exchange") {
          dirOf(from.dir).set(from.name, to.ino!);
          dirOf(to.dir).set(to.name, from.ino!);
          this.push({
            t: "xchg",
            aDir: from.dir,
            aName: from.name,
            aIno: to.ino!,
            bDir: to.dir,
            bName: to.name,
            bIno: from.ino!,
          }, k);
          return;
        }
        // rename(2) of a name onto another name of the same inode does nothing.
        if (from.ino === to.ino) return;
        dirOf(from.dir).delete(from.name);
        dirOf(to.dir).set(to.name, from.ino!);
        this.push({
          t: "mv",
          fromDir: from.dir,
          fromName: from.name,
          toDir: to.dir,
          toName: to.name,
          ino: from.ino!,
        }, k);
        // The path backend moves its handles' paths along: alias them.
        const a = call.path!, b = call.dest!;
        for (const [p, ino] of [...this.handles]) {
          if (p === a) this.handles.set(b, ino);
          else if (p.startsWith(a + "/")) {
            this.handles.set(b + p.slice(a.length), ino);
          }
        }
        return;
      }
      case "chmod": {
        inode(call.path).mode = call.mode! & 0o7777;
        return;
      }
      case "chmodAt": {
        const r = need(call.path);
        this.inodes[r.ino!].mode = call.mode! & 0o7777;
        return;
      }
      case "chown":
      case "utimes": {
        inode(call.path).stamp++;
        return;
      }
      case "lchownAt":
      case "lutimesAt": {
        const r = need(call.path);
        this.inodes[r.ino!].stamp++;
        return;
      }
      case "write":
      case "truncate":
      case "copyRange": {
        const n = inode(call.op === "copyRange" ? call.dest : call.path);
        n.writes++;
        n.synced = false;
        return;
      }
      case "fsync": {
        const n = inode(call.path);
        if (!this.pendingOn(n)) this.redundant.push(where);
        this.syncInode(n);
        if (n.kind === "dir") {
          this.syncDirs((d) => d === n.id);
          // Symlinks cannot be fsynced: their metadata goes with their directory.
          for (const c of dirOf(n.id).values()) {
            if (this.inodes[c].kind === "symlink") {
              this.syncInode(this.inodes[c]);
            }
          }
        }
        return;
      }
      case "syncfs": {
        const dev = inode(call.path).dev;
        if (!this.inodes.some((n) => n.dev === dev && this.pendingOn(n))) {
          this.redundant.push(where);
        }
        for (const n of this.inodes) if (n.dev === dev) this.syncInode(n);
        this.syncDirs((d) => this.inodes[d].dev === dev);
        return;
      }
      default:
        // fstat, statAt, list, read, readLinkAt, realPath, seek, lock,
        // accessDir, openDirBeneath: nothing changes.
        return;
    }
  }

  /** Durable content label of file `ino` after the calls applied so far. */
  durableLabel(ino: number): string {
    const n = this.inodes[ino];
    if (n.writes === 0) return n.created ? EMPTY : n.initLabel!;
    if (!n.synced) return TORN;
    return n.writes === (this.totalWrites.get(ino) ?? n.writes)
      ? (this.finalLabel.get(ino) ?? PARTIAL)
      : PARTIAL;
  }

  /** The current label of file `ino` (what the real file holds at the end). */
  finalOf(ino: number): string {
    const n = this.inodes[ino];
    return n.created ? (this.finalLabel.get(ino) ?? EMPTY) : n.initLabel!;
  }

  /** The committed entries (init plus every committed change, in order). */
  committedEntries(): Entries {
    const ent: Entries = new Map();
    for (const [d, m] of this.init) ent.set(d, new Map(m));
    for (const l of this.log) {
      if (!l.committed) continue;
      applyChange(l.c, (d, n, v) => {
        if (v === null) ent.get(d)!.delete(n);
        else ent.get(d)!.set(n, v);
      });
    }
    return ent;
  }

  /** A view of `path` in `entries`; `durable`: the on-disk labels and metadata. */
  view(path: string, entries: Lookup, durable: boolean, stamps = true): View {
    const ino = this.inodeAt(path, entries);
    if (ino === undefined) return null;
    const out: Record<string, string> = {};
    const walk = (i: number, rel: string): void => {
      const n = this.inodes[i];
      const mode = (durable ? n.dMode : n.mode).toString(8);
      const st = stamps ? `:${durable ? n.dStamp : n.stamp}` : "";
      if (n.kind === "symlink") out[rel] = `l:${n.target}${st}`;
      else if (n.kind === "file") {
        out[rel] = `f:${mode}:${
          durable ? this.durableLabel(i) : this.finalOf(i)
        }${st}`;
      } else {
        out[rel] = `d:${mode}${st}`;
        for (const name of entries.names(i)) {
          walk(entries.get(i, name)!, rel === "" ? name : `${rel}/${name}`);
        }
      }
    };
    walk(ino, "");
    return out;
  }
}

/** Applies an entry change through `set` (null: the name is removed). */
function applyChange(
  c: Change,
  set: (dir: number, name: string, ino: number | null) => void,
): void {
  if (c.t === "add") set(c.dir, c.name, c.ino);
  else if (c.t === "del") set(c.dir, c.name, null);
  else if (c.t === "mv") {
    set(c.fromDir, c.fromName, null);
    set(c.toDir, c.toName, c.ino);
  } else {
    set(c.aDir, c.aName, c.aIno);
    set(c.bDir, c.bName, c.bIno);
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
    redundant: fs1.redundant,
  };
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
        if (!remnant(srcV, srcBeforeView)) {
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

/**
 * The real tree at `path` as a view: "f:<mode>:<sha256>", "d:<mode>",
 * "l:<target>" per entry (hard links are two files); null when nothing is
 * there.
 */
export function realView(path: string): View {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch {
    return null;
  }
  const out: Record<string, string> = {};
  const walk = (p: string, rel: string, i: Deno.FileInfo): void => {
    const mode = ((i.mode ?? 0) & 0o7777).toString(8);
    if (i.isSymlink) out[rel] = `l:${Deno.readLinkSync(p)}`;
    else if (i.isDirectory) {
      out[rel] = `d:${mode}`;
      const names = Array.from(Deno.readDirSync(p)).map((e) => e.name).sort();
      for (const n of names) {
        walk(
          `${p}/${n}`,
          rel === "" ? n : `${rel}/${n}`,
          Deno.lstatSync(`${p}/${n}`),
        );
      }
    } else if (i.isFile) {
      out[rel] = `f:${mode}:${sha(Deno.readFileSync(p))}`;
    } else out[rel] = `f:${mode}:special`;
  };
  walk(path, "", info);
  return out;
}
