// Copyright 2026 the safefs authors. MIT license.
/**
 * `deno task bench:compare [--quick] [--reps N] [--only ID,...] [--backends default,path]
 *   [--label NAME] [--note TEXT] [--cold] [--no-syscalls] [--list]`
 *
 * safefs beside what a user would run instead (coreutils, rsync, Deno
 * built-ins, fs-extra, rimraf, write-file-atomic), on the same fixtures, each
 * measurement on a FRESH journaled ext4 filesystem when run as root (a sparse
 * loop image, mkfs.ext4 defaults with lazy init off, mounted with the
 * defaults: data=ordered), torn down after. Not root: a temp dir on whatever
 * filesystem that is, said in the results. Medians of `--reps` (default 5),
 * contender order reversed every other repetition, ratios (safefs ÷
 * contender) from medians of the same run. Every safefs row runs once per
 * backend (`--backends`), each measurement in its own process with
 * `SAFEFS_BACKEND` set (`path`) or unset (`default`).
 *
 * Written to bench/RESULTS.md (section `compare:<label>`, default label
 * `latest`; other sections are kept).
 *
 * Never part of the test suite.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  type Backend,
  backendEnv,
  buildBig,
  buildSparse,
  buildTree3,
  cliPath,
  dirPlace,
  diskUse,
  dropCaches,
  EXT4_SIZE,
  ext4Journal,
  ext4Place,
  fmtInt,
  IS_ROOT,
  KiB,
  machineLines,
  measure,
  type Measured,
  median,
  MiB,
  mountOf,
  type Place,
  releaseAll,
  runnerArgv,
  sh,
  syncAll,
  table,
  tmpfsPlace,
  trySh,
  writeSection,
} from "./_util.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean" },
    reps: { type: "string" },
    only: { type: "string" },
    backends: { type: "string", default: "default,path" },
    label: { type: "string", default: "latest" },
    note: { type: "string" },
    cold: { type: "boolean" },
    "no-syscalls": { type: "boolean" },
    budget: { type: "string", default: "150" },
    list: { type: "boolean" },
    out: {
      type: "string",
      default: new URL("./RESULTS.md", import.meta.url).pathname,
    },
  },
});
const QUICK = flags.quick === true;
const REPS = Number(flags.reps ?? (QUICK ? 3 : 5));
const ONLY = flags.only ? new Set(flags.only.split(",")) : null;
const BACKENDS = flags.backends!.split(",") as Backend[];
const COLD = flags.cold === true;
/** Seconds of timed runs after which a contender is not repeated further. */
const BUDGET_MS = Number(flags.budget) * 1000;

const BIG = QUICK ? 256 * MiB : 1024 * MiB;
const TREE = QUICK ? 2_000 : 10_000;
const RM = QUICK ? 20_000 : 100_000;
const WRITES = 2_000;
const SPARSE = QUICK ? 256 * MiB : 1024 * MiB;
const payload = new TextEncoder().encode("x".repeat(100));

// ---------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------

/** The working directories of one measurement (fresh filesystems). */
interface Ctx {
  a: string;
  b: string;
}
interface Cmd {
  argv: string[];
  env?: Record<string, string>;
  cwd?: string;
}
interface Contender {
  name: string;
  /**
   * subject: a row given ratios (safefs, or what a method check tests);
   * ref: a column ratios are taken against; info: shown, no ratios.
   */
  role: "subject" | "ref" | "info";
  backend?: Backend;
  /** Untimed, in the fresh places, after the fixture. */
  prep?: (c: Ctx) => void;
  cmd: (c: Ctx) => Cmd;
  /** Time the whole process (CLIs, spawned tools), not the runner's op. */
  wholeProcess?: boolean;
}
interface Target {
  subject: string;
  ref: string;
  max: number;
  metric?: "time" | "extra";
}
interface Workload {
  id: string;
  title: string;
  /** Needs a second filesystem (cross-filesystem moves). */
  two?: boolean;
  /** Builds the inputs in the work dir of the first filesystem. */
  fixture: (a: string) => void;
  contenders: Contender[];
  /** After each run (untimed): null when the run did its job. */
  check: (c: Ctx) => string | null;
  extra?: { head: string; of: (c: Ctx) => number; fmt: (v: number) => string };
  targets?: Target[];
  note?: string;
  rootOnly?: boolean;
  /** Holds big files: not root, delete outputs instead of keeping them. */
  big?: boolean;
}

const proc = (
  name: string,
  role: Contender["role"],
  argv: (c: Ctx) => string[],
  extra: Partial<Contender> = {},
  cwd?: (c: Ctx) => string,
): Contender => ({
  name,
  role,
  wholeProcess: true,
  cmd: (c) => ({ argv: argv(c), ...(cwd ? { cwd: cwd(c) } : {}) }),
  ...extra,
});
const shell = (
  name: string,
  role: Contender["role"],
  script: string,
  args: (c: Ctx) => string[],
  cwd?: (c: Ctx) => string,
): Contender =>
  proc(name, role, (c) => ["sh", "-c", script, "sh", ...args(c)], {}, cwd);
const js = (
  name: string,
  role: Contender["role"],
  job: (c: Ctx) => Record<string, unknown>,
): Contender => ({ name, role, cmd: (c) => ({ argv: runnerArgv(job(c)) }) });
/** One subject row per backend. */
const safefs = (
  name: string,
  job: (c: Ctx) => Record<string, unknown>,
): Contender[] =>
  BACKENDS.map((backend) => ({
    name: `${name} [${backend}]`,
    role: "subject" as const,
    backend,
    cmd: (c: Ctx): Cmd => ({
      argv: runnerArgv(job(c)),
      env: backendEnv(backend),
    }),
  }));

function exists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
const expect = (...checks: [boolean, string][]): string | null =>
  checks.find(([ok]) => !ok)?.[1] ?? null;
const treeCopied = (d: string): [boolean, string][] => [
  [exists(`${d}/d0/e0/f0`), `${d}/d0/e0/f0 missing`],
  [
    exists(`${d}/d9/e9/f${TREE / 100 - 1}`) &&
    Deno.statSync(`${d}/d9/e9/f${TREE / 100 - 1}`).size === payload.length,
    `${d}/d9/e9/f${TREE / 100 - 1} missing or wrong size`,
  ],
];
const sizeIs = (p: string, n: number): [boolean, string] => [
  exists(p) && Deno.statSync(p).size === n,
  `${p} missing or not ${n} bytes`,
];

const W: Workload[] = [];
const tree = `tree of ${fmtInt(TREE)} files (100 B, 10 x 10 dirs)`;

W.push({
  id: "ext4-artefact",
  title:
    `method check: \`cp -a\` of a ${tree}, fresh ext4 vs just after \`rm -rf\` of as many`,
  rootOnly: true,
  fixture: (a) => buildTree3(`${a}/src`, TREE, payload),
  contenders: [
    proc("cp -a, fresh filesystem", "ref", (c) => [
      "cp",
      "-a",
      `${c.a}/src`,
      `${c.a}/dst`,
    ]),
    {
      ...proc("cp -a, just after cp -a + rm -rf of as many", "subject", (
        c,
      ) => ["cp", "-a", `${c.a}/src`, `${c.a}/dst`]),
      prep: (c) => {
        sh("cp", ["-a", `${c.a}/src`, `${c.a}/junk`]);
        syncAll();
        sh("rm", ["-rf", `${c.a}/junk`]);
      },
    },
  ],
  check: (c) => expect(...treeCopied(`${c.a}/dst`)),
  note: "ext4 skips inodes freed in the last seconds when it allocates " +
    "(recently_deleted() in find_inode_bit()), but only on a filesystem " +
    "WITHOUT a journal, like this machine's root filesystem, where creating " +
    "10,000 files just after deleting as many took 5-15x longer. On a " +
    "journaled ext4 this row shows no such penalty. Measured while writing " +
    "this bench (3 runs each, same tree): cp -a on a freshly mounted sparse " +
    "COPY of an image holding the fixture took 0.8-1.2 s against 0.47-0.60 s " +
    "with the fixture just built (cold allocation metadata), so each " +
    "measurement builds its fixture on a fresh mkfs rather than cloning one.",
});

W.push({
  id: "copy-tree-durable",
  title: `durable copy of a ${tree}, same fs`,
  fixture: (a) => buildTree3(`${a}/src`, TREE, payload),
  contenders: [
    shell("cp -a && sync -f", "ref", 'cp -a "$1" "$2" && sync -f "$2"', (c) => [
      `${c.a}/src`,
      `${c.a}/dst`,
    ]),
    proc("rsync -a --fsync", "ref", (c) => [
      "rsync",
      "-a",
      "--fsync",
      `${c.a}/src/`,
      `${c.a}/dst/`,
    ]),
    ...safefs("safefs copy (durable)", (c) => ({
      op: "safefs.copy",
      src: `${c.a}/src`,
      dst: `${c.a}/dst`,
    })),
  ],
  check: (c) => expect(...treeCopied(`${c.a}/dst`)),
  targets: [{
    subject: "safefs copy (durable)",
    ref: "cp -a && sync -f",
    max: 1.0,
  }],
  note: "rsync --fsync fsyncs each file, not the directories.",
});

W.push({
  id: "copy-tree",
  title: `copy of a ${tree}, same fs, not durable`,
  fixture: (a) => buildTree3(`${a}/src`, TREE, payload),
  contenders: [
    proc("cp -a", "ref", (c) => ["cp", "-a", `${c.a}/src`, `${c.a}/dst`]),
    proc("rsync -a", "ref", (c) => [
      "rsync",
      "-a",
      `${c.a}/src/`,
      `${c.a}/dst/`,
    ]),
    js("fs-extra copy", "ref", (c) => ({
      op: "fse.copy",
      src: `${c.a}/src`,
      dst: `${c.a}/dst`,
    })),
    ...safefs("safefs copy (durable: false)", (c) => ({
      op: "safefs.copy",
      src: `${c.a}/src`,
      dst: `${c.a}/dst`,
      durable: false,
    })),
  ],
  check: (c) => expect(...treeCopied(`${c.a}/dst`)),
  targets: [{
    subject: "safefs copy (durable: false)",
    ref: "cp -a",
    max: 1.0,
  }],
});

const bigFixture = (a: string): void => buildBig(`${a}/src`, BIG);
W.push({
  id: "copy-big-durable",
  big: true,
  title: `durable copy of a ${
    BIG / MiB
  } MiB file, same fs (source in page cache)`,
  fixture: bigFixture,
  contenders: [
    shell("cp && sync -f", "ref", 'cp "$1" "$2" && sync -f "$2"', (c) => [
      `${c.a}/src`,
      `${c.a}/dst`,
    ]),
    proc("rsync --fsync", "ref", (c) => [
      "rsync",
      "--fsync",
      `${c.a}/src`,
      `${c.a}/dst`,
    ]),
    ...safefs("safefs copy (durable)", (c) => ({
      op: "safefs.copy",
      src: `${c.a}/src`,
      dst: `${c.a}/dst`,
    })),
  ],
  check: (c) => expect(sizeIs(`${c.a}/dst`, BIG)),
  targets: [{
    subject: "safefs copy (durable)",
    ref: "cp && sync -f",
    max: 1.1,
  }],
});

W.push({
  id: "copy-big",
  big: true,
  title: `copy of a ${
    BIG / MiB
  } MiB file, same fs, not durable (source in page cache)`,
  fixture: bigFixture,
  contenders: [
    proc("cp", "ref", (c) => ["cp", `${c.a}/src`, `${c.a}/dst`]),
    js("Deno.copyFile", "ref", (c) => ({
      op: "deno.copyFile",
      src: `${c.a}/src`,
      dst: `${c.a}/dst`,
    })),
    js("fs-extra copy", "ref", (c) => ({
      op: "fse.copy",
      src: `${c.a}/src`,
      dst: `${c.a}/dst`,
    })),
    ...safefs("safefs copy (durable: false)", (c) => ({
      op: "safefs.copy",
      src: `${c.a}/src`,
      dst: `${c.a}/dst`,
      durable: false,
    })),
  ],
  check: (c) => expect(sizeIs(`${c.a}/dst`, BIG)),
});

W.push({
  id: "sparse",
  big: true,
  title: `copy of a ${
    SPARSE / MiB
  } MiB sparse file holding 1 MiB of data, same fs`,
  fixture: (a) => buildSparse(`${a}/src`, SPARSE, MiB),
  contenders: [
    proc("cp", "ref", (c) => ["cp", `${c.a}/src`, `${c.a}/dst`]),
    shell("cp && sync -f", "ref", 'cp "$1" "$2" && sync -f "$2"', (c) => [
      `${c.a}/src`,
      `${c.a}/dst`,
    ]),
    ...safefs("safefs copy (durable: false)", (c) => ({
      op: "safefs.copy",
      src: `${c.a}/src`,
      dst: `${c.a}/dst`,
      durable: false,
    })),
    ...safefs("safefs copy (durable)", (c) => ({
      op: "safefs.copy",
      src: `${c.a}/src`,
      dst: `${c.a}/dst`,
    })),
  ],
  check: (c) => expect(sizeIs(`${c.a}/dst`, SPARSE)),
  extra: {
    head: "disk use of the copy",
    of: (c) => diskUse(`${c.a}/dst`),
    fmt: (v) => `${fmtInt(Math.round(v / KiB))} KiB`,
  },
  targets: [
    { subject: "safefs copy (durable: false)", ref: "cp", max: 20 },
    {
      subject: "safefs copy (durable: false)",
      ref: "cp",
      max: 2,
      metric: "extra",
    },
    { subject: "safefs copy (durable)", ref: "cp", max: 2, metric: "extra" },
  ],
});

const moveRows = (): Contender[] => [
  proc("mv", "ref", (c) => ["mv", `${c.a}/src`, `${c.b}/dst`]),
  js("fs-extra move", "ref", (c) => ({
    op: "fse.move",
    src: `${c.a}/src`,
    dst: `${c.b}/dst`,
  })),
  ...safefs("safefs move (durable)", (c) => ({
    op: "safefs.move",
    src: `${c.a}/src`,
    dst: `${c.b}/dst`,
  })),
  ...safefs("safefs move (durable: false)", (c) => ({
    op: "safefs.move",
    src: `${c.a}/src`,
    dst: `${c.b}/dst`,
    durable: false,
  })),
];
W.push({
  id: "move-tree-xfs",
  title: `move of a ${tree} across filesystems (ext4 -> ext4)`,
  two: true,
  fixture: (a) => buildTree3(`${a}/src`, TREE, payload),
  contenders: moveRows(),
  check: (c) =>
    expect(...treeCopied(`${c.b}/dst`), [!exists(`${c.a}/src`), "source left"]),
  targets: [
    { subject: "safefs move (durable)", ref: "mv", max: 1.0 },
    { subject: "safefs move (durable: false)", ref: "mv", max: 1.0 },
  ],
  note: "mv and fs-extra do not fsync anything.",
});

W.push({
  id: "move-big-xfs",
  big: true,
  title: `move of a ${BIG / MiB} MiB file across filesystems (ext4 -> ext4)`,
  two: true,
  fixture: bigFixture,
  contenders: moveRows(),
  check: (c) =>
    expect(sizeIs(`${c.b}/dst`, BIG), [!exists(`${c.a}/src`), "source left"]),
});

const names = Array.from({ length: TREE }, (_, i) => `f${i}`);
const cli = cliPath();
W.push({
  id: "mv-many",
  title: `CLI: \`mv -- * ../dst/\` of ${fmtInt(TREE)} files (100 B), same fs`,
  fixture: (a) => {
    Deno.mkdirSync(`${a}/many`);
    Deno.mkdirSync(`${a}/dst`);
    for (const n of names) Deno.writeFileSync(`${a}/many/${n}`, payload);
  },
  contenders: [
    proc(
      "GNU mv -t ../dst -- *",
      "ref",
      () => ["mv", "-t", "../dst", "--", ...names],
      {},
      (c) => `${c.a}/many`,
    ),
    shell(
      "GNU mv -t ../dst -- * && sync -f",
      "ref",
      "mv -t ../dst -- * && sync -f ../dst",
      () => [],
      (c) => `${c.a}/many`,
    ),
    ...BACKENDS.flatMap((backend): Contender[] =>
      [true, false].map((durable) => ({
        name: `safefs mv ${
          durable ? "(durable)" : "--no-durable"
        } [${backend}]`,
        role: "subject",
        backend,
        wholeProcess: true,
        cmd: (c: Ctx): Cmd => ({
          argv: [
            Deno.execPath(),
            "run",
            "-A",
            "--no-prompt",
            cli,
            "mv",
            "-q",
            ...(durable ? [] : ["--no-durable"]),
            "--",
            ...names,
            "../dst/",
          ],
          env: backendEnv(backend),
          cwd: `${c.a}/many`,
        }),
      }))
    ),
    proc("safefs --version (Deno start-up only)", "info", () => [
      Deno.execPath(),
      "run",
      "-A",
      "--no-prompt",
      cli,
      "--version",
    ]),
  ],
  check: (c) =>
    expect(
      [
        exists(`${c.a}/dst/f0`) && exists(`${c.a}/dst/f${TREE - 1}`),
        "not moved",
      ],
      [[...Deno.readDirSync(`${c.a}/many`)].length === 0, "sources left"],
    ),
  targets: [{
    subject: "safefs mv (durable)",
    ref: "GNU mv -t ../dst -- *",
    max: 2.0,
  }],
  note:
    "Whole processes, both sides: the safefs rows include Deno's start-up " +
    "and loading the CLI (the `--version` row). The --version row's check is " +
    "skipped (it moves nothing).",
});

W.push({
  id: "replace-dir",
  title: `replace a non-empty directory (${fmtInt(TREE)} files) with another (${
    fmtInt(TREE)
  } files)`,
  fixture: (a) => {
    buildTree3(`${a}/live`, TREE, payload);
    buildTree3(`${a}/new`, TREE, payload);
    Deno.writeTextFileSync(`${a}/new/NEW`, "new");
  },
  contenders: [
    shell(
      "mv live old && mv new live && rm -rf old",
      "ref",
      "mv live old && mv new live && rm -rf old",
      () => [],
      (c) => c.a,
    ),
    shell(
      "the same && sync -f",
      "ref",
      "mv live old && mv new live && rm -rf old && sync -f .",
      () => [],
      (c) => c.a,
    ),
    ...safefs("safefs move(new, live, { overwrite: true }) (durable)", (c) => ({
      op: "safefs.move",
      src: `${c.a}/new`,
      dst: `${c.a}/live`,
      overwrite: true,
    })),
    ...safefs("safefs move(new, live, { overwrite: true, durable: false })", (
      c,
    ) => ({
      op: "safefs.move",
      src: `${c.a}/new`,
      dst: `${c.a}/live`,
      overwrite: true,
      durable: false,
    })),
  ],
  check: (c) =>
    expect([exists(`${c.a}/live/NEW`), "live not replaced"], [
      !exists(`${c.a}/new`),
      "new left",
    ]),
  note: "The shell sequence leaves a window with no `live` at all; safefs " +
    "must publish the new tree with one rename (readers see old or new).",
});

W.push({
  id: "writes",
  title: `${
    fmtInt(WRITES)
  } atomic writes of 60 B, in sequence, over 100 names (replaced)`,
  fixture: (a) => Deno.mkdirSync(`${a}/writes`),
  contenders: [
    js("Deno.writeFile (not atomic, no fsync)", "info", (c) => ({
      op: "deno.writeFile",
      dir: `${c.a}/writes`,
      n: WRITES,
    })),
    js("write-file-atomic (fsync)", "ref", (c) => ({
      op: "wfa",
      dir: `${c.a}/writes`,
      n: WRITES,
      fsync: true,
    })),
    js("write-file-atomic (fsync: false)", "ref", (c) => ({
      op: "wfa",
      dir: `${c.a}/writes`,
      n: WRITES,
      fsync: false,
    })),
    ...safefs("safefs writeFile (durable)", (c) => ({
      op: "safefs.writeFile",
      dir: `${c.a}/writes`,
      n: WRITES,
    })),
    ...safefs("safefs writeFile (durable: false)", (c) => ({
      op: "safefs.writeFile",
      dir: `${c.a}/writes`,
      n: WRITES,
      durable: false,
    })),
  ],
  check: (c) => expect([exists(`${c.a}/writes/f99.json`), "not written"]),
  targets: [{
    subject: "safefs writeFile (durable)",
    ref: "write-file-atomic (fsync)",
    max: 1.0,
  }],
  note:
    "write-file-atomic fsyncs the file, not the directory; safefs (durable) " +
    "fsyncs both.",
});

W.push({
  id: "remove-tree",
  title: `remove of a tree of ${fmtInt(RM)} files (100 B, 10 x 10 dirs)`,
  fixture: (a) => buildTree3(`${a}/victim`, RM, payload),
  contenders: [
    proc("rm -rf", "ref", (c) => ["rm", "-rf", `${c.a}/victim`]),
    js("Deno.remove recursive", "ref", (c) => ({
      op: "deno.remove",
      path: `${c.a}/victim`,
    })),
    js("rimraf", "ref", (c) => ({ op: "rimraf", path: `${c.a}/victim` })),
    js("fs-extra remove", "ref", (c) => ({
      op: "fse.remove",
      path: `${c.a}/victim`,
    })),
    ...safefs("safefs remove", (c) => ({
      op: "safefs.remove",
      path: `${c.a}/victim`,
    })),
  ],
  check: (c) => expect([!exists(`${c.a}/victim`), "not removed"]),
  targets: [{ subject: "safefs remove", ref: "rm -rf", max: 0.7 }],
  note: "safefs remove is durable by default (one fsync of the parent); the " +
    "others do not fsync.",
});

if (flags.list) {
  for (const w of W) console.log(`${w.id.padEnd(20)} ${w.title}`);
  Deno.exit(0);
}

// ---------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------

const parent = Deno.makeTempDirSync({ dir: "/var/tmp", prefix: "safefs-cmp-" });
interface Fresh {
  ctx: Ctx;
  release: () => void;
}
/**
 * Fresh places for one measurement, the fixture built in the first (so its
 * metadata and data are in the page cache, as on a filesystem in use).
 */
function freshPlaces(w: Workload): Fresh | null {
  const places: Place[] = [];
  const release = (): void => {
    for (const p of places.reverse()) p.release();
  };
  try {
    const a = IS_ROOT ? ext4Place(parent) : dirPlace(parent, !w.big);
    places.push(a);
    w.fixture(a.dir);
    let b: Place | null = null;
    if (w.two) {
      b = IS_ROOT ? ext4Place(parent) : tmpfsPlace(parent);
      if (!b) {
        release();
        return null;
      }
      places.push(b);
    }
    return { ctx: { a: a.dir, b: b?.dir ?? "" }, release };
  } catch (e) {
    release();
    throw e;
  }
}

interface Sample {
  ms: number;
  rssKiB?: number;
  extra?: number;
}
interface Row {
  c: Contender;
  samples: Sample[];
  error?: string;
}

async function runWorkload(w: Workload): Promise<Row[]> {
  const rows: Row[] = w.contenders.map((c) => ({ c, samples: [] }));
  for (let rep = 0; rep < REPS; rep++) {
    const order = rep % 2 === 0 ? rows : [...rows].reverse();
    for (const row of order) {
      if (row.error) continue; // failed once: not supported, skip the rest
      // Slow contenders (minutes per run) are not repeated past the budget.
      const spent = row.samples.reduce((t, x) => t + x.ms, 0);
      if (row.samples.length > 0 && spent > BUDGET_MS) continue;
      const fresh = freshPlaces(w);
      if (!fresh) {
        row.error = "no second filesystem to move across";
        continue;
      }
      try {
        row.c.prep?.(fresh.ctx);
        const cmd = row.c.cmd(fresh.ctx);
        syncAll();
        if (COLD) dropCaches();
        const m: Measured = await measure(cmd.argv, {
          ...(cmd.env ? { env: cmd.env } : {}),
          ...(cmd.cwd ? { cwd: cmd.cwd } : {}),
        });
        if (!m.ok) {
          row.error = m.error ?? "failed";
          continue;
        }
        const bad = row.c.role === "info" ? null : w.check(fresh.ctx);
        if (bad) {
          row.error = `did not do the job: ${bad}`;
          continue;
        }
        row.samples.push({
          ms: row.c.wholeProcess ? m.wallMs : (m.opMs ?? m.wallMs),
          ...(m.maxRssKiB ? { rssKiB: m.maxRssKiB } : {}),
          ...(w.extra ? { extra: w.extra.of(fresh.ctx) } : {}),
        });
      } finally {
        fresh.release();
      }
    }
  }
  return rows;
}

const loadavg = (): string =>
  Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
const fmtMs = (ms: number): string => ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
const base = (name: string): string => name.replace(/ \[[a-z]+\]$/, "");

function render(w: Workload, rows: Row[]): string[] {
  const refs = rows.filter((r) => r.c.role === "ref");
  const med = (r: Row): number => median(r.samples.map((s) => s.ms));
  const medX = (r: Row): number => median(r.samples.map((s) => s.extra ?? NaN));
  const head = [
    w.title,
    "median ms",
    "runs",
    "min-max ms",
    "max RSS MiB",
    ...(w.extra ? [w.extra.head] : []),
    ...refs.map((r) => `÷ ${r.c.name}`),
  ];
  const body = rows.map((r): string[] => {
    if (r.error) {
      const unsupported = r.c.role === "subject" &&
        /NotEmpty|ENOTEMPTY/.test(r.error);
      const msg = unsupported
        ? `not supported by this build (${r.error.split(":")[0]})`
        : `FAILED: ${
          r.error.slice(0, 300).replace(/\|/g, "/").replace(/\n/g, " ")
        }`;
      return [
        r.c.name,
        msg,
        "",
        "",
        ...(w.extra ? [""] : []),
        ...refs.map(() => ""),
      ];
    }
    const ms = r.samples.map((s) => s.ms);
    const rss = median(r.samples.map((s) => s.rssKiB ?? NaN));
    return [
      r.c.name,
      fmtMs(med(r)),
      String(ms.length),
      `${fmtMs(Math.min(...ms))}-${fmtMs(Math.max(...ms))}`,
      Number.isFinite(rss) ? (rss / 1024).toFixed(0) : "?",
      ...(w.extra ? [w.extra.fmt(medX(r))] : []),
      ...refs.map((ref) =>
        r.c.role === "subject" && !ref.error
          ? `${(med(r) / med(ref)).toFixed(2)}×`
          : ""
      ),
    ];
  });
  const lines = table(head, body, head.map((_, i) => i > 0));
  for (const t of w.targets ?? []) {
    const ref = rows.find((r) => r.c.name === t.ref);
    const cells: string[] = [];
    for (const r of rows.filter((r) => base(r.c.name) === t.subject)) {
      const tag = r.c.name.slice(t.subject.length).trim();
      if (r.error || !ref || ref.error) {
        cells.push(`${tag} n/a`);
        continue;
      }
      const ratio = t.metric === "extra"
        ? medX(r) / medX(ref)
        : med(r) / med(ref);
      cells.push(`${tag} ${ratio.toFixed(2)}× ${ratio <= t.max ? "✓" : "✗"}`);
    }
    lines.push(
      "",
      `Target: ${t.subject} ${
        t.metric === "extra" ? `${w.extra?.head} ` : ""
      }` +
        `≤ ${t.max.toFixed(1)}× ${t.ref}: ${cells.join(", ") || "n/a"}`,
    );
  }
  if (w.note) lines.push("", `_${w.note}_`);
  return lines;
}

// ---------------------------------------------------------------------------
// Syscalls per file (strace -f -c), one run each
// ---------------------------------------------------------------------------

async function syscalls(): Promise<string[]> {
  if (flags["no-syscalls"] || !trySh("strace", ["-V"])) {
    return ["_skipped (--no-syscalls, or strace not installed)_"];
  }
  const jobs: { name: string; w: Workload; c: Contender }[] = [];
  const pick = (id: string, names: RegExp): void => {
    const w = W.find((x) => x.id === id)!;
    for (const c of w.contenders.filter((c) => names.test(c.name))) {
      jobs.push({ name: `${id}: ${c.name}`, w, c });
    }
  };
  pick("copy-tree", /^(cp -a|safefs)/);
  pick("copy-tree-durable", /^(cp -a && sync|rsync|safefs)/);
  pick("move-tree-xfs", /^(mv|safefs move \(durable\))/);
  const lines = table(
    [
      `run (${fmtInt(TREE)}-file tree)`,
      "syscalls per file",
      "the main ones, per file",
    ],
    [],
  );
  for (const j of jobs) {
    const fresh = freshPlaces(j.w);
    if (!fresh) continue;
    const out = `${parent}/strace-${crypto.randomUUID()}`;
    try {
      const cmd = j.c.cmd(fresh.ctx);
      syncAll();
      const r = await new Deno.Command("strace", {
        args: ["-f", "-c", "-S", "calls", "-o", out, ...cmd.argv],
        stdout: "null",
        stderr: "null",
        ...(cmd.env ? { env: cmd.env, clearEnv: true } : {}),
        ...(cmd.cwd ? { cwd: cmd.cwd } : {}),
      }).output();
      if (!r.success) throw new Error(`strace of ${j.name} failed`);
      const counts: [string, number][] = [];
      for (const l of Deno.readTextFileSync(out).split("\n")) {
        const m = l.trim().match(
          /^[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/,
        );
        if (m && m[2] !== "total") counts.push([m[2], Number(m[1])]);
      }
      const total = counts.reduce((s, [, n]) => s + n, 0);
      const main = counts.filter(([, n]) => n >= TREE / 4)
        .map(([s, n]) => `${s} ${(n / TREE).toFixed(1)}`).join(", ");
      lines.push(`| ${j.name} | ${(total / TREE).toFixed(1)} | ${main} |`);
      console.error(lines.at(-1));
    } finally {
      fresh.release();
      try {
        Deno.removeSync(out);
      } catch { /* none */ }
    }
  }
  return lines;
}

// ---------------------------------------------------------------------------

const key = `compare:${flags.label}`;
const started = new Date();
const done: string[] = [];
function header(finished: boolean): string[] {
  const fsLine = IS_ROOT
    ? `- filesystem: a FRESH ext4 per measurement: ${EXT4_SIZE} sparse image file in /var/tmp ` +
      `(itself on ${
        mountOf("/var/tmp").type
      }), mkfs.ext4 defaults + lazy init off, ` +
      `${probe.journal}, attached to a loop device (buffered, direct-io off), mounted ` +
      `with the defaults: ${probe.options}; each measurement makes its own ` +
      "filesystem(s), builds its fixture there and `sync`s, so every contender " +
      "starts from the same state: a filesystem that never saw a deletion, its " +
      "fixture in the page cache (see the method check)"
    : `- filesystem: NOT ROOT, so no fresh ext4: a temp dir under /var/tmp on ` +
      `${
        mountOf("/var/tmp").type
      }; outputs are moved aside, not deleted, until the end`;
  return [
    `## bench:compare, ${flags.label}${finished ? "" : " (run in progress)"}`,
    "",
    ...(flags.note ? [flags.note, ""] : []),
    ...machineLines(),
    fsLine,
    `- method: median of ${REPS} measurements per contender (fewer, see "runs", ` +
    `when a contender's runs passed ${
      BUDGET_MS / 1000
    } s: \`--budget\`), contender order ` +
    `reversed every other repetition; fixture and a global \`sync\` outside the timed region; ` +
    (COLD
      ? "caches dropped (`echo 3 > drop_caches`) before every measurement"
      : "caches NOT dropped (sources are warm for every contender alike; " +
        "dropping them would time the loop device's reads, the same for all)"),
    "- timing: spawned tools (cp, mv, rsync, rm, sh -c ..., the safefs CLI) are " +
    "timed as whole processes by the parent; JS contenders (safefs, fs-extra, " +
    "rimraf, write-file-atomic, Deno built-ins) run in a fresh `deno run` process " +
    "each and time the call alone (as a program using the library sees it)",
    `- backends: every safefs row once per backend, in its own process: ` +
    `[default] = SAFEFS_BACKEND unset (the rebuilt library picks ffi under -A), ` +
    `[path] = SAFEFS_BACKEND=path; backend reported by this build: ${backendSeen}`,
    "- ratio = median time ÷ the column's median (below 1 = faster); ✓/✗ against the issue's target",
    `- reproduce: \`deno task bench:compare${QUICK ? " --quick" : ""}${
      REPS !== 5 ? ` --reps ${REPS}` : ""
    }${flags.label !== "latest" ? ` --label ${flags.label}` : ""}\``,
    `- started ${started.toISOString()}${
      finished ? `, finished ${new Date().toISOString()}` : ""
    }`,
  ];
}
/** The journal and mount options of an ext4 made the benches' way. */
const probe = (() => {
  if (!IS_ROOT) return { journal: "", options: "" };
  const p = ext4Place(parent);
  try {
    return {
      journal: ext4Journal(p.dev),
      options: `${mountOf(p.dir).type} ${mountOf(p.dir).options}`,
    };
  } finally {
    p.release();
  }
})();
let backendSeen = "?";
{
  const m = await measure(runnerArgv({ op: "safefs.noop" }), {
    env: backendEnv(BACKENDS[0]),
  });
  backendSeen = m.out?.backendInfo ?? "none (this build has no backendInfo())";
}

function save(finished: boolean, extra: string[] = []): void {
  writeSection(
    flags.out!,
    key,
    [...header(finished), ...done, ...extra].join("\n"),
  );
}

try {
  for (const w of W) {
    if (ONLY && !ONLY.has(w.id)) continue;
    if (w.rootOnly && !IS_ROOT) continue;
    console.error(`\n== ${w.id}: ${w.title}`);
    const t = performance.now();
    const load0 = loadavg();
    const rows = await runWorkload(w);
    const lines = [
      "",
      `### ${w.id}`,
      "",
      ...render(w, rows),
      "",
      `_1-minute load average of the machine (2 cores shared with other ` +
      `work) at the start and end of this workload: ${load0} → ${loadavg()}_`,
    ];
    done.push(...lines);
    console.error(
      lines.join("\n") + `\n(${((performance.now() - t) / 1000).toFixed(0)} s)`,
    );
    save(false);
  }
  const sc = ONLY && !ONLY.has("syscalls") ? [] : [
    "",
    "### Syscalls per file (strace -f -c, one run each)",
    "",
    "Counted with `strace -f -c` over the whole process (Deno's start-up adds a " +
    "few hundred). The spawned peers count `sh`, `cp` and `sync` alike.",
    "",
    ...(await syscalls()),
  ];
  save(true, sc);
  console.error(`\nwritten to ${flags.out} (section ${key})`);
} finally {
  releaseAll();
  Deno.removeSync(parent, { recursive: true });
}
