// Copyright 2026 the safefs authors. MIT license.
// Several sources into one directory are one job (issue 21): `safefs mv`
// and `safefs cp` call moveInto/copyInto once, so the directories are made
// durable once, not once per source, while every source keeps its own
// report line, -v line and --json entry, -i/-n/-f keep their meaning and the
// exit status is the same. Run in this process (main(args, io)) so that the
// seam's calls can be counted; SAFEFS_BACKEND=path|ffi picks the backend.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
  match,
} from "node:assert/strict";
import { join } from "node:path";
import {
  cleanup,
  diskDir,
  HAS_SHM,
  onEverySysCall,
  shmDir,
  snapshot,
} from "./_helpers.ts";
import { inProcess, lines } from "./_cli.ts";

/** What a run did through the seam. */
interface Counts {
  dirFsyncs: number;
  fileFsyncs: number;
  syncfs: number;
  /** renameAt and linkAt (the path backend publishes with a link). */
  publishes: number;
}

/** Runs the CLI in this process, counting seam calls. */
async function counted(
  args: string[],
): Promise<{ code: number; stderr: string; counts: Counts }> {
  const counts: Counts = {
    dirFsyncs: 0,
    fileFsyncs: 0,
    syncfs: 0,
    publishes: 0,
  };
  const r = await onEverySysCall((c) => {
    if (c.op === "fsync") {
      if (c.how === "dir") counts.dirFsyncs++;
      else counts.fileFsyncs++;
    } else if (c.op === "syncfs") counts.syncfs++;
    else if (c.op === "renameAt" || c.op === "linkAt") counts.publishes++;
  }, () => inProcess(args));
  return { code: r.code, stderr: r.stderr, counts };
}

/** n files in d/src, and an empty d/dst; returns their paths. */
function files(d: string, n: number): string[] {
  Deno.mkdirSync(join(d, "src"));
  Deno.mkdirSync(join(d, "dst"));
  const out: string[] = [];
  for (let k = 0; k < n; k++) {
    const p = join(d, "src", `f${k}`);
    Deno.writeTextFileSync(p, String(k));
    out.push(p);
  }
  return out;
}

Deno.test("a batched safefs mv of 2,000 files makes O(1) directory fsyncs, not O(n)", async () => {
  const runs: Record<string, Counts> = {};
  for (const n of [20, 2000]) {
    const d = diskDir();
    try {
      const srcs = files(d, n);
      const r = await counted(["mv", "--", ...srcs, join(d, "dst") + "/"]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(Deno.readDirSync(join(d, "src")).toArray().length, 0);
      assertEquals(Deno.readDirSync(join(d, "dst")).toArray().length, n);
      assertEquals(
        Deno.readTextFileSync(join(d, "dst", `f${n - 1}`)),
        `${n - 1}`,
      );
      runs[n] = r.counts;
      // The hook saw the work: one publish per file.
      assert(r.counts.publishes >= n, `${r.counts.publishes} publishes`);
    } finally {
      cleanup(d);
    }
  }
  const [small, big] = [runs[20], runs[2000]];
  // Durable: the source and destination directories, once each.
  assert(big.dirFsyncs >= 1, "durable by default");
  assert(big.dirFsyncs <= 4, `${big.dirFsyncs} directory fsyncs for 2,000`);
  assertEquals(big.dirFsyncs, small.dirFsyncs, "the same for 20 and 2,000");
  assertEquals(big.fileFsyncs, 0, "renames fsync no file");
  assertEquals(big.syncfs, small.syncfs);

  // --no-durable: none at all.
  const d = diskDir();
  try {
    const srcs = files(d, 200);
    const r = await counted([
      "mv",
      "--no-durable",
      "-t",
      join(d, "dst"),
      ...srcs,
    ]);
    assertEquals(r.code, 0, r.stderr);
    deepStrictEqual(
      [r.counts.dirFsyncs, r.counts.fileFsyncs, r.counts.syncfs],
      [0, 0, 0],
    );
  } finally {
    cleanup(d);
  }
});

Deno.test("a batched safefs cp makes the destination directory durable once, not once per source", async () => {
  const runs: Counts[] = [];
  for (const n of [5, 200]) {
    const d = diskDir();
    try {
      const srcs = files(d, n);
      const r = await counted(["cp", ...srcs, join(d, "dst")]);
      assertEquals(r.code, 0, r.stderr);
      deepStrictEqual(snapshot(join(d, "dst")), snapshot(join(d, "src")));
      runs.push(r.counts);
    } finally {
      cleanup(d);
    }
  }
  assert(runs[1].dirFsyncs >= 1, "durable by default");
  assertEquals(runs[1].dirFsyncs, runs[0].dirFsyncs, "the same for 5 and 200");
});

Deno.test("a batched safefs mv keeps each source's report: text, -v, --json, failures and exit status", async () => {
  const d = diskDir();
  try {
    const p = (s: string): string => join(d, s);
    for (const n of ["ok1", "taken", "file", "ok2"]) {
      Deno.writeTextFileSync(p(n), n);
    }
    Deno.mkdirSync(p("sub"));
    Deno.writeTextFileSync(p("sub/ok1"), "another ok1");
    Deno.mkdirSync(p("dst"));
    Deno.writeTextFileSync(p("dst/taken"), "kept");
    const srcs = [
      p("ok1"),
      p("taken"), // EEXIST: kept without -f
      p("missing"), // ENOENT
      p("file") + "/", // not a directory
      p("ok2"),
      p("sub/ok1"), // the same name as an earlier source
    ];
    const text = await inProcess(["mv", "-v", ...srcs, p("dst")]);
    assertEquals(text.code, 1);
    assertEquals(
      text.stdout,
      `renamed '${p("ok1")}' -> '${p("dst/ok1")}'\n` +
        `renamed '${p("ok2")}' -> '${p("dst/ok2")}'\n`,
    );
    const errs = lines(text.stderr);
    assertEquals(errs.length, 5, text.stderr);
    match(
      errs[0],
      /cannot move '.*taken' to '.*dst\/taken': destination exists \(EEXIST\); use --overwrite/,
    );
    match(errs[1], /cannot move '.*missing' to '.*dst\/missing': .*\(ENOENT\)/);
    match(
      errs[2],
      /cannot move '.*file\/' to '.*dst\/file': not a directory \(ENOTDIR\)/,
    );
    match(errs[3], /cannot move '.*sub\/ok1' to '.*dst\/ok1': .*\(EEXIST\)/);
    assertEquals(errs[4], "safefs: 2 of 6 operations succeeded");
    assertEquals(Deno.readTextFileSync(p("dst/taken")), "kept");
    assertEquals(Deno.readTextFileSync(p("taken")), "taken");
    assertEquals(Deno.readTextFileSync(p("dst/ok1")), "ok1");
    assertEquals(Deno.readTextFileSync(p("sub/ok1")), "another ok1");

    // The same command line under --json: one entry per source, in order.
    Deno.renameSync(p("dst/ok1"), p("ok1"));
    Deno.renameSync(p("dst/ok2"), p("ok2"));
    const json = await inProcess(["mv", "--json", ...srcs, p("dst")]);
    assertEquals(json.code, 1);
    assertEquals(json.stderr, "");
    const doc = JSON.parse(json.stdout);
    assertEquals(doc.ok, false);
    deepStrictEqual(
      doc.operations.map((o: Record<string, unknown>) => [
        o.op,
        o.src,
        o.dest,
        o.ok,
        (o.error as { code?: string } | undefined)?.code,
      ]),
      [
        ["move", p("ok1"), p("dst/ok1"), true, undefined],
        ["move", p("taken"), p("dst/taken"), false, "EEXIST"],
        ["move", p("missing"), p("dst/missing"), false, "ENOENT"],
        ["move", p("file") + "/", p("dst/file"), false, "ENOTDIR"],
        ["move", p("ok2"), p("dst/ok2"), true, undefined],
        ["move", p("sub/ok1"), p("dst/ok1"), false, "EEXIST"],
      ],
    );
    for (const o of doc.operations) {
      assertEquals(typeof o.durationMs, "number");
      assert(o.durationMs >= 0);
    }
    assertEquals(doc.operations[0].entries, 1);
    assertEquals(doc.operations[0].crossDevice, false);
    assertEquals(doc.operations[0].replaced, false);

    // -f: the taken destination is replaced, in the same batch.
    Deno.writeTextFileSync(p("fresh"), "fresh");
    const f = await inProcess([
      "mv",
      "-f",
      "--json",
      "-t",
      p("dst"),
      p("taken"),
      p("fresh"),
    ]);
    assertEquals(f.code, 0, f.stderr);
    assertEquals(Deno.readTextFileSync(p("dst/taken")), "taken");
    deepStrictEqual(
      JSON.parse(f.stdout).operations.map((o: { replaced: boolean }) =>
        o.replaced
      ),
      [true, false],
    );
  } finally {
    cleanup(d);
  }
});

Deno.test("safefs mv -i asks about every taken destination before the batch moves anything; the answers decide what goes", async () => {
  const d = diskDir();
  try {
    const p = (s: string): string => join(d, s);
    for (const n of ["a", "b", "c", "e"]) Deno.writeTextFileSync(p(n), n);
    Deno.mkdirSync(p("dst"));
    Deno.writeTextFileSync(p("dst/a"), "old a");
    Deno.writeTextFileSync(p("dst/b"), "old b");
    Deno.writeTextFileSync(p("dst/e"), "old e");
    const answers: Record<string, boolean> = {
      [p("dst/a")]: true,
      [p("dst/b")]: false,
      [p("dst/e")]: true,
    };
    let movedWhileAsking = 0;
    const r = await inProcess(
      ["mv", "-i", "-v", "--", p("a"), p("b"), p("c"), p("e"), p("dst")],
      {
        ask: (q) => {
          // Nothing has moved yet when any question is asked.
          for (const n of ["a", "b", "c", "e"]) {
            if (snapshot(p(n)) === null) movedWhileAsking++;
          }
          const dest = /'(.*)'/.exec(q)![1];
          return Promise.resolve(answers[dest]);
        },
      },
    );
    assertEquals(r.code, 0, r.stderr);
    deepStrictEqual(r.questions, [
      `safefs mv: overwrite '${p("dst/a")}'? `,
      `safefs mv: overwrite '${p("dst/b")}'? `,
      `safefs mv: overwrite '${p("dst/e")}'? `,
    ]);
    assertEquals(movedWhileAsking, 0);
    assertEquals(Deno.readTextFileSync(p("dst/a")), "a");
    assertEquals(Deno.readTextFileSync(p("dst/b")), "old b");
    assertEquals(Deno.readTextFileSync(p("b")), "b");
    assertEquals(Deno.readTextFileSync(p("dst/c")), "c");
    assertEquals(Deno.readTextFileSync(p("dst/e")), "e");
    assertEquals(
      r.stdout,
      [
        `renamed '${p("a")}' -> '${p("dst/a")}'`,
        `renamed '${p("c")}' -> '${p("dst/c")}'`,
        `renamed '${p("e")}' -> '${p("dst/e")}'`,
      ]
        .map((l) => l + "\n").join(""),
    );

    // Under --json the skipped one is there, in its place.
    Deno.writeTextFileSync(p("a"), "a2");
    const j = await inProcess(
      ["mv", "-i", "--json", p("b"), p("a"), p("dst")],
      {
        ask: () => Promise.resolve(false),
      },
    );
    assertEquals(j.code, 0, j.stderr);
    deepStrictEqual(
      JSON.parse(j.stdout).operations.map((
        o: { src: string; ok: boolean; skipped?: boolean },
      ) => [o.src, o.ok, o.skipped ?? false]),
      [[p("b"), true, true], [p("a"), true, true]],
    );
    assertEquals(Deno.readTextFileSync(p("a")), "a2");
  } finally {
    cleanup(d);
  }
});

Deno.test({
  name:
    "a batched safefs mv across filesystems copies each source, and reports 'copied' and 'removed' for each",
  ignore: !HAS_SHM,
  fn: async () => {
    const d = diskDir(), shm = shmDir();
    try {
      const srcs = ["x", "y"].map((n) => {
        Deno.writeTextFileSync(join(shm, n), n);
        return join(shm, n);
      });
      Deno.mkdirSync(join(shm, "t/sub"), { recursive: true });
      Deno.writeTextFileSync(join(shm, "t/sub/z"), "z");
      srcs.push(join(shm, "t"));
      const r = await inProcess(["mv", "-v", "--json", ...srcs, d]);
      assertEquals(r.code, 0, r.stderr);
      const ops = JSON.parse(r.stdout).operations;
      deepStrictEqual(
        ops.map((o: { crossDevice: boolean }) => o.crossDevice),
        [true, true, true],
      );
      assertEquals(ops[2].entries, 3);
      assertEquals(Deno.readTextFileSync(join(d, "t/sub/z")), "z");
      for (const s of srcs) assertEquals(snapshot(s), null);
      const v = await inProcess(["mv", "-v", join(d, "x"), join(d, "y"), shm]);
      assertEquals(v.code, 0, v.stderr);
      assertEquals(
        v.stdout,
        `copied '${join(d, "x")}' -> '${join(shm, "x")}'\n` +
          `removed '${join(d, "x")}'\n` +
          `copied '${join(d, "y")}' -> '${join(shm, "y")}'\n` +
          `removed '${join(d, "y")}'\n`,
      );
    } finally {
      cleanup(d, shm);
    }
  },
});

Deno.test("a batched safefs cp keeps each source's report, copies '.' on its own, and -t with one source is a batch too", async () => {
  const d = diskDir();
  try {
    const p = (s: string): string => join(d, s);
    Deno.mkdirSync(p("tree/in"), { recursive: true });
    Deno.writeTextFileSync(p("tree/in/f"), "f");
    Deno.writeTextFileSync(p("g"), "g");
    Deno.mkdirSync(p("dst"));
    Deno.writeTextFileSync(p("dst/g"), "old g");
    const r = await inProcess([
      "cp",
      "-v",
      "--json",
      p("tree"),
      p("g"),
      p("tree/in/."),
      p("dst"),
    ]);
    assertEquals(r.code, 1);
    const ops = JSON.parse(r.stdout).operations;
    deepStrictEqual(
      ops.map((o: { src: string; dest: string; ok: boolean }) => [
        o.src,
        o.dest,
        o.ok,
      ]),
      [
        [p("tree"), p("dst/tree"), true],
        [p("g"), p("dst/g"), false],
        [p("tree/in/."), p("dst/in"), true],
      ],
    );
    assertEquals(ops[0].entries, 3);
    assertEquals(ops[1].error.code, "EEXIST");
    deepStrictEqual(snapshot(p("dst/tree")), snapshot(p("tree")));
    deepStrictEqual(snapshot(p("dst/in")), snapshot(p("tree/in")));
    assertEquals(Deno.readTextFileSync(p("dst/g")), "old g");

    const t = await inProcess(["cp", "-v", "-f", "-t", p("dst"), p("g")]);
    assertEquals(t.code, 0, t.stderr);
    assertEquals(t.stdout, `'${p("g")}' -> '${p("dst/g")}'\n`);
    assertEquals(Deno.readTextFileSync(p("dst/g")), "g");
  } finally {
    cleanup(d);
  }
});
