// Copyright 2026 the safefs authors. MIT license.
// The CLI in pipelines (issue 21): an empty input does not wipe a file, and
// a stdout that cannot be written is one line on stderr with a clear status
// (1, or 141 for a closed pipe), never a stack trace.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
  match,
} from "node:assert/strict";
import { join } from "node:path";
import { cleanup, DENO, diskDir, snapshot, temps } from "./_helpers.ts";
import { CLI, cli, cliLine, lines } from "./_cli.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("safefs write with empty or closed stdin does not replace a non-empty file without --allow-empty", async () => {
  const d = diskDir();
  try {
    const conf = join(d, "conf");
    Deno.writeTextFileSync(conf, "port = 8080\n");
    Deno.chmodSync(conf, 0o640);
    const before = snapshot(d);
    // stdin closed (/dev/null), and an empty pipe: both are an empty input.
    for (const stdin of [undefined, new Uint8Array(0)]) {
      for (const extra of [[], ["--json"], ["--mode=0600"]]) {
        const r = await cli(["write", ...extra, conf], { perms: [d], stdin });
        assertEquals(r.code, 1, r.stderr);
        deepStrictEqual(snapshot(d), before);
        deepStrictEqual(temps(d), []);
        if (extra[0] === "--json") {
          const op = JSON.parse(r.stdout).operations[0];
          assertEquals(op.error.code, "EEMPTY");
          assertEquals(op.dest, conf);
        } else {
          assertEquals(lines(r.stderr).length, 1, r.stderr);
          match(r.stderr, /empty input.*--allow-empty/);
        }
      }
    }
    const allowed = await cli(["write", "--allow-empty", conf], { perms: [d] });
    assertEquals(allowed.code, 0, allowed.stderr);
    assertEquals(Deno.readTextFileSync(conf), "");
    // An empty input is fine for a new file, and for an empty one.
    for (const target of [join(d, "new"), conf]) {
      const r = await cli(["write", target], { perms: [d] });
      assertEquals(r.code, 0, r.stderr);
      assertEquals(Deno.readTextFileSync(target), "");
    }
    // A real input still replaces it.
    const full = await cli(["write", conf], {
      perms: [d],
      stdin: enc.encode("port = 9090\n"),
    });
    assertEquals(full.code, 0, full.stderr);
    assertEquals(Deno.readTextFileSync(conf), "port = 9090\n");
  } finally {
    cleanup(d);
  }
});

Deno.test("safefs --json > /dev/full: the operation is done, one line on stderr, exit 1", async () => {
  const d = diskDir();
  try {
    const out = await new Deno.Command("sh", {
      args: [
        "-c",
        `printf 'data\\n' | ${
          cliLine(["write", "--json", join(d, "f")])
        } > /dev/full`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = dec.decode(out.stderr);
    assertEquals(out.code, 1, stderr);
    deepStrictEqual(lines(stderr), [
      "safefs: cannot write to standard output: No space left on device (ENOSPC); the operation succeeded",
    ]);
    assertEquals(Deno.readTextFileSync(join(d, "f")), "data\n");
    // -v lines and --version meet the same end.
    for (
      const args of [["cp", "-v", join(d, "f"), join(d, "g")], ["--version"]]
    ) {
      const o = await new Deno.Command("sh", {
        args: ["-c", `${cliLine(args)} > /dev/full`],
        stdin: "null",
        stderr: "piped",
      }).output();
      assertEquals(o.code, 1, args.join(" "));
      match(
        dec.decode(o.stderr),
        /^safefs: cannot write to standard output: .*\(ENOSPC\)/,
      );
      assertEquals(lines(dec.decode(o.stderr)).length, 1);
    }
    assertEquals(Deno.readTextFileSync(join(d, "g")), "data\n");
  } finally {
    cleanup(d);
  }
});

Deno.test("safefs --json into a closed pipe: the operation is done, one line on stderr, exit 141", async () => {
  const d = diskDir();
  try {
    const child = new Deno.Command(DENO, {
      args: ["run", "-A", "--quiet", CLI, "write", "--json", join(d, "f")],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Close the reading end first; the CLI writes its document only after
    // the write, which waits for stdin, so it surely meets a closed pipe.
    await child.stdout.cancel();
    const w = child.stdin.getWriter();
    await w.write(enc.encode("piped data\n"));
    await w.close();
    const { code } = await child.status;
    const stderr = dec.decode(
      new Uint8Array(await new Response(child.stderr).arrayBuffer()),
    );
    assertEquals(code, 141, stderr);
    deepStrictEqual(lines(stderr), [
      "safefs: cannot write to standard output: Broken pipe (EPIPE); the operation succeeded",
    ]);
    assertEquals(Deno.readTextFileSync(join(d, "f")), "piped data\n");
    assert(!stderr.includes("    at "), "no stack trace");
  } finally {
    cleanup(d);
  }
});
