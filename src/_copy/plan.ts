// Copyright 2026 the safefs authors. MIT license.
/**
 * The plan of a copy: every entry of the source, recorded once by a walk, in
 * the compact form the later steps need (contract G1, G5; issue 18).
 *
 * Per entry the plan keeps its name (not its path), its parent's index, its
 * type, identity (dev, ino), size, mode, owner, link count, the three times
 * (seconds and nanoseconds), the inode of its copy once made, and for
 * directories where their children are: about 100 bytes plus the name, in
 * typed arrays that grow by doubling. No `FileInfo` object, `Date` or path
 * string is kept per entry.
 *
 * Order. The walk is depth first, in pre-order: a directory is listed (its
 * entries in the order the listing gives them, read a few thousand at a
 * time and appended together, so a directory's children are contiguous),
 * then its subdirectories are walked in that order. Every later
 * walk over the plan (build, re-check, verification, source removal) visits
 * directories in the same order with {@linkcode dirOrder}, so at any time
 * the directories it holds open are the chain from the root to the current
 * one.
 *
 * @module
 */
import { grow } from "../_dir_list.ts";
import type { Stat } from "../_sys.ts";
import { decodeUtf8, encodeUtf8 } from "../_utf8.ts";

/** Entry types. */
export const K_FILE = 1;
/** A directory. */
export const K_DIR = 2;
/** A symlink. */
export const K_LINK = 3;

const KINDS: Record<string, number> = {
  file: K_FILE,
  dir: K_DIR,
  symlink: K_LINK,
};

/** The plan kind of a stat, or 0 for a type a copy cannot make. */
export function planKind(st: Stat): number {
  return KINDS[st.kind] ?? 0;
}

/** The entries of a source tree (see the module doc). */
export class Plan {
  /** Number of entries. */
  n = 0;
  /** Bytes of file data (a hard-linked file counts once). */
  bytesTotal = 0;
  /** Names, UTF-8, one after the other; entry i's is [nameAt[i], nameAt[i + 1]). */
  #names: Uint8Array = new Uint8Array(256);
  #nameAt: Uint32Array = new Uint32Array(17);
  parent: Int32Array = new Int32Array(16);
  kind: Uint8Array = new Uint8Array(16);
  /** Index into `#devs` (a tree spans few devices). */
  #dev: Uint16Array = new Uint16Array(16);
  #devs: number[] = [];
  ino: Float64Array = new Float64Array(16);
  size: Float64Array = new Float64Array(16);
  mode: Uint16Array = new Uint16Array(16);
  uid: Uint32Array = new Uint32Array(16);
  gid: Uint32Array = new Uint32Array(16);
  nlink: Uint32Array = new Uint32Array(16);
  /** Times: seconds (Float64) and nanoseconds (Uint32), atime, mtime, ctime. */
  atS: Float64Array = new Float64Array(16);
  atN: Uint32Array = new Uint32Array(16);
  mtS: Float64Array = new Float64Array(16);
  mtN: Uint32Array = new Uint32Array(16);
  ctS: Float64Array = new Float64Array(16);
  ctN: Uint32Array = new Uint32Array(16);
  /** The inode of the entry's copy, once made (0 before). */
  copyIno: Float64Array = new Float64Array(16);
  /** Directories: index of the first child and how many (directories only). */
  #children: Map<number, { first: number; count: number }> = new Map();
  /** Symlink targets by index. */
  targets: Map<number, string> = new Map();
  /** Hard links: index → index of the first entry naming the same inode. */
  linkOf: Map<number, number> = new Map();
  /** Names left out of a directory's copy (filtered, or mount points skipped). */
  skipped: Map<number, Set<string>> = new Map();
  /** Paths of the mount points left out. */
  skippedMounts: string[] = [];

  #cap = 16;

  /**
   * Makes room for `more` entries at once (a directory's listing): one
   * growth for a directory of 200,000 entries instead of thirty.
   */
  reserve(more: number): void {
    if (this.n + more > this.#cap) {
      this.#grow(Math.max(this.n + more, Math.ceil(this.#cap * 1.5)));
    }
  }

  #ensure(): void {
    if (this.n < this.#cap) return;
    // Grows by half: less slack than doubling for trees of millions.
    this.#grow(Math.ceil(this.#cap * 1.5));
  }

  #grow(cap: number): void {
    this.parent = grow(this.parent, cap);
    this.kind = grow(this.kind, cap);
    this.#dev = grow(this.#dev, cap);
    this.ino = grow(this.ino, cap);
    this.size = grow(this.size, cap);
    this.mode = grow(this.mode, cap);
    this.uid = grow(this.uid, cap);
    this.gid = grow(this.gid, cap);
    this.nlink = grow(this.nlink, cap);
    this.atS = grow(this.atS, cap);
    this.atN = grow(this.atN, cap);
    this.mtS = grow(this.mtS, cap);
    this.mtN = grow(this.mtN, cap);
    this.ctS = grow(this.ctS, cap);
    this.ctN = grow(this.ctN, cap);
    this.copyIno = grow(this.copyIno, cap);
    this.#nameAt = grow(this.#nameAt, cap + 1);
    this.#cap = cap;
  }

  #addName(name: string): void {
    const at = this.#nameAt[this.n];
    if (at + name.length * 3 > this.#names.length) {
      this.#names = grow(
        this.#names,
        Math.max(this.#names.length * 1.5, at + name.length * 3 + 256) | 0,
      );
    }
    this.#nameAt[this.n + 1] = at + encodeUtf8(name, this.#names, at);
  }

  /** Records an entry; returns its index. */
  add(parent: number, name: string, st: Stat): number {
    this.#ensure();
    const i = this.n;
    this.#addName(name);
    this.n++;
    this.parent[i] = parent;
    this.kind[i] = planKind(st);
    let dev = this.#devs.indexOf(st.dev);
    if (dev < 0) {
      dev = this.#devs.length;
      this.#devs.push(st.dev);
    }
    this.#dev[i] = dev;
    this.ino[i] = st.ino;
    this.size[i] = st.size;
    this.mode[i] = st.mode;
    this.uid[i] = st.uid;
    this.gid[i] = st.gid;
    this.nlink[i] = st.nlink;
    this.atS[i] = st.atimeSec;
    this.atN[i] = st.atimeNsec;
    this.mtS[i] = st.mtimeSec;
    this.mtN[i] = st.mtimeNsec;
    this.ctS[i] = st.ctimeSec;
    this.ctN[i] = st.ctimeNsec;
    if (this.kind[i] === K_DIR) {
      this.#children.set(i, { first: this.n, count: 0 });
    }
    return i;
  }

  /** Entry i's name. */
  name(i: number): string {
    // Always valid UTF-8: it was encoded from a string.
    return decodeUtf8(this.#names, this.#nameAt[i], this.#nameAt[i + 1])!;
  }

  /** Entry i's device. */
  devOf(i: number): number {
    return this.#devs[this.#dev[i]];
  }

  /** Marks `d`'s children as starting at the next entry added. */
  beginChildren(d: number): void {
    this.#children.set(d, { first: this.n, count: 0 });
  }

  /** Counts one more child of `d` (just added). */
  addChild(d: number): void {
    this.#children.get(d)!.count++;
  }

  /** Index of the first child of directory `d`. */
  firstOf(d: number): number {
    return this.#children.get(d)?.first ?? 0;
  }

  /** How many children directory `d` has. */
  countOf(d: number): number {
    return this.#children.get(d)?.count ?? 0;
  }

  /** Same object as planned: device, inode and type. */
  sameIdentity(i: number, st: Stat): boolean {
    return this.devOf(i) === st.dev && this.ino[i] === st.ino &&
      this.kind[i] === planKind(st);
  }

  /**
   * Same content as far as stat can tell: size, mtime, ctime, and link count
   * (a file renamed over, or unlinked, drops to fewer links: on the path
   * backend, whose ctime has whole seconds only, that is what shows it).
   */
  sameContent(i: number, st: Stat): boolean {
    return this.size[i] === st.size && this.nlink[i] === st.nlink &&
      this.mtS[i] === st.mtimeSec &&
      this.mtN[i] === st.mtimeNsec && this.ctS[i] === st.ctimeSec &&
      this.ctN[i] === st.ctimeNsec;
  }

  /**
   * The children of `dir`, found by name (see {@linkcode ChildIndex}); the
   * plan must be complete (no entry added after).
   */
  childIndex(dir: number): ChildIndex {
    return new ChildIndex(
      this.#names,
      this.#nameAt,
      this.firstOf(dir),
      this.countOf(dir),
    );
  }

  /** The path of entry `i` relative to the root ("" for the root). */
  rel(i: number): string {
    const parts: string[] = [];
    for (let k = i; k > 0; k = this.parent[k]) parts.push(this.name(k));
    return parts.reverse().join("/");
  }

  /** Entries copied (files, symlinks, directories). */
  get entries(): number {
    return this.n;
  }

  /** Index of the first symlink in walk order, or -1. */
  firstLink(): number {
    if (this.n > 0 && this.kind[0] === K_LINK) return 0;
    for (const i of dirOrder(this)) {
      const f = this.firstOf(i);
      for (let k = 0; k < this.countOf(i); k++) {
        if (this.kind[f + k] === K_LINK) return f + k;
      }
    }
    return -1;
  }
}

/**
 * The directories of a plan in walk order (depth first, pre-order, children
 * in name order): the order every pass over the plan visits them in.
 */
export function* dirOrder(p: Plan): Generator<number> {
  if (p.n === 0 || p.kind[0] !== K_DIR) return;
  const stack = [0];
  while (stack.length > 0) {
    const d = stack.pop()!;
    yield d;
    const f = p.firstOf(d);
    for (let k = p.countOf(d) - 1; k >= 0; k--) {
      if (p.kind[f + k] === K_DIR) stack.push(f + k);
    }
  }
}

/** FNV-1a over `b[from, to)`. */
function hash(b: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let k = from; k < to; k++) h = Math.imul(h ^ b[k], 0x01000193);
  return h >>> 0;
}

/** Where {@linkcode ChildIndex.find} encodes the name it looks for. */
let wanted = new Uint8Array(1024);

/**
 * The children of one directory of a plan, found by name without a map of
 * their names and without decoding them: their positions in an
 * open-addressing table of 32-bit slots (at most half full) indexed by a
 * hash of the name's UTF-8 bytes, a candidate confirmed by comparing the
 * plan's stored bytes. 4 to 16 bytes per child and no garbage per lookup,
 * where a `Map` of 200,000 names costs tens of megabytes.
 */
export class ChildIndex {
  readonly #names: Uint8Array;
  readonly #at: Uint32Array;
  readonly #slots: Int32Array;
  readonly #mask: number;
  /** The plan index of the directory's first child. */
  readonly first: number;
  /** How many children the directory has. */
  readonly count: number;

  constructor(
    names: Uint8Array,
    at: Uint32Array,
    first: number,
    count: number,
  ) {
    this.#names = names;
    this.#at = at;
    this.first = first;
    this.count = count;
    let size = 8;
    while (size < count * 2) size *= 2;
    this.#slots = new Int32Array(size).fill(-1);
    this.#mask = size - 1;
    for (let k = 0; k < count; k++) {
      const i = first + k;
      let s = hash(names, at[i], at[i + 1]) & this.#mask;
      while (this.#slots[s] !== -1) s = (s + 1) & this.#mask;
      this.#slots[s] = k;
    }
  }

  /** The plan index of the child named `name`, or -1. */
  find(name: string): number {
    if (name.length * 3 > wanted.length) {
      wanted = new Uint8Array(name.length * 3);
    }
    const len = encodeUtf8(name, wanted);
    for (let s = hash(wanted, 0, len) & this.#mask;; s = (s + 1) & this.#mask) {
      const k = this.#slots[s];
      if (k === -1) return -1;
      const i = this.first + k;
      const from = this.#at[i];
      if (this.#at[i + 1] - from !== len) continue;
      let same = true;
      for (let j = 0; j < len; j++) {
        if (this.#names[from + j] !== wanted[j]) {
          same = false;
          break;
        }
      }
      if (same) return i;
    }
  }
}
