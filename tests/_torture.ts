// Copyright 2026 the safefs authors. MIT license.
// kill -9 torture (issue 7, part 3), shared by tests/kill_test.ts (bounded CI
// form) and scripts/torture.ts (by hand, --iterations 1000).
//
// Each lane owns two directories on different filesystems (A on disk, B on
// /dev/shm) holding items (files of 0 B to 64 MiB, a tree of 56 entries,
// whose durable copies onto these local filesystems are synced with one
// syncfs on the ffi backend, and a tree with a 4 MiB file, synced file by
// file). A child process (tests/_torture_child.ts) moves the items between A
// and B, copies them and removes the copies, and copies them twice, the
// second time with overwrite (an exchange of two non-empty trees, where the
// backend has one), in a loop, journaling each step; the parent SIGKILLs it
// at a random instant, then checks on the real filesystem:
// - every item exists completely at its source or at its destination (or
//   both), never neither; a published name (an item's name, `<item>.copy`) is
//   never partial, except a copy being removed by remove(); a source may be
//   partially removed only when its destination is complete (a move killed
//   while removing its source);
// - every other leftover entry is a safefs temp (isTempName);
// - sweep(dir, { olderThan: 0 }) removes every temp and nothing else.
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isClaimName, isTempName } from "../src/_temp.ts";
import { feat } from "../src/_sys.ts";
import { P } from "./_primitives.ts";
import { rng } from "./_reliability.ts";

type Side = "A" | "B";

/** Expected content of an item: rel -> file bytes, directory or symlink target. */
type Expected = Map<
  string,
  { t: "f"; bytes: Uint8Array } | { t: "d" } | { t: "l"; target: string }
>;

interface Item {
  name: string;
  side: Side;
  weight: number;
  expected: Expected;
}

/** Options of a torture run. */
export interface TortureOptions {
  kills: number;
  seed: number;
  /** Kill after a uniform random delay in [0, maxDelayMs) from the child's "ready". */
  maxDelayMs: number;
  /** Parallel lanes (each its own child and directories). */
  lanes: number;
  /** Include the 64 MiB file. */
  big: boolean;
  /** Keep the directories of a failing lane for inspection. */
  keep?: boolean;
  log?: (line: string) => void;
}

/** What a torture run saw. */
export interface TortureReport {
  kills: number;
  /** Kills that landed while a step was in progress (per step kind). */
  midStep: Record<string, number>;
  /** Kills that landed before the child's first step. */
  idle: number;
  /** Steps completed by the children in all. */
  stepsDone: number;
  /** Source trees found partially removed beside a complete destination. */
  remnants: number;
  /** Items found at both names, both complete (killed between publish and source removal). */
  both: number;
  /** Copies found partly removed (killed inside remove()). */
  removing: number;
  /** Overwrites of a non-empty tree refused (backends without an exchange). */
  refused: number;
  /** Temps left by killed steps, and removed by sweep(). */
  temps: number;
  /** Claims among them, left by sweep() (younger than a minute) and empty. */
  claims: number;
  violations: string[];
  ms: number;
}

function bytes(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  const v = new Uint32Array(b.buffer, 0, size >>> 2);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < v.length; i++) {
    x = (x * 1664525 + 1013904223) >>> 0;
    v[i] = x;
  }
  for (let i = v.length * 4; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function fileItem(
  name: string,
  size: number,
  seed: number,
  weight: number,
): Item {
  return {
    name,
    side: "A",
    weight,
    expected: new Map([["", { t: "f", bytes: bytes(size, seed) }]]),
  };
}

function treeItem(
  name: string,
  files: [string, number][],
  weight: number,
): Item {
  const e: Expected = new Map([["", { t: "d" }]]);
  let seed = 100;
  for (const [rel, size] of files) {
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) {
      e.set(parts.slice(0, i).join("/"), { t: "d" });
    }
    e.set(rel, { t: "f", bytes: bytes(size, seed++) });
  }
  e.set("ln", { t: "l", target: files[0][0] });
  return { name, side: "A", weight, expected: e };
}

/** The items: files from 0 B to 64 MiB, a wide tree and a tree with a big file. */
function items(big: boolean): Item[] {
  const wide: [string, number][] = [];
  for (let d = 0; d < 3; d++) {
    for (let f = 0; f < 16; f++) {
      wide.push([`d${d}/f${f}`, 100 + 97 * f * (d + 1)]);
    }
  }
  wide.push(["d1/deep/er/empty", 0]);
  const out = [
    fileItem("f0", 0, 1, 3),
    fileItem("f1k", 1024, 2, 3),
    fileItem("f1m", 1 << 20, 3, 3),
    fileItem("f8m", 8 << 20, 4, 2),
    treeItem("t50", wide, 3),
    treeItem("t4m", [["big.bin", 4 << 20], ["a", 10], ["sub/b", 2000], [
      "sub/c",
      0,
    ]], 2),
  ];
  if (big) out.push(fileItem("f64m", 64 << 20, 5, 1));
  return out;
}

function materialize(path: string, e: Expected): void {
  const rels = [...e.keys()].sort();
  for (const rel of rels) {
    const p = rel === "" ? path : join(path, rel);
    const v = e.get(rel)!;
    if (v.t === "d") Deno.mkdirSync(p);
    else if (v.t === "f") Deno.writeFileSync(p, v.bytes);
    else Deno.symlinkSync(v.target, p);
  }
}

/** Verified files: signature -> true, so an item that did not move is not re-read. */
const verified = new Map<string, boolean>();

function sig(i: Deno.FileInfo): string {
  return `${i.dev}:${i.ino}:${i.size}:${i.mtime?.getTime()}:${i.ctime?.getTime()}`;
}

/**
 * Compares the tree at `path` with `e`. "complete": exactly the item;
 * "absent"; "remnant": a part of it (every entry there is right, some are
 * missing); otherwise a description of what is wrong.
 */
function inspect(
  path: string,
  e: Expected,
): "complete" | "absent" | "remnant" | string {
  let top: Deno.FileInfo;
  try {
    top = Deno.lstatSync(path);
  } catch {
    return "absent";
  }
  let seen = 0;
  const walk = (p: string, rel: string, info: Deno.FileInfo): string | null => {
    const want = e.get(rel);
    if (want === undefined) return `unexpected entry '${rel}'`;
    seen++;
    if (want.t === "d") {
      if (!info.isDirectory) return `'${rel}' is not a directory`;
      for (const ent of Deno.readDirSync(p)) {
        const r = rel === "" ? ent.name : `${rel}/${ent.name}`;
        const bad = walk(
          join(p, ent.name),
          r,
          Deno.lstatSync(join(p, ent.name)),
        );
        if (bad !== null) return bad;
      }
      return null;
    }
    if (want.t === "l") {
      if (!info.isSymlink || Deno.readLinkSync(p) !== want.target) {
        return `'${rel}' is not the right symlink`;
      }
      return null;
    }
    if (!info.isFile) return `'${rel}' is not a file`;
    if (info.size !== want.bytes.length) {
      return `'${rel}' has ${info.size} of ${want.bytes.length} bytes`;
    }
    const s = sig(info);
    if (verified.get(s)) return null;
    const got = Deno.readFileSync(p);
    if (Buffer.compare(got, want.bytes) !== 0) {
      return `'${rel}' has the wrong content`;
    }
    verified.set(s, true);
    return null;
  };
  const bad = walk(path, "", top);
  if (bad !== null) return bad;
  return seen === e.size ? "complete" : "remnant";
}

interface Step {
  seq: number;
  op: "move" | "copy" | "recopy";
  item: string;
  from: Side;
  to: Side;
  durable: boolean;
  copied0?: boolean;
  copied?: boolean;
  refused?: string;
  done?: boolean;
}

function readJournal(path: string): Step[] {
  const steps = new Map<number, Step>();
  let text = "";
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return [];
  }
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line);
    } catch {
      continue; // a torn last line (cannot happen with one write(2), but be tolerant)
    }
    const seq = o.seq as number;
    if (o.op !== undefined) steps.set(seq, o as unknown as Step);
    else if (o.error !== undefined) {
      throw new Error(`torture child failed at step ${seq}: ${o.error}`);
    } else if (steps.has(seq)) Object.assign(steps.get(seq)!, o);
  }
  return [...steps.values()].sort((a, b) => a.seq - b.seq);
}

function rm(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch {
    // absent
  }
}

/** Runs one lane of kills; returns its report (violations collected, not thrown). */
async function lane(
  o: TortureOptions,
  laneNo: number,
  kills: number,
  report: TortureReport,
): Promise<void> {
  const dirs: Record<Side, string> = {
    A: Deno.makeTempDirSync({ prefix: "safefs-torture-" }),
    B: Deno.makeTempDirSync({ dir: "/dev/shm", prefix: "safefs-torture-" }),
  };
  const work = Deno.makeTempDirSync({ prefix: "safefs-torture-work-" });
  const its = items(o.big);
  const random = rng(o.seed * 1000 + laneNo);
  let failed = false;
  const fail = (msg: string): void => {
    failed = true;
    report.violations.push(`lane ${laneNo}: ${msg}`);
  };
  try {
    for (const it of its) {
      it.side = random() < 0.5 ? "A" : "B";
      materialize(join(dirs[it.side], it.name), it.expected);
    }
    const byName = new Map(its.map((i) => [i.name, i]));
    for (let k = 0; k < kills && !failed; k++) {
      const journal = join(work, `journal-${k}`);
      const cfgPath = join(work, "config.json");
      Deno.writeTextFileSync(
        cfgPath,
        JSON.stringify({
          dirs,
          journal,
          seed: o.seed * 1_000_003 + laneNo * 10_007 + k,
          items: its.map((i) => ({
            name: i.name,
            side: i.side,
            weight: i.weight,
          })),
          copyShare: 0.25,
          recopyShare: 0.15,
        }),
      );
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--no-prompt",
          "--quiet",
          fileURLToPath(new URL("./_torture_child.ts", import.meta.url)),
          cfgPath,
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // Wait for "ready" (modules loaded), then kill at a random instant.
      const reader = child.stdout.getReader();
      let out = "";
      while (!out.includes("ready")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += new TextDecoder().decode(value);
      }
      const delay = random() * o.maxDelayMs;
      await new Promise((r) => setTimeout(r, delay));
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited (a failure: reported from the journal/status below)
      }
      const status = await child.status;
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
      const err = new TextDecoder().decode(
        await new Response(child.stderr).arrayBuffer(),
      );
      if (status.signal !== "SIGKILL") {
        fail(
          `kill ${k}: the child exited by itself (code ${status.code}): ${
            err.slice(0, 2000)
          }`,
        );
        break;
      }
      report.kills++;

      // Replay the journal: completed steps move items; at most one is in progress.
      let steps: Step[];
      try {
        steps = readJournal(journal);
      } catch (e) {
        fail(`kill ${k}: ${e}`);
        break;
      }
      let inProgress: Step | null = null;
      for (const st of steps) {
        if (st.refused !== undefined) report.refused++;
        if (st.done) {
          report.stepsDone++;
          if (st.op === "move") byName.get(st.item)!.side = st.to;
        } else inProgress = st;
      }
      if (inProgress === null) report.idle++;
      else {
        const stage = inProgress.op === "move"
          ? "move"
          : inProgress.copied
          ? "remove"
          : inProgress.op === "recopy" && inProgress.copied0
          ? "copy overwrite"
          : "copy";
        const kind = `${stage} ${
          inProgress.durable ? "durable" : "non-durable"
        }`;
        report.midStep[kind] = (report.midStep[kind] ?? 0) + 1;
      }

      // Check every item.
      for (const it of its) {
        const atA = inspect(join(dirs.A, it.name), it.expected);
        const atB = inspect(join(dirs.B, it.name), it.expected);
        const at: Record<Side, string> = { A: atA, B: atB };
        const where = `kill ${k}: item ${it.name} (A: ${atA}, B: ${atB})`;
        const mv = inProgress?.op === "move" && inProgress.item === it.name
          ? inProgress
          : null;
        if (mv === null) {
          const other = it.side === "A" ? "B" : "A";
          if (at[it.side] !== "complete") {
            fail(`${where}: not complete at its side ${it.side}`);
          }
          if (at[other] !== "absent") {
            fail(`${where}: something at the other side ${other}`);
          }
        } else {
          // A move in progress: the destination (a published name) is complete
          // or absent; the source is complete, or partly removed once the
          // destination is complete; never neither.
          const src = at[mv.from], dst = at[mv.to];
          if (dst !== "complete" && dst !== "absent") {
            fail(`${where}: partial at the published destination`);
          }
          if (
            src !== "complete" &&
            !(dst === "complete" && (src === "remnant" || src === "absent"))
          ) {
            fail(
              `${where}: the source is not intact and the destination is not complete`,
            );
          }
          if (src !== "complete" && dst !== "complete") {
            fail(`${where}: LOST: no complete copy`);
          }
          if (dst === "complete") {
            if (src === "remnant") report.remnants++;
            if (src === "complete") report.both++;
            if (src !== "absent") rm(join(dirs[mv.from], it.name));
            it.side = mv.to;
          }
        }
        // Its copy: published complete, or absent; partly removed only
        // while remove() was removing it.
        const cp = inProgress !== null && inProgress.op !== "move" &&
            inProgress.item === it.name
          ? inProgress
          : null;
        for (const s of ["A", "B"] as const) {
          const c = inspect(join(dirs[s], `${it.name}.copy`), it.expected);
          const removing = cp !== null && cp.to === s && cp.copied === true;
          if (c === "remnant" && removing) report.removing++;
          else if (c !== "complete" && c !== "absent") {
            fail(`kill ${k}: ${it.name}.copy at ${s} is partial: ${c}`);
          }
          if (c !== "absent") rm(join(dirs[s], `${it.name}.copy`));
        }
      }

      // Leftovers: only safefs temps.
      const known = new Set(its.flatMap((i) => [i.name, `${i.name}.copy`]));
      const before: Record<string, string[]> = {};
      for (const s of ["A", "B"] as const) {
        const names = Array.from(Deno.readDirSync(dirs[s])).map((e) => e.name);
        for (const n of names) {
          if (!known.has(n) && !isTempName(n)) {
            fail(
              `kill ${k}: unexpected leftover '${
                join(dirs[s], n)
              }' (not a safefs temp)`,
            );
          }
        }
        report.temps += names.filter(isTempName).length;
        // A claim (a temp killed between its creation and its lock) stays
        // for sweep() until it is a minute old: it must be empty.
        const claims = names.filter(isClaimName);
        report.claims += claims.length;
        for (const n of claims) {
          const p = join(dirs[s], n);
          const st = Deno.lstatSync(p);
          const empty = st.isDirectory
            ? Array.from(Deno.readDirSync(p)).length === 0
            : st.isSymlink || st.size === 0;
          if (!empty) fail(`kill ${k}: the claim '${p}' is not empty`);
        }
        before[s] = names.filter((n) => !isTempName(n) || isClaimName(n))
          .sort();
      }
      for (const s of ["A", "B"] as const) {
        await P.sweep(dirs[s], { olderThan: 0 });
        const after = Array.from(Deno.readDirSync(dirs[s])).map((e) => e.name)
          .sort();
        if (JSON.stringify(after) !== JSON.stringify(before[s])) {
          fail(
            `kill ${k}: sweep of ${s} left or removed the wrong entries: before ${
              before[s]
            } after ${after}`,
          );
        }
        for (const n of after.filter(isClaimName)) rm(join(dirs[s], n));
      }
      for (const it of its) {
        if (inspect(join(dirs[it.side], it.name), it.expected) !== "complete") {
          fail(`kill ${k}: item ${it.name} damaged by the sweep`);
        }
      }
      if (o.log && (k + 1) % 50 === 0) {
        o.log(`lane ${laneNo}: ${k + 1}/${kills} kills`);
      }
    }
  } finally {
    if (failed && o.keep) {
      o.log?.(`kept lane ${laneNo}: ${dirs.A} ${dirs.B} ${work}`);
    } else {
      rm(dirs.A);
      rm(dirs.B);
      rm(work);
    }
  }
}

/** Runs the torture and returns what it saw (violations are in the report). */
export async function torture(o: TortureOptions): Promise<TortureReport> {
  const t0 = performance.now();
  const report: TortureReport = {
    kills: 0,
    midStep: {},
    idle: 0,
    stepsDone: 0,
    remnants: 0,
    both: 0,
    removing: 0,
    refused: 0,
    temps: 0,
    claims: 0,
    violations: [],
    ms: 0,
  };
  const per = Math.ceil(o.kills / o.lanes);
  await Promise.all(
    Array.from(
      { length: o.lanes },
      (_, l) => lane(o, l, Math.min(per, o.kills - l * per), report),
    ),
  );
  report.ms = performance.now() - t0;
  return report;
}

/** A human summary of a report. */
export function summary(r: TortureReport): string {
  const mid = Object.entries(r.midStep).sort().map(([k, v]) => `${k}: ${v}`)
    .join(", ");
  return [
    `kill -9 torture (${feat.name} backend): ${r.kills} kills in ${
      (r.ms / 1000).toFixed(1)
    } s, ${r.stepsDone} steps completed by the children`,
    `  killed mid-step: ${
      Object.values(r.midStep).reduce((a, b) => a + b, 0)
    } (${mid}); before the first step: ${r.idle}`,
    `  found after kills: ${r.temps} temps (all removed by sweep(), nothing else, but ${r.claims} empty claims younger than a minute), ${r.remnants} partly removed sources beside a complete destination, ${r.both} items complete at both names, ${r.removing} copies partly removed by remove()`,
    `  overwrites of a non-empty tree refused (no exchange on this backend): ${r.refused}`,
    `  violations: ${r.violations.length}`,
    ...r.violations.slice(0, 20).map((v) => `    ${v}`),
  ].join("\n");
}
