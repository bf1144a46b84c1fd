// Copyright 2026 the safefs authors. MIT license.
// Usage errors in plain words (and as JSON under --json), the argument
// parser, and the one --json schema every command shares.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
  match,
  throws,
} from "node:assert/strict";
import { join } from "node:path";
import { cleanup, diskDir } from "./_helpers.ts";
import { cli, inProcess, lines } from "./_cli.ts";
import { parse, UsageError } from "../src/cli/_args.ts";

const USAGE_CASES: [string[], RegExp][] = [
  [["mv", "--bogus", "a", "b"], /^safefs mv: unknown option '--bogus'$/],
  [
    ["rm", "-Z"],
    /^safefs rm: unknown option '-Z'; .*'\.\/-Z' or given after '--'$/,
  ],
  [["cp", "-fZ", "a", "b"], /^safefs cp: unknown option '-Z' \(in '-fZ'\)/],
  [
    ["cp", "--verify"],
    /^safefs cp: option '--verify' needs a value: --verify=sha256$/,
  ],
  [["mv", "-t"], /^safefs mv: option '-t' needs a value: -t DIR$/],
  [["rm", "--json=yes", "x"], /^safefs rm: option '--json' takes no value$/],
  [["mv", "only-one"], /^safefs mv: missing DEST after 'only-one'$/],
  [["cp"], /^safefs cp: missing SRC and DEST$/],
  [["mv", "-T", "a", "b", "c"], /^safefs mv: -T takes one SRC and one DEST/],
  [["write"], /^safefs write: missing DEST$/],
  [["sweep", "a", "b"], /^safefs sweep: sweep takes one DIR, not 2 paths$/],
  [["rm"], /^safefs rm: missing PATH$/],
  [["cp", "--verify=md5", "a", "b"], /^safefs cp: invalid --verify 'md5'/],
  [
    ["cp", "--preserve=acl", "a", "b"],
    /^safefs cp: invalid --preserve item 'acl'/,
  ],
  [["sweep", "--older-than=soon", "d"], /^safefs sweep: invalid --older-than/],
  [["write", "--mode=rw", "f"], /^safefs write: invalid --mode 'rw'/],
  [["frobnicate"], /^safefs: unknown command 'frobnicate'$/],
  [["ln"], /^safefs ln: missing TARGET$/],
  [["ln", "-sT", "a"], /^safefs ln: missing LINK after 'a'$/],
  [
    ["ln", "-T", "a", "b", "c"],
    /^safefs ln: -T takes one TARGET and one LINK, not 3 paths$/,
  ],
  [["ln", "-s", "-t", "d", "-T", "a"], /^safefs ln: -t .* and -T exclude/],
  [["ln", "-s", "", "x"], /^safefs ln: TARGET must not be empty$/],
  [
    ["cp", "--exclude=", "a", "b"],
    /^safefs cp: invalid --exclude '': empty pattern ''$/,
  ],
  [["cp", "--exclude"], /^safefs cp: option '--exclude' needs a value/],
  [["write", "-p"], /^safefs write: missing DEST$/],
];

Deno.test("safefs usage errors are plain words, the usage lines and a pointer to --help, exit 2", async () => {
  for (const [args, first] of USAGE_CASES) {
    const r = await inProcess(args);
    const what = `${args.join(" ")}: ${r.stderr}`;
    assertEquals(r.code, 2, what);
    assertEquals(r.stdout, "", what);
    const ls = lines(r.stderr);
    match(ls[0], first, what);
    match(ls[1], /^Usage: safefs /, what);
    match(ls[ls.length - 1], /^Try 'safefs (\w+ )?--help' for more\.$/, what);
    assert(!/parseArgs|positional argument|ERR_PARSE/.test(r.stderr), what);
    for (const l of ls) {
      assertEquals(
        (l.match(/'/g) ?? []).length % 2,
        0,
        `balanced quotes: ${l}`,
      );
    }
  }
});

Deno.test("safefs usage errors under --json are one JSON document on stdout, exit 2", async () => {
  for (const [args] of USAGE_CASES) {
    const json = args[0] === "frobnicate" ? [...args, "--json"] : [
      args[0],
      "--json",
      ...args.slice(1),
    ];
    if (json.includes("--json=yes")) continue; // --json is the faulty option there
    const r = await inProcess(json);
    const what = `${json.join(" ")}: ${r.stdout}${r.stderr}`;
    assertEquals(r.code, 2, what);
    assertEquals(r.stderr, "", what);
    const doc = JSON.parse(r.stdout);
    assertEquals(doc.ok, false, what);
    assertEquals(doc.interrupted, false, what);
    deepStrictEqual(doc.operations, [], what);
    assertEquals(doc.command, args[0] === "frobnicate" ? null : args[0], what);
    assertEquals(doc.error.name, "UsageError", what);
    assertEquals(doc.error.code, "EUSAGE", what);
    match(doc.error.usage, /^Usage: safefs /, what);
    assert(doc.error.message.length > 0, what);
  }
  // And from a real process, too.
  const r = await cli(["mv", "--json", "--bogus"]);
  assertEquals(r.code, 2);
  assertEquals(JSON.parse(r.stdout).error.message, "unknown option '--bogus'");
});

Deno.test("the parser takes GNU clusters, values glued or apart, options after operands, and --", () => {
  const specs = [
    { long: "force", short: "f" },
    { long: "verbose", short: "v" },
    { long: "target-directory", short: "t", value: "DIR" },
    { long: "preserve", value: "LIST", optional: "all" },
    { long: "exclude", value: "GLOB", multiple: true },
    { long: "no-clobber", short: "n", key: "clobber", set: "keep" },
    { long: "overwrite", key: "clobber", set: "overwrite" },
  ];
  deepStrictEqual(parse(["-fvtDIR", "a", "--", "-b", "--force"], specs), {
    values: { force: true, verbose: true, "target-directory": "DIR" },
    positionals: ["a", "-b", "--force"],
  });
  deepStrictEqual(
    parse(
      ["a", "-t", "D", "--preserve", "b", "--exclude=x", "--exclude", "y"],
      specs,
    ),
    {
      values: { "target-directory": "D", preserve: "all", exclude: ["x", "y"] },
      positionals: ["a", "b"],
    },
  );
  deepStrictEqual(parse(["-n", "--overwrite", "-"], specs).values, {
    clobber: "overwrite",
  });
  deepStrictEqual(parse(["-"], specs).positionals, ["-"]);
  throws(() => parse(["--force=1"], specs), UsageError);
  throws(() => parse(["--target-directory"], specs), /needs a value/);
});

Deno.test("safefs --json uses one schema: dest is always the path acted on or produced", async () => {
  const d = diskDir();
  try {
    const p = (s: string): string => join(d, s);
    Deno.mkdirSync(p("into"));
    const stdin = new TextEncoder().encode("hello\n");
    const docs = {
      write: await inProcess(["write", "--json", p("w")], { stdin }),
      cp: await inProcess(["cp", "--json", p("w"), p("into")]),
      ln: await inProcess(["ln", "--json", "-s", "w", p("lnk")]),
      mv: await inProcess(["mv", "--json", p("w"), p("m")]),
      rm: await inProcess(["rm", "--json", p("m"), p("into")]),
      sweep: await inProcess(["sweep", "--json", d]),
    };
    const expected: Record<string, [string, string | undefined, string][]> = {
      write: [["write", undefined, p("w")]],
      cp: [["copy", p("w"), p("into/w")]],
      ln: [["symlink", "w", p("lnk")]],
      mv: [["move", p("w"), p("m")]],
      rm: [["remove", undefined, p("m")], ["remove", undefined, p("into")]],
      sweep: [["sweep", undefined, d]],
    };
    for (const [cmd, r] of Object.entries(docs)) {
      assertEquals(r.code, 0, `${cmd}: ${r.stderr}`);
      assertEquals(r.stderr, "", cmd);
      const doc = JSON.parse(r.stdout);
      deepStrictEqual(Object.keys(doc), [
        "command",
        "ok",
        "interrupted",
        "operations",
      ]);
      assertEquals(doc.command, cmd);
      assertEquals(doc.ok, true);
      deepStrictEqual(
        doc.operations.map((
          o: Record<string, unknown>,
        ) => [o.op, o.src, o.dest]),
        expected[cmd],
        cmd,
      );
      for (const o of doc.operations) {
        assertEquals(o.ok, true, cmd);
        assertEquals(typeof o.durationMs, "number", cmd);
        assert(!("path" in o), `${cmd} has no 'path' field`);
      }
    }
    assertEquals(JSON.parse(docs.write.stdout).operations[0].bytes, 6);
    assertEquals(JSON.parse(docs.cp.stdout).operations[0].bytes, 6);
    assertEquals(JSON.parse(docs.rm.stdout).operations[1].entries, 2);
    deepStrictEqual(JSON.parse(docs.sweep.stdout).operations[0].removed, []);
  } finally {
    cleanup(d);
  }
});
