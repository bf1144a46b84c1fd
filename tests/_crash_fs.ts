// Copyright 2026 the safefs authors. MIT license.
/**
 * The in-memory filesystem of the crash-state model (`_crash_model.ts`):
 * inodes (kind, device, mode, owner/times stamp, data changes; each with
 * what of it is durable), directory entries as they were before the
 * operation and as they are now, and the log of entry changes with the
 * directories each still waits on. `Fs.apply()` replays one seam call; the
 * rules it follows are those of `_crash_model.ts`'s module doc.
 *
 * @module
 */
import { createHash } from "node:crypto";
import process from "node:process";
import type { SysCall } from "../src/_sys.ts";

/** A seam call as recorded, with its outcome. */
export interface TraceCall extends SysCall {
  /** The call succeeded (only successful calls change the model). */
  ok: boolean;
}

export type IKind = "file" | "dir" | "symlink";

export interface INode {
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

export type Change =
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

export interface LoggedChange {
  c: Change;
  slots: string[];
  /** Directories still to be fsynced before it is durable. */
  waiting: Set<number>;
  committed: boolean;
  /** The call that made it. */
  call: number;
}

export const EMPTY = sha(new Uint8Array());
/** Label of file data not (completely) on disk after a crash. */
export const TORN = "TORN";
/** Label of a file read while its writes were still going on. */
export const PARTIAL = "PARTIAL";

export function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/**
 * A view of a tree: rel -> "f:<mode>:<content>[:<stamp>]" | "d:<mode>[:<stamp>]"
 * | "l:<target>[:<stamp>]"; null when nothing is there. Stamps (how many
 * owner/times changes are on disk) only in model views.
 */
export type View = Record<string, string> | null;

export function key(v: View): string {
  return JSON.stringify(v);
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

export type Entries = Map<number, Map<string, number>>;

/** Looks entries up in `base` overlaid by `over` (null: removed). */
export interface Lookup {
  get(dir: number, name: string): number | undefined;
  names(dir: number): string[];
}

export function layered(
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

export function plain(m: Entries): Lookup {
  return layered(m, new Map());
}

/** The in-memory filesystem: inodes, the current view, the change log. */
export class Fs {
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
      case "removeLeaf": {
        // A whole directory (of files) removed in one call, as
        // remove_dir_all does it: each entry unlinked in its directory
        // (pending until that directory is fsynced, which never comes: it
        // is removed), then the directory itself from its parent.
        const r = need(call.path);
        const drop = (dir: number, name: string): void => {
          const ino = dirOf(dir).get(name)!;
          if (this.inodes[ino].kind === "dir") {
            for (const child of [...dirOf(ino).keys()]) drop(ino, child);
          }
          dirOf(dir).delete(name);
          this.push({ t: "del", dir, name }, k);
        };
        drop(r.dir, r.name);
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
export function applyChange(
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
