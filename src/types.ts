// Copyright 2026 the safefs authors. MIT license.
/**
 * Types shared by the primitives: path arguments and progress reports.
 *
 * @module
 */
export type { PathLike } from "./_path.ts";
export type { PreserveOptions, Progress } from "./_copy.ts";
