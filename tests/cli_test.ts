// Copyright 2026 the safefs authors. MIT license.
// End-to-end tests of the CLI: `deno run` with scoped permissions on
// src/cli.ts, stdin closed (or piped for `write`), checking exit codes,
// stdout JSON, stderr messages and the filesystem afterwards.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
  match,
} from "node:assert/strict";
import { join } from "node:path";
import {
  cleanup,
  DENO,
  diskDir,
  HAS_SHM,
  ROOT,
  shellQuote,
  shmDir,
  snapshot,
  temps,
  writeBytes,
} from "./_helpers.ts";
import { VERSION } from "../src/_version.ts";
import { cliLine, HAS_SCRIPT } from "./_cli.ts";

const CLI = join(ROOT, "src/cli.ts");
const CLI_URL = new URL("../src/cli.ts", import.meta.url).href;
const HELPERS_URL = new URL("./_helpers.ts", import.meta.url).href;
const dec = new TextDecoder();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with read/write scoped to `dirs` (or -A when dirs is "all"). */
async function cli(
  dirs: string[] | "all",
  args: string[],
  stdin?: Uint8Array,
): Promise<Run> {
  const perms = dirs === "all"
    ? ["-A"]
    : [`--allow-read=${dirs.join(",")}`, `--allow-write=${dirs.join(",")}`];
  const child = new Deno.Command(DENO, {
    args: ["run", "--no-prompt", "--quiet", ...perms, CLI, ...args],
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

Deno.test("safefs mv moves a file and prints nothing on success", async () => {
  const d = diskDir();
  try {
    Deno.writeTextFileSync(join(d, "a"), "A");
    const r = await cli([d], ["mv", join(d, "a"), join(d, "b")]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.stdout, "");
    assertEquals(r.stderr, "");
    assertEquals(Deno.readTextFileSync(join(d, "b")), "A");
    assertEquals(snapshot(join(d, "a")), null);
  } finally {
    cleanup(d);
  }
});

Deno.test("safefs mv onto an existing file exits 1 with one line naming paths and errno", async () => {
  const d = diskDir();
  try {
    Deno.writeTextFileSync(join(d, "a"), "A");
    Deno.writeTextFileSync(join(d, "b"), "B");
    const r = await cli([d], ["mv", join(d, "a"), join(d, "b")]);
    assertEquals(r.code, 1);
    assertEquals(
      r.stderr,
      `safefs: cannot move '${join(d, "a")}' to '${
        join(d, "b")
      }': destination exists (EEXIST); use --overwrite to replace it\n`,
    );
    assertEquals(Deno.readTextFileSync(join(d, "b")), "B");
    const f = await cli([d], ["mv", "-f", join(d, "a"), join(d, "b")]);
    assertEquals(f.code, 0, f.stderr);
    assertEquals(Deno.readTextFileSync(join(d, "b")), "A");
  } finally {
    cleanup(d);
  }
});

Deno.test("safefs mv moves several sources into a directory, and refuses a non-directory target", async () => {
  const d = diskDir();
  try {
    for (const n of ["x", "y", "z"]) Deno.writeTextFileSync(join(d, n), n);
    Deno.mkdirSync(join(d, "into"));
    const r = await cli([d], [
      "mv",
      join(d, "x"),
      join(d, "y"),
      join(d, "into"),
    ]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(Deno.readTextFileSync(join(d, "into/x")), "x");
    assertEquals(Deno.readTextFileSync(join(d, "into/y")), "y");
    const bad = await cli([d], [
      "mv",
      join(d, "z"),
      join(d, "into/x"),
      join(d, "nodir"),
    ]);
    assertEquals(bad.code, 2);
    match(bad.stderr, /not an existing directory/);
    assertEquals(Deno.readTextFileSync(join(d, "z")), "z");
  } finally {
    cleanup(d);
  }
});

Deno.test("safefs rejects unknown flags, unknown commands and wrong arity with exit 2", async () => {
  const d = diskDir();
  try {
    const cases: string[][] = [
      ["mv", "--bogus", "a", "b"],
      ["mv", "only-one"],
      ["frobnicate"],
      ["write"],
      ["sweep"],
      ["rm"],
      ["cp", "--verify=md5", "a", "b"],
      ["sweep", "--older-than=soon", d],
      [],
    ];
    for (const args of cases) {
      const r = await cli([d], args);
      assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert(r.stderr.length > 0, args.join(" "));
      assertEquals(r.stdout, "", args.join(" "));
    }
  } finally {
    cleanup(d);
  }
});

Deno.test("safefs --help and --version", async () => {
  for (const cmd of ["mv", "cp", "rm", "write", "sweep"]) {
    const r = await cli("all", [cmd, "--help"]);
    assertEquals(r.code, 0);
    match(r.stdout, new RegExp(`Usage: safefs ${cmd}`));
    match(r.stdout, /Examples:/);
  }
  const v = await cli("all", ["--version"]);
  assertEquals(v.stdout, `safefs ${VERSION}\n`);
  const json = JSON.parse(
    Deno.readTextFileSync(new URL("../deno.json", import.meta.url)),
  );
  assertEquals(VERSION, json.version, "src/_version.ts matches deno.json");
});

Deno.test("safefs --json prints one JSON document describing every operation, nothing else", async () => {
  const d = diskDir();
  try {
    Deno.writeTextFileSync(join(d, "a"), "hello");
    Deno.writeTextFileSync(join(d, "taken"), "x");
    Deno.mkdirSync(join(d, "into"));
    Deno.writeTextFileSync(join(d, "into/taken"), "y");
    const r = await cli([d], [
      "mv",
      "--json",
      join(d, "a"),
      join(d, "taken"),
      join(d, "into"),
    ]);
    assertEquals(r.code, 1);
    assertEquals(r.stderr, "");
    const doc = JSON.parse(r.stdout);
    assertEquals(doc.command, "mv");
    assertEquals(doc.ok, false);
    assertEquals(doc.operations.length, 2);
    const [ok, bad] = doc.operations;
    assertEquals(ok.ok, true);
    assertEquals(ok.src, join(d, "a"));
    assertEquals(ok.dest, join(d, "into/a"));
    assertEquals(typeof ok.durationMs, "number");
    assertEquals(bad.ok, false);
    assertEquals(bad.error.code, "EEXIST");
    assertEquals(bad.error.name, "AlreadyExistsError");
  } finally {
    cleanup(d);
  }
});

Deno.test("safefs names the permission flag to add when Deno refuses, and changes nothing", async () => {
  const d = diskDir(), other = diskDir();
  try {
    Deno.writeTextFileSync(join(d, "a"), "A");
    const r = await cli([d], ["mv", join(d, "a"), join(other, "a")]);
    assertEquals(r.code, 1);
    assert(
      r.stderr.includes(`--allow-read=${other}`) ||
        r.stderr.includes(`--allow-write=${other}`),
      r.stderr,
    );
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    assertEquals(Deno.readTextFileSync(join(d, "a")), "A");
    assertEquals(snapshot(join(other, "a")), null);
  } finally {
    cleanup(d, other);
  }
});

Deno.test({
  name: "safefs mv --no-cross-device fails across filesystems with EXDEV",
  ignore: !HAS_SHM,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    try {
      Deno.writeTextFileSync(join(a, "f"), "f");
      const r = await cli("all", [
        "mv",
        "--no-cross-device",
        join(a, "f"),
        join(b, "f"),
      ]);
      assertEquals(r.code, 1);
      match(r.stderr, /\(EXDEV\)/);
      assertEquals(Deno.readTextFileSync(join(a, "f")), "f");
      const ok = await cli("all", ["mv", "--json", join(a, "f"), join(b, "f")]);
      assertEquals(ok.code, 0, ok.stderr);
      assertEquals(JSON.parse(ok.stdout).operations[0].crossDevice, true);
    } finally {
      cleanup(a, b);
    }
  },
});

Deno.test("safefs cp copies files and trees, with --verify and --preserve", async () => {
  const d = diskDir();
  try {
    writeBytes(join(d, "f"), 100_000);
    Deno.chmodSync(join(d, "f"), 0o640);
    Deno.mkdirSync(join(d, "t/sub"), { recursive: true });
    Deno.writeTextFileSync(join(d, "t/sub/x"), "x");
    Deno.symlinkSync("sub/x", join(d, "t/ln"));
    const r = await cli([d], [
      "cp",
      "--json",
      "--verify=sha256",
      join(d, "f"),
      join(d, "g"),
    ]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(JSON.parse(r.stdout).operations[0].bytes, 100_000);
    deepStrictEqual(snapshot(join(d, "g")), snapshot(join(d, "f")));
    // Deno creates symlinks only with unscoped --allow-read/--allow-write.
    const scoped = await cli([d], ["cp", join(d, "t"), join(d, "t2")]);
    assertEquals(scoped.code, 1);
    match(scoped.stderr, /--allow-read|--allow-write/);
    assertEquals(snapshot(join(d, "t2")), null);
    const t = await cli("all", ["cp", join(d, "t"), join(d, "t2")]);
    assertEquals(t.code, 0, t.stderr);
    deepStrictEqual(snapshot(join(d, "t2")), snapshot(join(d, "t")));
    const again = await cli([d], ["cp", join(d, "f"), join(d, "g")]);
    assertEquals(again.code, 1);
    match(again.stderr, /destination exists \(EEXIST\); use --overwrite/);
    const noMode = await cli([d], [
      "cp",
      "--preserve=times",
      join(d, "f"),
      join(d, "h"),
    ]);
    assertEquals(noMode.code, 0, noMode.stderr);
    assert(
      (Deno.statSync(join(d, "h")).mode! & 0o777) !== 0o640 ||
        Deno.statSync(join(d, "h")).mode === null,
    );
  } finally {
    cleanup(d);
  }
});

Deno.test("safefs rm removes trees, reports missing paths, and -f ignores them", async () => {
  const d = diskDir(), outside = diskDir();
  try {
    Deno.mkdirSync(join(d, "t/sub"), { recursive: true });
    Deno.writeTextFileSync(join(d, "t/sub/x"), "x");
    Deno.writeTextFileSync(join(outside, "keep"), "keep");
    Deno.symlinkSync(outside, join(d, "t/out"));
    const r = await cli([d], ["rm", join(d, "t")]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(snapshot(join(d, "t")), null);
    assertEquals(Deno.readTextFileSync(join(outside, "keep")), "keep");
    const miss = await cli([d], ["rm", join(d, "t")]);
    assertEquals(miss.code, 1);
    match(miss.stderr, /\(ENOENT\)/);
    const f = await cli([d], ["rm", "-f", join(d, "t")]);
    assertEquals(f.code, 0, f.stderr);
  } finally {
    cleanup(d, outside);
  }
});

Deno.test("safefs write stores standard input atomically, honours --no-clobber and --mode", async () => {
  const d = diskDir();
  try {
    const data = new TextEncoder().encode("from stdin\n".repeat(1000));
    const r = await cli([d], ["write", "--mode=0600", join(d, "out")], data);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(
      Deno.readTextFileSync(join(d, "out")),
      "from stdin\n".repeat(1000),
    );
    assertEquals(Deno.statSync(join(d, "out")).mode! & 0o777, 0o600);
    const n = await cli(
      [d],
      ["write", "-n", join(d, "out")],
      new TextEncoder().encode("other"),
    );
    assertEquals(n.code, 1);
    match(n.stderr, /\(EEXIST\)/);
    assertEquals(
      Deno.readTextFileSync(join(d, "out")),
      "from stdin\n".repeat(1000),
    );
    deepStrictEqual(temps(d), []);
  } finally {
    cleanup(d);
  }
});

Deno.test("safefs sweep removes safefs temps older than --older-than (by ctime), and --dry-run lists them", async () => {
  const d = diskDir();
  try {
    const old = join(d, `.f.${crypto.randomUUID()}.safefs-tmp`);
    Deno.writeTextFileSync(old, "old");
    Deno.writeTextFileSync(join(d, "user-file.safefs-tmp"), "not ours");
    // An old mtime does not make a temp old: copies give their temps the
    // source's times. Only its ctime (which nothing can set back) counts.
    const past = new Date(Date.now() - 2 * 86400_000);
    Deno.utimeSync(old, past, past);
    const kept = await cli([d], ["sweep", "--json", d]);
    assertEquals(kept.code, 0, kept.stderr);
    deepStrictEqual(JSON.parse(kept.stdout).operations[0].removed, []);
    assert(Deno.statSync(old).isFile);
    // Its ctime is now more than a second old, and can only get older.
    await new Promise((r) => setTimeout(r, 1200));
    const fresh = join(d, `.g.${crypto.randomUUID()}.safefs-tmp`);
    Deno.writeTextFileSync(fresh, "fresh");
    const dry = await cli([d], ["sweep", "--dry-run", "--older-than=1s", d]);
    assertEquals(dry.code, 0, dry.stderr);
    assert(dry.stdout.includes(`would remove ${old}\n`), dry.stdout);
    assert(Deno.statSync(old).isFile);
    const r = await cli([d], ["sweep", "--json", "--older-than=1s", d]);
    assertEquals(r.code, 0, r.stderr);
    assert(JSON.parse(r.stdout).operations[0].removed.includes(old));
    assertEquals(snapshot(old), null);
    const all = await cli([d], ["sweep", "--older-than=0", d]);
    assertEquals(all.code, 0);
    assertEquals(snapshot(fresh), null);
    assertEquals(
      Deno.readTextFileSync(join(d, "user-file.safefs-tmp")),
      "not ours",
    );
  } finally {
    cleanup(d);
  }
});

Deno.test("safefs draws a progress bar on a terminal and ends with a 100% line", async () => {
  const d = diskDir();
  try {
    writeBytes(join(d, "big"), 64 * 1024 * 1024);
    // The bar appears once an operation has run 300 ms and is redrawn every
    // 100 ms: the CLI runs under a clock that moves 150 ms per reading, so
    // every progress report draws, however fast this machine copies.
    const wrapper = join(d, "slow-clock.ts");
    Deno.writeTextFileSync(
      wrapper,
      `import { main } from ${JSON.stringify(CLI_URL)};
const real = performance.now.bind(performance);
let skew = 0;
Object.defineProperty(performance, "now", { value: () => real() + (skew += 150) });
Deno.exit(await main(Deno.args));`,
    );
    // script(1) gives the CLI a pseudo-terminal as stderr.
    const cmd = [
      DENO,
      "run",
      "-A",
      "--quiet",
      wrapper,
      "cp",
      join(d, "big"),
      join(d, "copy"),
    ]
      .map(shellQuote).join(" ");
    const out = await new Deno.Command("script", {
      args: ["-qfec", cmd, "/dev/null"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = dec.decode(out.stdout);
    assertEquals(out.code, 0, text);
    match(text, /\[#+-*\] +\d+%/, "a bar was drawn");
    match(text, /\[#{24}\] 100% .* done/, "a final 100% line");
    const quiet = await cli("all", ["cp", join(d, "big"), join(d, "copy2")]);
    assertEquals(quiet.stderr, "", "nothing on a non-terminal stderr");
  } finally {
    cleanup(d);
  }
});

/** Waits for `child` to print `line` on stdout (or to exit: then fails). */
async function expectLine(
  child: Deno.ChildProcess,
  line: string,
): Promise<void> {
  const reader = child.stdout.getReader();
  let text = "";
  try {
    while (!text.split("\n").includes(line)) {
      const { value, done } = await reader.read();
      assert(!done, `the CLI ended before saying '${line}': ${text}`);
      text += dec.decode(value);
    }
  } finally {
    reader.releaseLock();
  }
}

Deno.test("safefs interrupted by SIGINT mid-copy exits 130, leaves no temp, the source intact", async () => {
  const d = diskDir();
  try {
    writeBytes(join(d, "big"), 1024 * 1024 * 1024, 5);
    const size = Deno.statSync(join(d, "big")).size;
    // The CLI pauses at its first filesystem call after the copy's temp
    // appeared in d (it says so, then blocks reading stdin): the SIGINT is
    // sent while it is mid-copy, then it is let go. The order of events is
    // fixed; nothing depends on how fast the copy runs.
    const wrapper = join(
      Deno.makeTempDirSync({ prefix: "safefs-test-" }),
      "paused.ts",
    );
    Deno.writeTextFileSync(
      wrapper,
      `import { main } from ${JSON.stringify(CLI_URL)};
import { onEverySysCall } from ${JSON.stringify(HELPERS_URL)};
const dir = Deno.args[0];
let paused = false;
Deno.exit(await onEverySysCall(() => {
  if (paused || !Array.from(Deno.readDirSync(dir)).some((e) => e.name !== "big")) return;
  paused = true;
  console.log("paused");
  Deno.stdin.readSync(new Uint8Array(1));
}, () => main(Deno.args.slice(1))));`,
    );
    const child = new Deno.Command(DENO, {
      args: [
        "run",
        "-A",
        "--quiet",
        wrapper,
        d,
        "cp",
        "--verify=sha256",
        join(d, "big"),
        join(d, "copy"),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      await expectLine(child, "paused");
      assert(temps(d).length > 0, "the copy's temp is there");
      child.kill("SIGINT");
      const w = child.stdin.getWriter();
      await w.write(new Uint8Array(1));
      await w.close();
      const out = await child.output();
      assertEquals(out.code, 130, dec.decode(out.stderr));
      match(dec.decode(out.stderr), /interrupted/);
    } finally {
      cleanup(join(wrapper, ".."));
    }
    deepStrictEqual(temps(d), []);
    assertEquals(snapshot(join(d, "copy")), null);
    assertEquals(Deno.statSync(join(d, "big")).size, size);
  } finally {
    cleanup(d);
  }
});

Deno.test("safefs write interrupted by SIGINT while standard input is still open exits 130, leaves no temp and the old file", async () => {
  const d = diskDir();
  try {
    Deno.writeTextFileSync(join(d, "out"), "old");
    const child = new Deno.Command(DENO, {
      args: ["run", "-A", "--quiet", CLI, "write", join(d, "out")],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Data arrives, then nothing: the write cannot end before stdin closes.
    const w = child.stdin.getWriter();
    await w.write(new Uint8Array(1024 * 1024).fill(7));
    let exited = false;
    child.status.then(() => (exited = true));
    while (temps(d).length === 0 && !exited) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert(!exited, "the CLI ended while standard input was open");
    child.kill("SIGINT");
    const out = await child.output();
    await w.close().catch(() => {});
    assertEquals(out.code, 130, dec.decode(out.stderr));
    match(dec.decode(out.stderr), /interrupted/);
    deepStrictEqual(temps(d), []);
    assertEquals(Deno.readTextFileSync(join(d, "out")), "old");
  } finally {
    cleanup(d);
  }
});

Deno.test({
  name: "deno task compile builds a working binary (needs DENORT_BIN)",
  ignore: !Deno.env.get("DENORT_BIN"),
  fn: async () => {
    const d = diskDir();
    try {
      const out = await new Deno.Command(DENO, {
        args: ["task", "compile", "--output", join(d, "safefs")],
        cwd: ROOT,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(out.code, 0, dec.decode(out.stderr));
      const v = await new Deno.Command(join(d, "safefs"), {
        args: ["--version"],
        stdout: "piped",
      }).output();
      assertEquals(dec.decode(v.stdout), `safefs ${VERSION}\n`);
    } finally {
      cleanup(d);
    }
  },
});
if (!Deno.env.get("DENORT_BIN")) {
  console.warn(
    "SKIPPED: deno compile test: DENORT_BIN is not set (denort cannot be downloaded here)",
  );
}

Deno.test({
  name: "safefs mv -i asks on a real terminal and does what the answer says",
  ignore: !HAS_SCRIPT,
  fn: async () => {
    const d = diskDir();
    try {
      const a = join(d, "a"), b = join(d, "b");
      Deno.writeTextFileSync(a, "A");
      Deno.writeTextFileSync(b, "B");
      // script(1) gives the CLI a pseudo-terminal; the answer is typed on it.
      const ask = async (answer: string): Promise<string> => {
        const child = new Deno.Command("script", {
          args: ["-qfec", cliLine(["mv", "-i", a, b]), "/dev/null"],
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const w = child.stdin.getWriter();
        await w.write(new TextEncoder().encode(answer));
        await w.close();
        const out = await child.output();
        assertEquals(out.code, 0, dec.decode(out.stdout));
        return dec.decode(out.stdout);
      };
      match(await ask("n\n"), new RegExp(`safefs mv: overwrite '${b}'\\? `));
      assertEquals(Deno.readTextFileSync(b), "B");
      assertEquals(Deno.readTextFileSync(a), "A");
      await ask("y\n");
      assertEquals(Deno.readTextFileSync(b), "A");
      assertEquals(snapshot(a), null);
    } finally {
      cleanup(d);
    }
  },
});
if (!HAS_SCRIPT) {
  console.warn("SKIPPED: -i on a terminal: script(1) is not installed");
}

/** True when rsync is installed (the reference for --exclude). */
const HAS_RSYNC: boolean = (() => {
  try {
    return new Deno.Command("rsync", { args: ["--version"], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** A tree with names --exclude patterns are tried on. */
function excludeTree(root: string): void {
  const files = [
    "top.log",
    "keep.txt",
    "7up",
    "Up",
    "ab",
    "a/b",
    "a/x/b",
    "a/x/c.log",
    "build/o.o",
    "build/keep.c",
    "src/build/o.o",
    "src/build/sub/o.o",
    "src/main.c",
    "node_modules/m/index.js",
    "deep/node_modules/n/index.js",
    "f.txt",
    "[odd]",
  ];
  for (const f of files) {
    Deno.mkdirSync(join(root, f, ".."), { recursive: true });
    Deno.writeTextFileSync(join(root, f), f);
  }
  Deno.mkdirSync(join(root, "empty/build"), { recursive: true });
}

const EXCLUDES: string[][] = [
  ["*.log"],
  ["build/"],
  ["/build"],
  ["build/*.o"],
  ["/build/*.o"],
  ["a/**/b"],
  ["**/b"],
  ["**.log"],
  ["/a/*"],
  ["node_modules/***"],
  ["[[:digit:]]*"],
  ["[!a-z]*"],
  ["f.txt/"],
  ["\\[odd]"],
  ["*.log", "node_modules/", "/src/build/*"],
];

Deno.test({
  name:
    "safefs cp --exclude leaves out what rsync --exclude leaves out, alone or in a batch",
  ignore: !HAS_RSYNC,
  fn: async () => {
    const d = diskDir();
    try {
      const src = join(d, "src");
      excludeTree(src);
      Deno.writeTextFileSync(join(d, "other.log"), "an operand");
      for (const [k, patterns] of EXCLUDES.entries()) {
        const flags = patterns.map((p) => `--exclude=${p}`);
        const ref = join(d, `rsync${k}`);
        const rs = await new Deno.Command("rsync", {
          args: ["-a", ...flags, `${src}/`, `${ref}/`],
        }).output();
        assertEquals(rs.code, 0, `rsync ${flags}`);
        // One source (copy with a filter), and several into a directory
        // (one copyInto batch; operands are always copied).
        const one = join(d, `one${k}`);
        const r1 = await cli("all", ["cp", ...flags, src, one]);
        assertEquals(r1.code, 0, r1.stderr);
        deepStrictEqual(snapshot(one), snapshot(ref), flags.join(" "));
        const many = join(d, `many${k}`);
        Deno.mkdirSync(many);
        const r2 = await cli("all", [
          "cp",
          "--json",
          ...flags,
          src,
          join(d, "other.log"),
          many,
        ]);
        assertEquals(r2.code, 0, r2.stderr);
        deepStrictEqual(
          snapshot(join(many, "src")),
          snapshot(ref),
          flags.join(" "),
        );
        assertEquals(
          Deno.readTextFileSync(join(many, "other.log")),
          "an operand",
        );
        const ops = JSON.parse(r2.stdout).operations;
        assertEquals(ops[0].entries, Object.keys(snapshot(ref)!).length);
      }
    } finally {
      cleanup(d);
    }
  },
});
if (!HAS_RSYNC) {
  console.warn(
    "SKIPPED: --exclude compared with rsync: rsync is not installed",
  );
}

Deno.test("safefs cp --exclude does not even read a directory it leaves out", async () => {
  const d = diskDir();
  try {
    const src = join(d, "src");
    Deno.mkdirSync(join(src, "run"), { recursive: true });
    Deno.writeTextFileSync(join(src, "data"), "data");
    // A FIFO fails a copy that meets it (G5): excluding its directory means
    // the copy never looks inside.
    const fifo = await new Deno.Command("mkfifo", {
      args: [join(src, "run/pipe")],
    }).output();
    assertEquals(fifo.code, 0);
    const met = await cli([d], ["cp", src, join(d, "met")]);
    assertEquals(met.code, 1);
    match(met.stderr, /\(EFTYPE\)/);
    assertEquals(snapshot(join(d, "met")), null);
    for (const p of ["run/", "run", "/run", "r?n/", "/*/"]) {
      const out = join(d, `out-${p.replace(/\W/g, "_")}`);
      const r = await cli([d], ["cp", `--exclude=${p}`, src, out]);
      assertEquals(r.code, 0, `${p}: ${r.stderr}`);
      assertEquals(Deno.readTextFileSync(join(out, "data")), "data");
    }
    const empty = await cli([d], ["cp", "--exclude=", src, join(d, "x")]);
    assertEquals(empty.code, 2);
    match(empty.stderr, /invalid --exclude '': empty pattern/);
  } finally {
    cleanup(d);
  }
});

Deno.test("safefs cp --exclude leaves out a FIFO or socket by name, as rsync users do (--exclude='*.sock')", async () => {
  const d = diskDir();
  try {
    const src = join(d, "src");
    Deno.mkdirSync(src);
    Deno.writeTextFileSync(join(src, "data"), "data");
    const fifo = await new Deno.Command("mkfifo", {
      args: [join(src, "app.sock")],
    }).output();
    assertEquals(fifo.code, 0);
    const r = await cli([d], ["cp", "--exclude=*.sock", src, join(d, "out")]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(Deno.readTextFileSync(join(d, "out/data")), "data");
    assertEquals(snapshot(join(d, "out/app.sock")), null);
  } finally {
    cleanup(d);
  }
});

Deno.test("safefs write -p creates the missing directories; without it a missing one is ENOENT with a hint", async () => {
  const d = diskDir();
  try {
    const data = new TextEncoder().encode("deep\n");
    const dest = join(d, "a/b/c/file.txt");
    const no = await cli([d], ["write", dest], data);
    assertEquals(no.code, 1);
    match(no.stderr, /\(ENOENT\); use -p to create the missing directories/);
    assertEquals(snapshot(join(d, "a")), null);
    const r = await cli([d], ["write", "-p", "--json", dest], data);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(Deno.readTextFileSync(dest), "deep\n");
    assertEquals(JSON.parse(r.stdout).operations[0].bytes, 5);
    // An existing part of the path is used as it is.
    const again = await cli(
      [d],
      ["write", "--parents", join(d, "a/b/other")],
      data,
    );
    assertEquals(again.code, 0, again.stderr);
    assertEquals(Deno.readTextFileSync(join(d, "a/b/other")), "deep\n");
    deepStrictEqual(temps(join(d, "a/b/c")), []);
  } finally {
    cleanup(d);
  }
});
