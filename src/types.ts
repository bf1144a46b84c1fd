// Copyright 2026 the safefs authors. MIT license.
/**
 * Types shared by the primitives: path arguments and progress reports.
 *
 * @module
 */
export type { PathLike } from "./_path.ts";
export type {
  CopyFilter,
  Phase,
  PreserveOptions,
  Progress,
} from "./_copy/options.ts";
export type { PublishMethod } from "./_publish.ts";
