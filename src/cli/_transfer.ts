// Copyright 2026 the safefs authors. MIT license.
/**
 * What `mv` and `cp` share: operands, `-t`/`-T`, the permission check of the
 * whole command line, destinations, `-f`/`-n`/`-i`, and running the sources:
 * several sources into one directory (or `-t DIR`) are one batch, one
 * `moveInto`/`copyInto` call (the directories made durable once, not once
 * per source); a single source is one `move`/`copy` call. Either way each
 * source gets its own report, `-v` lines and `--json` entry, in order.
 *
 * @module
 */
import { basename, cwd, join, resolve } from "./_paths.ts";
import { type Loc, locate } from "../_path.ts";
import { type Need, unlimited } from "../_perm.ts";
import type { Progress } from "../_copy/options.ts";
import { AbortedError, PermissionError } from "../errors.ts";
import { UsageError } from "./_args.ts";
import type { Ctx } from "./_command.ts";
import { checkAll, needs } from "./_grants.ts";
import { hasTrailingSlash, look, stripSlashes } from "./_look.ts";
import type { OpBase, OpReport } from "./_report.ts";
import { batchProgress, type ViewProgress } from "./_progress.ts";
import { type Item, planTargets } from "./_targets.ts";

/** What one move or copy did: report fields and the `-v` lines. */
export interface Done {
  fields: Partial<OpReport>;
  /** The `-v` lines, given how the report names the operation. */
  lines(base: OpBase): string[];
}

/** What one batch did, per source (by the library's absolute path). */
export interface Batched {
  /** The sources done, in order. */
  done: { src: string; done: Done }[];
  /** The sources not done, in order, with why. */
  failed: { src: string; error: unknown }[];
}

/** How one command moves or copies. */
export interface Transfer {
  /** `mv` or `cp`. */
  cmd: "mv" | "cp";
  /** What the library call will need for `item` alone (lexically). */
  needs(item: { src: string; dest: string }, exact: boolean): Promise<Need[]>;
  /** What one source of a batch needs, besides the directory. */
  batchNeeds(item: { src: string; dest: string }): Need[];
  /** Runs the library call for one item. */
  run(
    item: Item,
    overwrite: boolean,
    onProgress: ((p: ViewProgress) => void) | undefined,
  ): Promise<Done>;
  /** Runs one batch call: every source of `srcs` into `dir`. */
  batch(
    srcs: string[],
    dir: string,
    overwrite: boolean,
    onProgress: (p: Progress) => void,
  ): Promise<Batched>;
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

/** A source of a batch, or one reported in its place (failed, skipped). */
interface Member {
  item: Item;
  /** The library's absolute path, for a source the batch runs. */
  abs?: string;
  /** Reported as it is, in its place among the batch's sources. */
  passive?: "failed" | "skipped";
}

/** One step of the run, in the order of the sources. */
type Step =
  | { kind: "failed"; item: Item }
  | { kind: "skipped"; item: Item }
  | { kind: "one"; item: Item; overwrite: boolean }
  | { kind: "batch"; members: Member[]; overwrite: boolean };

/**
 * Runs `mv` or `cp` for the whole command line.
 *
 * @param ctx The command's context.
 * @param t How to move or copy.
 */
export async function transfer(ctx: Ctx, t: Transfer): Promise<void> {
  const { values, report, io, signal, cmd } = ctx;
  const { srcs, dest } = operands(ctx);
  const mode = {
    targetDir: typeof values["target-directory"] === "string",
    noTargetDir: values["no-target-directory"] === true,
  };
  const many = srcs.length > 1 || mode.targetDir;
  // With read and write granted everywhere nothing can be missing: the
  // needs of 10,000 sources are not listed.
  const free = unlimited();
  // First the permission to look at what the destination and the sources
  // are. If it is missing, name it with everything the operations will need
  // as well (assuming DEST is a directory whenever it has to be one).
  const looks = free ? [] : [dest, ...srcs].flatMap(needs.look);
  if (!free && checkAll(cmd, looks) !== null) {
    const into = !mode.noTargetDir && (many || hasTrailingSlash(dest));
    const guesses = await Promise.all(srcs.map((s) => {
      const item = {
        src: stripSlashes(s),
        dest: into
          ? join(dest, basename(resolve(stripSlashes(s))))
          : stripSlashes(dest),
      };
      return into && many
        ? Promise.resolve(t.batchNeeds(item))
        : t.needs(item, false);
    }));
    const dir = into && many ? needs.into(dest) : [];
    return report.refuse(
      checkAll(cmd, [...looks, ...dir, ...guesses.flat()]),
    );
  }
  let items: Item[];
  let into: boolean;
  try {
    ({ items, into } = await planTargets(t.cmd, srcs, dest, mode));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    return report.refuse(e);
  }
  // Which sources go into a batch: all of them when several go into a
  // directory, except those a batch cannot name as the plan does ('.',
  // '..', a symlink cp follows to another name): those run on their own.
  const cwdNow = cwd();
  const abs = new Map<Item, string>();
  if (into && many) {
    for (const item of items) {
      let loc: Loc | null = null;
      try {
        if (!item.error) loc = locate(item.given, cmd, true, cwdNow);
      } catch {
        // Refused as a whole (empty, NUL): it runs on its own and fails so.
      }
      if (
        loc !== null && loc.name !== "." && loc.name !== ".." &&
        loc.name !== "" && loc.name === basename(item.dest)
      ) abs.set(item, loc.abs);
    }
  }
  if (!free) {
    const ready = items.filter((i) => !i.error);
    const all = await Promise.all(
      ready.map((i) =>
        abs.has(i) ? Promise.resolve(t.batchNeeds(i)) : t.needs(i, true)
      ),
    );
    if (abs.size > 0) all.unshift(needs.into(dest));
    const denied = checkAll(cmd, all.flat());
    if (denied) return report.refuse(denied);
  }

  const clobber = values.clobber ?? "keep";
  if (clobber === "ask" && io.ask === null) {
    report.notice(
      `safefs ${cmd}: -i: standard input is not a terminal, so nothing is ` +
        `asked: existing destinations are kept, as with -n`,
    );
  }
  // Every question is asked before anything runs: the answers decide which
  // sources go, and with which overwrite.
  const steps: Step[] = [];
  const passive = (item: Item, kind: "failed" | "skipped"): void => {
    const prev = steps[steps.length - 1];
    if (prev?.kind === "batch") prev.members.push({ item, passive: kind });
    else steps.push({ kind, item });
  };
  for (const item of items) {
    if (signal.aborted) break;
    if (item.error) {
      passive(item, "failed");
      continue;
    }
    let overwrite = clobber === "overwrite";
    if (clobber === "ask" && io.ask !== null) {
      const there = await look(item.dest, false).catch(() => null);
      if (there !== null) {
        if (
          !(await io.ask(`safefs ${cmd}: overwrite '${item.dest}'? `, signal))
        ) {
          passive(item, "skipped");
          continue;
        }
        overwrite = true;
      }
    }
    const path = abs.get(item);
    // The last batch with the same overwrite takes it, unless another
    // source must run on its own in between.
    let last: Step | undefined;
    for (let k = steps.length - 1; k >= 0; k--) {
      const s = steps[k];
      if (s.kind === "one" || s.kind === "batch") {
        last = s;
        break;
      }
    }
    if (path === undefined) steps.push({ kind: "one", item, overwrite });
    else if (last?.kind === "batch" && last.overwrite === overwrite) {
      last.members.push({ item, abs: path });
    } else {
      steps.push({ kind: "batch", members: [{ item, abs: path }], overwrite });
    }
  }
  let ran = false;
  for (const step of steps) {
    if (signal.aborted && (step.kind === "one" || step.kind === "batch")) {
      break;
    }
    if (step.kind === "failed") {
      report.failed(step.item.base, step.item.error);
    } else if (step.kind === "skipped") {
      report.skipped(step.item.base);
    } else if (step.kind === "one") {
      const { item, overwrite } = step;
      let done: Done | null = null;
      const r = await report.run(item.base, async (onProgress) => {
        done = await t.run(item, overwrite, onProgress);
        return done.fields;
      }, report.view("bytes", t.durable));
      ran = true;
      if (r.ok && done !== null) {
        for (const line of (done as Done).lines(item.base)) {
          report.verbose(line);
        }
      }
    } else {
      if (!(await runBatch(ctx, t, dest, step, ran))) return;
      ran = true;
    }
  }
}

/**
 * Runs one batch and reports each of its sources. Returns false when the
 * whole command line was refused (a permission the library found missing
 * before anything ran).
 */
async function runBatch(
  ctx: Ctx,
  t: Transfer,
  dir: string,
  step: Extract<Step, { kind: "batch" }>,
  ran: boolean,
): Promise<boolean> {
  const { report } = ctx;
  const running = step.members.filter((m) => m.passive === undefined);
  const paths = running.map((m) => m.abs!);
  const view = report.view("bytes", t.durable);
  const roots = new Set(paths);
  const ends = new Map<string, number>();
  const aggregate = view ? batchProgress(paths, view.update) : null;
  const onProgress = (p: Progress): void => {
    if (roots.has(p.path)) ends.set(p.path, performance.now());
    aggregate?.(p);
  };
  const t0 = performance.now();
  let out: Batched;
  try {
    out = await t.batch(
      running.map((m) => m.item.given),
      dir,
      step.overwrite,
      onProgress,
    );
  } catch (e) {
    view?.finish(false);
    if (e instanceof PermissionError && !ran) {
      for (const m of step.members) passiveReport(ctx, m);
      report.refuse(e);
      return false;
    }
    // Nothing could be tried (the directory went away), or the final fsync
    // failed: the error is every source's.
    for (const m of step.members) {
      if (!passiveReport(ctx, m)) report.failed(m.item.base, e);
    }
    return true;
  }
  view?.finish(out.failed.length === 0);
  let d = 0, f = 0, prev = t0, aborted = false;
  for (const m of step.members) {
    if (passiveReport(ctx, m)) continue;
    const path = m.abs!;
    // A source's time: from the end of the one before to its own last
    // progress report (its publish).
    const end = Math.max(prev, ends.get(path) ?? prev);
    const ms = end - prev;
    prev = end;
    if (out.done[d]?.src === path) {
      const { done } = out.done[d++];
      report.succeeded(m.item.base, done.fields, ms);
      for (const line of done.lines(m.item.base)) report.verbose(line);
    } else if (out.failed[f]?.src === path) {
      const { error } = out.failed[f++];
      if (error instanceof AbortedError) {
        // The first interrupted source is reported; the ones after it were
        // never started (as a loop of single calls would not start them).
        if (aborted) continue;
        aborted = true;
      }
      report.failed(m.item.base, error, undefined, ms);
    } else {
      report.failed(
        m.item.base,
        new Error(`the ${t.cmd} batch reported nothing for '${path}'`),
      );
    }
  }
  return true;
}

/** Reports a member that did not run (failed before, or skipped); false otherwise. */
function passiveReport(ctx: Ctx, m: Member): boolean {
  if (m.passive === "failed") ctx.report.failed(m.item.base, m.item.error);
  else if (m.passive === "skipped") ctx.report.skipped(m.item.base);
  return m.passive !== undefined;
}
