// Copyright 2026 the safefs authors. MIT license.
/**
 * The names of safefs's temporary entries. Every temp is created beside its
 * destination as `.<name>.<uuid>.safefs-tmp`: unique (a UUID v4, so
 * concurrent operations never share one), hidden, recognisable by `sweep()`
 * after a crash, and at most 170 bytes long whatever the destination's name
 * (NAME_MAX is 255).
 *
 * A live operation holds an exclusive `flock` on its temp (the file, or the
 * root directory of a temp tree) until it is published or removed;
 * `sweep()` leaves a locked temp alone. The kernel drops the lock when the
 * process dies, however it dies. So that no sweep can find a temp of a live
 * operation unlocked, a temp is created under its claim name
 * (`.<name>.<uuid>.safefs-new`), locked, and only then renamed to its temp
 * name; `sweep()` leaves a claim alone for {@linkcode CLAIM_GRACE_MS}
 * whatever its `olderThan`. A temp that cannot be locked (a symlink, a
 * filesystem without locks) keeps its claim name until it is published.
 *
 * @module
 */
import { type Dir, feat, type Handle, sys } from "./_sys.ts";
import { SafeFsError } from "./errors.ts";

/** The suffix every safefs temp name ends with. */
export const TEMP_SUFFIX = ".safefs-tmp";

/** The suffix of a temp's claim name (see the module doc). */
export const CLAIM_SUFFIX = ".safefs-new";

/** How long `sweep()` leaves a claim alone, whatever its `olderThan` (ms). */
export const CLAIM_GRACE_MS = 60_000;

const TEMP_RE =
  /^\..*\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.safefs-(tmp|new)$/s;

/** Longest part of the destination's name kept in a temp name. */
const MAX_STEM_BYTES = 120;

const encoder = new TextEncoder();

/** Bytes of a temp name besides its stem: `.` `.` a UUID and the suffix. */
const FIXED_BYTES = 2 + 36 + TEMP_SUFFIX.length;

function stem(name: string, max: number): string {
  if (name.length * 3 <= max) return name;
  if (encoder.encode(name).length <= max) return name;
  let out = "";
  let n = 0;
  for (const ch of name) {
    const len = encoder.encode(ch).length;
    if (n + len > max) break;
    out += ch;
    n += len;
  }
  return out;
}

/**
 * A fresh temp name for an entry to be published as `name` in `dir`. Where
 * the backend names whole paths (the path backend, PATH_MAX 4095 bytes), the
 * part of `name` kept shrinks so the temp's path fits whenever a path 49
 * bytes longer than `dir`'s does: a destination near PATH_MAX still gets a
 * temp beside it.
 */
export function tempName(name: string, dir?: Dir): string {
  let max = MAX_STEM_BYTES;
  if (dir !== undefined && Number.isFinite(feat.maxPath)) {
    const room = feat.maxPath - encoder.encode(dir.path).length - 1 -
      FIXED_BYTES;
    max = Math.max(0, Math.min(max, room));
  }
  return `.${stem(name, max)}.${crypto.randomUUID()}${TEMP_SUFFIX}`;
}

/** True when a directory entry's name is a safefs temp (or claim) name. */
export function isTempName(name: string): boolean {
  return (name.endsWith(TEMP_SUFFIX) || name.endsWith(CLAIM_SUFFIX)) &&
    TEMP_RE.test(name);
}

/** True when a temp name is a claim name. */
export function isClaimName(name: string): boolean {
  return name.endsWith(CLAIM_SUFFIX);
}

/** The claim name of the temp name `name`. */
export function claimName(name: string): string {
  return name.slice(0, -TEMP_SUFFIX.length) + CLAIM_SUFFIX;
}

/**
 * Renames `from` to `to` in `dir` without replacing anything where the
 * filesystem can refuse to (elsewhere a plain rename: `to` is a fresh UUID
 * name).
 */
export function renameAside(dir: Dir, from: string, to: string): void {
  try {
    sys.renameAt(dir, from, dir, to, "noreplace");
  } catch (e) {
    if (
      !(e instanceof SafeFsError &&
        (e.code === "EINVAL" || e.code === "ENOSYS"))
    ) {
      throw e;
    }
    sys.renameAt(dir, from, dir, to, "replace");
  }
}

/**
 * Creates an operation's root temp `name` in `dir`, locked before it ever
 * has that name (see the module doc): `make(claim)` creates it exclusively
 * under its claim name and opens it; it is locked, then renamed to `name`.
 * `named` is told each name before the entry takes it, so a caller's
 * cleanup always knows where it is. Where there are no locks, it is made
 * and kept under its claim name.
 */
export function createTemp<H extends Handle>(
  dir: Dir,
  name: string,
  make: (name: string) => H,
  named: (name: string) => void,
): H {
  const claim = claimName(name);
  named(claim);
  const h = make(claim);
  try {
    if (!feat.lock) return h;
    try {
      sys.lock(h);
    } catch {
      return h; // no locks on this filesystem: it keeps its claim name
    }
    renameAside(dir, claim, name);
    named(name);
    sys.moved(h, dir.path === "/" ? `/${name}` : `${dir.path}/${name}`);
    return h;
  } catch (e) {
    sys.close(h);
    throw e;
  }
}
