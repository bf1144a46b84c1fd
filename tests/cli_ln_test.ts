// Copyright 2026 the safefs authors. MIT license.
// `safefs ln` (issue 15): symbolic links made under a temp name and
// published in one step; -f replaces atomically; GNU's operand forms
// (TARGET LINK, TARGET DIR/, -t DIR, one TARGET, -T, -n) compared with GNU
// ln itself.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
  match,
} from "node:assert/strict";
import { join } from "node:path";
import {
  cleanup,
  diskDir,
  onEverySysCall,
  snapshot,
  temps,
} from "./_helpers.ts";
import { cli, HAS_GNU, inProcess, lines, tool } from "./_cli.ts";

Deno.test("safefs ln makes a symlink, keeps an existing LINK without -f (exit 1), and -f replaces it", async () => {
  const d = diskDir();
  try {
    const p = (s: string): string => join(d, s);
    Deno.mkdirSync(p("v1"));
    Deno.mkdirSync(p("v2"));
    const made = await cli(["ln", "-s", "v1", p("current")], { perms: "all" });
    assertEquals(made.code, 0, made.stderr);
    assertEquals(made.stdout + made.stderr, "");
    assertEquals(Deno.readLinkSync(p("current")), "v1");

    // -n: a LINK that is a symlink to a directory is the link itself.
    const kept = await cli(["ln", "-snv", "v2", p("current")], {
      perms: "all",
    });
    assertEquals(kept.code, 1);
    assertEquals(kept.stdout, "");
    assertEquals(lines(kept.stderr).length, 1, kept.stderr);
    match(
      kept.stderr,
      /cannot create the symlink '.*current' -> 'v2': destination exists \(EEXIST\); use -f to replace it/,
    );
    assertEquals(Deno.readLinkSync(p("current")), "v1");

    // -f with -n: the link to a directory is what is replaced (ln -sfn).
    const swap = await cli(["ln", "-sfnv", "v2", p("current")], {
      perms: "all",
    });
    assertEquals(swap.code, 0, swap.stderr);
    assertEquals(swap.stdout, `'${p("current")}' -> 'v2'\n`);
    assertEquals(Deno.readLinkSync(p("current")), "v2");
    deepStrictEqual(temps(d), []);

    // Without -s too: safefs only makes symbolic links.
    const plain = await cli(["ln", "--json", "v1", p("other")], {
      perms: "all",
    });
    assertEquals(plain.code, 0, plain.stderr);
    assertEquals(Deno.readLinkSync(p("other")), "v1");
    const doc = JSON.parse(plain.stdout);
    assertEquals(doc.command, "ln");
    assertEquals(doc.ok, true);
    const [op] = doc.operations;
    deepStrictEqual([op.op, op.src, op.dest, op.ok, op.replaced], [
      "symlink",
      "v1",
      p("other"),
      true,
      false,
    ]);
    const again = await cli(
      ["ln", "-sfn", "--no-durable", "--json", "v2", p("other")],
      { perms: "all" },
    );
    assertEquals(JSON.parse(again.stdout).operations[0].replaced, true);
    assertEquals(Deno.readLinkSync(p("other")), "v2");

    // A directory is never replaced, even with -f.
    const dir = await cli(["ln", "-sfT", "v1", p("v2")], { perms: "all" });
    assertEquals(dir.code, 1);
    match(dir.stderr, /\(EISDIR\)/);
    assert(Deno.lstatSync(p("v2")).isDirectory);
  } finally {
    cleanup(d);
  }
});

Deno.test("safefs ln -f replaces a link in one step: a reader never finds it missing", async () => {
  const d = diskDir();
  try {
    const link = join(d, "current");
    Deno.symlinkSync("a", link);
    // The reader looks before every seam call of every replacement: it sees
    // every state a concurrent reader could see.
    let reads = 0;
    const seen = new Set<string>();
    const missing: string[] = [];
    for (let k = 0; k < 4; k++) {
      const target = k % 2 ? "a" : "b";
      const r = await onEverySysCall((c) => {
        reads++;
        try {
          seen.add(Deno.readLinkSync(link));
        } catch {
          missing.push(`${c.op} ${c.path ?? ""}`);
        }
      }, () => inProcess(["ln", "-sfn", target, link]));
      assertEquals(r.code, 0, r.stderr);
      assertEquals(Deno.readLinkSync(link), target);
    }
    assert(reads > 0, "the reader read");
    deepStrictEqual(missing, [], `${missing.length} of ${reads} reads`);
    deepStrictEqual([...seen].sort(), ["a", "b"]);
    deepStrictEqual(temps(d), []);
  } finally {
    cleanup(d);
  }
});

/** d/{t, dir/, d1/, d2/, cur -> d1, f} */
function fixture(): string {
  const d = diskDir();
  Deno.writeTextFileSync(join(d, "t"), "t");
  Deno.writeTextFileSync(join(d, "f"), "f");
  Deno.mkdirSync(join(d, "dir"));
  Deno.mkdirSync(join(d, "d1"));
  Deno.mkdirSync(join(d, "d2"));
  Deno.symlinkSync("d1", join(d, "cur"));
  return d;
}

const FORMS: string[][] = [
  ["-s", "t", "link"],
  ["-s", "t", "dir"],
  ["-s", "t", "dir/"],
  ["-s", "../x/y/", "dir/"],
  ["-s", "/abs/target", "dir"],
  ["-s", "t"],
  ["-s", "-t", "dir", "t", "a/b"],
  ["-s", "t", "f", "dir"],
  ["-sT", "t", "newname"],
  ["-sT", "t", "dir"],
  ["-s", "t", "f"],
  ["-sf", "t", "f"],
  ["-sf", "d2", "cur"],
  ["-sfn", "d2", "cur"],
  ["-sfn", "d2", "cur/"],
  ["-s", "t", "nodir/"],
  ["-s", "t", "u", "f"],
];

Deno.test({
  name: "safefs ln takes GNU ln's operand forms and ends with the same tree",
  ignore: !HAS_GNU,
  fn: async () => {
    for (const args of FORMS) {
      const ours = fixture(), gnu = fixture();
      try {
        const a = await cli(["ln", ...args], { perms: "all", cwd: ours });
        const b = await tool("ln", args, gnu);
        const what = `ln ${args.join(" ")}: safefs ${a.code} ${a.stderr}` +
          `| GNU ${b.code} ${b.stderr}`;
        assertEquals(a.code === 0, b.code === 0, what);
        // Usage errors are 2 for safefs (GNU says 1): both refuse.
        deepStrictEqual(snapshot(ours), snapshot(gnu), what);
      } finally {
        cleanup(ours, gnu);
      }
    }
  },
});

if (!HAS_GNU) {
  console.log("ignored: GNU ln comparison (no GNU coreutils here)");
}

Deno.test("safefs ln -i asks before replacing, and -t with a non-directory is a usage error", async () => {
  const d = fixture();
  try {
    const p = (s: string): string => join(d, s);
    const no = await inProcess(["ln", "-si", "t", p("f")], {
      ask: () => Promise.resolve(false),
    });
    assertEquals(no.code, 0, no.stderr);
    deepStrictEqual(no.questions, [`safefs ln: replace '${p("f")}'? `]);
    assert(Deno.lstatSync(p("f")).isFile);
    const yes = await inProcess(["ln", "-si", "t", p("f")], {
      ask: () => Promise.resolve(true),
    });
    assertEquals(yes.code, 0, yes.stderr);
    assertEquals(Deno.readLinkSync(p("f")), "t");
    const fresh = await inProcess(["ln", "-si", "t", p("g")], {
      ask: () => Promise.resolve(false),
    });
    deepStrictEqual(fresh.questions, []);
    assertEquals(Deno.readLinkSync(p("g")), "t");
    const bad = await inProcess(["ln", "-s", "-t", p("t"), "x"]);
    assertEquals(bad.code, 2);
    match(bad.stderr, /target directory '.*t' is not an existing directory/);
  } finally {
    cleanup(d);
  }
});
