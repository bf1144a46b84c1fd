// Copyright 2026 the safefs authors. MIT license.
// Attacker races (issue 13): another process swaps a directory in the MIDDLE
// of the paths an operation uses (`root/a` <-> a symlink `a -> /outside`) in
// a tight loop, with renameat2(RENAME_EXCHANGE) (so `a` is always one or the
// other, never missing), counting each swap. The operation runs again and
// again until the attacker has made SAFEFS_RACE_SWAPS swaps (default 3,000)
// while operations ran. After every operation, with the attacker frozen
// (SIGSTOP), the test checks:
// - outside: nothing read from it (no outside byte returned or copied in),
//   nothing written, changed or deleted there (a snapshot of every entry:
//   kind, inode, mode, links, size, mtime, ctime, content);
// - inside: a success did what it said, in the directory it was given; a
//   failure is a typed `SafeFsError`, and left no temp and lost nothing.
// On the ffi backend every escape count must be 0. On the path backend the
// same races are run and what its design cannot close (every call names a
// path the kernel walks again; see src/_sys_path.ts) is counted and named
// as a KNOWN LIMITATION; what holds there is asserted.
//
// `deno task test:races` runs the long version (200,000 swaps per race).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { openRoot, remove, type Root, SafeFsError } from "../mod.ts";
import {
  BACKEND,
  cleanup,
  diskDir,
  HAS_SHM,
  shmDir,
  temps,
} from "./_helpers.ts";
import { type Actor, spawnActor } from "./_actor.ts";
import { NOBODY, runAsNobody } from "./_nobody.ts";

const SWAPS = Number(Deno.env.get("SAFEFS_RACE_SWAPS") ?? 3000);
/** And at least this many operations (some take many swaps each). */
const MIN_OPS = Number(Deno.env.get("SAFEFS_RACE_OPS") ?? 200);

/**
 * Exchanges `a` and `b` (a directory and a symlink) forever, one action per
 * exchange. renameat2(RENAME_EXCHANGE) through FFI; where libc has none, a
 * three-rename swap (then `a` is missing for an instant). Writes which one it
 * uses to `mode`.
 */
const EXCHANGER = `const [a, b, mode] = Deno.args;
let swap;
try {
  const lib = Deno.dlopen("libc.so.6", {
    renameat2: { parameters: ["i32", "buffer", "i32", "buffer", "u32"], result: "i32" },
  });
  const enc = new TextEncoder();
  const pa = enc.encode(a + "\\0"), pb = enc.encode(b + "\\0");
  swap = () => lib.symbols.renameat2(-100, pa, -100, pb, 2) === 0;
  Deno.writeTextFileSync(mode, "renameat2(RENAME_EXCHANGE)");
} catch {
  const tmp = a + ".swap";
  swap = () => {
    try { Deno.renameSync(a, tmp); } catch { return false; }
    try { Deno.renameSync(b, a); } catch { Deno.renameSync(tmp, a); return false; }
    Deno.renameSync(tmp, b);
    return true;
  };
  Deno.writeTextFileSync(mode, "three renames");
}
for (;;) if (swap()) act();`;

/** Freezes the attacker (SIGSTOP) and waits until it no longer runs. */
function freeze(a: Actor): void {
  Deno.kill(a.pid, "SIGSTOP");
  const stat = `/proc/${a.pid}/task/${a.pid}/stat`;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const s = Deno.readTextFileSync(stat);
    const state = s[s.lastIndexOf(")") + 2];
    if (state === "T" || state === "t") return;
    if (!a.alive()) throw new Error("the attacker died");
    Atomics.wait(nap, 0, 0, 0.05);
  }
}

function thaw(a: Actor): void {
  Deno.kill(a.pid, "SIGCONT");
}

function sha(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * Every entry under `dir` (itself included, as ""): kind, inode, mode,
 * links, size, mtime and ctime, and the content's hash or the link's target.
 * Reading changes only atimes, which are left out.
 */
function state(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (p: string, rel: string): void => {
    const i = Deno.lstatSync(p);
    const kind = i.isFile ? "f" : i.isDirectory ? "d" : i.isSymlink ? "l" : "?";
    let what = "";
    if (i.isFile) what = sha(Deno.readFileSync(p));
    if (i.isSymlink) what = Deno.readLinkSync(p);
    out.set(
      rel,
      `${kind}:${i.ino}:${
        i.mode! & 0o7777
      }:${i.nlink}:${i.size}:${i.mtime?.getTime()}:${i.ctime?.getTime()}:${what}`,
    );
    if (i.isDirectory) {
      for (const e of Deno.readDirSync(p)) {
        walk(join(p, e.name), rel === "" ? e.name : `${rel}/${e.name}`);
      }
    }
  };
  walk(dir, "");
  return out;
}

/** The parent of a relative key of `state()` ("" for a top entry). */
function parentKey(k: string): string {
  const cut = k.lastIndexOf("/");
  return cut < 0 ? "" : k.slice(0, cut);
}

/**
 * What changed outside between two `state()`s: `gone` when an entry is
 * missing; `changed` when an entry is new, or a file or symlink differs, or
 * a directory's kind, inode or mode, or a directory's size, links or times
 * moved while none of its entries came or went (something was created in it
 * and removed again).
 */
function compare(
  before: Map<string, string>,
  now: Map<string, string>,
): { gone: boolean; changed: boolean } {
  const touched = new Set<string>();
  let gone = false, changed = false;
  for (const k of before.keys()) {
    if (!now.has(k)) {
      gone = true;
      touched.add(parentKey(k));
    }
  }
  for (const k of now.keys()) {
    if (!before.has(k)) {
      changed = true;
      touched.add(parentKey(k));
    }
  }
  for (const [k, v] of before) {
    const w = now.get(k);
    if (w === undefined || w === v) continue;
    if (!v.startsWith("d:")) {
      changed = true;
      continue;
    }
    const [, ino, mode] = v.split(":");
    const [kind, ino2, mode2] = w.split(":");
    if (kind !== "d" || ino !== ino2 || mode !== mode2 || !touched.has(k)) {
      changed = true;
    }
  }
  return { gone, changed };
}

/**
 * A small tree of files whose content names `tag`: the same names inside
 * and outside. Outside (`bait`) also holds every name the operations create,
 * replace or remove inside, so that a redirected call finds something to
 * act on.
 */
function fill(dir: string, tag: string, bait = false): void {
  Deno.mkdirSync(join(dir, "d/sub"), { recursive: true });
  Deno.writeTextFileSync(join(dir, "f"), `${tag} f`);
  for (let i = 0; i < 5; i++) {
    Deno.writeTextFileSync(join(dir, `d/x${i}`), `${tag} d/x${i}`);
  }
  Deno.writeTextFileSync(join(dir, "d/sub/y"), `${tag} d/sub/y`);
  if (!bait) return;
  Deno.writeTextFileSync(join(dir, "w"), `${tag} w`);
  Deno.writeTextFileSync(join(dir, "m"), `${tag} m`);
  Deno.mkdirSync(join(dir, "mt/e"), { recursive: true });
  Deno.writeTextFileSync(join(dir, "mt/e/z"), `${tag} mt/e/z`);
  Deno.writeTextFileSync(join(dir, "c"), `${tag} c`);
  victim(dir, "v", tag);
}

/** Where the swapped directory really is now: `a`, or `b` while swapped. */
function realOf(a: string, b: string): string {
  try {
    return Deno.lstatSync(a).isDirectory ? a : b;
  } catch {
    return a; // neither: the tree is gone
  }
}

/** A small tree `name` in `dir` (what remove() and Root.remove() remove). */
function victim(dir: string, name: string, tag: string): void {
  Deno.mkdirSync(join(dir, name, "sub"), { recursive: true });
  for (let i = 0; i < 3; i++) {
    Deno.writeTextFileSync(join(dir, name, `x${i}`), `${tag} ${name}/x${i}`);
  }
  Deno.writeTextFileSync(join(dir, name, "sub/y"), `${tag} ${name}/sub/y`);
}

/** Every file's content under `dir`, by relative path (null when missing). */
function contents(dir: string): Record<string, string> | null {
  try {
    Deno.lstatSync(dir);
  } catch {
    return null;
  }
  const out: Record<string, string> = {};
  const walk = (p: string, rel: string): void => {
    const i = Deno.lstatSync(p);
    if (i.isDirectory) {
      out[rel] = "dir";
      for (const e of Deno.readDirSync(p)) {
        walk(join(p, e.name), rel === "" ? e.name : `${rel}/${e.name}`);
      }
    } else if (i.isFile) out[rel] = Deno.readTextFileSync(p);
    else out[rel] = i.isSymlink ? `link:${Deno.readLinkSync(p)}` : "special";
  };
  walk(dir, "");
  return out;
}

/** What one race saw. */
interface Tally {
  race: string;
  ops: number;
  ok: number;
  /** Swaps made while operations ran. */
  swaps: number;
  /** Operations that returned or copied in outside bytes. */
  read: number;
  /** Operations after which an outside entry was new or changed. */
  written: number;
  /** Operations after which an outside entry was gone. */
  deleted: number;
  /** Temps left inside by failed operations (path backend only). */
  temps: number;
  /** Moves that left their entry at both places (path backend only). */
  doubles: number;
  /**
   * Successes whose effect is not where it should be inside: the call
   * acted outside instead (path backend only).
   */
  misplaced: number;
  outcomes: Record<string, number>;
}

/** One race: what is attacked, and the operation run again and again. */
interface Race {
  name: string;
  /**
   * What holds on the path backend too, by construction: a read never
   * writes or deletes, a removal never writes.
   */
  pathHolds: ("read" | "written" | "deleted")[];
  /**
   * Builds the inside (once, attacker not started) in `w`; returns the
   * directory swapped (`a`) and the symlink it is exchanged with (`b`).
   */
  setup(w: string, outside: string): { a: string; b: string };
  /** Before operation `i`, attacker frozen: `real` is where `a` really is. */
  prepare?(i: number, real: string): void;
  /** Operation `i`. */
  op(i: number): Promise<unknown>;
  /** Releases what the operations held (after the race). */
  teardown?(): void;
  /**
   * After operation `i` (attacker frozen): checks the inside (throws on a
   * broken guarantee) and returns true when outside bytes came back.
   */
  check(i: number, result: unknown, real: string): boolean;
}

/** Runs a race until the attacker has made SWAPS swaps during operations. */
async function race(r: Race): Promise<Tally> {
  const w = HAS_SHM ? shmDir() : diskDir();
  const outside = join(w, "outside");
  const build = (): void => {
    Deno.mkdirSync(outside);
    fill(outside, "OUTSIDE", true);
  };
  build();
  const { a, b } = r.setup(w, outside);
  const modeFile = join(w, "attacker-mode");
  const tally: Tally = {
    race: r.name,
    ops: 0,
    ok: 0,
    swaps: 0,
    read: 0,
    written: 0,
    deleted: 0,
    temps: 0,
    doubles: 0,
    misplaced: 0,
    outcomes: {},
  };
  leftTemps = 0;
  leftDoubles = 0;
  leftMisplaced = 0;
  let base = state(outside);
  const attacker = spawnActor("the swap attacker", EXCHANGER, [a, b, modeFile]);
  let stopped = false;
  try {
    await attacker.waitFor(1);
    // A bound on work, for an attacker alive but never swapping.
    const maxOps = 20 * Math.max(SWAPS, MIN_OPS);
    for (let i = 0; tally.swaps < SWAPS || i < MIN_OPS; i++) {
      assert(
        i < maxOps,
        `${r.name}: ${i} operations, only ${tally.swaps} swaps during them`,
      );
      freeze(attacker);
      const real = realOf(a, b);
      r.prepare?.(i, real);
      thaw(attacker);
      const start = attacker.count();
      let result: unknown;
      try {
        result = await r.op(i);
      } catch (e) {
        result = e;
      }
      tally.swaps += attacker.count() - start;
      freeze(attacker);
      try {
        tally.ops++;
        const outcome = result instanceof SafeFsError
          ? `${result.name}:${result.code}`
          : result instanceof Error
          ? `untyped ${result.name}: ${result.message}`
          : "ok";
        tally.outcomes[outcome] = (tally.outcomes[outcome] ?? 0) + 1;
        if (outcome === "ok") tally.ok++;
        const realNow = realOf(a, b);
        if (r.check(i, result, realNow)) tally.read++;
        const { gone, changed } = compare(base, state(outside));
        if (gone) tally.deleted++;
        if (changed) tally.written++;
        if (gone || changed) {
          if (tally.deleted + tally.written <= 3) {
            console.log(
              `  ESCAPE: ${r.name} #${i} (${outcome}): outside ${
                gone ? "entries deleted" : ""
              }${gone && changed ? ", " : ""}${
                changed ? "entries changed" : ""
              }`,
            );
          }
          cleanup(outside);
          build();
          base = state(outside);
        }
      } finally {
        thaw(attacker);
      }
    }
    await attacker.stop(); // throws if it died on the way
    stopped = true;
    tally.temps = leftTemps;
    tally.doubles = leftDoubles;
    tally.misplaced = leftMisplaced;
    console.log(
      `${BACKEND} ${r.name}: ${tally.ops} operations, ${tally.swaps} swaps during them (${
        Deno.readTextFileSync(modeFile)
      }); escapes: read ${tally.read}, written ${tally.written}, deleted ${tally.deleted}; temps left inside ${tally.temps}; moved entries at both places ${tally.doubles}; successes not found inside ${tally.misplaced}; outcomes ${
        JSON.stringify(tally.outcomes)
      }`,
    );
    return tally;
  } finally {
    if (!stopped) await attacker.stop().catch(() => {});
    r.teardown?.();
    cleanup(w);
  }
}

const VERB = { read: "read", written: "write", deleted: "delete" } as const;

/** What every race asserts, and on the path backend what it records. */
function judge(t: Tally, pathHolds: Race["pathHolds"]): void {
  assert(t.swaps >= SWAPS, `${t.race}: only ${t.swaps} swaps`);
  for (const o of Object.keys(t.outcomes)) {
    assert(!o.startsWith("untyped"), `${t.race}: ${o}`);
  }
  const kinds = ["read", "written", "deleted"] as const;
  for (const k of kinds) {
    if (BACKEND === "ffi" || pathHolds.includes(k)) {
      assert.equal(t[k], 0, `${t.race}: ${t[k]} operations ${k} outside`);
    } else if (t[k] > 0) {
      console.warn(
        `KNOWN LIMITATION (path backend, not asserted): ${t.race}: ${
          t[k]
        } of ${t.ops} operations ${k} outside, against ${t.swaps} swaps of a directory on the way (every path-backend call names a path the kernel walks again; the ffi backend closes this)`,
      );
    }
  }
  if (t.temps > 0) {
    console.warn(
      `KNOWN LIMITATION (path backend, not asserted): ${t.race}: ${t.temps} temps left inside by failed operations (their cleanup refused to act through a swapped directory; sweep() removes them)`,
    );
  }
  if (t.misplaced > 0) {
    console.warn(
      `KNOWN LIMITATION (path backend, not asserted): ${t.race}: ${t.misplaced} operations succeeded without their effect inside (the call that published or removed went through the swapped directory, outside)`,
    );
  }
  if (t.doubles > 0) {
    console.warn(
      `KNOWN LIMITATION (path backend, not asserted): ${t.race}: ${t.doubles} moves published their entry but unlinked the source name through the swapped directory (outside), leaving the entry at both places`,
    );
  }
  // Operations do succeed under attack on ffi (the directory held open is
  // used whatever the attacker does after it was opened).
  if (BACKEND === "ffi") assert(t.ok > 0, `${t.race}: no operation succeeded`);
}

// ---------------------------------------------------------------------------
// Root: `root/a` is swapped; `root/b` is not.

interface RootFixture {
  root: string;
  r: Root | undefined;
}

/** `contents()` as text, in key order. */
function sorted(c: Record<string, string> | null): string {
  return c === null ? "null" : JSON.stringify(Object.entries(c).sort());
}

function hasOutside(c: Record<string, string> | null): boolean {
  return c !== null && Object.values(c).some((v) => v.includes("OUTSIDE"));
}

/** Temps left by failed operations (path backend), since the last reset. */
let leftTemps = 0;
/** Moves that left their entry at both places (path backend), since the last reset. */
let leftDoubles = 0;

function doubled(what: string): void {
  if (BACKEND === "ffi") assert.fail(what);
  leftDoubles++;
}

/** Successes whose effect is not inside (path backend), since the last reset. */
let leftMisplaced = 0;

/**
 * A success must have done its work inside: asserted on ffi; on the path
 * backend, where the call that published or removed may have gone through
 * the swapped directory, counted (the outside check counts the escape).
 */
function inside(ok: boolean, what: string): void {
  if (ok) return;
  if (BACKEND === "ffi") assert.fail(what);
  leftMisplaced++;
}

/**
 * No temp is left where the operations work (inside), after any outcome
 * (G7). On the path backend a failed operation's cleanup refuses to act
 * through a directory swapped since its check, so its temp can stay (named
 * for sweep()): counted there, and removed so the race goes on.
 */
function noTemps(...dirs: string[]): void {
  for (const d of dirs) {
    const left = temps(d);
    if (BACKEND === "ffi") assert.deepEqual(left, [], `temps left in ${d}`);
    leftTemps += left.length;
    for (const t of left) cleanup(join(d, t));
  }
}

function rootRaces(): Race[] {
  let fx: RootFixture;
  const setup =
    (fixture: (f: RootFixture) => void = () => {}) =>
    (w: string, outside: string): { a: string; b: string } => {
      // openRoot is async: the fixture is made synchronously, the root opened
      // at the first operation.
      const root = join(w, "root");
      Deno.mkdirSync(join(root, "a"), { recursive: true });
      fill(join(root, "a"), "inside");
      Deno.mkdirSync(join(root, "b/src/e"), { recursive: true });
      Deno.writeTextFileSync(join(root, "b/src/p"), "inside b/src/p");
      Deno.writeTextFileSync(join(root, "b/src/e/q"), "inside b/src/e/q");
      Deno.symlinkSync(outside, join(root, "a.link"));
      fx = { root, r: undefined };
      fixture(fx);
      return { a: join(root, "a"), b: join(root, "a.link") };
    };
  const root = async (): Promise<Root> => (fx.r ??= await openRoot(fx.root));
  const teardown = (): void => fx.r?.close();
  const copied = (): Record<string, string> => ({
    "": "dir",
    "x0": "inside d/x0",
    "x1": "inside d/x1",
    "x2": "inside d/x2",
    "x3": "inside d/x3",
    "x4": "inside d/x4",
    "sub": "dir",
    "sub/y": "inside d/sub/y",
  });
  const bsrc = {
    "": "dir",
    "p": "inside b/src/p",
    "e": "dir",
    "e/q": "inside b/src/e/q",
  };
  return [
    {
      name: "Root.readFile('a/f')",
      pathHolds: ["written", "deleted"],
      setup: setup(),
      teardown,
      op: async () => (await root()).readFile("a/f"),
      check: (_i, result) => {
        if (result instanceof Uint8Array) {
          const text = new TextDecoder().decode(result);
          if (text.includes("OUTSIDE")) return true;
          assert.equal(text, "inside f");
        }
        return false;
      },
    },
    {
      name: "Root.writeFile('a/w')",
      pathHolds: [],
      setup: setup(),
      teardown,
      op: async (i) => (await root()).writeFile("a/w", `inside w ${i}`),
      check: (i, result, real) => {
        if (!(result instanceof Error)) {
          let got: string | null = null;
          try {
            got = Deno.readTextFileSync(join(real, "w"));
          } catch {
            // not there
          }
          inside(got === `inside w ${i}`, `written: ${got}, not inside w ${i}`);
        }
        noTemps(real);
        return false;
      },
    },
    {
      name: "Root.remove('a/v') (a tree)",
      pathHolds: ["read", "written"],
      setup: setup(),
      teardown,
      prepare: (_i, real) => {
        cleanup(join(real, "v"));
        victim(real, "v", "inside");
      },
      op: async () => (await root()).remove("a/v"),
      check: (_i, result, real) => {
        if (!(result instanceof Error)) {
          inside(contents(join(real, "v")) === null, "removed, yet there");
        }
        return false;
      },
    },
    {
      name: "Root.copy (a tree from 'a/d', and into 'a/')",
      pathHolds: [],
      setup: setup(),
      teardown,
      // Even: read through `a` (a tree); odd: write into `a` (a tree).
      op: async (i) =>
        i % 2 === 0
          ? (await root()).copy("a/d", "b/c")
          : (await root()).copy("b/src", "a/c"),
      check: (i, result, real) => {
        const dest = i % 2 === 0 ? join(fx.root, "b/c") : join(real, "c");
        const got = contents(dest);
        const read = hasOutside(got);
        if (!(result instanceof Error) && !read) {
          const want = i % 2 === 0 ? copied() : bsrc;
          inside(sorted(got) === sorted(want), `copied: ${sorted(got)}`);
        }
        if (result instanceof Error) {
          assert.equal(got, null, "a failed copy left its destination");
        }
        cleanup(dest);
        noTemps(real, join(fx.root, "b"));
        return read;
      },
    },
    {
      name: "Root.move (a file and a tree, into and out of 'a/')",
      pathHolds: [],
      setup: setup((f) => {
        Deno.mkdirSync(join(f.root, "a/mt/e"), { recursive: true });
        Deno.writeTextFileSync(join(f.root, "a/mt/e/z"), "inside mt/e/z");
        Deno.writeTextFileSync(join(f.root, "a/m"), "inside m");
      }),
      teardown,
      op: async (i) => {
        const r = await root();
        const name = i % 2 === 0 ? "m" : "mt";
        // Wherever it is now, it goes to the other side.
        const inA = (() => {
          try {
            Deno.lstatSync(join(fx.root, "b", name));
            return false;
          } catch {
            return true;
          }
        })();
        return inA
          ? r.move(`a/${name}`, `b/${name}`)
          : r.move(`b/${name}`, `a/${name}`);
      },
      check: (i, _result, real) => {
        // Nothing lost, nothing doubled: the entry is in exactly one place,
        // whole (a success moved it; a failure left it where it was).
        const name = i % 2 === 0 ? "m" : "mt";
        const want = i % 2 === 0
          ? { "": "inside m" }
          : { "": "dir", "e": "dir", "e/z": "inside mt/e/z" };
        const inA = contents(join(real, name));
        const inB = contents(join(fx.root, "b", name));
        const read = hasOutside(inA) || hasOutside(inB);
        noTemps(real, join(fx.root, "b"));
        const restore = (): void => {
          if (i % 2 === 0) {
            Deno.writeTextFileSync(join(real, name), "inside m");
          } else {
            Deno.mkdirSync(join(real, name, "e"), { recursive: true });
            Deno.writeTextFileSync(join(real, name, "e/z"), "inside mt/e/z");
          }
        };
        if (read) {
          // Outside content moved in (path backend): put the inside back as
          // it was (one copy, in `a`) so that the race goes on.
          for (const p of [join(real, name), join(fx.root, "b", name)]) {
            if (hasOutside(contents(p))) cleanup(p);
          }
          // (Checked again after that cleanup: the inside entry may be gone
          // too, its name unlinked after outside content was linked.)
          if (
            contents(join(real, name)) === null &&
            contents(join(fx.root, "b", name)) === null
          ) restore();
          return true;
        }
        if (inA === null && inB === null && BACKEND !== "ffi") {
          // Moved into 'a/' while 'a' was the symlink (path backend): the
          // entry is whole, outside. The comparison of the outside that
          // follows counts that write; the entry is put back inside so
          // that the race goes on.
          const out = contents(join(fx.root, "..", "outside", name));
          if (
            out !== null &&
            sorted(out) === sorted(want as Record<string, string>)
          ) {
            leftMisplaced++;
            restore();
            return false;
          }
        }
        assert(inA !== null || inB !== null, `${name} was lost`);
        assert.deepEqual(inA ?? inB, want);
        if (inA !== null && inB !== null) {
          assert.deepEqual(inA, inB);
          // Published at the destination, but the source's removal went
          // elsewhere (its unlink, by path, through the swapped directory).
          doubled(`${name} is at both places after a move`);
          cleanup(join(fx.root, "b", name));
        }
        return false;
      },
    },
  ];
}

for (const r of rootRaces()) {
  Deno.test(
    `${r.name}: a process swapping 'a' for a symlink to outside (${SWAPS} swaps during the operations) never makes it ${
      BACKEND === "ffi"
        ? "read, write or delete anything outside"
        : `fail untyped${
          r.pathHolds.length > 0
            ? ` nor ${
              r.pathHolds.map((k) => VERB[k]).join(" nor ")
            } anything outside`
            : ""
        } (path backend: its other escapes counted)`
    }`,
    async () => {
      const t = await race(r);
      judge(t, r.pathHolds);
    },
  );
}

// ---------------------------------------------------------------------------
// remove() of a tree: a directory inside the tree (`t/a`) is swapped.

Deno.test(
  `remove() of a tree: a process swapping a directory inside it for a symlink to outside (${SWAPS} swaps during the removals) never makes it ${
    BACKEND === "ffi"
      ? "write or delete anything outside"
      : "write outside (path backend: deletions counted)"
  }`,
  async () => {
    let t = "";
    let outsideDir = "";
    const build = (): void => {
      const staging = `${t}.staging`;
      cleanup(staging);
      Deno.mkdirSync(join(staging, "a"), { recursive: true });
      fill(join(staging, "a"), "inside");
      for (let i = 0; i < 10; i++) {
        Deno.writeTextFileSync(join(staging, `top${i}`), `inside top${i}`);
      }
      Deno.symlinkSync(outsideDir, join(staging, "a.link"));
      Deno.renameSync(staging, t);
    };
    let before: Record<string, string> | null = null;
    const tally = await race({
      name: "remove() of a tree",
      pathHolds: ["read", "written"],
      setup: (w, outside) => {
        t = join(w, "t");
        outsideDir = outside;
        build();
        return { a: join(t, "a"), b: join(t, "a.link") };
      },
      prepare: () => {
        // A fresh tree every time (the attacker is frozen).
        const old = `${t}.old`;
        try {
          Deno.renameSync(t, old);
        } catch {
          // removed by the previous round
        }
        cleanup(old);
        build();
        before = contents(t);
      },
      op: () => remove(t),
      check: (_i, result) => {
        const now = contents(t);
        if (!(result instanceof Error)) {
          assert.equal(now, null, "removed, yet there");
        } else if (now !== null) {
          // What is left is part of the tree (the attacker's symlink moves
          // between `a` and `a.link`; the real `a` may be at either).
          for (const [k, v] of Object.entries(now)) {
            const key = k.replace(/^a\.link(\/|$)/, "a$1");
            assert(
              before![key] === v || v.startsWith("link:") ||
                k === "a" || k === "a.link",
              `left '${k}' (${v}) was not in the tree`,
            );
          }
        }
        return false;
      },
    });
    // remove() never writes: nothing outside may be new or changed on any
    // backend; deletions are the path backend's documented window.
    judge(tally, ["read", "written"]);
  },
);

// ---------------------------------------------------------------------------
// remove() as another user: the chmod it gives its own unreadable
// directories must never reach through a symlink swapped in.

/**
 * Keeps exchanging `x` (in the tree) and `xl` (elsewhere): one is a
 * directory the remover cannot read (owned by `owner`, mode 0o703: others
 * may write and search, not list), the other a symlink to `target`, the
 * remover's own directory outside the tree. Whatever the remover removed
 * (the tree, the symlink in it) is put back. One action per exchange.
 */
const KEEPER = `const [tree, xl, target, owner, remover] = Deno.args;
const x = tree + "/x";
const lib = Deno.dlopen("libc.so.6", {
  renameat2: { parameters: ["i32", "buffer", "i32", "buffer", "u32"], result: "i32" },
});
const enc = new TextEncoder();
const px = enc.encode(x + "\\0"), pl = enc.encode(xl + "\\0");
const kind = (p) => { try { const i = Deno.lstatSync(p); return i.isDirectory ? "dir" : "link"; } catch { return null; } };
const ensure = () => {
  if (kind(tree) === null) {
    Deno.mkdirSync(tree);
    Deno.chownSync(tree, Number(remover), Number(remover));
    Deno.chmodSync(tree, 0o755);
  }
  for (const [p, other] of [[x, xl], [xl, x]]) {
    if (kind(p) !== null) continue;
    if (kind(other) === "dir") Deno.symlinkSync(target, p);
    else {
      Deno.mkdirSync(p);
      Deno.chownSync(p, Number(owner), Number(owner));
      Deno.chmodSync(p, 0o703);
    }
  }
};
for (;;) {
  if (lib.symbols.renameat2(-100, px, -100, pl, 2) === 0) act();
  else try { ensure(); } catch { /* raced with the remover: next round */ }
}`;

Deno.test({
  name:
    `remove() as uid 65534 of a tree holding a directory it may not read, swapped for a symlink to its own directory outside, never changes that directory's mode (the chmod of unreadable directories does not follow a symlink)${
      NOBODY.ok ? "" : ` (SKIPPED: ${NOBODY.why})`
    }`,
  ignore: !NOBODY.ok,
  fn: async () => {
    const d = diskDir();
    try {
      Deno.chmodSync(d, 0o755);
      const tree = join(d, "t");
      const home = join(d, "home"); // the remover's own directory
      Deno.mkdirSync(home);
      Deno.writeTextFileSync(join(home, "canary"), "mine");
      Deno.chownSync(home, 65534, 65534);
      Deno.chownSync(join(home, "canary"), 65534, 65534);
      Deno.chmodSync(home, 0o700);
      const keeper = spawnActor("the swapper", KEEPER, [
        tree,
        join(d, "xl"),
        home,
        "4242",
        "65534",
      ]);
      let stopped = false;
      try {
        await keeper.waitFor(1);
        const start = keeper.count();
        const out = await runAsNobody(
          (mod) =>
            `import { remove } from ${JSON.stringify(mod)};
const [tree, home, n] = Deno.args;
const outcomes = {};
let escapes = 0;
for (let i = 0; i < Number(n); i++) {
  let o = "ok";
  try { await remove(tree); } catch (e) { o = e && e.code ? e.name + ":" + e.code : "untyped:" + e; }
  outcomes[o] = (outcomes[o] ?? 0) + 1;
  const mode = Deno.statSync(home).mode & 0o7777;
  if (mode !== 0o700) { escapes++; Deno.chmodSync(home, 0o700); }
}
let canary = "gone";
try { canary = Deno.readTextFileSync(home + "/canary"); } catch { /* deleted */ }
console.log(JSON.stringify({ outcomes, escapes, canary }));`,
          [tree, home, String(Math.max(2000, SWAPS))],
        );
        const swaps = keeper.count() - start;
        await keeper.stop();
        stopped = true;
        assert(out.code === 0, out.stderr);
        const r = JSON.parse(out.stdout.trim());
        console.log(
          `${BACKEND} remove() as uid 65534 vs a swapper (${swaps} swaps): ${r.escapes} modes changed outside; outcomes ${
            JSON.stringify(r.outcomes)
          }`,
        );
        assert(swaps > 0, "the swapper never swapped during the removals");
        for (const o of Object.keys(r.outcomes)) {
          assert(!o.startsWith("untyped"), o);
        }
        if (BACKEND === "path" && r.canary !== "mine") {
          // Each path-backend call names a path the kernel walks again:
          // between the identity check of 't/x' and the unlink in it, the
          // swap redirects that unlink (src/_sys_path.ts; README). The mode
          // is what this test is about, and holds on both backends.
          console.warn(
            "KNOWN LIMITATION (path backend, not asserted): a swap between the identity check of a directory and an unlink in it deleted the canary in the remover's own directory (the ffi backend closes it)",
          );
        } else {
          assert.equal(r.canary, "mine");
        }
        assert.equal(
          r.escapes,
          0,
          `remove() changed the mode of a directory outside the tree ${r.escapes} times`,
        );
      } finally {
        if (!stopped) await keeper.stop().catch(() => {});
      }
    } finally {
      cleanup(d);
    }
  },
});
