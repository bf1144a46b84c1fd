// Copyright 2026 the safefs authors. MIT license.
/**
 * `safefs rm`: removes files, symlinks and whole trees, never following a
 * symlink, never entering another filesystem.
 *
 * @module
 */
import { resolve } from "./_paths.ts";
import { InvalidArgumentError, SafeFsError } from "../errors.ts";
import { remove } from "../remove.ts";
import { COMMON, UsageError } from "./_args.ts";
import { type Command, COMMON_HELP } from "./_command.ts";
import { checkAll, needs } from "./_grants.ts";
import { hasTrailingSlash, look, stripSlashes } from "./_look.ts";
import type { OpBase } from "./_report.ts";

/**
 * Why `arg` must not be removed at all (GNU's wording), or null: `.`, `..`,
 * any path whose last component is one of them, and `/`.
 */
export function refusal(arg: string): string | null {
  const path = stripSlashes(arg);
  const last = path.slice(path.lastIndexOf("/") + 1);
  if (last === "." || last === "..") {
    return `refusing to remove '.' or '..' directory: skipping '${arg}'`;
  }
  if (resolve(path) === "/") {
    return `it is dangerous to operate recursively on '${arg}': refusing to remove it`;
  }
  return null;
}

/** The `rm` command. */
export const rm: Command = {
  name: "rm",
  usage: `Usage: safefs rm [options] PATH...`,
  help: `Removes files, symlinks (never their targets) and whole trees (no -r
needed). Never crosses into another filesystem unless told to; mount points
are reported. Refuses '.', '..', any path ending in '/.' or '/..', and '/',
before removing anything at all.

Options:
  -f, --force, --missing-ok
                           a missing PATH is not an error
  -r, -R, --recursive      accepted: trees are always removed whole
  -i, --interactive        ask before each PATH, on a terminal only (without
                           one: remove nothing, and say so)
      --one-file-system    do not enter other filesystems (the default)
      --cross-file-systems also empty mounted filesystems inside the tree
      --preserve-root      accepted: '/' is always refused
${COMMON_HELP}

A trailing slash means a directory: 'rm f/' refuses a file or a symlink.

Examples:
  safefs rm build/
  safefs rm -f cache/tmp-*`,
  options: [
    ...COMMON,
    { long: "missing-ok", short: "f", aliases: ["force"] },
    { long: "recursive", short: "r" },
    { short: "R", key: "recursive" },
    { long: "interactive", short: "i" },
    { long: "one-file-system" },
    { long: "cross-file-systems" },
    { long: "preserve-root" },
  ],
  async run(ctx): Promise<void> {
    const { values, positionals, report, io, signal, cmd } = ctx;
    if (positionals.length === 0) throw new UsageError("missing PATH");
    if (values["one-file-system"] && values["cross-file-systems"]) {
      throw new UsageError(
        "--one-file-system and --cross-file-systems exclude each other",
      );
    }
    const base = (p: string): OpBase => ({
      op: "remove",
      dest: p,
      what: `remove '${p}'`,
    });
    // Refusals first: one of them and nothing at all is removed.
    const refused = positionals.filter((p) => refusal(p) !== null);
    if (refused.length > 0) {
      for (const p of refused) {
        const why = refusal(p)!;
        report.failed(
          base(p),
          new InvalidArgumentError(`Cannot remove '${p}': ${why}`, {
            code: "EINVAL",
            op: "remove",
            path: p,
          }),
          `safefs rm: ${why}`,
        );
      }
      if (refused.length < positionals.length) {
        report.notice("safefs rm: nothing was removed");
      }
      return;
    }
    const denied = checkAll(cmd, positionals.flatMap(needs.remove));
    if (denied) return report.refuse(denied);
    if (values.interactive && io.ask === null) {
      report.notice(
        "safefs rm: -i: standard input is not a terminal, so nothing is asked: nothing is removed",
      );
    }
    for (const p of positionals) {
      if (signal.aborted) break;
      let info;
      try {
        info = await look(p, false);
      } catch (e) {
        report.failed(base(p), e);
        continue;
      }
      if (hasTrailingSlash(p) && info !== null && !info.isDirectory) {
        report.failed(
          base(p),
          new SafeFsError(`Cannot remove '${p}': not a directory`, {
            code: "ENOTDIR",
            op: "remove",
            path: resolve(p),
          }),
        );
        continue;
      }
      const dir = info?.isDirectory === true;
      if (values.interactive && info !== null) {
        const q = dir
          ? `safefs rm: remove directory '${p}' and everything in it? `
          : `safefs rm: remove '${p}'? `;
        if (io.ask === null || !(await io.ask(q, signal))) {
          report.skipped(base(p));
          continue;
        }
      }
      const view = report.view("entries", true);
      const r = await report.run(base(p), async (onProgress) => {
        const res = await remove(stripSlashes(p), {
          oneFileSystem: values["cross-file-systems"] !== true,
          missingOk: values["missing-ok"] === true,
          signal,
          ...(onProgress
            ? {
              onProgress: (q: { entriesRemoved: number; path: string }) =>
                onProgress({
                  phase: "remove",
                  bytesDone: 0,
                  bytesTotal: 0,
                  filesDone: q.entriesRemoved,
                  filesTotal: 0,
                  path: q.path,
                }),
            }
            : {}),
        });
        return { entries: res.entriesRemoved };
      }, view);
      if (r.ok && info !== null) {
        report.verbose(dir ? `removed directory '${p}'` : `removed '${p}'`);
      }
    }
  },
};
