// Copyright 2026 the safefs authors. MIT license.
/**
 * Matching a directory's listing against the plan's children of that
 * directory (the re-check of a source, the verification of a copy), part by
 * part as it is read: a directory of 200,000 entries costs a small table of
 * its children's positions, never its whole listing at once.
 *
 * The children are found with the plan's `childIndex()`.
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
  const children = p.childIndex(d);
  const seen = new Uint8Array(children.count);
  const skipped = p.skipped.get(d);
  let found = 0;
  for (let first = true;; first = false) {
    const part = yield* sys.listPart(dir, first);
    if (part === null) break;
    // A pacing point between the parts of a big directory (the walks
    // pace once per directory themselves).
    if (!first) yield PACE;
    for (const e of part) {
      const i = children.find(e.name);
      if (i >= 0) {
        if (seen[i - children.first] === 0) {
          seen[i - children.first] = 1;
          found++;
          each(i, e);
        }
        continue;
      }
      if (skipped?.has(e.name)) {
        if (skippedOk) continue;
        return { intruder: e.name, missing: false };
      }
      return { extra: e.name, missing: false };
    }
  }
  return { missing: found < children.count };
}
