// Copyright 2026 the safefs authors. MIT license.
/**
 * Names between strings and UTF-8 bytes, the way every per-entry step of a
 * tree operation needs them (planning, copying, re-checking): nearly every
 * name is short and ASCII, and for those the conversion is a plain loop in
 * JavaScript instead of a call into the runtime (`TextEncoder.encodeInto`
 * and `TextDecoder.decode` are ops, which cost more than the loop for a
 * name of a few bytes). Anything else goes to the web APIs, unchanged.
 *
 * @module
 */

/** Names up to this many UTF-16 units (or bytes) take the ASCII loop. */
const SHORT = 64;

const encoder = new TextEncoder();
const fatal = new TextDecoder("utf-8", { fatal: true });

/**
 * Writes `s` as UTF-8 into `buf` from index `at` and returns how many bytes
 * it took. `buf` must have room for `s.length * 3` bytes from `at`. Like
 * `TextEncoder.encodeInto`, a lone surrogate becomes U+FFFD: callers that
 * must refuse one check `isWellFormed()` first.
 */
export function encodeUtf8(s: string, buf: Uint8Array, at = 0): number {
  const n = s.length;
  if (n <= SHORT) {
    let k = 0;
    for (; k < n; k++) {
      const c = s.charCodeAt(k);
      if (c >= 0x80) break;
      buf[at + k] = c;
    }
    if (k === n) return n;
  }
  return encoder.encodeInto(s, at === 0 ? buf : buf.subarray(at)).written;
}

/** Bytes `b[start..end)` as UTF-8, or null when they are not valid UTF-8. */
export function decodeUtf8(
  b: Uint8Array,
  start = 0,
  end: number = b.length,
): string | null {
  if (end - start <= SHORT) {
    let i = start;
    while (i < end && b[i] < 0x80) i++;
    if (i === end) {
      return String.fromCharCode.apply(
        null,
        b.subarray(start, end) as unknown as number[],
      );
    }
  }
  try {
    return fatal.decode(b.subarray(start, end));
  } catch {
    return null;
  }
}
