// Copyright 2026 the safefs authors. MIT license.
// The CLI checks the permissions of the whole command line before its first
// operation and names every missing flag in one message (issues 16 and 21),
// in subprocesses with scoped flags.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
  match,
} from "node:assert/strict";
import { join } from "node:path";
import { cleanup, diskDir, HAS_SHM, shmDir, snapshot } from "./_helpers.ts";
import { cli, lines } from "./_cli.ts";

/** The flags a --json refusal names, as command-line arguments. */
function granted(stdout: string): string[] {
  const doc = JSON.parse(stdout);
  assertEquals(doc.error.code, "ENOTCAPABLE", stdout);
  return doc.error.grant.split(" ");
}

Deno.test("safefs names every missing flag of a command line in one run, and those flags are enough", async () => {
  const a = diskDir(), b = diskDir(), c = diskDir();
  try {
    for (const n of ["x", "y"]) Deno.writeTextFileSync(join(a, n), n);
    Deno.writeTextFileSync(join(c, "z"), "z");
    const before = [snapshot(a), snapshot(b), snapshot(c)];
    const scoped = {
      flags: [`--allow-read=${a}`, `--allow-write=${a}`],
    };
    // mv of several sources, one of them outside the grant, into b.
    const args = ["mv", join(a, "x"), join(c, "z"), join(a, "y"), b];
    const text = await cli(args, { perms: scoped });
    assertEquals(text.code, 1, text.stderr);
    assertEquals(lines(text.stderr).length, 1, text.stderr);
    for (const want of [`--allow-read=`, `--allow-write=`]) {
      assert(text.stderr.includes(want), text.stderr);
    }
    for (const dir of [b, c]) assert(text.stderr.includes(dir), text.stderr);
    assert(!/not an existing directory/.test(text.stderr), text.stderr);
    deepStrictEqual([snapshot(a), snapshot(b), snapshot(c)], before);

    const json = await cli(["mv", "--json", ...args.slice(1)], {
      perms: scoped,
    });
    assertEquals(json.code, 1);
    deepStrictEqual(JSON.parse(json.stdout).operations, []);
    const more = granted(json.stdout);
    // Exactly what it named, added to what we had, suffices.
    const ok = await cli(args, {
      perms: { flags: [...scoped.flags, ...more] },
    });
    assertEquals(ok.code, 0, `${more.join(" ")}: ${ok.stderr}`);
    assertEquals(Deno.readTextFileSync(join(b, "z")), "z");
    assertEquals(snapshot(join(a, "x")), null);

    // Destination granted, one source not: its flags, before anything runs.
    Deno.writeTextFileSync(join(c, "w"), "w");
    const before2 = [snapshot(a), snapshot(b), snapshot(c)];
    const src = await cli(["cp", "--json", join(a, "y"), join(c, "w"), b], {
      perms: [a, b],
    });
    assertEquals(src.code, 1, src.stderr);
    deepStrictEqual(JSON.parse(src.stdout).operations, []);
    deepStrictEqual(JSON.parse(src.stdout).error.flags, [
      `--allow-read=${join(c, "w")}`,
    ]);
    deepStrictEqual([snapshot(a), snapshot(b), snapshot(c)], before2);
  } finally {
    cleanup(a, b, c);
  }
});

Deno.test("safefs mv and cp with several sources and an unreadable destination name --allow-read, not 'not a directory'", async () => {
  const a = diskDir(), b = diskDir();
  try {
    for (const n of ["x", "y"]) Deno.writeTextFileSync(join(a, n), n);
    const before = [snapshot(a), snapshot(b)];
    for (const cmd of ["mv", "cp"]) {
      const r = await cli([cmd, join(a, "x"), join(a, "y"), b], { perms: [a] });
      assertEquals(r.code, 1, r.stderr);
      assert(r.stderr.includes(`--allow-read=${b}`), r.stderr);
      assert(!/not an existing directory/.test(r.stderr), r.stderr);
      deepStrictEqual([snapshot(a), snapshot(b)], before);
    }
    // With it, a destination that really is not a directory is said so.
    const f = join(a, "file");
    Deno.writeTextFileSync(f, "f");
    const r = await cli(["cp", join(a, "x"), join(a, "y"), f], { perms: [a] });
    assertEquals(r.code, 2);
    match(r.stderr, /not an existing directory/);
  } finally {
    cleanup(a, b);
  }
});

Deno.test("safefs rm and write name every missing flag at once", async () => {
  const a = diskDir(), b = diskDir();
  try {
    Deno.writeTextFileSync(join(a, "x"), "x");
    Deno.writeTextFileSync(join(b, "y"), "y");
    const before = [snapshot(a), snapshot(b)];
    const rm = await cli(["rm", "--json", join(a, "x"), join(b, "y")], {
      perms: { flags: [`--allow-read=${a}`] },
    });
    assertEquals(rm.code, 1, rm.stderr);
    const error = JSON.parse(rm.stdout).error;
    assertEquals(error.grant, `--allow-read=${b} --allow-write=${a},${b}`);
    assertEquals(error.flags.length, 6, error.flags.join(" "));
    deepStrictEqual([snapshot(a), snapshot(b)], before);
    const w = await cli(["write", join(b, "new")], {
      perms: { flags: [] },
      stdin: new TextEncoder().encode("data"),
    });
    assertEquals(w.code, 1);
    match(w.stderr, new RegExp(`--allow-read=${b} --allow-write=${b}`));
    assertEquals(snapshot(join(b, "new")), null);
  } finally {
    cleanup(a, b);
  }
});

Deno.test({
  name:
    "safefs says --allow-all at once for /dev/shm, whatever read and write grant",
  ignore: !HAS_SHM,
  fn: async () => {
    const a = diskDir(), shm = shmDir();
    try {
      Deno.writeTextFileSync(join(a, "x"), "x");
      Deno.writeTextFileSync(join(shm, "y"), "y");
      const before = [snapshot(a), snapshot(shm)];
      const runs = [
        ["cp", join(a, "x"), shm],
        ["mv", join(a, "x"), join(shm, "x")],
        ["rm", join(shm, "y")],
        ["sweep", shm],
      ];
      for (
        const perms of [
          { flags: ["--allow-read", "--allow-write"] },
          { flags: [`--allow-read=${a}`] },
        ]
      ) {
        for (const args of runs) {
          const r = await cli(args, { perms });
          const what = `${args.join(" ")} ${perms.flags}: ${r.stderr}`;
          assertEquals(r.code, 1, what);
          assertEquals(lines(r.stderr).length, 1, what);
          match(
            r.stderr,
            /Deno demands --allow-all for '\/dev\/shm\/.*run with --allow-all/,
            what,
          );
          deepStrictEqual([snapshot(a), snapshot(shm)], before, what);
        }
      }
      const ok = await cli(["cp", join(a, "x"), shm], { perms: "all" });
      assertEquals(ok.code, 0, ok.stderr);
      assertEquals(Deno.readTextFileSync(join(shm, "x")), "x");
    } finally {
      cleanup(a, shm);
    }
  },
});
