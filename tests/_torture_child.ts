// Copyright 2026 the safefs authors. MIT license.
// The victim of the kill -9 torture (tests/_torture.ts). It moves and copies
// items between two directories on different filesystems, forever, writing a
// journal line before each step, at each stage of it and after it, until the
// parent SIGKILLs it.
//
// Steps:
// - move: the item to the other side (a rename, or across filesystems a
//   copy, publish, and removal of the source);
// - copy: the item to `<item>.copy` on the other side, then remove() of that
//   copy;
// - recopy: the same, but the copy is made twice, the second time with
//   `overwrite: true` onto the first (for trees: an exchange of two
//   non-empty directories where the backend has one; where it has not, the
//   refusal, NotEmptyError, is journaled and the step goes on).
//
// deno run -A tests/_torture_child.ts <config.json>
// config: { dirs: { A, B }, journal, seed, items: [{ name, side, weight }], copyShare, recopyShare }
import { join } from "node:path";
import { SafeFsError } from "../src/errors.ts";
import { P } from "./_primitives.ts";
import { rng } from "./_reliability.ts";

interface Config {
  dirs: Record<"A" | "B", string>;
  journal: string;
  seed: number;
  items: { name: string; side: "A" | "B"; weight: number }[];
  /** Fraction of steps that copy then remove. */
  copyShare: number;
  /** Fraction of steps that copy, copy again with overwrite, then remove. */
  recopyShare: number;
}

const cfg: Config = JSON.parse(Deno.readTextFileSync(Deno.args[0]));
const random = rng(cfg.seed);
const side = new Map(cfg.items.map((i) => [i.name, i.side]));
const totalWeight = cfg.items.reduce((s, i) => s + i.weight, 0);
const journal = Deno.openSync(cfg.journal, { append: true, create: true });
const enc = new TextEncoder();
const log = (o: Record<string, unknown>): void => {
  // One write(2) per line: after a SIGKILL a line is in the journal whole or not at all.
  journal.writeSync(enc.encode(JSON.stringify(o) + "\n"));
};

function pick(): string {
  let x = random() * totalWeight;
  for (const i of cfg.items) {
    x -= i.weight;
    if (x < 0) return i.name;
  }
  return cfg.items[cfg.items.length - 1].name;
}

console.log("ready");
for (let seq = 0;; seq++) {
  const item = pick();
  const from = side.get(item)!;
  const to = from === "A" ? "B" : "A";
  const durable = random() < 0.5;
  const r = random();
  const op = r < cfg.recopyShare
    ? "recopy"
    : r < cfg.recopyShare + cfg.copyShare
    ? "copy"
    : "move";
  const src = join(cfg.dirs[from], item);
  log({ seq, op, item, from, to, durable });
  try {
    if (op === "move") {
      await P.move(src, join(cfg.dirs[to], item), { durable });
      side.set(item, to);
    } else {
      const copy = join(cfg.dirs[to], `${item}.copy`);
      await P.copy(src, copy, { durable });
      if (op === "recopy") {
        log({ seq, copied0: true });
        try {
          await P.copy(src, copy, { durable, overwrite: true });
        } catch (e) {
          if (!(e instanceof SafeFsError && e.code === "ENOTEMPTY")) throw e;
          log({ seq, refused: e.code });
        }
      }
      log({ seq, copied: true });
      await P.remove(copy, { durable });
    }
  } catch (e) {
    log({
      seq,
      error: `${e instanceof Error ? `${e.name}: ${e.message}` : e}`,
    });
    console.error(e);
    Deno.exit(3);
  }
  log({ seq, done: true });
}
