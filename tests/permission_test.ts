// Copyright 2026 the safefs authors. MIT license.
// G8: every primitive checks the Deno permissions it needs, for every path,
// before its first change, in a subprocess with scoped flags and stdin closed.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
} from "node:assert/strict";
import { join } from "node:path";
import {
  BACKEND,
  backendFlags,
  CAN_MOUNT,
  cleanup,
  diskDir,
  HAS_SHM,
  MOD_URL,
  mountTmpfs,
  runDeno,
  shmDir,
  snapshot,
  temps,
  umount,
} from "./_helpers.ts";

/** A script that runs one move and prints the outcome as JSON. */
const MOVE = `import { backendInfo, move } from ${JSON.stringify(MOD_URL)};
console.log(backendInfo().name);
try {
  await move(Deno.args[0], Deno.args[1], JSON.parse(Deno.args[2] ?? "{}"));
  console.log(JSON.stringify({ ok: true }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, name: e.name, code: e.code, flag: e.flag, flags: e.flags, message: e.message }));
}`;

async function moveIn(
  flags: string[],
  src: string,
  dest: string,
): Promise<Record<string, unknown>> {
  const r = await runDeno([...flags, ...backendFlags()], MOVE, [src, dest]);
  assertEquals(r.code, 0, r.stderr);
  const [backend, outcome] = r.stdout.trim().split("\n");
  assertEquals(
    backend,
    BACKEND,
    "the subprocess ran on the backend under test",
  );
  return JSON.parse(outcome);
}

Deno.test("move() without write permission for the destination names the flag and changes nothing", async () => {
  const dir = diskDir();
  try {
    Deno.mkdirSync(join(dir, "a"));
    Deno.mkdirSync(join(dir, "b"));
    Deno.writeTextFileSync(join(dir, "a/x"), "x");
    const before = snapshot(dir);
    const out = await moveIn(
      [`--allow-read=${dir}`, `--allow-write=${join(dir, "a")}`],
      join(dir, "a/x"),
      join(dir, "b/x"),
    );
    assertEquals(out.name, "PermissionError");
    assertEquals(out.code, "ENOTCAPABLE");
    assertEquals(out.flag, `--allow-write=${join(dir, "b/x")}`);
    assert(String(out.message).includes(`--allow-write=${join(dir, "b/x")}`));
    deepStrictEqual(snapshot(dir), before);
  } finally {
    cleanup(dir);
  }
});

Deno.test("move() without read permission names the --allow-read flag and changes nothing", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "x"), "x");
    const before = snapshot(dir);
    const out = await moveIn(
      [`--allow-write=${dir}`],
      join(dir, "x"),
      join(dir, "y"),
    );
    assertEquals(out.name, "PermissionError");
    assertEquals(out.flag, `--allow-read=${dir}`);
    deepStrictEqual(snapshot(dir), before);
  } finally {
    cleanup(dir);
  }
});

Deno.test("move() with permissions for both paths works in a scoped subprocess", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "x"), "x");
    const out = await moveIn(
      [`--allow-read=${dir}`, `--allow-write=${dir}`],
      join(dir, "x"),
      join(dir, "y"),
    );
    deepStrictEqual(out, { ok: true });
    assertEquals(Deno.readTextFileSync(join(dir, "y")), "x");
  } finally {
    cleanup(dir);
  }
});

Deno.test("move() refuses to write through a symlink that leads outside the granted scope", async () => {
  const dir = diskDir(), outside = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "f"), "mine");
    Deno.symlinkSync(outside, join(dir, "escape"));
    Deno.mkdirSync(join(dir, "sub"));
    Deno.symlinkSync(join(dir, "escape"), join(dir, "sub/chain"));
    Deno.writeTextFileSync(join(outside, "victim"), "keep");
    const before = snapshot(outside);
    for (
      const dest of [
        join(dir, "escape/f"),
        join(dir, "sub/chain/f"),
        join(dir, "escape/victim"),
      ]
    ) {
      const out = await moveIn(
        [`--allow-read=${dir}`, `--allow-write=${dir}`],
        join(dir, "f"),
        dest,
      );
      assertEquals(out.name, "PermissionError", JSON.stringify(out));
      assert(String(out.message).includes("symlink"), String(out.message));
      assertEquals(Deno.readTextFileSync(join(dir, "f")), "mine");
      deepStrictEqual(snapshot(outside), before);
    }
    // and the source side: moving a file reached through the escaping link
    const out = await moveIn(
      [`--allow-read=${dir}`, `--allow-write=${dir}`],
      join(dir, "escape/victim"),
      join(dir, "got"),
    );
    assertEquals(out.name, "PermissionError", JSON.stringify(out));
    deepStrictEqual(snapshot(outside), before);
  } finally {
    cleanup(dir, outside);
  }
});

Deno.test({
  name:
    "move() across filesystems needs write permission on the destination's directory, checked first",
  // Deno refuses paths under /dev (so /dev/shm) without --allow-all: use a
  // tmpfs mounted in a temp dir as the second filesystem (root only).
  ignore: !CAN_MOUNT,
  fn: async () => {
    const a = diskDir(), b = diskDir();
    mountTmpfs(b, "size=4m");
    try {
      Deno.writeTextFileSync(join(a, "f"), "data");
      const out = await moveIn(
        [`--allow-read=${a},${b}`, `--allow-write=${a},${join(b, "f")}`],
        join(a, "f"),
        join(b, "f"),
      );
      assertEquals(out.name, "PermissionError", JSON.stringify(out));
      assertEquals(out.flag, `--allow-write=${b}`, JSON.stringify(out));
      assertEquals(Deno.readTextFileSync(join(a, "f")), "data");
      assertEquals(snapshot(join(b, "f")), null);
      deepStrictEqual(temps(b), []);
    } finally {
      umount(b);
      cleanup(a, b);
    }
  },
});

Deno.test("move() names every missing permission in one PermissionError, and changes nothing", async () => {
  const src = diskDir(), dst = diskDir();
  try {
    Deno.writeTextFileSync(join(src, "x"), "x");
    const before = [snapshot(src), snapshot(dst)];
    // read and write are both missing for the destination side.
    const out = await moveIn(
      [`--allow-read=${src}`, `--allow-write=${src}`],
      join(src, "x"),
      join(dst, "x"),
    );
    assertEquals(out.name, "PermissionError", JSON.stringify(out));
    deepStrictEqual(out.flags, [
      `--allow-read=${dst}`,
      `--allow-write=${join(dst, "x")}`,
    ]);
    assertEquals(out.flag, `--allow-read=${dst}`);
    const message = String(out.message);
    assert(
      message.includes(
        `run with --allow-read=${dst} --allow-write=${join(dst, "x")}`,
      ),
      message,
    );
    deepStrictEqual([snapshot(src), snapshot(dst)], before);
    // With exactly the flags it named, the same move succeeds.
    const ok = await moveIn(
      [
        `--allow-read=${src},${dst}`,
        `--allow-write=${src},${join(dst, "x")}`,
      ],
      join(src, "x"),
      join(dst, "x"),
    );
    deepStrictEqual(ok, { ok: true });
  } finally {
    cleanup(src, dst);
  }
});

Deno.test({
  name:
    "move() into /dev/shm with read and write granted: the path backend says --allow-all at once (Deno's own calls demand it under /dev), the ffi backend needs no more",
  ignore: !HAS_SHM,
  fn: async () => {
    const src = diskDir(), shm = shmDir();
    try {
      Deno.writeTextFileSync(join(src, "x"), "x");
      const before = [snapshot(src), snapshot(shm)];
      const out = await moveIn(
        ["--allow-read", "--allow-write"],
        join(src, "x"),
        join(shm, "x"),
      );
      if (BACKEND === "ffi") {
        deepStrictEqual(out, { ok: true });
        assertEquals(Deno.readTextFileSync(join(shm, "x")), "x");
        return;
      }
      assertEquals(out.name, "PermissionError", JSON.stringify(out));
      deepStrictEqual(out.flags, ["--allow-all"]);
      assert(String(out.message).includes("--allow-all"), String(out.message));
      deepStrictEqual([snapshot(src), snapshot(shm)], before);
    } finally {
      cleanup(src, shm);
    }
  },
});
