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
export {
  AbortedError,
  AlreadyExistsError,
  CrossDeviceError,
  InvalidArgumentError,
  IsADirectoryError,
  MountPointError,
  NotADirectoryError,
  NotEmptyError,
  NotFoundError,
  PermissionError,
  SafeFsError,
  type SafeFsErrorOptions,
  SourceChangedError,
  UnsupportedFileTypeError,
} from "./src/errors.ts";
export {
  move,
  type MoveOptions,
  type MoveResult,
  moveSync,
} from "./src/move.ts";
export {
  copy,
  type CopyOptions,
  type CopyResult,
  copySync,
} from "./src/copy.ts";
export {
  writeFile,
  type WriteFileData,
  type WriteFileOptions,
  type WriteFileResult,
  writeFileSync,
} from "./src/write_file.ts";
export {
  remove,
  type RemoveOptions,
  type RemoveProgress,
  type RemoveResult,
  removeSync,
} from "./src/remove.ts";
export { sweep, type SweepOptions, type SweepResult } from "./src/sweep.ts";
export {
  symlink,
  type SymlinkOptions,
  type SymlinkResult,
} from "./src/symlink.ts";
export {
  type BatchFailure,
  moveInto,
  type MoveIntoResult,
} from "./src/move_into.ts";
export { copyInto, type CopyIntoResult } from "./src/copy_into.ts";
export {
  openRoot,
  type OpenRootOptions,
  type Root,
  type RootDirEntry,
  type RootMkdirOptions,
  type RootReadFileOptions,
} from "./src/root.ts";
export {
  type BackendInfo,
  backendInfo,
  type FilesystemInfo,
} from "./src/backend_info.ts";
export type {
  CopyFilter,
  PathLike,
  Phase,
  PreserveOptions,
  Progress,
  PublishMethod,
} from "./src/types.ts";
