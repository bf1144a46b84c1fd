// Copyright 2026 the safefs authors. MIT license.
// The progress view (issue 16): rm shows a counter with a rate, not a
// percentage stuck at 0%; after the last byte a copy shows the phase it is
// in (syncing) instead of "98% ETA 1s". A fake clock: no timing.
import assert, { equal as assertEquals, match } from "node:assert/strict";
import { ProgressView, type ViewProgress } from "../src/cli/_progress.ts";

const dec = new TextDecoder();

function view(
  o: { tty: boolean; mode: "bytes" | "entries"; durable?: boolean },
): { v: ProgressView; out: string[]; clock: { t: number } } {
  const out: string[] = [];
  const clock = { t: 0 };
  const v = new ProgressView({
    writeSync: (p: Uint8Array): number => {
      out.push(dec.decode(p));
      return p.length;
    },
  }, {
    tty: o.tty,
    force: !o.tty,
    mode: o.mode,
    durable: o.durable ?? true,
    now: () => clock.t,
    timer: false,
  });
  return { v, out, clock };
}

const bytes = (
  done: number,
  total: number,
  files = 0,
  phase: ViewProgress["phase"] = done < total ? "copy" : "sync",
): ViewProgress => ({
  phase,
  bytesDone: done,
  bytesTotal: total,
  filesDone: files,
  filesTotal: 1,
  path: "/src/big",
});

Deno.test("rm's progress is a counter of entries with a rate, never a percentage or an ETA", () => {
  for (const tty of [true, false]) {
    const { v, out, clock } = view({ tty, mode: "entries" });
    const at = (t: number, n: number): void => {
      clock.t = t;
      v.update({
        phase: "remove",
        bytesDone: 0,
        bytesTotal: 0,
        filesDone: n,
        filesTotal: 0,
        path: "/t",
      });
    };
    at(100, 500);
    assertEquals(out.length, 0, "nothing for the first 300 ms");
    at(1000, 4500);
    at(2000, 9009);
    v.finish(true);
    const text = out.join("");
    match(text, /removing: 4500 entries, 4500 entries\/s/);
    match(text, /removing: 9009 entries, 4505 entries\/s/);
    match(text, /removed 9009 entries in 2\.0s \(4505 entries\/s\)/);
    assert(!/%|ETA/.test(text), text);
  }
});

Deno.test("after the last byte a durable copy shows 'syncing to disk' with the seconds spent in it", () => {
  const { v, out, clock } = view({ tty: true, mode: "bytes" });
  clock.t = 1000;
  v.update(bytes(50, 100));
  match(out.at(-1)!, /\[#{12}-{12}\] {2}50% 50 B\/100 B .* ETA 1s$/);
  clock.t = 2000;
  v.update(bytes(100, 100));
  match(
    out.at(-1)!,
    /\[#{24}\] 100% 100 B 0\/1 files syncing to disk\.\.\. 0s$/,
  );
  clock.t = 5500; // the fsync takes a while: the timer redraws
  v.tick();
  match(out.at(-1)!, /syncing to disk\.\.\. 3s$/);
  assert(!out.at(-1)!.includes("ETA"));
  v.finish(true);
  match(out.join(""), /\[#{24}\] 100% 100 B 1\/1 files done in 5\.5s\n$/);
});

Deno.test("the view names the phase the library reports: 'publishing' when nothing is synced", () => {
  const plain = view({ tty: false, mode: "bytes", durable: false });
  plain.clock.t = 1000;
  plain.v.update(bytes(100, 100, 0, "publish"));
  match(
    plain.out.at(-1)!,
    /^safefs: 100% 100 B 0\/1 files publishing\.\.\. 0s\n$/,
  );
  const phased = view({ tty: false, mode: "bytes" });
  phased.clock.t = 1000;
  phased.v.update({ ...bytes(100, 100), phase: "remove" });
  match(phased.out.at(-1)!, /removing the source\.\.\. 0s\n$/);
  // A phase change is drawn at once, even within the one-second pace.
  phased.clock.t = 1100;
  phased.v.update({ ...bytes(0, 100), phase: "plan" });
  match(phased.out.at(-1)!, /scanning\.\.\. 0s\n$/);
});
