// Copyright 2026 the safefs authors. MIT license.
// The backends of the seam, for the conformance tests written once and run
// against each: ffi (libc calls, and again with the syscall(2) and fstatat
// fallbacks an older libc or kernel would take) and path. A backend that is
// not available here still gets its tests, reported as ignored with the
// reason in their names.
import assert from "node:assert/strict";
import process from "node:process";
import { errnoName } from "../src/_errno.ts";
import { createFfiBackend } from "../src/_sys_ffi.ts";
import type { Backend, Dir } from "../src/_sys_types.ts";

/** A backend under test, and how a subprocess builds the same one. */
export interface BackendCase {
  /** Test-name prefix. */
  label: string;
  /** The backend, or why it is unavailable. */
  backend: Backend | string;
  /** file: URL of the module exporting the factory. */
  module: string;
  /** The factory's name. */
  factory: string;
  /** The factory's argument (JSON). */
  options?: Record<string, boolean>;
}

const FFI_URL = new URL("../src/_sys_ffi.ts", import.meta.url).href;
const PATH_URL = new URL("../src/_sys_path.ts", import.meta.url).href;

async function pathBackend(): Promise<Backend | string> {
  try {
    const mod = await import(PATH_URL);
    return mod.createPathBackend() as Backend;
  } catch (e) {
    return `src/_sys_path.ts is not loadable here (${
      e instanceof Error ? e.message.split("\n")[0] : e
    })`;
  }
}

/** Every backend case. */
export const CASES: BackendCase[] = [
  {
    label: "ffi",
    backend: createFfiBackend(),
    module: FFI_URL,
    factory: "createFfiBackend",
  },
  {
    label: "ffi(syscall+fstatat)",
    backend: createFfiBackend({ syscalls: true, noStatx: true }),
    module: FFI_URL,
    factory: "createFfiBackend",
    options: { syscalls: true, noStatx: true },
  },
  {
    label: "path",
    backend: await pathBackend(),
    module: PATH_URL,
    factory: "createPathBackend",
  },
];

/** What a test body gets: the backend, a fresh temp dir and its open Dir. */
export interface Ctx {
  b: Backend;
  tmp: string;
  root: Dir;
}

/** The process umask (read without changing it). */
export const UMASK: number = process.umask();

/** The open descriptors of this process. */
export function fds(): string[] {
  return Array.from(Deno.readDirSync("/proc/self/fd"), (e) => e.name).sort();
}

/**
 * Registers one test per backend case. `skip(b, label)` returns a reason to
 * skip for a backend (shown in the test's name), or false. Each run gets a fresh
 * temp dir (removed after) and must leave no descriptor open.
 */
export function conformance(
  name: string,
  fn: (c: Ctx) => void | Promise<void>,
  skip: (b: Backend, label: string) => string | false = () => false,
  tmpParent?: string,
): void {
  for (const c of CASES) {
    const b = c.backend;
    const reason = typeof b === "string"
      ? `${c.label} backend unavailable: ${b}`
      : skip(b, c.label);
    if (reason !== false || typeof b === "string") {
      Deno.test({
        name: `${c.label}: ${name} (ignored: ${reason})`,
        ignore: true,
        fn(): void {},
      });
      continue;
    }
    Deno.test(`${c.label}: ${name}`, async () => {
      const before = fds();
      const tmp = Deno.makeTempDirSync({
        prefix: "safefs-sysb-",
        dir: tmpParent,
      });
      const root = b.openDir(tmp, false);
      try {
        await fn({ b, tmp, root });
      } finally {
        b.close(root);
        Deno.removeSync(tmp, { recursive: true });
      }
      assert.deepEqual(fds(), before, "descriptors left open");
    });
  }
}

/** Calls `f`, asserts it throws, with an errno name among `codes`; returns the error. */
export function throwsErrno(f: () => unknown, ...codes: string[]): unknown {
  try {
    f();
  } catch (e) {
    assert(
      codes.includes(errnoName(e)),
      `expected ${codes.join(" or ")}, got ${errnoName(e)}: ${
        e instanceof Error ? `${e.name}: ${e.message}` : e
      }`,
    );
    return e;
  }
  throw new assert.AssertionError({
    message: `expected ${codes.join(" or ")}, but it succeeded`,
  });
}

/** `throwsErrno` for a promise. */
export async function rejectsErrno(
  p: Promise<unknown>,
  ...codes: string[]
): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    assert(
      codes.includes(errnoName(e)),
      `expected ${codes.join(" or ")}, got ${errnoName(e)}: ${
        e instanceof Error ? `${e.name}: ${e.message}` : e
      }`,
    );
    return e;
  }
  throw new assert.AssertionError({
    message: `expected ${codes.join(" or ")}, but it resolved`,
  });
}

/** Runs a command; throws on failure. */
export function sh(cmd: string, ...args: string[]): void {
  const r = new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" })
    .outputSync();
  if (!r.success) {
    throw new Error(
      `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`,
    );
  }
}

/** Bytes of `s`. */
export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
/** Text of a file. */
export const text = (p: string): string => Deno.readTextFileSync(p);
/** True when something (even a dangling symlink) is at `p`. */
export function exists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
