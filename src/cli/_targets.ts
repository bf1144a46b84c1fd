// Copyright 2026 the safefs authors. MIT license.
/**
 * Where each source of `mv` and `cp` goes, the GNU way: into DEST when it is
 * an existing directory (or with `-t DIR`), to DEST itself otherwise (or
 * with `-T`). Trailing slashes mean "a directory": a DEST written `x/` must
 * be an existing directory unless the source is a directory (then it is the
 * new name); a SRC written `x/` must be a directory (cp follows a symlink to
 * one; mv cannot move a symlink as its target). Otherwise: "Not a directory".
 *
 * @module
 */
import { basename, join, resolve } from "./_paths.ts";
import { SafeFsError } from "../errors.ts";
import { UsageError } from "./_args.ts";
import { hasTrailingSlash, look, realPath, stripSlashes } from "./_look.ts";
import type { OpBase } from "./_report.ts";

/** One source and where it goes. */
export interface Item {
  /** For the report: as the user wrote them. */
  base: OpBase;
  /** The path handed to the library as the source. */
  src: string;
  /** The path handed to the library as the destination. */
  dest: string;
  /**
   * The source as a batch into a directory gets it: as given, slashes
   * collapsed, a trailing one kept (the library then checks that it is a
   * directory, and `cp` follows a symlink written so, as GNU does).
   */
  given: string;
  /** Why it cannot be done (found before calling the library). */
  error?: SafeFsError;
}

/** How the destination is read. */
export interface TargetMode {
  /** `-t DIR`: DEST is the directory, every operand a source. */
  targetDir: boolean;
  /** `-T`: DEST is the new name, even if it is a directory. */
  noTargetDir: boolean;
}

function notADirectory(
  verb: string,
  src: string,
  dest: string,
): SafeFsError {
  return new SafeFsError(
    `Cannot ${verb} '${src}' to '${dest}': not a directory`,
    { code: "ENOTDIR", op: verb, path: resolve(src), dest: resolve(dest) },
  );
}

/** What {@linkcode planTargets} found. */
export interface Targets {
  /** Every source and where it goes, in order. */
  items: Item[];
  /** DEST is the directory every source goes into (else the new name). */
  into: boolean;
}

/**
 * Plans every source. Throws `UsageError` when several sources (or `-t`)
 * meet a DEST that is not an existing directory; look-ups that fail for
 * another reason (EACCES, EIO) are thrown as `SafeFsError`.
 *
 * @param cmd `mv` or `cp`.
 * @param srcs The sources as given.
 * @param dest The destination as given.
 * @param mode `-t` / `-T`.
 */
export async function planTargets(
  cmd: "mv" | "cp",
  srcs: string[],
  dest: string,
  mode: TargetMode,
): Promise<Targets> {
  const verb = cmd === "mv" ? "move" : "copy";
  const destInfo = await look(stripSlashes(dest), true);
  const isDir = destInfo?.isDirectory === true;
  let into: boolean;
  if (mode.targetDir) {
    if (!isDir) {
      throw new UsageError(
        `target directory '${dest}' is not an existing directory`,
      );
    }
    into = true;
  } else if (mode.noTargetDir) {
    into = false;
  } else {
    into = isDir;
    if (srcs.length > 1 && !into) {
      throw new UsageError(
        `target '${dest}' is not an existing directory (needed for several sources)`,
      );
    }
  }
  const items: Item[] = [];
  for (const src of srcs) {
    const path = stripSlashes(src);
    const to = into ? join(dest, basename(resolve(path))) : stripSlashes(dest);
    const item: Item = {
      base: { op: verb, src, dest: to, what: `${verb} '${src}' to '${to}'` },
      src: path,
      dest: to,
      given: hasTrailingSlash(src) ? `${path}/` : path,
    };
    items.push(item);
    // Only a trailing slash needs a look at the source here; the library
    // looks at every source itself (a batch of 10,000 saves 10,000 looks).
    const destSlash = !into && hasTrailingSlash(dest);
    if (!hasTrailingSlash(src) && !destSlash) continue;
    let info;
    try {
      info = await look(path, false);
    } catch (e) {
      item.error = e as SafeFsError;
      continue;
    }
    let srcIsDir = info?.isDirectory === true;
    if (hasTrailingSlash(src) && info !== null && !srcIsDir) {
      // cp follows a symlink written with a slash, as GNU does; mv would
      // have to move the link itself, which is not a directory.
      const target = info.isSymlink && cmd === "cp"
        ? await look(path, true).catch(() => null)
        : null;
      if (target?.isDirectory) {
        item.src = await realPath(path);
        srcIsDir = true;
      } else {
        item.error = notADirectory(verb, src, to);
        continue;
      }
    }
    if (destSlash && info !== null) {
      const destOk = destInfo === null ? srcIsDir : destInfo.isDirectory;
      if (!destOk) {
        item.base.dest = dest;
        item.base.what = `${verb} '${src}' to '${dest}'`;
        item.error = notADirectory(verb, src, dest);
      }
    }
  }
  return { items, into };
}
