// Copyright 2026 the safefs authors. MIT license.
// The primitives the reliability harness drives (fault sweep, crash model,
// kill -9 torture, power cuts, hostile trees), in one table, with their
// synchronous twins.
import { copy, copySync } from "../src/copy.ts";
import { move, moveSync } from "../src/move.ts";
import { remove, removeSync } from "../src/remove.ts";
import { sweep } from "../src/sweep.ts";
import { symlink } from "../src/symlink.ts";
import { writeFile, writeFileSync } from "../src/write_file.ts";

/** Options every safefs primitive understands (a subset per primitive). */
export interface CommonOptions {
  overwrite?: boolean;
  durable?: boolean;
  signal?: AbortSignal;
  dereference?: boolean;
  olderThan?: number;
  dryRun?: boolean;
  missingOk?: boolean;
  parents?: boolean;
}

/** The public primitives. */
export interface Primitives {
  move: (src: string, dest: string, o?: CommonOptions) => Promise<unknown>;
  copy: (src: string, dest: string, o?: CommonOptions) => Promise<unknown>;
  writeFile: (
    path: string,
    data: Uint8Array | string | ReadableStream<Uint8Array>,
    o?: CommonOptions,
  ) => Promise<unknown>;
  remove: (path: string, o?: CommonOptions) => Promise<unknown>;
  sweep: (dir: string, o?: CommonOptions) => Promise<unknown>;
  symlink: (
    target: string,
    path: string,
    o?: CommonOptions,
  ) => Promise<unknown>;
  moveSync: (src: string, dest: string, o?: CommonOptions) => unknown;
  copySync: (src: string, dest: string, o?: CommonOptions) => unknown;
  writeFileSync: (
    path: string,
    data: Uint8Array | string,
    o?: CommonOptions,
  ) => unknown;
  removeSync: (path: string, o?: CommonOptions) => unknown;
}

/** The primitives (every one is in src/ now). */
export const P: Primitives = {
  move,
  copy: copy as Primitives["copy"],
  writeFile: writeFile as Primitives["writeFile"],
  remove: remove as Primitives["remove"],
  sweep: sweep as Primitives["sweep"],
  symlink: symlink as Primitives["symlink"],
  moveSync,
  copySync: copySync as Primitives["copySync"],
  writeFileSync: writeFileSync as Primitives["writeFileSync"],
  removeSync: removeSync as Primitives["removeSync"],
};

/** Names of primitives not in src/ yet (none any more; kept for the harnesses that print it). */
export const MISSING: string[] = [];
