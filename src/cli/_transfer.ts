// Copyright 2026 the safefs authors. MIT license.
/**
 * What `mv` and `cp` share: operands, `-t`/`-T`, the permission check of the
 * whole command line, destinations, `-f`/`-n`/`-i`, and the loop over the
 * sources (one library call each; a batch call can replace the loop here).
 *
 * @module
 */
import { basename, join, resolve } from "node:path";
import type { Need } from "../_perm.ts";
import { UsageError } from "./_args.ts";
import type { Ctx } from "./_command.ts";
import { checkAll, needs } from "./_grants.ts";
import { hasTrailingSlash, look, stripSlashes } from "./_look.ts";
import type { OpReport } from "./_report.ts";
import type { ViewProgress } from "./_progress.ts";
import { type Item, planTargets } from "./_targets.ts";

/** What one move or copy did: report fields and the `-v` lines. */
export interface Done {
  fields: Partial<OpReport>;
  lines: string[];
}

/** How one command moves or copies one item. */
export interface Transfer {
  /** `mv` or `cp`. */
  cmd: "mv" | "cp";
  /** What the library call will need for `item` (lexically). */
  needs(item: { src: string; dest: string }, exact: boolean): Promise<Need[]>;
  /** Runs the library call; returns report fields and the `-v` lines. */
  run(
    item: Item,
    overwrite: boolean,
    onProgress: ((p: ViewProgress) => void) | undefined,
  ): Promise<Done>;
  /** Whether the operation fsyncs (for the progress view). */
  durable: boolean;
}

function operands(ctx: Ctx): { srcs: string[]; dest: string } {
  const { values, positionals: p } = ctx;
  const targetDir = values["target-directory"];
  if (typeof targetDir === "string") {
    if (values["no-target-directory"]) {
      throw new UsageError("-t (--target-directory) and -T exclude each other");
    }
    if (p.length === 0) throw new UsageError("missing SRC (with -t DIR)");
    return { srcs: p, dest: targetDir };
  }
  if (p.length === 0) throw new UsageError("missing SRC and DEST");
  if (p.length === 1) {
    throw new UsageError(`missing DEST after '${p[0]}'`);
  }
  if (values["no-target-directory"] && p.length > 2) {
    throw new UsageError(
      `-T takes one SRC and one DEST, not ${p.length} paths`,
    );
  }
  return { srcs: p.slice(0, -1), dest: p[p.length - 1] };
}

/**
 * Runs `mv` or `cp` for the whole command line.
 *
 * @param ctx The command's context.
 * @param t How to move or copy one item.
 */
export async function transfer(ctx: Ctx, t: Transfer): Promise<void> {
  const { values, report, io, signal, cmd } = ctx;
  const { srcs, dest } = operands(ctx);
  const mode = {
    targetDir: typeof values["target-directory"] === "string",
    noTargetDir: values["no-target-directory"] === true,
  };
  // First the permission to look at what the destination and the sources
  // are. If it is missing, name it with everything the operations will need
  // as well (assuming DEST is a directory whenever it has to be one).
  const looks = [dest, ...srcs].flatMap(needs.look);
  if (checkAll(cmd, looks) !== null) {
    const into = !mode.noTargetDir &&
      (mode.targetDir || srcs.length > 1 || hasTrailingSlash(dest));
    const guesses = await Promise.all(srcs.map((s) =>
      t.needs({
        src: stripSlashes(s),
        dest: into
          ? join(dest, basename(resolve(stripSlashes(s))))
          : stripSlashes(dest),
      }, false)
    ));
    return report.refuse(checkAll(cmd, [...looks, ...guesses.flat()]));
  }
  let items: Item[];
  try {
    items = await planTargets(t.cmd, srcs, dest, mode);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    return report.refuse(e);
  }
  const ready = items.filter((i) => !i.error);
  const all = await Promise.all(ready.map((i) => t.needs(i, true)));
  const denied = checkAll(cmd, all.flat());
  if (denied) return report.refuse(denied);

  const clobber = values.clobber ?? "keep";
  if (clobber === "ask" && io.ask === null) {
    report.notice(
      `safefs ${cmd}: -i: standard input is not a terminal, so nothing is ` +
        `asked: existing destinations are kept, as with -n`,
    );
  }
  for (const item of items) {
    if (signal.aborted) break;
    if (item.error) {
      report.failed(item.base, item.error);
      continue;
    }
    let overwrite = clobber === "overwrite";
    if (clobber === "ask" && io.ask !== null) {
      const there = await look(item.dest, false).catch(() => null);
      if (there !== null) {
        if (
          !(await io.ask(`safefs ${cmd}: overwrite '${item.dest}'? `, signal))
        ) {
          report.skipped(item.base);
          continue;
        }
        overwrite = true;
      }
    }
    let lines: string[] = [];
    const r = await report.run(item.base, async (onProgress) => {
      const out = await t.run(item, overwrite, onProgress);
      lines = out.lines;
      return out.fields;
    }, report.view("bytes", t.durable));
    if (r.ok) { for (const line of lines) report.verbose(line); }
  }
}
