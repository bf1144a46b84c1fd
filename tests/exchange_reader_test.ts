// Copyright 2026 the safefs authors. MIT license.
// Deploying with move(new, live, { overwrite: true }): a reader in another
// process polling `live` through 100 replacements by trees of different
// sizes never finds it missing, mixed or partial (issue 15).
import assert, {
  deepStrictEqual,
  equal as assertEquals,
} from "node:assert/strict";
import { join } from "node:path";
import { backendInfo, move, NotEmptyError } from "../mod.ts";
import {
  CAN_EXCHANGE,
  cleanup,
  HAS_SHM,
  readerScript,
  shmDir,
  withReader,
} from "./_helpers.ts";

/** What the reader reports. */
interface ReaderReport {
  polls: number;
  counted: number;
  missing: number;
  mixed: number;
  partial: number;
  gens: string[];
  errors: string[];
}

// Every name says its tree's generation and size: `g<gen>-of<size>-<k>`. A
// listing counts only when `live` had the same inode before and after it
// (tmpfs does not reuse inode numbers at once): it is then the listing of the
// directory that was `live` throughout, which must be one whole tree.
const READER = readerScript(`const [live] = Deno.args;
const r = { polls: 0, counted: 0, missing: 0, mixed: 0, partial: 0, gens: [], errors: [] };
function poll() {
  r.polls++;
  try {
    const a = Deno.statSync(live).ino;
    const names = Array.from(Deno.readDirSync(live), (e) => e.name);
    const b = Deno.statSync(live).ino;
    if (a !== b) return;
    r.counted++;
    const tags = new Set(names.map((n) => n.split("-").slice(0, 2).join("-")));
    if (tags.size !== 1) { r.mixed++; return; }
    const [g, of] = names[0].split("-");
    if (names.length !== Number(of.slice(2))) r.partial++;
    if (!r.gens.includes(g)) r.gens.push(g);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) r.missing++;
    else r.errors.push(String(e));
  }
}`);

function tree(dir: string, gen: number, size: number): void {
  Deno.mkdirSync(dir);
  for (let k = 0; k < size; k++) {
    Deno.writeTextFileSync(join(dir, `g${gen}-of${size}-${k}`), `${gen}`);
  }
}

const ROUNDS = CAN_EXCHANGE ? 100 : 3;

Deno.test({
  name:
    `a reader polling a directory through ${ROUNDS} replacements by move(new, live, { overwrite: true }) never finds it missing, mixed or partial (${backendInfo().name} backend)`,
  ignore: !HAS_SHM,
  fn: async () => {
    const dir = shmDir();
    try {
      const live = join(dir, "live");
      tree(live, 0, 7);
      let refused = 0;
      const { report, result } = await withReader<ReaderReport>(
        READER,
        [live],
        async () => {
          for (let g = 1; g <= ROUNDS; g++) {
            const size = 1 + (g * 37) % 150;
            tree(join(dir, "next"), g, size);
            try {
              const r = await move(join(dir, "next"), live, {
                overwrite: true,
              });
              assertEquals(r.publish, "exchange");
              assertEquals(r.replaced, true);
            } catch (e) {
              if (CAN_EXCHANGE || !(e instanceof NotEmptyError)) throw e;
              refused++;
              Deno.removeSync(join(dir, "next"), { recursive: true });
            }
          }
        },
      );
      if (result instanceof Error) throw result;
      const why = JSON.stringify({ ...report, gens: report.gens.length });
      assertEquals(report.missing, 0, why);
      assertEquals(report.mixed, 0, why);
      assertEquals(report.partial, 0, why);
      deepStrictEqual(report.errors, [], why);
      if (CAN_EXCHANGE) {
        // The reader really read during the replacements: it saw several
        // generations, the first and the last among them.
        assert(report.gens.length >= 3, why);
        assert(
          report.gens.includes("g0") && report.gens.includes(`g${ROUNDS}`),
          why,
        );
        const size = 1 + (ROUNDS * 37) % 150;
        assertEquals([...Deno.readDirSync(live)].length, size);
      } else {
        assertEquals(refused, ROUNDS);
        deepStrictEqual(report.gens, ["g0"]);
      }
      // No temp left: the replaced trees are gone.
      deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["live"]);
    } finally {
      cleanup(dir);
    }
  },
});
