// Copyright 2026 the safefs authors. MIT license.
// The filesystem matrix: every primitive, through the public API, on every
// filesystem safefs meets in the field (ext4, tmpfs, xfs, btrfs, overlayfs,
// exFAT through FUSE and through the kernel, read-only squashfs and erofs),
// asserting the contract, not today's behaviour. Each filesystem is made once
// per run inside the test's temp dir (tests/_mounts.ts) and always released;
// where it cannot be made here the test is ignored with the reason in its name.
// Both backends run it: SAFEFS_BACKEND=path|ffi picks one.
import assert from "node:assert/strict";
import * as safefs from "../mod.ts";
import {
  at,
  both,
  type Caps,
  changesDuring,
  count,
  describe,
  EXFAT,
  extents,
  failure,
  file,
  leftovers,
  makeTree,
  names,
  POSIX,
  readAt,
  tempName,
} from "./_fs_matrix.ts";
import * as mounts from "./_mounts.ts";
import type { Mounted } from "./_mounts.ts";

const {
  AlreadyExistsError,
  copy,
  move,
  remove,
  SafeFsError,
  sweep,
  writeFile,
} = safefs;

const BACKEND = Deno.env.get("SAFEFS_BACKEND") ?? "default";

/**
 * What the matrix records for each filesystem, printed with its setup line.
 * `backendInfo(path)` joins by uncommenting one line once mod.ts exports it.
 */
const RECORD: Record<string, (dir: string) => unknown> = {
  // backendInfo: safefs.backendInfo,
};

/** Where one filesystem's cases run. */
interface Ctx {
  /** The mounted filesystem. */
  m: Mounted;
  /** What it can store. */
  caps: Caps;
  /** A directory on another filesystem (the test's temp dir, on the disk). */
  other: string;
  /** The crash leftovers the filesystem came with (absolute paths). */
  planted: () => string[];
}

/** One cell of the matrix. */
interface Case {
  name: string;
  /** Why it cannot run here or on a filesystem that can store `caps`. */
  ignore?: (caps: Caps) => string | null;
  fn: (c: Ctx) => Promise<void>;
}

/** A fresh directory for one case on the filesystem under test. */
function here(c: Ctx, slug: string): string {
  const d = `${c.m.dir}/${slug}`;
  Deno.mkdirSync(d);
  return d;
}

/** A fresh directory for one case on the other filesystem. */
function there(c: Ctx, slug: string): string {
  const d = `${c.other}/${slug}`;
  Deno.mkdirSync(d);
  return d;
}

function mode(p: string): number {
  return Deno.lstatSync(p).mode! & 0o7777;
}

/**
 * Asserts no safefs temp is anywhere under `dirs`, except the leftovers a
 * case planted on purpose (whose own check is sweep's).
 */
function noLeftovers(c: Ctx, ...dirs: string[]): void {
  const planted = c.planted();
  for (const d of dirs) {
    const stray = leftovers(d).filter((p) =>
      !planted.some((q) => p === q || p.startsWith(`${q}/`))
    );
    assert.deepEqual(stray, [], `temps left in ${d}`);
  }
}

// ------------------------------------------------ every writable filesystem

function copyFileCase(size: number, label: string): Case {
  return {
    name: `copy: a file (${label})`,
    fn: async (c) => {
      const w = here(c, `copy-file-${size}`);
      file(`${w}/src.bin`, size, { mode: 0o640, time: at(7), seed: 5 });
      const opts = { modes: c.caps.modes };
      const src = describe(`${w}/src.bin`, opts);
      await copy(`${w}/src.bin`, `${w}/dst.bin`);
      assert.deepEqual(describe(`${w}/dst.bin`, opts), src);
      assert.deepEqual(describe(`${w}/src.bin`, opts), src);
      if (c.caps.modes) assert.equal(mode(`${w}/dst.bin`), 0o640);
      assert.deepEqual(names(w), ["dst.bin", "src.bin"]);
      noLeftovers(c, w);
    },
  };
}

const GENERIC: Case[] = [
  {
    name: "writeFile: a new file",
    fn: async (c) => {
      const w = here(c, "write-new");
      await writeFile(`${w}/new.txt`, "fresh", { mode: 0o640 });
      assert.equal(Deno.readTextFileSync(`${w}/new.txt`), "fresh");
      if (c.caps.modes) assert.equal(mode(`${w}/new.txt`), 0o640);
      assert.deepEqual(names(w), ["new.txt"]);
      noLeftovers(c, w);
    },
  },
  {
    name: "writeFile: replaces a file, keeping its mode",
    fn: async (c) => {
      const w = here(c, "write-replace");
      file(`${w}/f.txt`, "old content", { mode: 0o604 });
      await writeFile(`${w}/f.txt`, "new");
      assert.equal(Deno.readTextFileSync(`${w}/f.txt`), "new");
      if (c.caps.modes) assert.equal(mode(`${w}/f.txt`), 0o604);
      assert.deepEqual(names(w), ["f.txt"]);
      noLeftovers(c, w);
    },
  },
  {
    name: "writeFile: no-clobber creates a new file",
    fn: async (c) => {
      const w = here(c, "write-noclobber-new");
      await writeFile(`${w}/n.txt`, "only once", { overwrite: false });
      assert.equal(Deno.readTextFileSync(`${w}/n.txt`), "only once");
      assert.deepEqual(names(w), ["n.txt"]);
      noLeftovers(c, w);
    },
  },
  {
    name: "writeFile: no-clobber refuses an existing file, changing nothing",
    fn: async (c) => {
      const w = here(c, "write-noclobber-refused");
      file(`${w}/f.txt`, "keep me", { mode: 0o640 });
      const before = describe(w, { modes: c.caps.modes });
      const e = await failure(
        writeFile(`${w}/f.txt`, "clobber", { overwrite: false }),
      );
      assert(e instanceof AlreadyExistsError, `got ${e}`);
      assert.deepEqual(describe(w, { modes: c.caps.modes }), before);
    },
  },
  copyFileCase(300_000, "300 kB"),
  copyFileCase(4 << 20, "4 MiB"),
  {
    name: "copy: refuses an existing destination, changing nothing",
    fn: async (c) => {
      const w = here(c, "copy-refused");
      file(`${w}/src.bin`, 300_000, { seed: 2 });
      file(`${w}/dst.bin`, "already here");
      const before = describe(w, { modes: c.caps.modes });
      const e = await failure(copy(`${w}/src.bin`, `${w}/dst.bin`));
      assert(e instanceof AlreadyExistsError, `got ${e}`);
      assert.deepEqual(describe(w, { modes: c.caps.modes }), before);
    },
  },
  {
    name: "copy: a tree",
    fn: async (c) => {
      const w = here(c, "copy-tree");
      makeTree(`${w}/tree`, c.caps);
      const opts = { modes: c.caps.modes };
      const src = describe(`${w}/tree`, opts);
      await copy(`${w}/tree`, `${w}/copy`);
      assert.deepEqual(describe(`${w}/copy`, opts), src);
      assert.deepEqual(describe(`${w}/tree`, opts), src);
      assert.deepEqual(names(w), ["copy", "tree"]);
      noLeftovers(c, w);
    },
  },
  {
    name: "move: a file",
    fn: async (c) => {
      const w = here(c, "move-file");
      file(`${w}/a.bin`, 300_000, { mode: 0o640, seed: 4 });
      const opts = { modes: c.caps.modes };
      const src = describe(`${w}/a.bin`, opts);
      await move(`${w}/a.bin`, `${w}/b.bin`);
      assert.deepEqual(describe(`${w}/b.bin`, opts), src);
      assert.deepEqual(names(w), ["b.bin"]);
      noLeftovers(c, w);
    },
  },
  {
    name: "copy: replaces a file with overwrite",
    fn: async (c) => {
      const w = here(c, "copy-overwrite");
      file(`${w}/src.bin`, 300_000, { mode: 0o640, time: at(14), seed: 13 });
      file(`${w}/dst.bin`, "old", { mode: 0o600 });
      const opts = { modes: c.caps.modes };
      const src = describe(`${w}/src.bin`, opts);
      await copy(`${w}/src.bin`, `${w}/dst.bin`, { overwrite: true });
      assert.deepEqual(describe(`${w}/dst.bin`, opts), src);
      assert.deepEqual(names(w), ["dst.bin", "src.bin"]);
      noLeftovers(c, w);
    },
  },
  {
    name: "copy: keeps a sub-second mtime",
    ignore: (caps) =>
      caps.subsecondTimes ? null : "the filesystem keeps no sub-second mtimes",
    fn: async (c) => {
      const w = here(c, "copy-subsecond");
      const t = new Date(at(15).getTime() + 123);
      file(`${w}/src.txt`, "when", { time: t });
      await copy(`${w}/src.txt`, `${w}/dst.txt`);
      assert.equal(Deno.statSync(`${w}/dst.txt`).mtime?.getTime(), t.getTime());
      noLeftovers(c, w);
    },
  },
  {
    name: "move: replaces a file with overwrite",
    fn: async (c) => {
      const w = here(c, "move-overwrite");
      file(`${w}/a.bin`, 300_000, { mode: 0o640, time: at(16), seed: 14 });
      file(`${w}/b.bin`, "old", { mode: 0o600 });
      const opts = { modes: c.caps.modes };
      const src = describe(`${w}/a.bin`, opts);
      await move(`${w}/a.bin`, `${w}/b.bin`, { overwrite: true });
      assert.deepEqual(describe(`${w}/b.bin`, opts), src);
      assert.deepEqual(names(w), ["b.bin"]);
      noLeftovers(c, w);
    },
  },
  {
    name: "move: refuses an existing destination, changing nothing",
    fn: async (c) => {
      const w = here(c, "move-refused");
      file(`${w}/a.txt`, "mover");
      file(`${w}/b.txt`, "already here");
      const before = describe(w, { modes: c.caps.modes });
      const e = await failure(move(`${w}/a.txt`, `${w}/b.txt`));
      assert(e instanceof AlreadyExistsError, `got ${e}`);
      assert.deepEqual(describe(w, { modes: c.caps.modes }), before);
    },
  },
  {
    name: "move: a tree",
    fn: async (c) => {
      const w = here(c, "move-tree");
      makeTree(`${w}/tree`, c.caps);
      const opts = { modes: c.caps.modes };
      const src = describe(`${w}/tree`, opts);
      await move(`${w}/tree`, `${w}/moved`);
      assert.deepEqual(describe(`${w}/moved`, opts), src);
      assert.deepEqual(names(w), ["moved"]);
      noLeftovers(c, w);
    },
  },
  {
    name: "move: a 4 MiB file in from another filesystem",
    fn: async (c) => {
      const o = there(c, "move-file-in");
      const w = here(c, "move-file-in");
      file(`${o}/in.bin`, 4 << 20, { mode: 0o640, time: at(9), seed: 6 });
      const opts = { modes: c.caps.modes };
      const src = describe(`${o}/in.bin`, opts);
      await move(`${o}/in.bin`, `${w}/in.bin`);
      assert.deepEqual(describe(`${w}/in.bin`, opts), src);
      assert.deepEqual(names(o), []);
      assert.deepEqual(names(w), ["in.bin"]);
      noLeftovers(c, w, o);
    },
  },
  {
    name: "move: a tree in from another filesystem",
    fn: async (c) => {
      const o = there(c, "move-tree-in");
      const w = here(c, "move-tree-in");
      makeTree(`${o}/tree`, both(POSIX, c.caps));
      const opts = { modes: c.caps.modes };
      const src = describe(`${o}/tree`, opts);
      await move(`${o}/tree`, `${w}/tree`);
      assert.deepEqual(describe(`${w}/tree`, opts), src);
      assert.deepEqual(names(o), []);
      assert.deepEqual(names(w), ["tree"]);
      noLeftovers(c, w, o);
    },
  },
  {
    name: "move: a 4 MiB file out to another filesystem",
    fn: async (c) => {
      const w = here(c, "move-file-out");
      const o = there(c, "move-file-out");
      file(`${w}/out.bin`, 4 << 20, { mode: 0o640, time: at(10), seed: 8 });
      const opts = { modes: c.caps.modes };
      const src = describe(`${w}/out.bin`, opts);
      await move(`${w}/out.bin`, `${o}/out.bin`);
      assert.deepEqual(describe(`${o}/out.bin`, opts), src);
      assert.deepEqual(names(w), []);
      assert.deepEqual(names(o), ["out.bin"]);
      noLeftovers(c, w, o);
    },
  },
  {
    name: "move: a tree out to another filesystem",
    fn: async (c) => {
      const w = here(c, "move-tree-out");
      const o = there(c, "move-tree-out");
      makeTree(`${w}/tree`, c.caps);
      const opts = { modes: c.caps.modes };
      const src = describe(`${w}/tree`, opts);
      await move(`${w}/tree`, `${o}/tree`);
      assert.deepEqual(describe(`${o}/tree`, opts), src);
      assert.deepEqual(names(w), []);
      assert.deepEqual(names(o), ["tree"]);
      noLeftovers(c, w, o);
    },
  },
  {
    name: "remove: a file",
    fn: async (c) => {
      const w = here(c, "remove-file");
      file(`${w}/gone.txt`, "bye");
      file(`${w}/keep.txt`, "stay");
      await remove(`${w}/gone.txt`);
      assert.deepEqual(names(w), ["keep.txt"]);
      assert.equal(Deno.readTextFileSync(`${w}/keep.txt`), "stay");
    },
  },
  {
    name: "remove: a tree",
    fn: async (c) => {
      const w = here(c, "remove-tree");
      makeTree(`${w}/tree`, c.caps);
      file(`${w}/keep.txt`, "stay");
      await remove(`${w}/tree`);
      assert.deepEqual(names(w), ["keep.txt"]);
      noLeftovers(c, w);
    },
  },
  {
    name: "sweep: removes crash leftovers and nothing else",
    fn: async (c) => {
      const w = here(c, "sweep");
      const lostFile = `${w}/${tempName("report.pdf")}`;
      const lostTree = `${w}/${tempName("photos")}`;
      file(lostFile, "half a report");
      makeTree(lostTree, c.caps);
      file(`${w}/report.pdf`, "the report");
      file(`${w}/.hidden`, "not a temp");
      const gone = [lostFile, lostTree];
      if (c.caps.symlinks) {
        const lostLink = `${w}/${tempName("link")}`;
        Deno.symlinkSync(`${w}/report.pdf`, lostLink);
        gone.push(lostLink);
      }
      const r = await sweep(w, { olderThan: 0 });
      assert.deepEqual(r.removed, gone.sort());
      assert.deepEqual(names(w), [".hidden", "report.pdf"]);
      assert.equal(Deno.readTextFileSync(`${w}/report.pdf`), "the report");
    },
  },
];

// ---------------------------------------------------- exFAT: no links at all

/** Asserts `e` is a SafeFsError naming one of `links`. */
function assertNamesLink(e: unknown, links: string[]): void {
  assert(
    e instanceof SafeFsError,
    `expected a typed error, got ${e instanceof Error ? e.stack : e}`,
  );
  const said = `${e.path ?? ""} ${e.dest ?? ""} ${e.message}`;
  assert(
    links.some((l) => said.includes(l)),
    `the error names none of the links ${
      links.join(", ")
    }: ${e.name} ${e.code}: ${e.message}`,
  );
}

/** A tree with symlinks and no hard links (what exFAT lacks is tested apart). */
const SYMLINKS_ONLY: Caps = { ...POSIX, hardlinks: false };

const NO_LINKS: Case[] = [
  {
    name: "copy: a symlink onto it is refused, naming it, nothing published",
    fn: async (c) => {
      const o = there(c, "symlink-copy");
      const w = here(c, "symlink-copy");
      Deno.symlinkSync("target.txt", `${o}/link`);
      const e = await failure(copy(`${o}/link`, `${w}/link`));
      assertNamesLink(e, [`${o}/link`]);
      assert.deepEqual(names(w), []);
      assert.equal(Deno.readLinkSync(`${o}/link`), "target.txt");
    },
  },
  {
    name:
      "no-clobber: a name that differs only in case is refused (case-insensitive names)",
    fn: async (c) => {
      const w = here(c, "case");
      file(`${w}/readme.txt`, "lower case", { time: at(17) });
      file(`${w}/src.txt`, "other", { time: at(18) });
      const before = describe(w, { modes: false });
      for (
        const attempt of [
          (): Promise<unknown> =>
            writeFile(`${w}/README.TXT`, "x", { overwrite: false }),
          (): Promise<unknown> => copy(`${w}/src.txt`, `${w}/README.TXT`),
          (): Promise<unknown> => move(`${w}/src.txt`, `${w}/README.TXT`),
        ]
      ) {
        const e = await failure(attempt());
        assert(e instanceof AlreadyExistsError, `got ${e}`);
        assert.deepEqual(describe(w, { modes: false }), before);
      }
    },
  },
  {
    name:
      "copy: times it cannot store (sub-second, before 1980, after 2107) are not a crash",
    fn: async (c) => {
      const o = there(c, "odd-times");
      const w = here(c, "odd-times");
      const times = {
        "subsecond.txt": new Date(at(19).getTime() + 567),
        "y1975.txt": new Date(Date.UTC(1975, 0, 1)),
        "y2200.txt": new Date(Date.UTC(2200, 0, 1)),
      };
      for (const [n, t] of Object.entries(times)) {
        file(`${o}/${n}`, n, { time: t });
      }
      for (const n of Object.keys(times)) {
        await copy(`${o}/${n}`, `${w}/${n}`);
        assert.equal(Deno.readTextFileSync(`${w}/${n}`), n);
      }
      // Sub-second parts are cut to what the filesystem keeps (1 s through
      // exfat-fuse, 10 ms in the kernel driver), never more than FAT's 2 s.
      const kept = Deno.statSync(`${w}/subsecond.txt`).mtime!.getTime();
      assert(
        Math.abs(kept - times["subsecond.txt"].getTime()) < 2000,
        `mtime ${kept}`,
      );
      assert.deepEqual(names(w), Object.keys(times).sort());
      noLeftovers(c, w, o);
    },
  },
  {
    name:
      "copy: a tree with symlinks onto it is refused, naming the first link, nothing published",
    fn: async (c) => {
      const o = there(c, "symlinks-copy");
      const w = here(c, "symlinks-copy");
      makeTree(`${o}/tree`, SYMLINKS_ONLY);
      const src = describe(`${o}/tree`, { modes: true });
      const e = await failure(copy(`${o}/tree`, `${w}/tree`));
      assertNamesLink(e, [`${o}/tree/dangling`, `${o}/tree/link`]);
      assert.deepEqual(names(w), []);
      assert.deepEqual(describe(`${o}/tree`, { modes: true }), src);
    },
  },
  {
    name:
      "move: a tree with symlinks into it is refused, naming the first link, source intact",
    fn: async (c) => {
      const o = there(c, "symlinks-move");
      const w = here(c, "symlinks-move");
      makeTree(`${o}/tree`, SYMLINKS_ONLY);
      const src = describe(`${o}/tree`, { modes: true });
      const e = await failure(move(`${o}/tree`, `${w}/tree`));
      assertNamesLink(e, [`${o}/tree/dangling`, `${o}/tree/link`]);
      assert.deepEqual(names(w), []);
      assert.deepEqual(describe(`${o}/tree`, { modes: true }), src);
    },
  },
];

// --------------------------------------------- overlayfs: the lower layer

/**
 * The lower layer: one directory per case, each a sample tree with its own
 * marker file (so copies can be counted), plus loose files and the
 * leftovers of a crash that happened before the image was built.
 */
const LOWER_TREES = [
  "low-rm",
  "low-mv",
  "low-out",
  "low-cp",
  "low-clash",
  "low-clash-dest",
];
const lowerLeftovers: string[] = [];

function populateLower(lower: string): void {
  for (const t of LOWER_TREES) makeTree(`${lower}/${t}`, POSIX, `MARK-${t}`);
  Deno.mkdirSync(`${lower}/low-files`);
  for (const f of ["move", "out", "replace", "keep", "rm", "copy"]) {
    file(`${lower}/low-files/f-${f}.txt`, `lower ${f}`, {
      mode: 0o604,
      time: at(11),
    });
  }
  Deno.mkdirSync(`${lower}/low-in/deeper`, { recursive: true });
  file(`${lower}/low-in/deeper/old.txt`, "from the image");
  Deno.mkdirSync(`${lower}/low-sweep`);
  const lostFile = tempName("db");
  const lostTree = tempName("cache");
  file(`${lower}/low-sweep/${lostFile}`, "half written");
  makeTree(`${lower}/low-sweep/${lostTree}`, POSIX);
  file(`${lower}/low-sweep/keep.txt`, "stay");
  lowerLeftovers.push(lostFile, lostTree);
}

/** Asserts `name` occurs `n` times in the merged directory (and `also`). */
function copies(c: Ctx, name: string, n: number, also?: string): void {
  const found = count(c.m.dir, name) + (also ? count(also, name) : 0);
  assert.equal(found, n, `${found} copies of ${name}, expected ${n}`);
}

const LOWER: Case[] = [
  {
    name: "lower layer: remove a directory",
    fn: async (c) => {
      const layer = describe(`${c.m.lower}/low-rm`, { modes: true });
      await remove(`${c.m.dir}/low-rm`);
      assert.equal(describe(`${c.m.dir}/low-rm`, { modes: true }), null);
      copies(c, "MARK-low-rm", 0);
      // The image itself is never written: the removal is a whiteout above it.
      assert.deepEqual(describe(`${c.m.lower}/low-rm`, { modes: true }), layer);
    },
  },
  {
    name: "lower layer: remove a file",
    fn: async (c) => {
      await remove(`${c.m.dir}/low-files/f-rm.txt`);
      assert(!names(`${c.m.dir}/low-files`).includes("f-rm.txt"));
    },
  },
  {
    name:
      "lower layer: move a directory (same filesystem), exactly one copy left",
    fn: async (c) => {
      const src = describe(`${c.m.dir}/low-mv`, { modes: true });
      await move(`${c.m.dir}/low-mv`, `${c.m.dir}/moved-low-mv`);
      assert.deepEqual(
        describe(`${c.m.dir}/moved-low-mv`, { modes: true }),
        src,
      );
      assert.equal(describe(`${c.m.dir}/low-mv`, { modes: true }), null);
      copies(c, "MARK-low-mv", 1);
      noLeftovers(c, c.m.dir);
    },
  },
  {
    name:
      "lower layer: move a directory onto an existing one is refused, changing nothing",
    fn: async (c) => {
      const a = describe(`${c.m.dir}/low-clash`, { modes: true });
      const b = describe(`${c.m.dir}/low-clash-dest`, { modes: true });
      const e = await failure(
        move(`${c.m.dir}/low-clash`, `${c.m.dir}/low-clash-dest`),
      );
      assert(e instanceof AlreadyExistsError, `got ${e}`);
      assert.deepEqual(describe(`${c.m.dir}/low-clash`, { modes: true }), a);
      assert.deepEqual(
        describe(`${c.m.dir}/low-clash-dest`, { modes: true }),
        b,
      );
      noLeftovers(c, c.m.dir);
    },
  },
  {
    name:
      "lower layer: move a directory out to another filesystem, exactly one copy left",
    fn: async (c) => {
      const o = there(c, "lower-out");
      const src = describe(`${c.m.dir}/low-out`, { modes: true });
      await move(`${c.m.dir}/low-out`, `${o}/low-out`);
      assert.deepEqual(describe(`${o}/low-out`, { modes: true }), src);
      assert.equal(describe(`${c.m.dir}/low-out`, { modes: true }), null);
      copies(c, "MARK-low-out", 1, o);
      noLeftovers(c, c.m.dir, o);
    },
  },
  {
    name: "lower layer: copy a directory (hard links included)",
    fn: async (c) => {
      const src = describe(`${c.m.dir}/low-cp`, { modes: true })!;
      assert.match(src["sub/a-hard.txt"], /same-inode-as:a.txt/);
      await copy(`${c.m.dir}/low-cp`, `${c.m.dir}/copy-low-cp`);
      assert.deepEqual(
        describe(`${c.m.dir}/copy-low-cp`, { modes: true }),
        src,
      );
      assert.deepEqual(describe(`${c.m.dir}/low-cp`, { modes: true }), src);
      noLeftovers(c, c.m.dir);
    },
  },
  {
    name: "lower layer: move a file (same filesystem)",
    fn: async (c) => {
      const d = `${c.m.dir}/low-files`;
      const src = describe(`${d}/f-move.txt`, { modes: true });
      await move(`${d}/f-move.txt`, `${d}/f-moved.txt`);
      assert.deepEqual(describe(`${d}/f-moved.txt`, { modes: true }), src);
      assert(!names(d).includes("f-move.txt"));
      noLeftovers(c, d);
    },
  },
  {
    name: "lower layer: move a file out to another filesystem",
    fn: async (c) => {
      const d = `${c.m.dir}/low-files`;
      const o = there(c, "lower-file-out");
      const src = describe(`${d}/f-out.txt`, { modes: true });
      await move(`${d}/f-out.txt`, `${o}/f-out.txt`);
      assert.deepEqual(describe(`${o}/f-out.txt`, { modes: true }), src);
      assert(!names(d).includes("f-out.txt"));
      noLeftovers(c, d, o);
    },
  },
  {
    name: "lower layer: writeFile replaces a file, keeping its mode",
    fn: async (c) => {
      const p = `${c.m.dir}/low-files/f-replace.txt`;
      await writeFile(p, "upper now");
      assert.equal(Deno.readTextFileSync(p), "upper now");
      assert.equal(mode(p), 0o604);
      noLeftovers(c, `${c.m.dir}/low-files`);
    },
  },
  {
    name: "lower layer: writeFile no-clobber refuses a file, changing nothing",
    fn: async (c) => {
      const p = `${c.m.dir}/low-files/f-keep.txt`;
      const before = describe(p, { modes: true });
      const e = await failure(writeFile(p, "clobber", { overwrite: false }));
      assert(e instanceof AlreadyExistsError, `got ${e}`);
      assert.deepEqual(describe(p, { modes: true }), before);
      noLeftovers(c, `${c.m.dir}/low-files`);
    },
  },
  {
    name:
      "lower layer: writeFile, copy and move into a directory of the lower layer",
    fn: async (c) => {
      const d = `${c.m.dir}/low-in/deeper`;
      const o = there(c, "lower-in");
      await writeFile(`${d}/written.txt`, "new", { overwrite: false });
      await copy(`${d}/old.txt`, `${d}/copied.txt`);
      file(`${o}/moved.bin`, 4 << 20, { mode: 0o640, seed: 9 });
      const src = describe(`${o}/moved.bin`, { modes: true });
      await move(`${o}/moved.bin`, `${d}/moved.bin`);
      assert.equal(Deno.readTextFileSync(`${d}/written.txt`), "new");
      assert.equal(Deno.readTextFileSync(`${d}/copied.txt`), "from the image");
      assert.deepEqual(describe(`${d}/moved.bin`, { modes: true }), src);
      assert.deepEqual(names(d), [
        "copied.txt",
        "moved.bin",
        "old.txt",
        "written.txt",
      ]);
      noLeftovers(c, d, o);
    },
  },
  {
    name: "lower layer: sweep removes leftovers that came with the image",
    fn: async (c) => {
      const d = `${c.m.dir}/low-sweep`;
      const r = await sweep(d, { olderThan: 0 });
      assert.deepEqual(
        r.removed,
        lowerLeftovers.map((n) => `${d}/${n}`).sort(),
      );
      assert.deepEqual(names(d), ["keep.txt"]);
    },
  },
  {
    name: "lower layer: remove a directory holding entries of both layers",
    fn: async (c) => {
      file(`${c.m.dir}/low-in/upper.txt`, "written in the container");
      await remove(`${c.m.dir}/low-in`);
      assert.equal(describe(`${c.m.dir}/low-in`, { modes: true }), null);
      assert(!names(c.m.dir).includes("low-in"));
    },
  },
];

// ------------------------------------------- read-only images (squashfs, erofs)

const roLeftover = tempName("partial");

function populateImage(src: string): void {
  makeTree(`${src}/tree`, POSIX, "MARK-ro");
  file(`${src}/file.bin`, 4 << 20, { mode: 0o640, time: at(12), seed: 10 });
  Deno.mkdirSync(`${src}/leftovers`);
  file(`${src}/leftovers/${roLeftover}`, "half");
  file(`${src}/leftovers/keep.txt`, "stay");
}

/** Asserts the image still shows exactly what it was built from. */
function imageIntact(c: Ctx): void {
  assert.deepEqual(
    describe(c.m.dir, { modes: true }),
    {
      ...describe(c.m.source!, { modes: true }),
      "": describe(c.m.dir, { modes: true })![""],
    },
  );
}

/** Asserts `e` is the typed refusal of a read-only filesystem. */
function isReadOnly(e: unknown): void {
  assert(e instanceof SafeFsError, `expected a SafeFsError, got ${e}`);
  assert.equal(e.code, "EROFS", `${e.name}: ${e.message}`);
}

const READ_ONLY: Case[] = [
  {
    name: "read-only: the image shows the tree it was built from",
    fn: (c) => {
      imageIntact(c);
      return Promise.resolve();
    },
  },
  {
    name: "read-only: copy a file from it",
    fn: async (c) => {
      const o = there(c, "ro-copy-file");
      await copy(`${c.m.dir}/file.bin`, `${o}/file.bin`);
      assert.deepEqual(
        describe(`${o}/file.bin`, { modes: true }),
        describe(`${c.m.source}/file.bin`, { modes: true }),
      );
      assert.deepEqual(names(o), ["file.bin"]);
      noLeftovers(c, o);
    },
  },
  {
    name: "read-only: copy a tree from it",
    fn: async (c) => {
      const o = there(c, "ro-copy-tree");
      await copy(`${c.m.dir}/tree`, `${o}/tree`);
      assert.deepEqual(
        describe(`${o}/tree`, { modes: true }),
        describe(`${c.m.source}/tree`, { modes: true }),
      );
      assert.deepEqual(names(o), ["tree"]);
      noLeftovers(c, o);
    },
  },
  {
    name: "read-only: a move of a file out is refused before copying",
    fn: async (c) => {
      const o = there(c, "ro-move-file-out");
      let e: unknown;
      const changes = await changesDuring(o, async () => {
        e = await failure(move(`${c.m.dir}/file.bin`, `${o}/file.bin`));
      });
      isReadOnly(e);
      assert.deepEqual(changes, [], "the destination was written to");
      assert.deepEqual(names(o), []);
      imageIntact(c);
    },
  },
  {
    name: "read-only: a move of a tree out is refused before copying",
    fn: async (c) => {
      const o = there(c, "ro-move-tree-out");
      let e: unknown;
      const changes = await changesDuring(o, async () => {
        e = await failure(move(`${c.m.dir}/tree`, `${o}/tree`));
      });
      isReadOnly(e);
      assert.deepEqual(changes, [], "the destination was written to");
      assert.deepEqual(names(o), []);
      imageIntact(c);
    },
  },
  {
    name: "read-only: a move inside it is refused",
    fn: async (c) => {
      isReadOnly(
        await failure(move(`${c.m.dir}/file.bin`, `${c.m.dir}/renamed.bin`)),
      );
      isReadOnly(await failure(move(`${c.m.dir}/tree`, `${c.m.dir}/renamed`)));
      imageIntact(c);
    },
  },
  {
    name: "read-only: a move of a file into it is refused, source intact",
    fn: async (c) => {
      const o = there(c, "ro-move-in");
      file(`${o}/in.bin`, 4 << 20, { seed: 11 });
      const src = describe(o, { modes: true });
      isReadOnly(await failure(move(`${o}/in.bin`, `${c.m.dir}/in.bin`)));
      assert.deepEqual(describe(o, { modes: true }), src);
      imageIntact(c);
    },
  },
  {
    name: "read-only: writeFile and copy into it are refused",
    fn: async (c) => {
      const o = there(c, "ro-write");
      file(`${o}/src.txt`, "data");
      isReadOnly(await failure(writeFile(`${c.m.dir}/new.txt`, "x")));
      isReadOnly(await failure(writeFile(`${c.m.dir}/file.bin`, "x")));
      isReadOnly(await failure(copy(`${o}/src.txt`, `${c.m.dir}/src.txt`)));
      imageIntact(c);
    },
  },
  {
    name: "read-only: remove is refused, nothing removed",
    fn: async (c) => {
      isReadOnly(await failure(remove(`${c.m.dir}/tree`)));
      isReadOnly(await failure(remove(`${c.m.dir}/file.bin`)));
      imageIntact(c);
    },
  },
  {
    name: "read-only: sweep lists leftovers (dry run) and cannot remove them",
    fn: async (c) => {
      const d = `${c.m.dir}/leftovers`;
      const dry = await sweep(d, { olderThan: 0, dryRun: true });
      assert.deepEqual(dry.removed, [`${d}/${roLeftover}`]);
      isReadOnly(await failure(sweep(d, { olderThan: 0 })));
      imageIntact(c);
    },
  },
];

// --------------------------------------------- xfs and btrfs: reflink copies

const GIB = 1 << 30;
const CHUNK = 32 << 20;

/**
 * A 1 GiB file of real data, made fast: 32 MiB written and fsynced, then
 * cloned 32 times into the big file (xfs_io's FICLONERANGE). Its extents are
 * shared with each other; a real (non-reflink) copy of it still gets extents
 * of its own, so the test below tells the two apart.
 */
async function bigFile(dir: string): Promise<string> {
  const chunk = `${dir}/chunk`;
  const big = `${dir}/big.bin`;
  file(chunk, CHUNK, { seed: 12 });
  const f = Deno.openSync(chunk, { read: true, write: true });
  f.syncSync();
  f.close();
  const args = ["-f"];
  for (let off = 0; off < GIB; off += CHUNK) {
    args.push("-c", `reflink ${chunk} 0 ${off} ${CHUNK}`);
  }
  await mounts.run("xfs_io", [...args, big]);
  Deno.removeSync(chunk);
  const g = Deno.openSync(big, { read: true, write: true });
  g.syncSync();
  g.close();
  Deno.utimeSync(big, at(13), at(13));
  return big;
}

/** copy_file_range is the ffi backend's; the path backend copies by read/write. */
const KERNEL_COPY = safefs.backendInfo().copyRange;

function reflinkCase(durable: boolean): Case {
  if (!KERNEL_COPY) return fullCopyCase(durable);
  return {
    name: `copy: a 1 GiB file is a reflink (durable: ${durable})`,
    ignore: () =>
      mounts.which("xfs_io") === null
        ? "needs xfs_io"
        : mounts.which("filefrag") === null
        ? "needs filefrag"
        : null,
    fn: async (c) => {
      const w = here(c, `reflink-${durable}`);
      const big = await bigFile(w);
      const t0 = performance.now();
      await copy(big, `${w}/copy.bin`, { durable });
      const ms = performance.now() - t0;
      // Recorded, not asserted (a loaded machine can stall an fsync): the
      // assertion is the property that makes it fast, shared extents.
      console.log(
        `    ${c.m.type}: 1 GiB copy (durable: ${durable}) took ${
          ms.toFixed(1)
        } ms`,
      );
      assert.equal(Deno.statSync(`${w}/copy.bin`).size, GIB);
      const src = await extents(big);
      const dst = await extents(`${w}/copy.bin`);
      assert(dst.length > 0, "the copy has no extents");
      const unshared = dst.filter((e) => !e.shared);
      assert.deepEqual(
        unshared,
        [],
        "extents of the copy are not shared (not a reflink)",
      );
      // The same physical blocks as the source, block for block.
      const strip = (l: typeof src): string[] =>
        l.map((e) => `${e.logical}+${e.length}@${e.physical}`);
      assert.deepEqual(strip(dst), strip(src));
      for (const off of [0, GIB / 2 + 4096, GIB - (1 << 20)]) {
        assert.deepEqual(
          readAt(`${w}/copy.bin`, off, 1 << 20),
          readAt(big, off, 1 << 20),
        );
      }
      assert.equal(
        Deno.statSync(`${w}/copy.bin`).mtime?.getTime(),
        at(13).getTime(),
      );
      Deno.removeSync(w, { recursive: true });
    },
  };
}

/**
 * The path backend has no in-kernel copy between open files (Deno's only one,
 * copyFile, re-opens the source by path, which G5 forbids), so it cannot
 * reflink: it says so (backendInfo().copyRange is false) and the copy is a
 * complete, correct one.
 */
function fullCopyCase(durable: boolean): Case {
  return {
    name: `copy: a 1 GiB file is copied whole on the path backend, which ` +
      `backendInfo() reports has no in-kernel copy (durable: ${durable})`,
    ignore: () => mounts.which("xfs_io") === null ? "needs xfs_io" : null,
    fn: async (c) => {
      assert.equal(safefs.backendInfo().copyRange, false);
      assert.equal(safefs.backendInfo().name, "path");
      const w = here(c, `fullcopy-${durable}`);
      const big = await bigFile(w);
      await copy(big, `${w}/copy.bin`, { durable });
      assert.equal(Deno.statSync(`${w}/copy.bin`).size, GIB);
      for (const off of [0, GIB / 2 + 4096, GIB - (1 << 20)]) {
        assert.deepEqual(
          readAt(`${w}/copy.bin`, off, 1 << 20),
          readAt(big, off, 1 << 20),
        );
      }
      assert.equal(
        Deno.statSync(`${w}/copy.bin`).mtime?.getTime(),
        at(13).getTime(),
      );
      Deno.removeSync(w, { recursive: true });
    },
  };
}

const REFLINK: Case[] = [reflinkCase(true), reflinkCase(false)];

// ------------------------------------------------------------ the matrix

interface Fs {
  name: string;
  /** The type /proc/self/mountinfo must show for it. */
  type: string;
  probe: () => string | null;
  mount: (base: string) => Promise<Mounted | string>;
  caps: Caps;
  cases: Case[];
  writable: boolean;
  /** The crash leftovers it comes with, given where it is mounted. */
  planted?: (dir: string) => string[];
}

const FILESYSTEMS: Fs[] = [
  {
    name: "ext4",
    type: "ext4",
    probe: mounts.probeExt4,
    mount: mounts.mountExt4,
    caps: POSIX,
    cases: GENERIC,
    writable: true,
  },
  {
    name: "tmpfs",
    type: "tmpfs",
    probe: mounts.probeTmpfs,
    mount: mounts.mountTmpfs,
    caps: POSIX,
    cases: GENERIC,
    writable: true,
  },
  {
    name: "xfs",
    type: "xfs",
    probe: mounts.probeXfs,
    mount: (b) => mounts.mountXfs(b),
    caps: POSIX,
    cases: [...GENERIC, ...REFLINK],
    writable: true,
  },
  {
    name: "btrfs",
    type: "btrfs",
    probe: mounts.probeBtrfs,
    mount: (b) => mounts.mountBtrfs(b),
    caps: POSIX,
    cases: [...GENERIC, ...REFLINK],
    writable: true,
  },
  {
    name: "overlayfs",
    type: "overlay",
    probe: mounts.probeOverlay,
    mount: (b) => mounts.mountOverlay(b, populateLower),
    caps: POSIX,
    cases: [...GENERIC, ...LOWER],
    writable: true,
    planted: (dir) => lowerLeftovers.map((n) => `${dir}/low-sweep/${n}`),
  },
  {
    name: "exFAT (FUSE)",
    type: "fuseblk",
    probe: mounts.probeExfatFuse,
    mount: mounts.mountExfatFuse,
    caps: EXFAT,
    cases: [...GENERIC, ...NO_LINKS],
    writable: true,
  },
  {
    name: "exFAT (kernel)",
    type: "exfat",
    probe: mounts.probeExfatKernel,
    mount: mounts.mountExfatKernel,
    caps: EXFAT,
    cases: [...GENERIC, ...NO_LINKS],
    writable: true,
  },
  {
    name: "squashfs (read-only)",
    type: "squashfs",
    probe: mounts.probeSquashfs,
    mount: (b) => mounts.mountSquashfs(b, populateImage),
    caps: POSIX,
    cases: READ_ONLY,
    writable: false,
  },
  {
    name: "erofs (read-only)",
    type: "erofs",
    probe: mounts.probeErofs,
    mount: (b) => mounts.mountErofs(b, populateImage),
    caps: POSIX,
    cases: READ_ONLY,
    writable: false,
  },
];

for (const fs of FILESYSTEMS) {
  const why = fs.probe();
  Deno.test({
    name: `fs matrix [backend ${BACKEND}]: ${fs.name}${
      why ? ` (ignored: ${why})` : ""
    }`,
    ignore: why !== null,
    fn: async (t) => {
      const base = await mounts.makeScratchDir("safefs-fsmatrix-");
      const t0 = performance.now();
      let m: Mounted | string | null = null;
      try {
        m = await fs.mount(base);
        if (typeof m === "string") {
          throw new Error(`Cannot make ${fs.name}: ${m}`);
        }
        const setup = performance.now() - t0;
        const other = `${base}/other`;
        Deno.mkdirSync(other);
        assert.equal(m.type, fs.type, `${m.dir} is not ${fs.type}`);
        assert.notEqual(Deno.statSync(other).dev, Deno.statSync(m.dir).dev);
        const dir = m.dir;
        const recorded = Object.entries(RECORD).map(([k, f]) =>
          `${k}=${JSON.stringify(f(dir))}`
        );
        console.log(
          `  ${fs.name}: ${m.type} at ${m.dir}, set up in ${
            setup.toFixed(0)
          } ms; ${recorded.join(" ")}`,
        );
        const c: Ctx = {
          m,
          caps: fs.caps,
          other,
          planted: () => fs.planted?.(dir) ?? [],
        };
        for (const k of fs.cases) {
          const skip = k.ignore?.(fs.caps) ?? null;
          await t.step({
            name: skip ? `${k.name} (ignored: ${skip})` : k.name,
            ignore: skip !== null,
            fn: () => k.fn(c),
          });
        }
        if (fs.writable) {
          await t.step("no temp left anywhere", () => {
            noLeftovers(c, c.m.dir, other);
          });
        }
      } finally {
        const t1 = performance.now();
        if (m !== null && typeof m !== "string") await m.unmount();
        console.log(
          `  ${fs.name}: ${(t1 - t0).toFixed(0)} ms in all, released in ${
            (performance.now() - t1).toFixed(0)
          } ms`,
        );
        await mounts.removeScratchDir(base);
      }
    },
  });
}
