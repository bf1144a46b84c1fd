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
    // copy() reads the source and its directory.
    deepStrictEqual(JSON.parse(src.stdout).error.flags, [
      `--allow-read=${join(c, "w")}`,
      `--allow-read=${c}`,
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

/** Scoped flags, with --allow-ffi (the ffi backend) or without (path). */
function scopedFlags(
  ffi: boolean,
  read: string[],
  write: string[],
): { flags: string[] } {
  return {
    flags: [
      ...(ffi ? ["--allow-ffi"] : []),
      ...(read.length ? [`--allow-read=${read.join(",")}`] : []),
      ...(write.length ? [`--allow-write=${write.join(",")}`] : []),
    ],
  };
}

Deno.test("safefs write -p asks for write where the missing directories are made, on either backend", async () => {
  for (const ffi of [false, true]) {
    const d = diskDir();
    try {
      const dir = join(d, "x/y/z");
      const dest = join(dir, "file");
      const data = new TextEncoder().encode("data");
      // Write granted only where the file goes: the directories are made in
      // d, which is not writable.
      const r = await cli(["write", "-p", "--json", dest], {
        perms: scopedFlags(ffi, [d], [dir]),
        stdin: data,
      });
      assertEquals(r.code, 1, `ffi ${ffi}: ${r.stderr}`);
      const error = JSON.parse(r.stdout).error;
      deepStrictEqual(error.flags, [`--allow-write=${d}`], `ffi ${ffi}`);
      assertEquals(snapshot(join(d, "x")), null);
      const ok = await cli(["write", "-p", dest], {
        perms: scopedFlags(ffi, [d], [d]),
        stdin: data,
      });
      assertEquals(ok.code, 0, `ffi ${ffi}: ${ok.stderr}`);
      assertEquals(Deno.readTextFileSync(dest), "data");
      // Nothing readable where it would look: the file's directory is named
      // (the run after names what it then finds).
      const blind = await cli(["write", "-p", "--json", join(d, "p/q/f")], {
        perms: scopedFlags(ffi, [], []),
        stdin: data,
      });
      assertEquals(blind.code, 1);
      assertEquals(
        JSON.parse(blind.stdout).error.grant,
        `--allow-read=${join(d, "p/q")} --allow-write=${join(d, "p/q")}`,
      );
    } finally {
      cleanup(d);
    }
  }
});

Deno.test("safefs ln: without --allow-ffi Deno needs unscoped --allow-read and --allow-write; with it the scoped flags suffice", async () => {
  const d = diskDir();
  try {
    const link = join(d, "current");
    const path = await cli(["ln", "-s", "v1", link], {
      perms: scopedFlags(false, [d], [d]),
    });
    assertEquals(path.code, 1);
    assertEquals(lines(path.stderr).length, 1, path.stderr);
    match(
      path.stderr.trimEnd(),
      /^safefs ln: Deno makes symlinks only with unscoped --allow-read and --allow-write .*run with --allow-read --allow-write, or add --allow-ffi .*; nothing was done$/,
    );
    assertEquals(snapshot(link), null);
    const json = await cli(["ln", "--json", "-s", "v1", link], {
      perms: { flags: ["--allow-read", `--allow-write=${d}`] },
    });
    deepStrictEqual(JSON.parse(json.stdout).error.flags, ["--allow-write"]);

    const ffi = await cli(["ln", "-sv", "v1", link], {
      perms: scopedFlags(true, [d], [d]),
    });
    assertEquals(ffi.code, 0, ffi.stderr);
    assertEquals(ffi.stdout, `'${link}' -> 'v1'\n`);
    assertEquals(Deno.readLinkSync(link), "v1");
    const other = diskDir();
    try {
      const denied = await cli(
        ["ln", "--json", "-s", "v1", join(other, "l")],
        { perms: scopedFlags(true, [d, other], [d]) },
      );
      assertEquals(denied.code, 1);
      deepStrictEqual(JSON.parse(denied.stdout).error.flags, [
        `--allow-write=${other}`,
        `--allow-write=${join(other, "l")}`,
      ]);
      assertEquals(snapshot(join(other, "l")), null);
    } finally {
      cleanup(other);
    }
  } finally {
    cleanup(d);
  }
});

Deno.test({
  name:
    "safefs with --allow-ffi names the scoped flag for /dev/shm, not --allow-all",
  ignore: !HAS_SHM,
  fn: async () => {
    const a = diskDir(), shm = shmDir();
    try {
      Deno.writeTextFileSync(join(a, "x"), "x");
      const r = await cli(["cp", "--json", join(a, "x"), shm], {
        perms: scopedFlags(true, [a, shm], []),
      });
      assertEquals(r.code, 1, r.stderr);
      const error = JSON.parse(r.stdout).error;
      deepStrictEqual(error.flags, [`--allow-write=${shm}`]);
      match(error.message, /^Missing write permission for '\/dev\/shm\//);
      assertEquals(snapshot(join(shm, "x")), null);
    } finally {
      cleanup(a, shm);
    }
  },
});

Deno.test({
  name:
    "safefs cp, mv and rm in /dev/shm work with --allow-ffi and scoped flags (the ffi backend does the I/O, not Deno)",
  ignore: !HAS_SHM,
  fn: async () => {
    const a = diskDir(), shm = shmDir();
    try {
      Deno.writeTextFileSync(join(a, "x"), "x");
      Deno.mkdirSync(join(a, "t/sub"), { recursive: true });
      Deno.writeTextFileSync(join(a, "t/sub/y"), "y");
      const perms = scopedFlags(true, [a, shm], [a, shm]);
      const cp = await cli(["cp", join(a, "x"), join(a, "t"), shm], { perms });
      assertEquals(cp.code, 0, cp.stderr);
      assertEquals(Deno.readTextFileSync(join(shm, "t/sub/y")), "y");
      const mv = await cli(["mv", join(shm, "x"), join(a, "x2")], { perms });
      assertEquals(mv.code, 0, mv.stderr);
      assertEquals(Deno.readTextFileSync(join(a, "x2")), "x");
      assertEquals(snapshot(join(shm, "x")), null);
      const rm = await cli(["rm", join(shm, "t")], { perms });
      assertEquals(rm.code, 0, rm.stderr);
      assertEquals(snapshot(join(shm, "t")), null);
    } finally {
      cleanup(a, shm);
    }
  },
});

Deno.test("a batch found to escape the grant through a symlink moves nothing at all, on either backend", async () => {
  for (const ffi of [false, true]) {
    const a = diskDir(), b = diskDir(), c = diskDir();
    try {
      Deno.writeTextFileSync(join(a, "y"), "y");
      Deno.writeTextFileSync(join(c, "x"), "x");
      Deno.symlinkSync(c, join(a, "link"));
      const before = [snapshot(a), snapshot(b), snapshot(c)];
      // Lexically everything is under a or b; the library resolves a/link.
      const r = await cli(
        ["mv", join(a, "y"), join(a, "link/x"), b],
        { perms: scopedFlags(ffi, [a, b], [a, b]) },
      );
      const what = `ffi ${ffi}: ${r.stderr}`;
      assertEquals(r.code, 1, what);
      assertEquals(lines(r.stderr).length, 1, what);
      match(r.stderr, /symlink escape.*; nothing was done$/m, what);
      deepStrictEqual([snapshot(a), snapshot(b), snapshot(c)], before, what);
    } finally {
      cleanup(a, b, c);
    }
  }
});
