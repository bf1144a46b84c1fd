// Copyright 2026 the safefs authors. MIT license.
// @std/fs 1.0.24's moveSync() and copySync() behaviours, checked against
// safefs's moveSync() and copySync() through a std-shaped shim: options
// translated, errors passed through untouched, and every call must finish
// (or throw) before it returns. The cases are in _std_compat.ts, shared with
// std_compat_test.ts.
import { copySync, moveSync } from "../mod.ts";
import { copyOptions, moveOptions, stdCompatSuite } from "./_std_compat.ts";

function settled(result: unknown, name: string): void {
  if (result instanceof Promise) {
    throw new Error(`${name}() returned a promise: it is not synchronous`);
  }
}

stdCompatSuite({
  moveName: "moveSync",
  copyName: "copySync",
  move(src, dest, options): void {
    settled(moveSync(src, dest, moveOptions(options)), "moveSync");
  },
  copy(src, dest, options): void {
    settled(copySync(src, dest, copyOptions(options)), "copySync");
  },
});
