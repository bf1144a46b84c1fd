// Copyright 2026 the safefs authors. MIT license.
/**
 * `safefs ln`: creates symbolic links, or replaces them atomically (`-f`):
 * a reader of the link finds the old entry or the new link, never nothing.
 *
 * @module
 */
import { basename, join } from "./_paths.ts";
import { symlink } from "../symlink.ts";
import { COMMON, UsageError } from "./_args.ts";
import { type Command, COMMON_HELP, NO_DURABLE } from "./_command.ts";
import { checkAll, checkSymlinks, needs } from "./_grants.ts";
import { hasTrailingSlash, look, stripSlashes } from "./_look.ts";
import type { OpBase } from "./_report.ts";

/** One link to make. */
interface Link {
  target: string;
  link: string;
}

/** The name a link to `target` gets in a directory: its last component. */
function nameOf(target: string): string {
  return basename(stripSlashes(target));
}

function base(l: Link): OpBase {
  return {
    op: "symlink",
    src: l.target,
    dest: l.link,
    what: `create the symlink '${l.link}' -> '${l.target}'`,
  };
}

/** The `ln` command. */
export const ln: Command = {
  name: "ln",
  usage: `Usage: safefs ln [options] TARGET LINK
       safefs ln [options] TARGET... DIR
       safefs ln [options] -t DIR TARGET...
       safefs ln [options] TARGET`,
  help: `Creates the symbolic link LINK pointing to TARGET, or a link named like
TARGET in the existing directory DIR (in the current directory when only
TARGET is given). TARGET is stored as written (a relative one is read from
the link's directory) and need not exist. The link is made under a temp
name and published in one step; with -f an existing file or link is
replaced by that step, so readers never find LINK missing (switching a
'current' link between releases). A directory is never replaced. safefs
only makes symbolic links: -s is accepted out of habit. Without
--allow-ffi, Deno makes symlinks only with unscoped --allow-read and
--allow-write; with it, the scoped flags suffice.

Options:
  -s, --symbolic           accepted: links are always symbolic
  -f, --force, --overwrite replace an existing file or symlink, atomically
  -i, --interactive        ask before replacing, on a terminal only (without
                           one: keep it, and say so)
  -n, --no-dereference     treat a LINK that is a symlink to a directory as
                           the link to replace, not the directory to put
                           the new link in (ln -sfn new current)
  -T, --no-target-directory
                           treat LINK as the link's name even if it is a
                           directory
  -t, --target-directory=DIR
                           make a link to each TARGET in DIR
      --no-durable         skip the fsync of the link's directory
${COMMON_HELP}

Examples:
  safefs ln -s releases/v42 current
  safefs ln -sfn releases/v43 current   # atomic switch
  safefs ln -s /opt/tool/bin/tool ~/bin/`,
  options: [
    ...COMMON,
    { long: "symbolic", short: "s" },
    {
      long: "force",
      short: "f",
      aliases: ["overwrite"],
      key: "clobber",
      set: "overwrite",
    },
    { long: "interactive", short: "i", key: "clobber", set: "ask" },
    { long: "no-dereference", short: "n" },
    { long: "no-target-directory", short: "T" },
    { long: "target-directory", short: "t", value: "DIR" },
    NO_DURABLE,
  ],
  async run(ctx): Promise<void> {
    const { values, positionals: p, report, io, signal, cmd } = ctx;
    const targetDir = values["target-directory"];
    const noTarget = values["no-target-directory"] === true;
    const noDeref = values["no-dereference"] === true;
    let targets: string[];
    let last: string | null;
    if (typeof targetDir === "string") {
      if (noTarget) {
        throw new UsageError(
          "-t (--target-directory) and -T exclude each other",
        );
      }
      if (p.length === 0) throw new UsageError("missing TARGET (with -t DIR)");
      targets = p;
      last = targetDir;
    } else if (p.length === 0) {
      throw new UsageError("missing TARGET");
    } else if (p.length === 1) {
      if (noTarget) throw new UsageError(`missing LINK after '${p[0]}'`);
      targets = p;
      last = null;
    } else {
      if (noTarget && p.length > 2) {
        throw new UsageError(
          `-T takes one TARGET and one LINK, not ${p.length} paths`,
        );
      }
      targets = p.slice(0, -1);
      last = p[p.length - 1];
    }
    for (const t of targets) {
      if (t === "") throw new UsageError("TARGET must not be empty");
    }
    // Is the last operand a directory to put the links in? Looking needs
    // read on it: if that is missing, name it with what the links need
    // (assuming a directory where one is required).
    if (last !== null) {
      const looks = needs.look(stripSlashes(last));
      if (checkAll(cmd, looks) !== null) {
        const into = !noTarget &&
          (typeof targetDir === "string" || targets.length > 1 ||
            hasTrailingSlash(last));
        const guess = targets.flatMap((t) =>
          needs.symlink(into ? join(last!, nameOf(t)) : stripSlashes(last!))
        );
        return report.refuse(checkSymlinks(cmd, [...looks, ...guess]));
      }
    }
    let into: string | null = null;
    if (last === null) {
      into = ".";
    } else if (!noTarget) {
      let info: Deno.FileInfo | null;
      try {
        // With -n, a symlink to a directory is a link to replace, unless
        // the slash of `DIR/` says to go through it.
        const follow = !noDeref || hasTrailingSlash(last) ||
          typeof targetDir === "string";
        info = await look(stripSlashes(last), follow);
      } catch (e) {
        return report.refuse(e);
      }
      if (info?.isDirectory) into = last;
      else if (typeof targetDir === "string") {
        throw new UsageError(
          `target directory '${last}' is not an existing directory`,
        );
      } else if (targets.length > 1) {
        throw new UsageError(
          `target '${last}' is not an existing directory (needed for several targets)`,
        );
      }
    }
    const links: Link[] = targets.map((target) => ({
      target,
      link: into === null
        ? last!
        : into === "."
        ? nameOf(target)
        : join(into, nameOf(target)),
    }));
    const denied = checkSymlinks(
      cmd,
      links.flatMap((l) => needs.symlink(stripSlashes(l.link))),
    );
    if (denied) return report.refuse(denied);

    const clobber = values.clobber;
    if (clobber === "ask" && io.ask === null) {
      report.notice(
        `safefs ln: -i: standard input is not a terminal, so nothing is ` +
          `asked: existing files are kept`,
      );
    }
    const durable = values.durable !== false;
    for (const l of links) {
      if (signal.aborted) break;
      let overwrite = clobber === "overwrite";
      if (clobber === "ask" && io.ask !== null) {
        const there = await look(l.link, false).catch(() => null);
        if (there !== null) {
          if (!(await io.ask(`safefs ln: replace '${l.link}'? `, signal))) {
            report.skipped(base(l));
            continue;
          }
          overwrite = true;
        }
      }
      const r = await report.run(base(l), async () => {
        const res = await symlink(l.target, l.link, { overwrite, durable });
        return { replaced: res.replaced };
      });
      if (r.ok) report.verbose(`'${l.link}' -> '${l.target}'`);
    }
  },
};
