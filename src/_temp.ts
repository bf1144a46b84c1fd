// Copyright 2026 the safefs authors. MIT license.
/**
 * The names of safefs's temporary files. Every temp is created beside its
 * destination as `.<name>.<uuid>.safefs-tmp`: unique (a UUID v4, so concurrent
 * operations never share one), hidden, and recognisable by `sweep()` after a
 * crash.
 *
 * @module
 */
import { basename, dirname, join } from "./_path.ts";

/** The suffix every safefs temp name ends with. */
export const TEMP_SUFFIX = ".safefs-tmp";

const TEMP_RE =
  /^\..*\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.safefs-tmp$/s;

/** Longest part of the destination's name kept in a temp name (NAME_MAX is 255 bytes). */
const MAX_STEM_BYTES = 120;

function stem(name: string): string {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length <= MAX_STEM_BYTES) return name;
  // Cut on a character boundary.
  let out = "";
  let n = 0;
  for (const ch of name) {
    const len = new TextEncoder().encode(ch).length;
    if (n + len > MAX_STEM_BYTES) break;
    out += ch;
    n += len;
  }
  return out;
}

/** A fresh temp path beside `dest` (same directory, so same filesystem). */
export function tempPathFor(dest: string): string {
  return join(
    dirname(dest),
    `.${stem(basename(dest))}.${crypto.randomUUID()}${TEMP_SUFFIX}`,
  );
}

/** True when a directory entry's name is a safefs temp name. */
export function isTempName(name: string): boolean {
  return TEMP_RE.test(name);
}
