// Copyright 2026 the safefs authors. MIT license.
// Shared directories (issue 21). With fs.protected_hardlinks=1 (the default
// on major distributions) a user cannot hard-link a file it does not own, so
// a no-clobber publish by link(2) fails with EPERM in a group- or
// world-writable directory (without the sticky bit) where rename(2) and
// `mv -n` succeed. safefs must never fail where `mv -n` works: these tests
// run move(), writeFile() and copy() as uid 65534 ("nobody") on files owned
// by another uid, in world-writable directories, next to GNU `mv -n` run by
// the same user on an identical fixture, on the backend under test.
import assert from "node:assert/strict";
import { join } from "node:path";
import { BACKEND, cleanup, diskDir, snapshot } from "./_helpers.ts";
import { NOBODY, runAsNobody } from "./_nobody.ts";

/** The owner of the files nobody moves: neither root nor nobody. */
const OTHER = 4242;

const PROTECTED = (() => {
  try {
    return Deno.readTextFileSync("/proc/sys/fs/protected_hardlinks").trim();
  } catch {
    return "unknown";
  }
})();

if (NOBODY.ok && PROTECTED !== "1") {
  console.warn(
    `NOTE: fs.protected_hardlinks is ${PROTECTED} here: link(2) of another user's file is allowed, so these tests cannot fail the way they would on a default distribution`,
  );
}

/**
 * A world-writable directory without the sticky bit (0o777) at `dir`,
 * holding `files` (name -> content) owned by OTHER, mode 0o644.
 */
function shared(dir: string, files: Record<string, string>): void {
  Deno.mkdirSync(dir);
  Deno.chmodSync(dir, 0o777);
  for (const [name, text] of Object.entries(files)) {
    const p = join(dir, name);
    Deno.writeTextFileSync(p, text);
    Deno.chmodSync(p, 0o644);
    Deno.chownSync(p, OTHER, OTHER);
  }
}

/** Owner, mode and content of every entry under `dir` (for comparing two fixtures). */
function owned(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const snap = snapshot(dir) ?? {};
  for (const rel of Object.keys(snap)) {
    const i = Deno.lstatSync(rel === "" ? dir : join(dir, rel));
    out[rel] = `${i.uid}:${snap[rel]}`;
  }
  return out;
}

/**
 * Runs `calls` (each [primitive, ...args]) as nobody with safefs, then the
 * same `mv -n` calls as nobody on the twin fixture, and returns both
 * outcome lists and the backend the nobody process ran on.
 */
async function asNobody(
  safefs: unknown[][],
  mvN: string[][],
): Promise<
  { backend: string; safefs: string[]; methods: string[]; mv: string[] }
> {
  const out = await runAsNobody(
    (mod) =>
      `import * as safefs from ${JSON.stringify(mod)};
const [calls, mvs] = JSON.parse(Deno.args[0]);
const said = [], methods = [];
for (const [prim, ...args] of calls) {
  try { methods.push((await safefs[prim](...args)).publish); said.push("ok"); }
  catch (e) { said.push(e && e.code ? e.name + ":" + e.code + " " + e.message : "untyped:" + e); }
}
const mv = [];
for (const [a, b] of mvs) {
  const r = new Deno.Command("mv", { args: ["-n", "--", a, b], stderr: "piped" }).outputSync();
  mv.push(r.success ? "ok" : "exit " + r.code + ": " + new TextDecoder().decode(r.stderr).trim());
}
console.log(JSON.stringify({ backend: safefs.backendInfo().name, safefs: said, methods, mv }));`,
    [JSON.stringify([safefs, mvN])],
  );
  const text = out.stdout.trim();
  assert(out.code === 0 && text.startsWith("{"), `as nobody: ${out.stderr}`);
  return JSON.parse(text);
}

Deno.test({
  name:
    `move() without overwrite of another user's file in a world-writable directory (no sticky bit) succeeds as uid 65534, like mv -n, within the directory and into another one; a no-clobber refusal still holds${
      NOBODY.ok ? "" : ` (SKIPPED: ${NOBODY.why})`
    }`,
  ignore: !NOBODY.ok,
  fn: async () => {
    const d = diskDir();
    try {
      Deno.chmodSync(d, 0o755);
      // Two identical fixtures: one for safefs, one for mv -n.
      for (const side of ["s", "g"]) {
        Deno.mkdirSync(join(d, side));
        Deno.chmodSync(join(d, side), 0o755);
        shared(join(d, side, "shared"), {
          theirs: "their data",
          theirs2: "their data 2",
          theirs3: "their data 3",
          existing: "already here",
        });
        shared(join(d, side, "other"), {});
      }
      const at = (side: string, rel: string): string => join(d, side, rel);
      const moves = [
        ["shared/theirs", "shared/renamed"], // same directory
        ["shared/theirs2", "other/moved"], // another world-writable directory
      ];
      const r = await asNobody(
        moves.map(([a, b]) => ["move", at("s", a), at("s", b)]),
        moves.map(([a, b]) => [at("g", a), at("g", b)]),
      );
      assert.equal(
        r.backend,
        BACKEND,
        "the nobody process ran another backend",
      );
      assert.deepEqual(r.mv, ["ok", "ok"], "mv -n itself failed here");
      assert.deepEqual(
        r.safefs,
        r.mv,
        `safefs failed where mv -n works (fs.protected_hardlinks=${PROTECTED})`,
      );
      // The same result as mv -n: names, owners, modes, contents.
      assert.deepEqual(owned(at("s", "")), owned(at("g", "")));
      assert.equal(
        Deno.readTextFileSync(at("s", "shared/renamed")),
        "their data",
      );
      assert.equal(Deno.lstatSync(at("s", "other/moved")).uid, OTHER);
      // Published without clobbering: RENAME_NOREPLACE (ffi); on the path
      // backend, whose link(2) is refused for another user's file, the
      // fallback it reports.
      console.log(`publish methods as nobody: ${r.methods.join(", ")}`);
      for (const m of r.methods) {
        assert(
          BACKEND === "ffi"
            ? m === "noreplace"
            : ["claim", "checked"].includes(m),
          m,
        );
      }
      // No clobber still refused, with nothing changed.
      const before = snapshot(at("s", ""));
      const no = await asNobody(
        [["move", at("s", "shared/theirs3"), at("s", "shared/existing")]],
        [],
      );
      assert.match(no.safefs[0], /^AlreadyExistsError:EEXIST /);
      assert.deepEqual(snapshot(at("s", "")), before);
    } finally {
      cleanup(d);
    }
  },
});

Deno.test({
  name:
    `writeFile() with overwrite: false and copy() into a world-writable directory (no sticky bit) holding another user's files succeed as uid 65534; no-clobber refusals still hold${
      NOBODY.ok ? "" : ` (SKIPPED: ${NOBODY.why})`
    }`,
  ignore: !NOBODY.ok,
  fn: async () => {
    const d = diskDir();
    try {
      Deno.chmodSync(d, 0o755);
      const s = join(d, "shared"), o = join(d, "other");
      shared(s, { theirs: "their data", existing: "already here" });
      shared(o, {});
      const r = await asNobody([
        ["writeFile", join(s, "mine"), "my data", { overwrite: false }],
        ["copy", join(s, "theirs"), join(s, "copy")],
        ["copy", join(s, "theirs"), join(o, "copy")],
        ["writeFile", join(s, "existing"), "clobber", { overwrite: false }],
        ["copy", join(s, "theirs"), join(s, "existing")],
      ], []);
      assert.equal(r.backend, BACKEND);
      assert.deepEqual(r.safefs.slice(0, 3), ["ok", "ok", "ok"]);
      assert.match(r.safefs[3], /^AlreadyExistsError:EEXIST /);
      assert.match(r.safefs[4], /^AlreadyExistsError:EEXIST /);
      assert.equal(Deno.readTextFileSync(join(s, "mine")), "my data");
      assert.equal(Deno.lstatSync(join(s, "mine")).uid, 65534);
      for (const c of [join(s, "copy"), join(o, "copy")]) {
        assert.equal(Deno.readTextFileSync(c), "their data");
        assert.equal(Deno.lstatSync(c).uid, 65534);
      }
      assert.equal(Deno.readTextFileSync(join(s, "existing")), "already here");
      assert.equal(Deno.lstatSync(join(s, "existing")).uid, OTHER);
      // Nothing else: no temp left behind.
      assert.deepEqual(
        Array.from(Deno.readDirSync(s)).map((e) => e.name).sort(),
        ["copy", "existing", "mine", "theirs"],
      );
      assert.deepEqual(
        Array.from(Deno.readDirSync(o)).map((e) => e.name),
        ["copy"],
      );
    } finally {
      cleanup(d);
    }
  },
});
