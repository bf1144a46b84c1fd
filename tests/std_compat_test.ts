// Copyright 2026 the safefs authors. MIT license.
// @std/fs 1.0.24's move() and copy() behaviours, checked against safefs's
// move() and copy() through a std-shaped shim: options translated, errors
// passed through untouched. The cases are in _std_compat.ts.
import { copy, move } from "../mod.ts";
import { copyOptions, moveOptions, stdCompatSuite } from "./_std_compat.ts";

stdCompatSuite({
  moveName: "move",
  copyName: "copy",
  async move(src, dest, options): Promise<void> {
    await move(src, dest, moveOptions(options));
  },
  async copy(src, dest, options): Promise<void> {
    await copy(src, dest, copyOptions(options));
  },
});
