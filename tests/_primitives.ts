// Copyright 2026 the safefs authors. MIT license.
// The primitives the reliability harness drives, table-driven: a primitive
// whose module is not in src/ yet is reported as SKIPPED (visibly) by every
// harness that needs it, and adding it is one entry in SOURCES below.
import { copy } from "../src/copy.ts";
import { move } from "../src/move.ts";
import { remove } from "../src/remove.ts";
import { writeFile } from "../src/write_file.ts";

/** Options every safefs primitive understands (a subset per primitive). */
export interface CommonOptions {
  overwrite?: boolean;
  durable?: boolean;
  signal?: AbortSignal;
  dereference?: boolean;
  olderThan?: number;
  dryRun?: boolean;
  missingOk?: boolean;
}

// deno-lint-ignore no-explicit-any
type Fn = (...args: any[]) => Promise<unknown>;

/** The public primitives, as far as they exist. */
export interface Primitives {
  move: (src: string, dest: string, o?: CommonOptions) => Promise<unknown>;
  copy?: (src: string, dest: string, o?: CommonOptions) => Promise<unknown>;
  writeFile?: (
    path: string,
    data: Uint8Array | string | ReadableStream<Uint8Array>,
    o?: CommonOptions,
  ) => Promise<unknown>;
  remove?: (path: string, o?: CommonOptions) => Promise<unknown>;
  sweep?: (dir: string, o?: CommonOptions) => Promise<unknown>;
}

/**
 * Primitives not in src/ yet: name -> [module under src/, export name]. Once
 * one lands, move it to a static import above and into `P` below.
 */
const SOURCES: Partial<Record<keyof Primitives, [string, string]>> = {
  sweep: ["sweep.ts", "sweep"],
};

async function load(file: string, name: string): Promise<Fn | undefined> {
  const url = new URL(`../src/${file}`, import.meta.url);
  try {
    Deno.statSync(url);
  } catch {
    return undefined;
  }
  // The module exists: a failure to load it, or a missing export, is a real
  // failure (never a silent skip).
  const mod = await import(url.href);
  const fn = mod[name];
  if (typeof fn !== "function") {
    throw new Error(`src/${file} exists but does not export ${name}()`);
  }
  return fn as Fn;
}

/** The primitives found in src/. */
export const P: Primitives = {
  move,
  copy: copy as Primitives["copy"],
  writeFile: writeFile as Primitives["writeFile"],
  remove: remove as Primitives["remove"],
};
for (
  const [key, [file, name]] of Object.entries(SOURCES) as [
    string,
    [string, string],
  ][]
) {
  const fn = await load(file, name);
  if (fn !== undefined) (P as unknown as Record<string, Fn>)[key] = fn;
}

/** Names of the primitives not present yet, for visible SKIPPED lines. */
export const MISSING: string[] = Object.keys(SOURCES).filter((k) =>
  (P as unknown as Record<string, unknown>)[k] === undefined
);

if (MISSING.length > 0) {
  console.warn(
    `SKIPPED: not in src/ yet, so not exercised by the reliability harness: ${
      MISSING.map((k) => `${k}() (src/${SOURCES[k as keyof Primitives]![0]})`)
        .join(", ")
    }`,
  );
}
