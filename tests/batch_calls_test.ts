// Copyright 2026 the safefs authors. MIT license.
// The batch effect of the engines (`each` in src/_run.ts): fsyncs of a
// durable copy and whole-directory removals run through it, so its limits
// and its failure rules are the ones those batches have.
import {
  deepStrictEqual as assertEquals,
  rejects,
  throws,
} from "node:assert/strict";
import { each, type Gen, runAsync, runSync } from "../src/_run.ts";

interface Recorder {
  log: string[];
  gen: () => Gen<void>;
  /** Settles the oldest call in flight. */
  waiting: (() => void)[];
  most: () => number;
  inFlight: () => number;
}

/** A batch of `n` calls whose async forms settle one by one, as `drive` says. */
function recorder(n: number, failAt = -1): Recorder {
  const log: string[] = [];
  let inFlight = 0;
  let most = 0;
  const waiting: (() => void)[] = [];
  const gen = function* (): Gen<void> {
    yield* each(n, 3, (k) => {
      log.push(`sync ${k}`);
      if (k === failAt) throw new Error(`call ${k} failed`);
    }, (k) => {
      log.push(`start ${k}`);
      inFlight++;
      most = Math.max(most, inFlight);
      return new Promise<void>((resolve, reject) => {
        waiting.push(() => {
          inFlight--;
          log.push(`end ${k}`);
          if (k === failAt) reject(new Error(`call ${k} failed`));
          else resolve();
        });
      });
    });
    log.push("after");
  };
  return { log, gen, waiting, most: () => most, inFlight: () => inFlight };
}

/** Settles the calls in flight one by one, oldest first, until `p` is done. */
async function drive(r: Recorder, p: Promise<unknown>): Promise<void> {
  let done = false;
  p.then(() => done = true, () => done = true);
  while (!done) {
    await new Promise((res) => setTimeout(res, 0));
    r.waiting.shift()?.();
  }
}

Deno.test("each() runs every call, at most `width` at once, under the async driver", async () => {
  const r = recorder(10);
  const p = runAsync(r.gen());
  await drive(r, p);
  await p;
  assertEquals(r.most(), 3);
  for (let k = 0; k < 10; k++) {
    assertEquals(r.log.filter((l) => l === `end ${k}`).length, 1);
  }
  assertEquals(r.log.at(-1), "after");
});

Deno.test("each() starts no call after the first failure, and fails only once the started ones have settled", async () => {
  const r = recorder(10, 1);
  const p = runAsync(r.gen());
  await drive(r, p);
  await rejects(p, /call 1 failed/);
  // 0, 1, 2 started together; 1 failed second; 3 started when 0 ended,
  // before 1's failure: nothing started after it, and 2 and 3 ended before
  // the batch failed.
  assertEquals(r.log, [
    "start 0",
    "start 1",
    "start 2",
    "end 0",
    "start 3",
    "end 1",
    "end 2",
    "end 3",
  ]);
  assertEquals(r.inFlight(), 0);
});

Deno.test("each() runs the calls one after the other under the sync driver and stops at the first failure", () => {
  const r = recorder(5, 2);
  throws(() => runSync(r.gen()), /call 2 failed/);
  assertEquals(r.log, ["sync 0", "sync 1", "sync 2"]);
  const ok = recorder(3);
  runSync(ok.gen());
  assertEquals(ok.log, ["sync 0", "sync 1", "sync 2", "after"]);
});

Deno.test("each() of no calls yields nothing to the driver", () => {
  const g = each(0, 4, () => {}, () => Promise.resolve());
  assertEquals(g.next().done, true);
});
