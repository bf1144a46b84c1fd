// Copyright 2026 the safefs authors. MIT license.
// GNU habits of the CLI (issue 16): rm's refusals, trailing slashes compared
// with real GNU mv and cp, and the GNU flags people type without thinking.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
  match,
} from "node:assert/strict";
import { join } from "node:path";
import { cleanup, diskDir, snapshot } from "./_helpers.ts";
import { cli, HAS_GNU, inProcess, lines, tool } from "./_cli.ts";

/** d/{f, d/, full/x, dl -> d, fl -> f, sub/} */
function fixture(): string {
  const d = diskDir();
  Deno.writeTextFileSync(join(d, "f"), "f\n");
  Deno.mkdirSync(join(d, "d"));
  Deno.mkdirSync(join(d, "full"));
  Deno.writeTextFileSync(join(d, "full/x"), "x\n");
  Deno.symlinkSync("d", join(d, "dl"));
  Deno.symlinkSync("f", join(d, "fl"));
  Deno.mkdirSync(join(d, "sub"));
  return d;
}

Deno.test("safefs rm refuses '.', '..', a last component '.' or '..', and '/', deleting nothing", async () => {
  const d = fixture();
  try {
    const before = snapshot(d);
    // Scoped to d: had a refusal regressed, the library's own checks (and
    // the grant) would still keep '/' and '..' of d safe.
    const perms = [d];
    const cwd = join(d, "sub");
    for (
      const arg of [
        ".",
        "..",
        "./",
        "../",
        "../d/.",
        "../d/..",
        "../d/./",
        "../d//.",
      ]
    ) {
      for (const flags of [[], ["-f"], ["-r", "-f"]]) {
        const r = await cli(["rm", ...flags, arg], { perms, cwd });
        assertEquals(r.code, 1, `${arg}: ${r.stderr}`);
        assertEquals(
          r.stderr,
          `safefs rm: refusing to remove '.' or '..' directory: skipping '${arg}'\n`,
        );
        deepStrictEqual(snapshot(d), before, arg);
      }
    }
    for (const arg of ["/", "//", "/../"]) {
      const r = await cli(["rm", "-rf", arg], { perms, cwd });
      assertEquals(r.code, 1, `${arg}: ${r.stderr}`);
      const expected = arg === "/../"
        ? /refusing to remove '\.' or '\.\.' directory/
        : /it is dangerous to operate recursively on '\/+': refusing to remove it/;
      match(r.stderr, expected);
      assertEquals(lines(r.stderr).length, 1, r.stderr);
    }
    // One refused operand among others: nothing at all is removed.
    const mixed = await cli(["rm", "-v", "../f", ".", "../full"], {
      perms,
      cwd,
    });
    assertEquals(mixed.code, 1);
    assertEquals(mixed.stdout, "");
    deepStrictEqual(lines(mixed.stderr), [
      "safefs rm: refusing to remove '.' or '..' directory: skipping '.'",
      "safefs rm: nothing was removed",
    ]);
    const json = await cli(["rm", "--json", "../f", "../d/.."], { perms, cwd });
    assertEquals(json.code, 1);
    assertEquals(json.stderr, "");
    const doc = JSON.parse(json.stdout);
    assertEquals(doc.ok, false);
    deepStrictEqual(doc.operations.map((o: { dest: string }) => o.dest), [
      "../d/..",
    ]);
    assertEquals(doc.operations[0].error.code, "EINVAL");
    deepStrictEqual(snapshot(d), before);
  } finally {
    cleanup(d);
  }
});

Deno.test({
  name: "safefs rm's refusal of '.' and '..' is worded as GNU rm words it",
  ignore: !HAS_GNU,
  fn: async () => {
    const d = fixture();
    try {
      for (const arg of [".", "..", "../d/.", "../d/../"]) {
        const gnu = await tool("rm", ["-rf", arg], join(d, "sub"));
        const ours = await cli(["rm", "-rf", arg], {
          perms: [d],
          cwd: join(d, "sub"),
        });
        assertEquals(gnu.code, 1);
        assertEquals(ours.code, gnu.code);
        assertEquals(
          ours.stderr.replace(/^safefs rm:/, "rm:"),
          gnu.stderr.replace(/^\S*rm:/, "rm:"),
        );
      }
    } finally {
      cleanup(d);
    }
  },
});
if (!HAS_GNU) {
  console.warn("SKIPPED: GNU comparisons: mv here is not GNU coreutils");
}

// Each case runs in a fresh fixture, once with GNU and once with safefs;
// the outcome (exit status, "Not a directory" or not, the tree after) must be
// the same. cp gets -r so that GNU copies directories (safefs always does).
const SLASH_CASES: string[][] = [
  ["mv", "f", "nodir/"],
  ["mv", "f/", "g"],
  ["mv", "d", "nodir/"],
  ["mv", "d/", "nodir"],
  ["mv", "f", "d/"],
  ["mv", "f", "full/x/"],
  ["mv", "dl/", "nodir"],
  ["mv", "fl/", "nodir"],
  ["mv", "f", "fl/"],
  ["mv", "d", "f/"],
  ["mv", "f", "dl/"],
  ["mv", "d/", "full/"],
  ["cp", "-r", "f", "nodir/"],
  ["cp", "-r", "f/", "g"],
  ["cp", "-r", "d", "nodir/"],
  ["cp", "-r", "d/", "nodir"],
  ["cp", "-r", "f", "d/"],
  ["cp", "-r", "f", "full/x/"],
  ["cp", "-r", "dl/", "nodir"],
  ["cp", "-r", "fl/", "nodir"],
  ["cp", "-r", "f", "fl/"],
  ["cp", "-r", "d", "f/"],
  ["cp", "-r", "f", "dl/"],
  ["cp", "-r", "d/", "full/"],
];

Deno.test({
  name: "safefs mv and cp treat trailing slashes as GNU mv and cp do",
  ignore: !HAS_GNU,
  fn: async () => {
    for (const [cmd, ...args] of SLASH_CASES) {
      const g = fixture(), s = fixture();
      try {
        const gnu = await tool(cmd, args, g);
        const ours = await cli([cmd, ...args], { cwd: s });
        const what = `${cmd} ${
          args.join(" ")
        }: gnu ${gnu.stderr} ours ${ours.stderr}`;
        assertEquals(ours.code, gnu.code, what);
        assertEquals(
          /not a directory/i.test(ours.stderr),
          /not a directory/i.test(gnu.stderr),
          what,
        );
        deepStrictEqual(snapshot(s), snapshot(g), what);
      } finally {
        cleanup(g, s);
      }
    }
  },
});

Deno.test("safefs rm refuses a trailing slash on a file or a symlink, removing nothing", async () => {
  const d = fixture();
  try {
    const before = snapshot(d);
    for (const arg of ["f/", "fl/", "dl/"]) {
      const r = await cli(["rm", "-f", arg], { perms: [d], cwd: d });
      assertEquals(r.code, 1, r.stderr);
      assertEquals(
        r.stderr,
        `safefs: cannot remove '${arg}': not a directory (ENOTDIR)\n`,
      );
    }
    deepStrictEqual(snapshot(d), before);
    const dir = await cli(["rm", "d/"], { perms: [d], cwd: d });
    assertEquals(dir.code, 0, dir.stderr);
    assertEquals(snapshot(join(d, "d")), null);
  } finally {
    cleanup(d);
  }
});

Deno.test("safefs accepts cp -R, -r, -a, -p, -t, -v and mv -v, -n, -t, -T with their GNU meaning", async () => {
  const d = fixture();
  try {
    Deno.writeTextFileSync(join(d, "d/in"), "in\n");
    Deno.chmodSync(join(d, "d/in"), 0o640);
    const old = new Date("2001-02-03T04:05:06Z");
    Deno.utimeSync(join(d, "d/in"), old, old);
    const p = (s: string): string => join(d, s);
    for (const flag of ["-R", "-r", "--recursive"]) {
      const r = await inProcess(["cp", flag, p("d"), p(`copy${flag}`)]);
      assertEquals(r.code, 0, r.stderr);
      deepStrictEqual(snapshot(p(`copy${flag}`)), snapshot(p("d")));
    }
    for (const flag of ["-a", "-p", "--archive"]) {
      const r = await inProcess(["cp", flag, p("d/in"), p(`in${flag}`)]);
      assertEquals(r.code, 0, r.stderr);
      const st = Deno.statSync(p(`in${flag}`));
      assertEquals(st.mode! & 0o777, 0o640, flag);
      assertEquals(st.mtime!.getTime(), old.getTime(), flag);
    }
    const a = await inProcess(["cp", "-a", p("fl"), p("fl-copy")]);
    assertEquals(a.code, 0, a.stderr);
    assertEquals(Deno.readLinkSync(p("fl-copy")), "f", "-a keeps symlinks");

    const v = await inProcess(["cp", "-v", p("f"), p("f2")]);
    assertEquals(v.code, 0, v.stderr);
    assertEquals(v.stdout, `'${p("f")}' -> '${p("f2")}'\n`);
    const mvv = await inProcess(["mv", "-v", p("f2"), p("f3")]);
    assertEquals(mvv.stdout, `renamed '${p("f2")}' -> '${p("f3")}'\n`);

    const t = await inProcess(["cp", "-v", "-t", p("full"), p("f"), p("f3")]);
    assertEquals(t.code, 0, t.stderr);
    assertEquals(
      t.stdout,
      `'${p("f")}' -> '${p("full/f")}'\n'${p("f3")}' -> '${p("full/f3")}'\n`,
    );
    const mt = await inProcess(["mv", `--target-directory=${p("d")}`, p("f3")]);
    assertEquals(mt.code, 0, mt.stderr);
    assertEquals(Deno.readTextFileSync(p("d/f3")), "f\n");
    const bad = await inProcess(["mv", "-t", p("nodir"), p("f")]);
    assertEquals(bad.code, 2);
    match(
      bad.stderr,
      /target directory '.*nodir' is not an existing directory/,
    );

    // -n keeps the destination (safefs reports it: exit 1); -T names DEST.
    const n = await inProcess(["mv", "-n", p("f"), p("full/x")]);
    assertEquals(n.code, 1);
    match(n.stderr, /destination exists \(EEXIST\)/);
    assertEquals(Deno.readTextFileSync(p("full/x")), "x\n");
    assertEquals(Deno.readTextFileSync(p("f")), "f\n");
    const tt = await inProcess(["mv", "-T", p("d"), p("d-renamed")]);
    assertEquals(tt.code, 0, tt.stderr);
    assert(Deno.statSync(p("d-renamed/in")).isFile);

    // The last of -f, -n, -i wins.
    const nf = await inProcess(["mv", "-n", "-f", p("f"), p("full/x")]);
    assertEquals(nf.code, 0, nf.stderr);
    assertEquals(Deno.readTextFileSync(p("full/x")), "f\n");
    Deno.writeTextFileSync(p("f"), "f again\n");
    const fn = await inProcess(["mv", "-fn", p("f"), p("full/x")]);
    assertEquals(fn.code, 1);
    assertEquals(Deno.readTextFileSync(p("full/x")), "f\n");

    // rm -r, -R, -v.
    const rv = await inProcess(["rm", "-R", "-v", p("copy-r"), p("f")]);
    assertEquals(rv.code, 0, rv.stderr);
    assertEquals(
      rv.stdout,
      `removed directory '${p("copy-r")}'\nremoved '${p("f")}'\n`,
    );
    assertEquals(snapshot(p("copy-r")), null);
  } finally {
    cleanup(d);
  }
});

Deno.test("safefs --version works after a subcommand and among its options", async () => {
  const version = (await inProcess(["--version"])).stdout;
  match(version, /^safefs \d+\.\d+\.\d+/);
  for (
    const args of [
      ["mv", "--version"],
      ["cp", "-R", "--version", "a", "b"],
      ["rm", "--json", "--version"],
      ["write", "--version"],
    ]
  ) {
    const r = await inProcess(args);
    assertEquals(r.code, 0, args.join(" "));
    assertEquals(r.stdout, version, args.join(" "));
    assertEquals(r.stderr, "");
  }
  // After `--` it is an operand, not an option.
  const d = diskDir();
  try {
    Deno.writeTextFileSync(join(d, "--version"), "a file");
    const op = await cli(["rm", "-v", "--", "--version"], {
      perms: [d],
      cwd: d,
    });
    assertEquals(op.code, 0, op.stderr);
    assertEquals(op.stdout, "removed '--version'\n");
    assertEquals(snapshot(join(d, "--version")), null);
  } finally {
    cleanup(d);
  }
});

Deno.test("safefs -i asks before replacing; no answer yes keeps the destination; no terminal means -n", async () => {
  const d = diskDir();
  try {
    const p = (s: string): string => join(d, s);
    Deno.writeTextFileSync(p("a"), "A");
    Deno.writeTextFileSync(p("b"), "B");
    const no = await inProcess(["mv", "-i", p("a"), p("b")], {
      ask: () => Promise.resolve(false),
    });
    assertEquals(no.code, 0, no.stderr);
    deepStrictEqual(no.questions, [`safefs mv: overwrite '${p("b")}'? `]);
    assertEquals(Deno.readTextFileSync(p("b")), "B");
    assertEquals(Deno.readTextFileSync(p("a")), "A");
    // No question for a destination that does not exist.
    const fresh = await inProcess(["cp", "-i", p("a"), p("c")], {
      ask: () => Promise.resolve(false),
    });
    assertEquals(fresh.code, 0, fresh.stderr);
    deepStrictEqual(fresh.questions, []);
    assertEquals(Deno.readTextFileSync(p("c")), "A");
    const yes = await inProcess(["mv", "-i", "--json", p("a"), p("b")], {
      ask: () => Promise.resolve(true),
    });
    assertEquals(yes.code, 0, yes.stderr);
    assertEquals(Deno.readTextFileSync(p("b")), "A");
    assertEquals(JSON.parse(yes.stdout).operations[0].ok, true);
    // Nobody to ask: keep, as -n, and say so.
    const none = await inProcess(["cp", "-i", p("c"), p("b")]);
    assertEquals(none.code, 1);
    match(none.stderr, /-i: standard input is not a terminal.*as with -n/);
    match(none.stderr, /destination exists \(EEXIST\)/);
    const rmNone = await inProcess(["rm", "-i", p("c")]);
    assertEquals(rmNone.code, 0);
    match(rmNone.stderr, /not a terminal.*nothing is removed/);
    assertEquals(Deno.readTextFileSync(p("c")), "A");
    const rmYes = await inProcess(["rm", "-i", p("c")], {
      ask: () => Promise.resolve(true),
    });
    assertEquals(rmYes.code, 0, rmYes.stderr);
    deepStrictEqual(rmYes.questions, [`safefs rm: remove '${p("c")}'? `]);
    assertEquals(snapshot(p("c")), null);
  } finally {
    cleanup(d);
  }
});
