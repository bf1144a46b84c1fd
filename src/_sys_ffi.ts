// Copyright 2026 the safefs authors. MIT license.
/**
 * The `ffi` backend (libc through Deno FFI). Being written on its own branch;
 * until it lands, it reports itself unavailable and the path backend runs.
 *
 * @module
 */
import type { Backend } from "./_sys_types.ts";

/** The ffi backend, or why it is unavailable. */
export function createFfiBackend(): Backend | string {
  return "the ffi backend is not in this build yet";
}
