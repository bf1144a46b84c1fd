// Copyright 2026 the safefs authors. MIT license.
/**
 * The names of safefs's temporary entries. Every temp is created beside its
 * destination as `.<name>.<uuid>.safefs-tmp`: unique (a UUID v4, so
 * concurrent operations never share one), hidden, recognisable by `sweep()`
 * after a crash, and at most 170 bytes long whatever the destination's name
 * (NAME_MAX is 255).
 *
 * A live operation holds an exclusive `flock` on its temp (the file, or the
 * root directory of a temp tree) from right after creating it until it is
 * published or removed; `sweep()` leaves a locked temp alone. The kernel
 * drops the lock when the process dies, however it dies.
 *
 * @module
 */

/** The suffix every safefs temp name ends with. */
export const TEMP_SUFFIX = ".safefs-tmp";

const TEMP_RE =
  /^\..*\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.safefs-tmp$/s;

/** Longest part of the destination's name kept in a temp name. */
const MAX_STEM_BYTES = 120;

const encoder = new TextEncoder();

function stem(name: string): string {
  if (name.length * 3 <= MAX_STEM_BYTES) return name;
  if (encoder.encode(name).length <= MAX_STEM_BYTES) return name;
  let out = "";
  let n = 0;
  for (const ch of name) {
    const len = encoder.encode(ch).length;
    if (n + len > MAX_STEM_BYTES) break;
    out += ch;
    n += len;
  }
  return out;
}

/** A fresh temp name for an entry to be published as `name` (same directory). */
export function tempName(name: string): string {
  return `.${stem(name)}.${crypto.randomUUID()}${TEMP_SUFFIX}`;
}

/** True when a directory entry's name is a safefs temp name. */
export function isTempName(name: string): boolean {
  return name.endsWith(TEMP_SUFFIX) && TEMP_RE.test(name);
}
