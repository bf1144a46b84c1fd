// Copyright 2026 the safefs authors. MIT license.
/**
 * safefs: file move, copy, delete and atomic write primitives that stay correct
 * under crashes, power loss, concurrent processes and hostile directory trees.
 *
 * Every primitive publishes its result atomically (a reader sees the old state
 * or the complete new one), keeps at least one complete copy of the data at
 * every instant, is durable by default, never clobbers an existing destination
 * unless told to, checks the identity of what it reads, and checks Deno
 * permissions for every path before its first change. Each has a synchronous
 * twin (`moveSync`, `copySync`, `removeSync`, `writeFileSync`) with the same
 * contract.
 *
 * @example Move a file, atomically and durably, even across filesystems
 * ```ts
 * import { move } from "@safefs/safefs";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "data");
 * await move(`${dir}/a.txt`, `${dir}/b.txt`);
 * console.log(await Deno.readTextFile(`${dir}/b.txt`)); // "data"
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
export * from "./src/errors.ts";
export * from "./src/move.ts";
export * from "./src/copy.ts";
export * from "./src/write_file.ts";
export * from "./src/remove.ts";
export * from "./src/sweep.ts";
export * from "./src/symlink.ts";
export * from "./src/move_into.ts";
export * from "./src/copy_into.ts";
export * from "./src/root.ts";
export * from "./src/backend_info.ts";
export * from "./src/types.ts";
