// Copyright 2026 the safefs authors. MIT license.
/**
 * A directory's listing held whole, compactly: the names as UTF-8 in one
 * buffer, the types as bytes, the inode numbers (where the listing has
 * them) as numbers. A listing of 200,000 entries as objects is 200,000
 * objects alive until the last is handled: V8 copies each of them at every
 * young-generation collection it survives and grows its heap by them; as
 * buffers it is a few MiB outside V8's heap, and an entry is an object only
 * while it is being handled.
 *
 * @module
 */
import type { DirEntry, Kind } from "./_sys_types.ts";
import { decodeUtf8, encodeUtf8 } from "./_utf8.ts";

/** The types by their byte (0: the listing did not say). */
const KINDS: (Kind | null)[] = [
  null,
  "file",
  "dir",
  "symlink",
  "fifo",
  "socket",
  "char",
  "block",
  "unknown",
];

/** The type of a byte (see {@linkcode kindByte}). */
export function kindOfByte(b: number): Kind | null {
  return KINDS[b];
}

/** The byte of a type. */
export function kindByte(kind: Kind | null): number {
  return kind === null ? 0 : KINDS.indexOf(kind);
}

/** A copy of typed array `a` with room for `cap` elements (`cap` ≥ its length). */
export function grow<
  T extends Float64Array | Int32Array | Uint32Array | Uint16Array | Uint8Array,
>(
  a: T,
  cap: number,
): T {
  const b = new (a.constructor as { new (n: number): T })(cap);
  b.set(a);
  return b;
}

/** `a` grown to at least `min` elements, doubling. */
function grown<T extends Uint8Array | Uint32Array | Float64Array>(
  a: T,
  min: number,
): T {
  return grow(a, Math.max(min, a.length * 2));
}

/** A directory's listing, whole (see the module doc). */
export class DirList {
  #names: Uint8Array;
  /** Entry k's name is #names[#at[k], #at[k + 1]). */
  #at: Uint32Array;
  #kinds: Uint8Array;
  /** Inode numbers, once an entry came with one (NaN: none). */
  #inos: Float64Array | null = null;
  #n = 0;

  /**
   * @param entries Room for this many entries before growing.
   * @param bytes Room for this many bytes of names before growing.
   */
  constructor(entries = 16, bytes: number = entries * 16) {
    this.#names = new Uint8Array(bytes);
    this.#at = new Uint32Array(entries + 1);
    this.#kinds = new Uint8Array(entries);
  }

  /** How many entries it holds. */
  get length(): number {
    return this.#n;
  }

  /** Adds an entry (its name, its type's byte, its inode number if known). */
  add(name: string, kind: number, ino?: number): void {
    const k = this.#n;
    if (k === this.#kinds.length) {
      this.#kinds = grown(this.#kinds, k + 1);
      this.#at = grown(this.#at, k + 2);
    }
    const from = this.#at[k];
    if (from + name.length * 3 > this.#names.length) {
      this.#names = grown(this.#names, from + name.length * 3);
    }
    this.#at[k + 1] = from + encodeUtf8(name, this.#names, from);
    this.#kinds[k] = kind;
    if (ino !== undefined || this.#inos !== null) {
      if (this.#inos === null) {
        this.#inos = new Float64Array(this.#kinds.length).fill(NaN);
      } else if (this.#inos.length < this.#kinds.length) {
        this.#inos = grown(this.#inos, this.#kinds.length);
      }
      this.#inos[k] = ino ?? NaN;
    }
    this.#n = k + 1;
  }

  /** Adds `e`. */
  push(e: DirEntry): void {
    this.add(e.name, kindByte(e.kind), e.ino);
  }

  /** Entry k's name. */
  name(k: number): string {
    // Valid UTF-8: it was encoded from a string.
    return decodeUtf8(this.#names, this.#at[k], this.#at[k + 1])!;
  }

  /** Entry k's type byte (see {@linkcode kindByte}). */
  kindByte(k: number): number {
    return this.#kinds[k];
  }

  /** Entry k. */
  get(k: number): DirEntry {
    const e: DirEntry = { name: this.name(k), kind: KINDS[this.#kinds[k]] };
    const ino = this.#inos?.[k];
    if (ino !== undefined && !Number.isNaN(ino)) e.ino = ino;
    return e;
  }
}
