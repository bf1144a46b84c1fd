// Copyright 2026 the safefs authors. MIT license.
// The Backend contract where it meets the process: Deno permissions (G8: the
// ffi backend bypasses Deno's checks, so it must make them), availability
// (a reason string, never a throw or a prompt), depth (10,000 levels of
// openDirAt) and size (a 200,000-entry listing). Permissions and
// availability run in subprocesses with scoped flags.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Backend, type Dir, listAll } from "../src/_sys_types.ts";
import { libcCandidates } from "../src/_sys_libc.ts";
import { HAS_SHM, runDeno, snapshot } from "./_helpers.ts";
import { type BackendCase, CASES, fds } from "./_sys_backends.ts";

const ERRNO_URL = new URL("../src/_errno.ts", import.meta.url).href;
const TYPES_URL = new URL("../src/_sys_types.ts", import.meta.url).href;

/**
 * A subprocess script: builds the backend, runs the named steps of a plan,
 * prints each outcome as JSON ({ ok } or { name, code, message }).
 */
const script = (c: BackendCase): string => `
import { errnoName } from ${JSON.stringify(ERRNO_URL)};
import { listAll } from ${JSON.stringify(TYPES_URL)};
import { ${c.factory} as create } from ${JSON.stringify(c.module)};
const [opts, dirsJson, plan] = Deno.args;
const b = create(JSON.parse(opts));
if (typeof b === "string") {
  console.log(JSON.stringify({ unavailable: b }));
  Deno.exit(0);
}
const { IN, OUT } = JSON.parse(dirsJson);
const out = {};
const step = (name, f) => {
  try {
    f();
    out[name] = { ok: true };
  } catch (e) {
    out[name] = { name: e.name, code: errnoName(e), message: e.message };
  }
};
const t = { sec: 1000, nsec: 0 };
const bytes = new TextEncoder().encode("data");
if (plan === "readScoped") {
  const inside = b.openDir(IN, false);
  step("openDir(IN)", () => b.close(b.openDir(IN, false)));
  step("mkdirAt(in)", () => b.mkdirAt(inside, "d", 0o777));
  step("create+write(in)", () => {
    const f = b.openAt(inside, "n", { write: true, create: true });
    b.write(f, bytes, 0);
    b.chmod(f, 0o600);
    b.utimes(f, t, t);
    b.close(f);
  });
  step("statAt(in)", () => b.statAt(inside, "n", false));
  step("list(in)", () => listAll(b, inside));
  step("renameAt(in)", () => b.renameAt(inside, "n", inside, "g", "replace"));
  step("linkAt(in)", () => b.linkAt(inside, "g", inside, "h"));
  step("symlinkAt(in)", () => b.symlinkAt("g", inside, "l"));
  step("readLinkAt(in)", () => b.readLinkAt(inside, "l"));
  step("lutimesAt(in)", () => b.lutimesAt(inside, "l", t, t));
  step("unlinkAt(in)", () => b.unlinkAt(inside, "h"));
  step("rmdirAt(in)", () => b.rmdirAt(inside, "d"));
  step("realPath(in)", () => b.realPath(IN + "/g"));
  step("openDir(OUT)", () => b.close(b.openDir(OUT, false)));
  step("realPath(OUT)", () => b.realPath(OUT + "/file"));
  step("openDirAt(in, ..)", () => b.close(b.openDirAt(inside, "..")));
  b.close(inside);
} else {
  const inside = b.openDir(IN, false);
  const outside = b.openDir(OUT, false);
  const f = b.openAt(outside, "file", { read: true });
  step("statAt(out)", () => b.statAt(outside, "file", false));
  step("list(out)", () => listAll(b, outside));
  step("readLinkAt(out)", () => b.readLinkAt(outside, "link"));
  step("read(out file)", () => b.read(f, new Uint8Array(4), 0));
  step("mkdirAt(out)", () => b.mkdirAt(outside, "x", 0o777));
  step("openAt create(out)", () => b.openAt(outside, "new", { write: true, create: true }));
  step("openAt write(out)", () => b.openAt(outside, "file", { write: true }));
  step("unlinkAt(out)", () => b.unlinkAt(outside, "file"));
  step("rmdirAt(out)", () => b.rmdirAt(outside, "sub"));
  step("renameAt(in -> out)", () => b.renameAt(inside, "f", outside, "f", "replace"));
  step("renameAt(out -> in)", () => b.renameAt(outside, "file", inside, "stolen", "replace"));
  step("linkAt(out -> in)", () => b.linkAt(outside, "file", inside, "hard"));
  step("symlinkAt(out)", () => b.symlinkAt("x", outside, "l2"));
  step("lchownAt(out)", () => b.lchownAt(outside, "file", -1, -1));
  step("lutimesAt(out)", () => b.lutimesAt(outside, "link", t, t));
  step("chmod(out handle)", () => b.chmod(f, 0o600));
  step("chown(out handle)", () => b.chown(f, -1, -1));
  step("utimes(out handle)", () => b.utimes(f, t, t));
  step("mkdirAt(in)", () => b.mkdirAt(inside, "ok", 0o777));
  b.close(f);
  b.close(outside);
  b.close(inside);
}
console.log(JSON.stringify(out));
`;

interface Outcome {
  ok?: boolean;
  name?: string;
  code?: string;
  message?: string;
}

async function runPlan(
  c: BackendCase,
  flags: string[],
  dirs: { IN: string; OUT: string },
  plan: string,
): Promise<Record<string, Outcome>> {
  const r = await runDeno(flags, script(c), [
    JSON.stringify(c.options ?? {}),
    JSON.stringify(dirs),
    plan,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  assert(!("unavailable" in res), `backend unavailable: ${res.unavailable}`);
  return res;
}

/** A temp tree T with T/in (file f) and T/out (file, sub, link). */
function permTree(): { T: string; IN: string; OUT: string } {
  const T = Deno.makeTempDirSync({ prefix: "safefs-sysperm-" });
  const IN = join(T, "in");
  const OUT = join(T, "out");
  Deno.mkdirSync(IN);
  Deno.mkdirSync(join(OUT, "sub"), { recursive: true });
  Deno.writeTextFileSync(join(IN, "f"), "in");
  Deno.writeTextFileSync(join(OUT, "file"), "out");
  Deno.symlinkSync("file", join(OUT, "link"));
  return { T, IN, OUT };
}

function assertRefused(
  res: Record<string, Outcome>,
  step: string,
  kind: "read" | "write",
  path: string,
): void {
  const o = res[step];
  assert(o !== undefined, `no outcome for ${step}`);
  assert.equal(o.name, "NotCapable", `${step}: ${JSON.stringify(o)}`);
  assert.equal(o.code, "ENOTCAPABLE", step);
  assert(
    o.message!.includes(`Requires ${kind} access to "${path}"`) ||
      (step.startsWith("symlinkAt") && UNSCOPED_SYMLINK.test(o.message!)),
    `${step}: ${o.message}`,
  );
}

/**
 * Deno's own refusal of `Deno.symlink` under any path-scoped grant (the
 * path backend meets it; the ffi backend checks write on the link's path).
 */
const UNSCOPED_SYMLINK = /requires unscoped --allow-read and --allow-write/;

/** The path backend cannot create a symlink under a scoped grant (Deno's rule). */
function symlinkRefusedByDeno(res: Record<string, Outcome>): boolean {
  const o = res["symlinkAt(in)"];
  return o.name === "NotCapable" && UNSCOPED_SYMLINK.test(o.message ?? "");
}

function assertOk(res: Record<string, Outcome>, ...steps: string[]): void {
  for (const s of steps) {
    assert.deepEqual(res[s], { ok: true }, `${s}: ${JSON.stringify(res[s])}`);
  }
}

for (const c of CASES) {
  const unavailable = typeof c.backend === "string"
    ? `${c.label} backend unavailable: ${c.backend}`
    : false;
  const ignore = unavailable !== false;
  const suffix = ignore ? ` (ignored: ${unavailable})` : "";

  Deno.test({
    name:
      `${c.label}: with read and write granted for one directory only, calls inside work and calls outside are refused${suffix}`,
    ignore,
    async fn(): Promise<void> {
      const { T, IN, OUT } = permTree();
      try {
        const before = snapshot(OUT, { times: true });
        const res = await runPlan(
          c,
          ["--allow-ffi", `--allow-read=${IN}`, `--allow-write=${IN}`],
          { IN, OUT },
          "readScoped",
        );
        assertOk(
          res,
          "openDir(IN)",
          "mkdirAt(in)",
          "create+write(in)",
          "statAt(in)",
          "list(in)",
          "renameAt(in)",
          "linkAt(in)",
          "unlinkAt(in)",
          "rmdirAt(in)",
          "realPath(in)",
        );
        assertRefused(res, "openDir(OUT)", "read", OUT);
        assertRefused(res, "realPath(OUT)", "read", join(OUT, "file"));
        assertRefused(res, "openDirAt(in, ..)", "read", T);
        assert.equal(Deno.readTextFileSync(join(IN, "g")), "data");
        if (c.label === "path" && symlinkRefusedByDeno(res)) {
          console.log("  path: Deno refuses symlinks under scoped grants");
        } else {
          assertOk(res, "symlinkAt(in)", "readLinkAt(in)", "lutimesAt(in)");
          assert.equal(Deno.readLinkSync(join(IN, "l")), "g");
        }
        assert.deepEqual(snapshot(OUT, { times: true }), before);
      } finally {
        Deno.removeSync(T, { recursive: true });
      }
    },
  });

  for (
    const [how, flags] of [
      ["scoped", (T: string, IN: string) => [
        `--allow-read=${T}`,
        `--allow-write=${IN}`,
      ]],
      ["denied", (_T: string, IN: string) => [
        "--allow-read",
        "--allow-write",
        `--deny-write=${join(IN, "../out")}`,
      ]],
    ] as const
  ) {
    Deno.test({
      name:
        `${c.label}: write ${how} outside: every changing call there is refused and changes nothing; reads work${suffix}`,
      ignore,
      async fn(): Promise<void> {
        const { T, IN, OUT } = permTree();
        try {
          const before = snapshot(OUT, { times: true });
          const inBefore = snapshot(IN);
          const res = await runPlan(
            c,
            ["--allow-ffi", ...flags(T, IN)],
            { IN, OUT },
            "writeScoped",
          );
          assertOk(
            res,
            "statAt(out)",
            "list(out)",
            "readLinkAt(out)",
            "read(out file)",
          );
          const refused: [string, string][] = [
            ["mkdirAt(out)", join(OUT, "x")],
            ["openAt create(out)", join(OUT, "new")],
            ["openAt write(out)", join(OUT, "file")],
            ["unlinkAt(out)", join(OUT, "file")],
            ["rmdirAt(out)", join(OUT, "sub")],
            ["renameAt(in -> out)", join(OUT, "f")],
            ["renameAt(out -> in)", join(OUT, "file")],
            ["linkAt(out -> in)", join(OUT, "file")],
            ["symlinkAt(out)", join(OUT, "l2")],
            ["lchownAt(out)", join(OUT, "file")],
            ["lutimesAt(out)", join(OUT, "link")],
            ["chmod(out handle)", join(OUT, "file")],
            ["chown(out handle)", join(OUT, "file")],
            ["utimes(out handle)", join(OUT, "file")],
          ];
          const wrong: string[] = [];
          for (const [step, path] of refused) {
            try {
              assertRefused(res, step, "write", path);
            } catch (e) {
              wrong.push((e as Error).message.split("\n")[0]);
            }
          }
          assert.deepEqual(wrong, [], "not refused");
          assert.deepEqual(snapshot(OUT, { times: true }), before);
          // Nothing changed inside either, but for the one allowed call.
          assertOk(res, "mkdirAt(in)");
          Deno.removeSync(join(IN, "ok"));
          assert.deepEqual(snapshot(IN), inBefore);
        } finally {
          Deno.removeSync(T, { recursive: true });
        }
      },
    });
  }
}

// ---- availability ---------------------------------------------------------------

const AVAIL = `
const { createFfiBackend } = await import(${
  JSON.stringify(new URL("../src/_sys_ffi.ts", import.meta.url).href)
});
const fake = Deno.args[0] ? JSON.parse(Deno.args[0]) : null;
if (fake) {
  const real = Deno;
  Object.defineProperty(globalThis, "Deno", {
    value: Object.create(real, { build: { value: { ...real.build, ...fake } } }),
    configurable: true,
  });
}
let b;
try {
  b = createFfiBackend();
} catch (e) {
  console.log(JSON.stringify({ threw: String(e) }));
  Deno.exit(0);
}
console.log(JSON.stringify(typeof b === "string" ? { reason: b } : { name: b.features.name }));
`;

async function avail(
  flags: string[],
  fake?: Record<string, string>,
): Promise<{ reason?: string; name?: string; threw?: string }> {
  const r = await runDeno(
    ["--allow-read", ...flags],
    AVAIL,
    fake ? [JSON.stringify(fake)] : [],
  );
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const LIBCS = libcCandidates().filter((p) => {
  try {
    return p.startsWith("/") && Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

Deno.test("ffi availability: a reason string, never a throw, when it cannot run", async () => {
  const none = await avail([]);
  assert.match(none.reason ?? "", /--allow-ffi is not granted/);
  const other = await avail(["--allow-ffi=/nonexistent/x.so"]);
  assert.match(other.reason ?? "", /--allow-ffi is not granted/);
  assert.match(other.reason ?? "", /not libc/);
  const denied = await avail([
    "--allow-ffi",
    ...libcCandidates().filter((p) => p.startsWith("/")).map((p) =>
      `--deny-ffi=${p}`
    ),
  ]);
  assert.match(denied.reason ?? "", /denied for libc/);
  const darwin = await avail(["--allow-ffi"], { os: "darwin" });
  assert.equal(darwin.reason, "not Linux (darwin)");
  const riscv = await avail(["--allow-ffi"], { arch: "riscv64" });
  assert.equal(riscv.reason, "unsupported architecture (riscv64)");
});

Deno.test({
  name: `ffi availability: a grant scoped to libc's literal path is enough (${
    LIBCS.join(", ") || "ignored: no libc at the usual paths"
  })`,
  ignore: LIBCS.length === 0,
  async fn(): Promise<void> {
    for (const p of LIBCS) {
      assert.deepEqual(await avail([`--allow-ffi=${p}`]), { name: "ffi" }, p);
    }
  },
});

// ---- depth and size ---------------------------------------------------------------

const deep = (b: Backend | string): string | false =>
  typeof b === "string"
    ? `unavailable: ${b}`
    : b.features.maxPath !== Infinity
    ? `maxPath ${b.features.maxPath}: paths, not descriptors`
    : false;

for (const c of CASES) {
  const why = deep(c.backend);
  Deno.test({
    name:
      `${c.label}: 10,000 levels of openDirAt down and .. up, descriptors closed as it goes${
        why ? ` (ignored: ${why})` : ""
      }`,
    ignore: why !== false,
    fn(): void {
      const b = c.backend as Backend;
      const before = fds();
      // On tmpfs: 10,000 nested mkdirs cost ext4 here ~10 s, tmpfs 0.3 s.
      const tmp = Deno.makeTempDirSync({
        prefix: "safefs-sysdeep-",
        dir: HAS_SHM ? "/dev/shm" : undefined,
      });
      const root = b.openDir(tmp, false);
      const DEPTH = 10_000;
      let d: Dir = root;
      try {
        for (let i = 0; i < DEPTH; i++) {
          b.mkdirAt(d, "d", 0o755);
          const next = b.openDirAt(d, "d");
          if (d !== root) b.close(d);
          d = next;
        }
        assert.equal(d.path.length, tmp.length + 2 * DEPTH);
        b.close(b.openAt(d, "leaf", { write: true, create: true }));
        assert.equal(b.statAt(d, "leaf", false).kind, "file");
        assert.deepEqual(
          listAll(b, d).map((e) => ({ name: e.name, kind: e.kind })),
          [{ name: "leaf", kind: "file" }],
        );
        assert.equal(fds().length, before.length + 2); // root and d
        b.unlinkAt(d, "leaf");
        for (let i = 0; i < DEPTH; i++) {
          const up = b.openDirAt(d, "..");
          b.close(d);
          d = up;
          b.rmdirAt(d, "d");
        }
        assert.equal(d.path, tmp);
        assert.equal(b.fstat(d).ino, b.fstat(root).ino);
        assert.deepEqual(listAll(b, root), []);
      } finally {
        if (d !== root) b.close(d);
        b.close(root);
        Deno.removeSync(tmp, { recursive: true });
      }
      assert.deepEqual(fds(), before);
    },
  });

  const noShm = !HAS_SHM ? "no tmpfs at /dev/shm" : false;
  const unav = typeof c.backend === "string"
    ? `unavailable: ${c.backend}`
    : noShm;
  Deno.test({
    name: `${c.label}: list of a 200,000-entry directory gives each entry once${
      unav ? ` (ignored: ${unav})` : ""
    }`,
    ignore: unav !== false,
    fn(): void {
      const b = c.backend as Backend;
      const tmp = Deno.makeTempDirSync({
        dir: "/dev/shm",
        prefix: "safefs-syslist-",
      });
      const root = b.openDir(tmp, false);
      const N = 200_000;
      try {
        for (let i = 0; i < N; i++) {
          b.close(b.openAt(root, `entry-${i}`, { write: true, create: true }));
        }
        const t0 = performance.now();
        const got = listAll(b, root);
        const ms = performance.now() - t0;
        console.log(`  ${c.label}: list of ${N} entries: ${ms.toFixed(0)} ms`);
        assert.equal(got.length, N);
        const seen = new Set(got.map((e) => e.name));
        assert.equal(seen.size, N);
        for (let i = 0; i < N; i += 997) assert(seen.has(`entry-${i}`));
        assert(got.every((e) => e.kind === "file" || e.kind === null));
      } finally {
        b.close(root);
        Deno.removeSync(tmp, { recursive: true });
      }
    },
  });
}
