// Copyright 2026 the safefs authors. MIT license.
/**
 * `safefs cp`: copies files and trees, identity-checked, published
 * atomically.
 *
 * @module
 */
import { copy, type CopyResult } from "../copy.ts";
import { copyInto } from "../copy_into.ts";
import type { PreserveOptions } from "../_copy/options.ts";
import { COMMON, UsageError, type Values } from "./_args.ts";
import { CLOBBER, type Command, COMMON_HELP, NO_DURABLE } from "./_command.ts";
import { needs } from "./_grants.ts";
import { compileGlob, excludeFilter, type Glob } from "./_glob.ts";
import { type Batched, type Done, transfer } from "./_transfer.ts";
import { cwd } from "./_paths.ts";
import { locate } from "../_path.ts";

const ITEMS: Record<string, (p: Required<PreserveOptions>) => void> = {
  mode: (p) => p.mode = true,
  ownership: (p) => p.owner = true,
  owner: (p) => p.owner = true,
  timestamps: (p) => p.times = true,
  times: (p) => p.times = true,
  links: () => {}, // hard links inside a tree are always kept
  all: (p) => {
    p.mode = p.times = true;
    if (p.owner !== true) p.owner = "try";
  },
};

/** What to keep, from -a, -p and --preserve; undefined for the default. */
function preserveOf(values: Values): PreserveOptions | undefined {
  const p: Required<PreserveOptions> = {
    mode: false,
    times: false,
    owner: false,
  };
  let given = false;
  if (values.archive || values.p) {
    // As GNU: -a and -p keep the owner where permitted, silently.
    Object.assign(p, { mode: true, times: true, owner: "try" });
    given = true;
  }
  if (typeof values.preserve === "string") {
    given = true;
    for (const item of values.preserve.split(",").map((s) => s.trim())) {
      if (item === "") continue;
      const apply = ITEMS[item];
      if (!apply) {
        throw new UsageError(
          `invalid --preserve item '${item}': use mode, ownership, timestamps, links or all`,
        );
      }
      apply(p);
    }
  }
  return given ? p : undefined;
}

/** The `--exclude` patterns, compiled; usage errors for bad ones. */
function globsOf(values: Values): Glob[] {
  const list = values.exclude;
  if (!Array.isArray(list)) return [];
  return list.map((p) => {
    try {
      return compileGlob(p);
    } catch (e) {
      throw new UsageError(
        `invalid --exclude '${p}': ${(e as Error).message}`,
      );
    }
  });
}

/** The library's absolute form of a source (no symlink or `..` resolved). */
function absolute(p: string): string {
  return locate(p, "copy", true, cwd()).abs;
}

/** What one copy did, as the report shows it. */
function done(r: CopyResult): Done {
  const fields: Record<string, unknown> = {
    bytes: r.bytes,
    entries: r.entries,
    replaced: r.replaced,
  };
  if (r.skippedMounts.length > 0) fields.skippedMounts = r.skippedMounts;
  return { fields, lines: ({ src, dest }) => [`'${src}' -> '${dest}'`] };
}

/** The `cp` command. */
export const cp: Command = {
  name: "cp",
  usage: `Usage: safefs cp [options] SRC DEST
       safefs cp [options] SRC... DIR
       safefs cp [options] -t DIR SRC...`,
  help: `Copies SRC (a file or a whole tree: no -r needed) to DEST, or into the
existing directory DIR. The copy is built under a temp name and published
with one rename. An existing destination is kept unless -f is given (GNU cp
replaces it by default). Mode and times are kept by default.

Options:
  -f, --force, --overwrite replace an existing destination (file or empty dir)
  -n, --no-clobber         keep an existing destination (the default; reported
                           as a failure, exit 1)
  -i, --interactive        ask before replacing, on a terminal only (without
                           one: keep it, as -n, and say so)
  -t, --target-directory=DIR
                           copy every SRC into DIR
  -T, --no-target-directory
                           treat DEST as the new name even if it is a directory
  -r, -R, --recursive      accepted: trees are always copied whole
  -a, --archive            keep mode, times and owner (where permitted);
                           symlinks stay symlinks
  -p                       same as --preserve=mode,ownership,timestamps
  -L, --dereference        follow symlinks (default: copy them as symlinks)
  -P, --no-dereference     copy symlinks as symlinks (the default)
      --preserve[=LIST]    keep exactly LIST: mode, ownership, timestamps,
                           links (always kept), all; alone, as -p (without
                           it: mode and timestamps)
      --exclude=GLOB       leave out the entries of a tree that GLOB matches
                           (repeatable; see below)
      --verify=sha256      re-read the copy and compare hashes before publishing
  -x, --one-file-system    skip mount points inside a tree (they are reported)
      --no-durable         skip fsyncs (scratch data)
${COMMON_HELP}

--exclude patterns are read as rsync reads them: '*' and '?' never match
'/', '[a-z]' and '[!a-z]' match one character, '**' matches anything, '/'
included. A pattern without '/' is matched against each entry's name (at
any depth: --exclude='*.o'); one with '/' against the entry's path relative
to the source root, or any tail of it ('build/*.o' matches build/x.o and
src/build/x.o; '/build' only the top one); a trailing '/' matches
directories only (--exclude=node_modules/). A directory left out is not
even read. The sources named on the command line are always copied.

Several sources into one directory are one job: every permission is
checked first, each source is copied and published on its own, and the
directory is made durable once at the end.

A trailing slash means a directory: 'cp f dir/' needs dir to exist (or f to
be a directory); 'cp f/ x' needs f to be a directory (or a symlink to one,
which is then followed). The last of -f, -n, -i wins.

Examples:
  safefs cp report.pdf backup/report.pdf
  safefs cp --verify=sha256 disk.img /mnt/backup/
  safefs cp -a -f config/ /etc/myapp/
  safefs cp --exclude=node_modules/ --exclude='*.log' app/ /srv/app`,
  options: [
    ...COMMON,
    ...CLOBBER,
    { long: "target-directory", short: "t", value: "DIR" },
    { long: "no-target-directory", short: "T" },
    { long: "recursive", short: "r" },
    { short: "R", key: "recursive" },
    { long: "archive", short: "a" },
    { short: "p" },
    { long: "dereference", short: "L", key: "dereference", set: true },
    { long: "no-dereference", short: "P", key: "dereference", set: false },
    { long: "preserve", value: "LIST", optional: "mode,ownership,timestamps" },
    { long: "exclude", value: "GLOB", multiple: true },
    { long: "verify", value: "sha256" },
    { long: "one-file-system", short: "x" },
    NO_DURABLE,
  ],
  run(ctx): Promise<void> {
    const { values } = ctx;
    const durable = values.durable !== false;
    const preserve = preserveOf(values);
    if (
      values.verify !== undefined && values.verify !== "sha256" &&
      values.verify !== "none"
    ) {
      throw new UsageError(`invalid --verify '${values.verify}': use sha256`);
    }
    const globs = globsOf(values);
    const base = {
      overwrite: false,
      durable,
      dereference: values.dereference === true,
      ...(preserve ? { preserve } : {}),
      verify: values.verify === "sha256" ? "sha256" as const : "none" as const,
      oneFileSystem: values["one-file-system"] === true,
      signal: ctx.signal,
    };
    return transfer(ctx, {
      cmd: "cp",
      durable,
      needs: ({ src, dest }) => Promise.resolve(needs.copy(src, dest)),
      batchNeeds: ({ src }) => needs.copyInto(src),
      async run(item, overwrite, onProgress): Promise<Done> {
        const root = absolute(item.src);
        return done(
          await copy(item.src, item.dest, {
            ...base,
            overwrite,
            ...(globs.length > 0
              ? { filter: excludeFilter(globs, () => root) }
              : {}),
            ...(onProgress ? { onProgress } : {}),
          }),
        );
      },
      async batch(srcs, dir, overwrite, onProgress): Promise<Batched> {
        // The filter learns which source it is asked about from the
        // progress: each source reports its root first, before its walk.
        const roots = srcs.map(absolute);
        const known = new Set(roots);
        let current = "";
        const rootOf = (path: string): string => {
          if (current !== "" && path.startsWith(current + "/")) return current;
          let best = "";
          for (const r of roots) {
            if (r.length > best.length && path.startsWith(r + "/")) best = r;
          }
          return best;
        };
        const r = await copyInto(srcs, dir, {
          ...base,
          overwrite,
          ...(globs.length > 0 ? { filter: excludeFilter(globs, rootOf) } : {}),
          onProgress: (p) => {
            if (known.has(p.path)) current = p.path;
            onProgress(p);
          },
        });
        return {
          done: r.copied.map((c) => ({ src: c.src, done: done(c) })),
          failed: r.failed,
        };
      },
    });
  },
};
