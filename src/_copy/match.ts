// Copyright 2026 the safefs authors. MIT license.
/**
 * Matching a directory's listing against the plan's children of that
 * directory (the re-check of a source, the verification of a copy), part by
 * part as it is read: a directory of 200,000 entries costs a small table of
 * its children's positions, never its whole listing at once.
 *
 * The children are found by a hash of their names in an open-addressing
 * table of 32-bit slots (at most half full); a candidate is confirmed by
 * comparing the plan's name itself.
 *
 * @module
 */
import { type Dir, type DirEntry, sys } from "../_sys.ts";
import { type Gen, PACE } from "../_run.ts";
import type { Plan } from "./plan.ts";

/** What {@linkcode matchListing} found. */
export interface ListingMatch {
  /** A listed name that is not planned (nor left out on purpose). */
  extra?: string;
  /** A listed name the plan left out on purpose, where that is not allowed. */
  intruder?: string;
  /** Some planned child was not listed (only known once the listing ends). */
  missing: boolean;
}

/** FNV-1a over the UTF-16 code units of `s`. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < s.length; k++) {
    h = Math.imul(h ^ s.charCodeAt(k), 0x01000193);
  }
  return h >>> 0;
}

/** The positions of `d`'s children in a table indexed by name hash. */
class Children {
  readonly #p: Plan;
  readonly #first: number;
  readonly #slots: Int32Array;
  readonly #mask: number;

  constructor(p: Plan, d: number) {
    this.#p = p;
    this.#first = p.firstOf(d);
    const n = p.countOf(d);
    let size = 8;
    while (size < n * 2) size *= 2;
    this.#slots = new Int32Array(size).fill(-1);
    this.#mask = size - 1;
    for (let k = 0; k < n; k++) {
      let s = hash(p.name(this.#first + k)) & this.#mask;
      while (this.#slots[s] !== -1) s = (s + 1) & this.#mask;
      this.#slots[s] = k;
    }
  }

  /** The position of the child named `name` (0-based), or -1. */
  find(name: string): number {
    for (let s = hash(name) & this.#mask;; s = (s + 1) & this.#mask) {
      const k = this.#slots[s];
      if (k === -1) return -1;
      if (this.#p.name(this.#first + k) === name) return k;
    }
  }
}

/**
 * Lists `dir` and matches every entry with the plan's children of `d`.
 * `each` is called once for every planned child listed, with its listing
 * entry. Stops at the first listed name that is not planned: `extra`, or
 * `intruder` when the plan left it out on purpose (a filter, a skipped
 * mount) and `skippedOk` is false; otherwise reports whether a planned
 * child was not listed.
 *
 * @param p The plan.
 * @param d The directory's plan index.
 * @param dir The directory, open (its source or its copy).
 * @param skippedOk Names the plan left out may be there (the source).
 * @param each Called for each planned child found.
 */
export function* matchListing(
  p: Plan,
  d: number,
  dir: Dir,
  skippedOk: boolean,
  each: (i: number, e: DirEntry) => void,
): Gen<ListingMatch> {
  const n = p.countOf(d);
  const children = new Children(p, d);
  const seen = new Uint8Array(n);
  const skipped = p.skipped.get(d);
  const first = p.firstOf(d);
  let found = 0;
  for (const part of sys.listParts(dir)) {
    for (const e of part) {
      const k = children.find(e.name);
      if (k >= 0) {
        if (seen[k] === 0) {
          seen[k] = 1;
          found++;
          each(first + k, e);
        }
        continue;
      }
      if (skipped?.has(e.name)) {
        if (skippedOk) continue;
        return { intruder: e.name, missing: false };
      }
      return { extra: e.name, missing: false };
    }
    yield PACE;
  }
  return { missing: found < n };
}
