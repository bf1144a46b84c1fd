// Copyright 2026 the safefs authors. MIT license.
// Crash-state model (issue 7 part 2, issues 12, 15, 21): every state the disk
// may hold if power is lost after any seam call of a durable operation, under
// a pessimistic POSIX model (tests/_crash_model.ts), must keep a complete copy
// of the data (G2), a destination that is old or complete, modes, owner and
// times included (G1), a source name holding only the source and new names
// that sweep() recognises (X); once the call has returned, only the final
// state is possible (G3), and a removed path is gone. The model is shown to
// catch broken variants: traces with their syncfs, fsyncs or chmods dropped
// or moved, and hand-made traces of exchanges.
import assert from "node:assert/strict";
import { join } from "node:path";
import { feat } from "../src/_sys.ts";
import { resetCaps } from "../src/_caps.ts";
import { cleanup, diskDir, HAS_SHM, shmDir } from "./_helpers.ts";
import {
  checkCrashStates,
  type CrashReport,
  CrashSeed,
  type CrashSpec,
  recordTrace,
  type Rule,
  type TraceCall,
  type Violation,
} from "./_crash_model.ts";
import { BACKEND, FULL, printTable } from "./_reliability.ts";
import {
  build,
  exchangeCode,
  makeTree,
  type Scenario,
  scenarios,
} from "./_scenarios.ts";
import { SafeFsError } from "../src/errors.ts";
import { isTempName } from "../src/_temp.ts";

if (!HAS_SHM) {
  console.warn(
    "SKIPPED: /dev/shm is not a separate filesystem: cross-filesystem crash models are skipped",
  );
}

interface Traced {
  seed: CrashSeed;
  calls: TraceCall[];
  spec: CrashSpec;
  dirs: string[];
  result: unknown;
}

/** Runs a scenario once on the real filesystem, recording its trace. */
async function trace(sc: Scenario): Promise<Traced> {
  const a = diskDir();
  const b = sc.crossFs ? shmDir() : diskDir();
  sc.setup(a, b);
  const seed = new CrashSeed([a, b]);
  const spec: CrashSpec = { roots: [a, b], kind: sc.kind, dest: sc.dest(a, b) };
  const src = sc.src?.(a, b);
  if (src !== undefined) spec.src = src;
  resetCaps();
  const { calls, result } = await recordTrace(() => sc.run(a, b));
  const want = sc.expectCode;
  const ok = want === undefined
    ? !(result instanceof Error)
    : result instanceof SafeFsError && result.code === want;
  if (!ok) {
    cleanup(a, b);
    throw new Error(
      `${sc.name}: the recorded run ${
        want ? `should fail with ${want}` : "failed"
      }: ${result}`,
    );
  }
  return { seed, calls, spec, dirs: [a, b], result };
}

function explain(vs: Violation[]): string {
  return vs.slice(0, 4).map((v) =>
    `${v.rule} after call ${v.after}: ${v.detail}`
  ).join("\n");
}

function row(name: string, r: CrashReport): string[] {
  return [
    name,
    String(r.calls),
    String(r.crashPoints),
    String(r.states),
    String(r.distinct),
    `${r.exhaustive}/${r.bounded}`,
    String(r.maxPending),
    String(r.redundant.length),
    String(r.exchangeWindow),
  ];
}

/**
 * The durable scenarios (their expected failures too: they must change
 * nothing): the core ones in CI, every one with SAFEFS_RELIABILITY=full.
 */
function durableOnes(): Scenario[] {
  return scenarios().filter((s) => s.durable && (FULL || s.core));
}

/** Why a scenario cannot run on this machine, if so. */
const cannot = (s: Scenario): string | undefined =>
  s.crossFs && !HAS_SHM ? "/dev/shm is not a separate filesystem" : undefined;

Deno.test(`no crash at any point of a durable operation loses data, shows a partial destination or a lost mode, or leaves an unknown name; a returned call is final (${BACKEND} backend)`, async (t) => {
  const rows: string[][] = [];
  let total = 0;
  let points = 0;
  const redundant: string[] = [];
  for (const sc of durableOnes()) {
    const why = cannot(sc);
    await t.step({
      name: why ? `${sc.name} (SKIPPED: ${why})` : sc.name,
      ignore: why !== undefined,
      fn: async () => {
        const tr = await trace(sc);
        try {
          const r = checkCrashStates(tr.seed, tr.calls, tr.spec);
          assert.equal(r.crashPoints, tr.calls.length + 1);
          assert.deepEqual(
            r.violations,
            [],
            `${sc.name}:\n${explain(r.violations)}`,
          );
          total += r.states;
          points += r.crashPoints;
          for (const x of r.redundant) redundant.push(`${sc.name}: ${x}`);
          rows.push(row(sc.name, r));
        } finally {
          cleanup(...tr.dirs);
        }
      },
    });
  }
  printTable(
    `Crash states checked (pessimistic POSIX model, ${BACKEND} backend): ${total} states at ${points} crash points`,
    [
      [
        "scenario",
        "calls",
        "crash points",
        "states",
        "distinct",
        "exhaustive/bounded",
        "max pending",
        "redundant syncs",
        "exchange window",
      ],
      ...rows,
    ],
  );
  if (redundant.length > 0) {
    console.log(
      `fsyncs with nothing pending on what they sync (not wrong; G3 asks for no more than needed):\n  ${
        redundant.join("\n  ")
      }`,
    );
  }
});

// --- the model must catch broken variants --------------------------------

/** Runs the model on an edited copy of a trace. */
function broken(
  tr: Traced,
  edit: (calls: TraceCall[]) => TraceCall[],
): CrashReport {
  return checkCrashStates(
    tr.seed,
    edit(tr.calls.map((c) => ({ ...c }))),
    tr.spec,
  );
}

function rulesOf(r: CrashReport): Rule[] {
  return (["G1", "G2", "G3", "X"] as const).filter((k) => r.counts[k] > 0);
}

function scenario(name: string): Scenario {
  const sc = scenarios().find((s) => s.name === name);
  assert(sc !== undefined, `no scenario '${name}'`);
  return sc;
}

const under = (p: string, root: string): boolean =>
  p === root || p.startsWith(root + "/");
const tempOf = (c: TraceCall): string | null => {
  const m = /^(.*\/\.[^/]*\.safefs-tmp)(\/|$)/.exec(c.path ?? "");
  return m !== null && isTempName(m[1].slice(m[1].lastIndexOf("/") + 1))
    ? m[1]
    : null;
};
const isPublish = (tr: Traced) => (c: TraceCall): boolean =>
  (c.op === "renameAt" || c.op === "linkAt") && c.dest === tr.spec.dest &&
  c.ok;

/** Index of the first call matching `f`; asserts there is one. */
function find(
  calls: TraceCall[],
  f: (c: TraceCall, i: number) => boolean,
  what: string,
): number {
  const i = calls.findIndex(f);
  assert(i >= 0, `variant does not apply: no ${what} in the trace`);
  return i;
}

/**
 * The trace with its per-file and per-directory fsyncs of the temp tree
 * replaced by ONE syncfs of the temp's root just before the publish: the
 * "syncfs" durability mode, built from an "each" trace (the path backend
 * has no syncfs of its own).
 */
function asSyncfs(tr: Traced, calls: TraceCall[]): TraceCall[] {
  const pub = find(calls, isPublish(tr), "publish");
  const tmp = calls[pub].path!;
  const out = calls.filter((c, i) =>
    !(i < pub && c.op === "fsync" && under(c.path!, tmp))
  );
  const at = out.findIndex(isPublish(tr));
  return [
    ...out.slice(0, at),
    { op: "syncfs", path: tmp, ok: true },
    ...out.slice(at),
  ];
}

Deno.test(`the crash model reports every broken variant of a durable operation (${BACKEND} backend)`, async (t) => {
  const rows: string[][] = [];
  let caught = 0;
  const expect = (variant: string, r: CrashReport, rules: Rule[]): void => {
    const got = rulesOf(r);
    rows.push([
      variant,
      String(r.states),
      `G1:${r.counts.G1} G2:${r.counts.G2} G3:${r.counts.G3} X:${r.counts.X}`,
    ]);
    if (rules.length === 0) {
      assert.deepEqual(
        r.violations,
        [],
        `${variant}: ${explain(r.violations)}`,
      );
      return;
    }
    for (const rule of rules) {
      assert(
        got.includes(rule),
        `${variant}: the model should report ${rule}, found ${
          got.join(",") || "nothing"
        }`,
      );
    }
    caught++;
  };
  const withTrace = async (
    name: string,
    fn: (tr: Traced) => void,
  ): Promise<void> => {
    const sc = scenario(name);
    const why = cannot(sc);
    if (why !== undefined) {
      console.warn(`SKIPPED: broken variants of '${name}': ${why}`);
      rows.push([`variants of ${name}`, "-", `SKIPPED: ${why}`]);
      return;
    }
    const tr = await trace(sc);
    try {
      fn(tr);
    } finally {
      cleanup(...tr.dirs);
    }
  };

  await t.step("a batched (syncfs) tree copy without its syncfs", async () => {
    await withTrace("copy cross-fs wide no-clobber durable", (tr) => {
      const native = tr.calls.some((c) => c.op === "syncfs");
      assert.equal(native, feat.syncfs, "syncfs used where the backend has it");
      const syncfs = native
        ? (cs: TraceCall[]) => cs
        : (cs: TraceCall[]) => asSyncfs(tr, cs);
      const label = native ? "" : " (syncfs form of the each-mode trace)";
      expect(
        `copy wide, syncfs mode${label}: as recorded`,
        broken(tr, syncfs),
        [],
      );
      expect(
        `copy wide, syncfs mode${label}: the syncfs dropped`,
        broken(tr, (cs) => syncfs(cs).filter((c) => c.op !== "syncfs")),
        ["G1", "G3"],
      );
      expect(
        `copy wide, syncfs mode${label}: the syncfs made after the publish`,
        broken(tr, (cs) => {
          const s = syncfs(cs);
          const i = find(s, (c) => c.op === "syncfs", "syncfs");
          const moved = s.splice(i, 1)[0];
          const p = s.findIndex(isPublish(tr));
          s.splice(p + 1, 0, moved);
          return s;
        }),
        ["G1"],
      );
    });
  });

  await t.step(
    "a tree copy (each mode) with a directory fsync dropped",
    async () => {
      await withTrace("copy cross-fs tree no-clobber durable", (tr) => {
        const pub = tr.calls.findIndex(isPublish(tr));
        const tmp = tr.calls[pub].path!;
        expect("copy tree, each mode: as recorded", broken(tr, (c) => c), []);
        expect(
          "copy tree, each mode: fsync of a subdirectory of the temp dropped",
          broken(tr, (cs) => {
            const i = find(
              cs,
              (c) =>
                c.op === "fsync" && c.how === "dir" &&
                c.path!.startsWith(tmp + "/"),
              "subdirectory fsync",
            );
            return cs.filter((_, j) => j !== i);
          }),
          ["G1", "G3"],
        );
        expect(
          "copy tree, each mode: fsync of the destination's directory dropped",
          broken(
            tr,
            (cs) => cs.filter((c, i) => !(i > pub && c.op === "fsync")),
          ),
          ["G3"],
        );
        expect(
          "copy tree, each mode: file data fsyncs dropped",
          broken(
            tr,
            (cs) => cs.filter((c) => !(c.op === "fsync" && c.how === "file")),
          ),
          ["G1", "G3"],
        );
        expect(
          "copy tree, each mode: chmod of the temp's root after its last fsync (issue 21)",
          broken(tr, (cs) => {
            const i = find(
              cs,
              (c) => c.op === "chmod" && c.how === "dir" && c.path === tmp,
              "chmod of the temp root",
            );
            const moved = cs.splice(i, 1)[0];
            const p = cs.findIndex(isPublish(tr));
            cs.splice(p, 0, moved);
            return cs;
          }),
          ["G1", "G3"],
        );
        expect(
          "copy tree, each mode: times of a file set after its fsync",
          broken(tr, (cs) => {
            const i = find(
              cs,
              (c) =>
                c.op === "utimes" && c.how === "file" && tempOf(c) !== null,
              "utimes of a file",
            );
            const moved = cs.splice(i, 1)[0];
            const p = cs.findIndex(isPublish(tr));
            cs.splice(p, 0, moved);
            return cs;
          }),
          ["G1", "G3"],
        );
      });
    },
  );

  await t.step(
    "a cross-filesystem move with the source removed too early",
    async () => {
      await withTrace("move cross-fs tree no-clobber durable", (tr) => {
        const src = tr.spec.src!;
        const pub = tr.calls.findIndex(isPublish(tr));
        expect("move tree cross-fs: as recorded", broken(tr, (c) => c), []);
        expect(
          "move tree cross-fs: the source unlinked before the publish is durable",
          broken(tr, (cs) => {
            const removal = (c: TraceCall, i: number): boolean =>
              i > pub && (c.op === "unlinkAt" || c.op === "rmdirAt") &&
              under(c.path!, src);
            const moved = cs.filter(removal);
            const rest = cs.filter((c, i) => !removal(c, i));
            const at = rest.findIndex(isPublish(tr));
            assert(moved.length > 0);
            return [...rest.slice(0, at + 1), ...moved, ...rest.slice(at + 1)];
          }),
          ["G2"],
        );
        expect(
          "move tree cross-fs: every directory fsync dropped",
          broken(
            tr,
            (cs) => cs.filter((c) => !(c.op === "fsync" && c.how === "dir")),
          ),
          ["G2", "G3"],
        );
        expect(
          "move tree cross-fs: file data fsynced after the publish instead of before",
          broken(tr, (cs) => {
            const files = cs.filter((c) =>
              c.op === "fsync" && c.how === "file"
            );
            const rest = cs.filter((c) =>
              !(c.op === "fsync" && c.how === "file")
            );
            const at = rest.findIndex(isPublish(tr));
            return [...rest.slice(0, at + 1), ...files, ...rest.slice(at + 1)];
          }),
          ["G1"],
        );
      });
    },
  );

  await t.step(
    "a same-filesystem move without the destination's fsync",
    async () => {
      await withTrace("move same-fs file no-clobber durable", (tr) => {
        const dDir = join(tr.spec.dest, "..");
        const pub = tr.calls.findIndex(isPublish(tr));
        expect("move file same-fs: as recorded", broken(tr, (c) => c), []);
        expect(
          "move file same-fs: no fsync of the destination's directory",
          broken(
            tr,
            (cs) =>
              cs.filter((c, i) =>
                !(i >= pub && c.op === "fsync" && c.path === dDir)
              ),
          ),
          ["G3"],
        );
      });
    },
  );

  await t.step("an exchange without the fsync of its directory", async () => {
    await withTrace(
      "copy cross-fs tree onto a non-empty dir overwrite durable",
      (tr) => {
        if (exchangeCode() !== undefined) {
          // The path backend cannot exchange: it refused, changing nothing;
          // the model checks that trace, and exchanges get a hand-made one.
          assert(tr.result instanceof SafeFsError);
          expect(
            "copy onto a non-empty dir (refused, ENOTEMPTY): as recorded",
            broken(tr, (c) => c),
            [],
          );
          return;
        }
        const x = find(
          tr.calls,
          (c) => c.op === "renameAt" && c.how === "exchange",
          "exchange",
        );
        expect(
          "copy onto a non-empty dir (exchange): as recorded",
          broken(tr, (c) => c),
          [],
        );
        expect(
          "copy onto a non-empty dir: the exchange never fsynced",
          broken(tr, (cs) => cs.filter((c, i) => !(i > x && c.op === "fsync"))),
          ["G3"],
        );
      },
    );
    // An exchange, by hand: a new tree at a temp name and the old one at
    // the destination, swapped for real (outside the seam: three renames),
    // and the trace an exchange makes, with and without its fsync.
    const d = diskDir();
    try {
      const x = join(d, "x");
      const tmp = join(d, `.x.${crypto.randomUUID()}.safefs-tmp`);
      const swap = (): void => {
        Deno.renameSync(x, join(d, "swap"));
        Deno.renameSync(tmp, x);
        Deno.renameSync(join(d, "swap"), tmp);
      };
      makeTree(x);
      build("wide", tmp);
      const seed = new CrashSeed([d]);
      swap();
      const xchg: TraceCall[] = [
        { op: "openDir", path: d, ok: true },
        { op: "renameAt", how: "exchange", path: tmp, dest: x, ok: true },
      ];
      const fsyncD: TraceCall = { op: "fsync", how: "dir", path: d, ok: true };
      const spec: CrashSpec = { roots: [d], kind: "write", dest: x };
      expect(
        "hand-made exchange, fsynced",
        checkCrashStates(seed, [...xchg, fsyncD], spec),
        [],
      );
      expect(
        "hand-made exchange, not fsynced",
        checkCrashStates(seed, xchg, spec),
        ["G3"],
      );
      expect(
        "hand-made exchange onto a name sweep() does not know",
        (() => {
          // The same trees, the old one swapped to a plain name.
          const plainName = join(d, "old");
          Deno.renameSync(tmp, plainName);
          try {
            const seed3 = new CrashSeed([d]);
            Deno.renameSync(x, join(d, "swap"));
            Deno.renameSync(plainName, x);
            Deno.renameSync(join(d, "swap"), plainName);
            return checkCrashStates(seed3, [
              xchg[0],
              { ...xchg[1], path: plainName },
              fsyncD,
            ], spec);
          } finally {
            Deno.renameSync(plainName, tmp);
          }
        })(),
        ["X"],
      );
      // A syncfs of another filesystem does not make this one durable.
      if (HAS_SHM) {
        const other = shmDir();
        try {
          const seed2 = new CrashSeed([d, other]);
          swap();
          const spec2: CrashSpec = { ...spec, roots: [d, other] };
          const c2: TraceCall[] = [
            ...xchg,
            { op: "openDir", path: other, ok: true },
          ];
          expect(
            "hand-made exchange, syncfs of this filesystem",
            checkCrashStates(seed2, [...c2, {
              op: "syncfs",
              path: d,
              ok: true,
            }], spec2),
            [],
          );
          expect(
            "hand-made exchange, syncfs of another filesystem only",
            checkCrashStates(seed2, [...c2, {
              op: "syncfs",
              path: other,
              ok: true,
            }], spec2),
            ["G3"],
          );
        } finally {
          cleanup(other);
        }
      }
    } finally {
      cleanup(d);
    }
  });

  await t.step(
    "writeFile, symlink and remove with their fsyncs dropped",
    async () => {
      await withTrace("writeFile bytes overwrite durable", (tr) => {
        expect("writeFile: as recorded", broken(tr, (c) => c), []);
        expect(
          "writeFile: temp data fsync dropped",
          broken(
            tr,
            (cs) => cs.filter((c) => !(c.op === "fsync" && c.how === "file")),
          ),
          ["G1", "G3"],
        );
        expect(
          "writeFile: directory fsync dropped",
          broken(
            tr,
            (cs) => cs.filter((c) => !(c.op === "fsync" && c.how === "dir")),
          ),
          ["G3"],
        );
      });
      await withTrace("writeFile parents: true durable", (tr) => {
        expect(
          "writeFile parents: as recorded",
          broken(tr, (c) => c),
          [],
        );
        expect(
          "writeFile parents: fsync of a created parent's parent dropped",
          broken(tr, (cs) => {
            const i = find(
              cs,
              (c, j) => j > 0 && cs[j - 1].op === "mkdirAt" && c.op === "fsync",
              "fsync after mkdir",
            );
            return cs.filter((_, j) => j !== i);
          }),
          ["G3"],
        );
      });
      await withTrace("symlink over a file", (tr) => {
        expect("symlink: as recorded", broken(tr, (c) => c), []);
        expect(
          "symlink: directory fsync dropped",
          broken(tr, (cs) => cs.filter((c) => c.op !== "fsync")),
          ["G3"],
        );
      });
      await withTrace("remove tree durable", (tr) => {
        expect("remove tree: as recorded", broken(tr, (c) => c), []);
        expect(
          "remove tree: parent fsync dropped (issue 12 item 6)",
          broken(tr, (cs) => cs.filter((c) => c.op !== "fsync")),
          ["G3"],
        );
      });
    },
  );

  await t.step(
    "durable: false (documented: no power-loss guarantee)",
    async () => {
      await withTrace("move cross-fs file no-clobber non-durable", (tr) => {
        expect(
          "move cross-fs file, durable: false",
          broken(tr, (c) => c),
          ["G2", "G3"],
        );
      });
    },
  );

  printTable(
    `Crash model on deliberately broken traces (${BACKEND} backend): ${caught} broken variants caught`,
    [["variant", "states", "violating states per rule"], ...rows],
  );
});
