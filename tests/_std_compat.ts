// Copyright 2026 the safefs authors. MIT license.
// The behaviours @std/fs 1.0.24 checks in its move_test.ts and copy_test.ts,
// written again (own fixtures, own code) against safefs through a
// std-shaped shim that translates options and never errors. Each case
// asserts std's expectation where safefs meets it (the Deno.errors class std
// throws included) and, for each deliberate difference, safefs's documented
// behaviour, with the reason in the test name. Registered twice: by
// std_compat_test.ts (move, copy) and std_compat_sync_test.ts (moveSync,
// copySync).
import assert, { equal as assertEquals } from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  AlreadyExistsError,
  type CopyOptions,
  InvalidArgumentError,
  type MoveOptions,
  NotADirectoryError,
  NotEmptyError,
  NotFoundError,
  SafeFsError,
} from "../mod.ts";
import { cleanup, diskDir, snapshot, temps } from "./_helpers.ts";
import { backendInfo } from "../mod.ts";

/** Directories can be exchanged (the ffi backend): overwrite replaces a non-empty one. */
const EXCHANGE = backendInfo().exchange;

/** `@std/fs`'s `MoveOptions`. */
export interface StdMoveOptions {
  overwrite?: boolean;
}

/** `@std/fs`'s `CopyOptions`. */
export interface StdCopyOptions {
  overwrite?: boolean;
  preserveTimestamps?: boolean;
}

/** `@std/fs`'s `move`/`copy` (or their sync forms), implemented by safefs. */
export interface StdShim {
  /** Same name as the safefs call it runs, for test names: `move` or `moveSync`. */
  moveName: string;
  /** Same for copy. */
  copyName: string;
  move(
    src: string | URL,
    dest: string | URL,
    options?: StdMoveOptions,
  ): void | Promise<void>;
  copy(
    src: string | URL,
    dest: string | URL,
    options?: StdCopyOptions,
  ): void | Promise<void>;
}

/** std's move options as safefs's: the same `overwrite`, default false. */
export function moveOptions(o: StdMoveOptions = {}): MoveOptions {
  return { overwrite: o.overwrite ?? false };
}

/**
 * std's copy options as safefs's. std keeps a file's mode (Deno.copyFile
 * does) but its times only with `preserveTimestamps`; safefs keeps both by
 * default, so `times` follows `preserveTimestamps`.
 */
export function copyOptions(o: StdCopyOptions = {}): CopyOptions {
  return {
    overwrite: o.overwrite ?? false,
    preserve: { mode: true, times: o.preserveTimestamps ?? false },
  };
}

type AnyClass = abstract new (...args: never[]) => unknown;

/** Runs `call`, which must fail with an instance of every class given. */
async function fails(
  call: () => unknown,
  ...classes: AnyClass[]
): Promise<SafeFsError> {
  try {
    await call();
  } catch (e) {
    for (const C of classes) {
      assert(
        e instanceof C,
        `expected ${C.name}, got ${
          e instanceof Error ? `${e.name}: ${e.message}` : e
        }`,
      );
    }
    assert(e instanceof SafeFsError, "a SafeFsError");
    return e;
  }
  throw new assert.AssertionError({ message: "expected it to fail" });
}

function exists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** A temp dir for one case, removed after it. */
async function inTemp(fn: (dir: string) => unknown): Promise<void> {
  const dir = diskDir();
  try {
    await fn(dir);
    assert.deepEqual(temps(dir), [], "no safefs temp left behind");
  } finally {
    cleanup(dir);
  }
}

/** A small tree: `t/one.txt`, `t/inner/two.txt`. */
function makeStdTree(root: string): void {
  Deno.mkdirSync(join(root, "inner"), { recursive: true });
  Deno.writeTextFileSync(join(root, "one.txt"), "one");
  Deno.writeTextFileSync(join(root, "inner", "two.txt"), "two");
}

const DIFF = "[deliberate difference:";

/** Registers every case, run through `std`. */
export function stdCompatSuite(std: StdShim): void {
  const mv = `${std.moveName}()`;
  const cp = `${std.copyName}()`;
  const test = (name: string, fn: (dir: string) => unknown): void => {
    Deno.test(name, () => inTemp(fn));
  };

  // ----------------------------------------------------------------- move

  test(`${mv} rejects a missing source directory with Deno.errors.NotFound`, async (dir) => {
    await fails(
      () => std.move(join(dir, "nodir"), join(dir, "dest")),
      Deno.errors.NotFound,
      NotFoundError,
    );
    assert(!exists(join(dir, "dest")));
  });

  test(`${mv} moves a directory to a new name in an existing directory`, async (dir) => {
    makeStdTree(join(dir, "src"));
    const before = snapshot(join(dir, "src"));
    await std.move(join(dir, "src"), join(dir, "dest"));
    assert(!exists(join(dir, "src")));
    assert.deepEqual(snapshot(join(dir, "dest")), before);
  });

  test(`${mv} with overwrite moves a directory to a name that does not exist yet`, async (dir) => {
    makeStdTree(join(dir, "src"));
    const before = snapshot(join(dir, "src"));
    await std.move(join(dir, "src"), join(dir, "dest"), { overwrite: true });
    assert(!exists(join(dir, "src")));
    assert.deepEqual(snapshot(join(dir, "dest")), before);
  });

  test(`${mv} rejects a missing source file in a missing directory with Deno.errors.NotFound`, async (dir) => {
    await fails(
      () => std.move(join(dir, "nodir", "f.txt"), join(dir, "nodir2", "f.txt")),
      Deno.errors.NotFound,
    );
    assert(!exists(join(dir, "nodir2")));
  });

  test(`${mv} refuses an existing file with Deno.errors.AlreadyExists, and replaces it with overwrite`, async (dir) => {
    Deno.mkdirSync(join(dir, "a"));
    Deno.mkdirSync(join(dir, "b"));
    Deno.writeTextFileSync(join(dir, "a", "f.txt"), "from a");
    Deno.writeTextFileSync(join(dir, "b", "f.txt"), "from b");
    await fails(
      () => std.move(join(dir, "a", "f.txt"), join(dir, "b", "f.txt")),
      Deno.errors.AlreadyExists,
      AlreadyExistsError,
    );
    assertEquals(Deno.readTextFileSync(join(dir, "a", "f.txt")), "from a");
    assertEquals(Deno.readTextFileSync(join(dir, "b", "f.txt")), "from b");
    await std.move(join(dir, "a", "f.txt"), join(dir, "b", "f.txt"), {
      overwrite: true,
    });
    assert(!exists(join(dir, "a", "f.txt")));
    assertEquals(Deno.readTextFileSync(join(dir, "b", "f.txt")), "from a");
  });

  test(`${mv} moves a directory with its files`, async (dir) => {
    makeStdTree(join(dir, "src"));
    await std.move(join(dir, "src"), join(dir, "dest"));
    assert(!exists(join(dir, "src")));
    assertEquals(Deno.readTextFileSync(join(dir, "dest", "one.txt")), "one");
    assertEquals(
      Deno.readTextFileSync(join(dir, "dest", "inner", "two.txt")),
      "two",
    );
  });

  if (EXCHANGE) {
    test(`${mv} with overwrite replaces a non-empty directory, as std does (atomically here: one RENAME_EXCHANGE; std deletes it, then renames)`, async (dir) => {
      makeStdTree(join(dir, "src"));
      Deno.mkdirSync(join(dir, "dest"));
      Deno.writeTextFileSync(join(dir, "dest", "one.txt"), "old one");
      Deno.writeTextFileSync(join(dir, "dest", "only-in-dest.txt"), "gone");
      const src = snapshot(join(dir, "src"));
      await std.move(join(dir, "src"), join(dir, "dest"), { overwrite: true });
      assert(!exists(join(dir, "src")));
      assert.deepEqual(snapshot(join(dir, "dest")), src);
      assert.deepEqual(temps(dir), []);
    });
  } else {
    test(`${mv} with overwrite onto a non-empty directory refuses with NotEmptyError and changes nothing ${DIFF} without RENAME_EXCHANGE (the path backend) a non-empty directory cannot be replaced atomically; std deletes it, then renames]`, async (dir) => {
      makeStdTree(join(dir, "src"));
      Deno.mkdirSync(join(dir, "dest"));
      Deno.writeTextFileSync(join(dir, "dest", "one.txt"), "old one");
      Deno.writeTextFileSync(join(dir, "dest", "only-in-dest.txt"), "kept");
      const src = snapshot(join(dir, "src"));
      const dest = snapshot(join(dir, "dest"));
      const err = await fails(
        () =>
          std.move(join(dir, "src"), join(dir, "dest"), { overwrite: true }),
        NotEmptyError,
      );
      assertEquals(err.code, "ENOTEMPTY");
      assert.deepEqual(snapshot(join(dir, "src")), src);
      assert.deepEqual(snapshot(join(dir, "dest")), dest);
    });
  }

  test(`${mv} with overwrite replaces an empty directory (what std's overwrite does, atomically)`, async (dir) => {
    makeStdTree(join(dir, "src"));
    Deno.mkdirSync(join(dir, "dest"));
    const src = snapshot(join(dir, "src"));
    await std.move(join(dir, "src"), join(dir, "dest"), { overwrite: true });
    assert(!exists(join(dir, "src")));
    assert.deepEqual(snapshot(join(dir, "dest")), src);
  });

  for (const overwrite of [false, true]) {
    test(`${mv} rejects a directory moved into its own subdirectory with Deno.errors.NotSupported (overwrite: ${overwrite})`, async (dir) => {
      makeStdTree(join(dir, "src"));
      const before = snapshot(join(dir, "src"));
      await fails(
        () =>
          std.move(join(dir, "src"), join(dir, "src", "inner"), { overwrite }),
        Deno.errors.NotSupported,
        InvalidArgumentError,
      );
      assert.deepEqual(snapshot(join(dir, "src")), before);
    });
  }

  test(`${mv} of a file onto itself with overwrite does nothing (path and file: URL forms)`, async (dir) => {
    const f = join(dir, "same", "f.txt");
    Deno.mkdirSync(join(dir, "same"));
    Deno.writeTextFileSync(f, "same");
    const before = Deno.lstatSync(f);
    const url = pathToFileURL(f);
    for (const [s, d] of [[f, f], [f, url], [url, f], [url, url]]) {
      await std.move(s, d, { overwrite: true });
      assertEquals(Deno.readTextFileSync(f), "same");
      const after = Deno.lstatSync(f);
      assertEquals(after.ino, before.ino);
      assertEquals(after.nlink, 1);
    }
    assert.deepEqual(
      Array.from(Deno.readDirSync(join(dir, "same"))).map((e) => e.name),
      ["f.txt"],
    );
  });

  test(`${mv} of a directory onto itself rejects with Deno.errors.NotSupported (path and file: URL forms)`, async (dir) => {
    const d = join(dir, "same");
    Deno.mkdirSync(d);
    const url = pathToFileURL(d);
    for (const [s, t] of [[d, d], [d, url], [url, d], [url, url]]) {
      await fails(() => std.move(s, t), Deno.errors.NotSupported);
      assert(Deno.lstatSync(d).isDirectory);
    }
  });

  // ----------------------------------------------------------------- copy

  test(`${cp} rejects a missing source with Deno.errors.NotFound`, async (dir) => {
    await fails(
      () => std.copy(join(dir, "missing.txt"), join(dir, "copy.txt")),
      Deno.errors.NotFound,
      NotFoundError,
    );
    assert(!exists(join(dir, "copy.txt")));
  });

  test(`${cp} of a path onto itself rejects (a missing one with NotFound, an existing one with Deno.errors.NotSupported)`, async (dir) => {
    const f = join(dir, "same.txt");
    await fails(() => std.copy(f, f), Error, Deno.errors.NotFound);
    Deno.writeTextFileSync(f, "same");
    await fails(
      () => std.copy(f, f),
      Error,
      Deno.errors.NotSupported,
      InvalidArgumentError,
    );
    assertEquals(Deno.readTextFileSync(f), "same");
  });

  test(`${cp} copies a file, refuses to copy it again with Deno.errors.AlreadyExists, and replaces it with overwrite`, async (dir) => {
    const src = join(dir, "file.txt");
    const dest = join(dir, "file_copy.txt");
    Deno.writeTextFileSync(src, "txt");
    await std.copy(src, dest);
    assertEquals(Deno.readTextFileSync(src), "txt");
    assertEquals(Deno.readTextFileSync(dest), "txt");
    await fails(
      () => std.copy(src, dest),
      Deno.errors.AlreadyExists,
      AlreadyExistsError,
    );
    Deno.writeTextFileSync(dest, "txt copy");
    await fails(() => std.copy(src, dest), Deno.errors.AlreadyExists);
    assertEquals(Deno.readTextFileSync(dest), "txt copy");
    await std.copy(src, dest, { overwrite: true });
    assertEquals(Deno.readTextFileSync(dest), "txt");
  });

  test(`${cp} with preserveTimestamps gives a file the source's mtime and the atime it had before the copy`, async (dir) => {
    const src = join(dir, "file.txt");
    Deno.writeTextFileSync(src, "txt");
    Deno.utimeSync(
      src,
      new Date(1_500_000_000_000),
      new Date(1_600_000_000_000),
    );
    const before = Deno.statSync(src);
    await std.copy(src, join(dir, "copy.txt"), {
      overwrite: true,
      preserveTimestamps: true,
    });
    const dest = Deno.statSync(join(dir, "copy.txt"));
    assert(dest.atime instanceof Date && dest.mtime instanceof Date);
    assertEquals(dest.mtime.getTime(), before.mtime!.getTime());
    assertEquals(dest.atime.getTime(), before.atime!.getTime());
  });

  test(`${cp} with preserveTimestamps gives a tree's files the atime they had before the copy read them ${DIFF} like cp -p; std stats the source after its own read, so its copy takes the access the copy itself made]`, async (dir) => {
    makeStdTree(join(dir, "src"));
    // atime before mtime: the copy's read then moves the source's atime
    // (relatime); on a noatime mount it stays, and both readings agree.
    const rels = ["one.txt", "inner/two.txt"];
    for (const [i, rel] of rels.entries()) {
      Deno.utimeSync(
        join(dir, "src", rel),
        new Date(1_400_000_000_000 + i),
        new Date(1_500_000_000_000 + i),
      );
    }
    const before = rels.map((r) => Deno.statSync(join(dir, "src", r)));
    await std.copy(join(dir, "src"), join(dir, "dest"), {
      preserveTimestamps: true,
    });
    for (const [i, rel] of rels.entries()) {
      const dest = Deno.statSync(join(dir, "dest", rel));
      assertEquals(dest.mtime!.getTime(), before[i].mtime!.getTime(), rel);
      assertEquals(dest.atime!.getTime(), before[i].atime!.getTime(), rel);
    }
    // The directory's own times too (std's test stats files only).
    assertEquals(
      Deno.statSync(join(dir, "dest", "inner")).mtime!.getTime(),
      Deno.statSync(join(dir, "src", "inner")).mtime!.getTime(),
    );
  });

  test(`${cp} without preserveTimestamps gives the copy new times (the shim's preserve.times: false; safefs's own default keeps them)`, async (dir) => {
    const src = join(dir, "file.txt");
    Deno.writeTextFileSync(src, "txt");
    Deno.utimeSync(
      src,
      new Date(1_000_000_000_000),
      new Date(1_000_000_000_000),
    );
    await std.copy(src, join(dir, "copy.txt"));
    const dest = Deno.statSync(join(dir, "copy.txt"));
    assert(dest.mtime!.getTime() > 1_000_000_000_000, "a new mtime");
  });

  test(`${cp} rejects a directory copied into its own subdirectory (std: a plain Error; safefs: Deno.errors.NotSupported)`, async (dir) => {
    Deno.mkdirSync(join(dir, "parent"));
    await fails(
      () => std.copy(join(dir, "parent"), join(dir, "parent", "child")),
      Error,
      Deno.errors.NotSupported,
      InvalidArgumentError,
    );
    assert.deepEqual(Array.from(Deno.readDirSync(join(dir, "parent"))), []);
  });

  test(`${cp} of a directory onto an existing file rejects (AlreadyExists; with overwrite, Deno.errors.NotADirectory)`, async (dir) => {
    Deno.mkdirSync(join(dir, "parent"));
    Deno.writeTextFileSync(join(dir, "child.txt"), "file");
    await fails(
      () => std.copy(join(dir, "parent"), join(dir, "child.txt")),
      Error,
      Deno.errors.AlreadyExists,
    );
    await fails(
      () =>
        std.copy(join(dir, "parent"), join(dir, "child.txt"), {
          overwrite: true,
        }),
      Error,
      Deno.errors.NotADirectory,
      NotADirectoryError,
    );
    assertEquals(Deno.readTextFileSync(join(dir, "child.txt")), "file");
  });

  test(`${cp} copies a directory tree, and refuses to copy it again with Deno.errors.AlreadyExists`, async (dir) => {
    makeStdTree(join(dir, "src"));
    await std.copy(join(dir, "src"), join(dir, "dest"));
    assert.deepEqual(snapshot(join(dir, "dest")), snapshot(join(dir, "src")));
    Deno.writeTextFileSync(join(dir, "dest", "inner", "two.txt"), "two copy");
    await fails(
      () => std.copy(join(dir, "src"), join(dir, "dest")),
      Deno.errors.AlreadyExists,
      AlreadyExistsError,
    );
    assertEquals(
      Deno.readTextFileSync(join(dir, "dest", "inner", "two.txt")),
      "two copy",
    );
  });

  if (EXCHANGE) {
    test(`${cp} with overwrite onto a non-empty directory replaces it whole ${DIFF} no merge: the copied tree replaces the directory atomically (RENAME_EXCHANGE); std merges into it]`, async (dir) => {
      makeStdTree(join(dir, "src"));
      makeStdTree(join(dir, "dest"));
      Deno.writeTextFileSync(join(dir, "dest", "inner", "two.txt"), "two copy");
      Deno.writeTextFileSync(join(dir, "dest", "only-in-dest.txt"), "gone");
      await std.copy(join(dir, "src"), join(dir, "dest"), { overwrite: true });
      assert.deepEqual(snapshot(join(dir, "dest")), snapshot(join(dir, "src")));
      assert.deepEqual(temps(dir), []);
    });
  } else {
    test(`${cp} with overwrite onto a non-empty directory refuses with NotEmptyError and leaves it as it was ${DIFF} no merge, and without RENAME_EXCHANGE (the path backend) a non-empty directory cannot be replaced atomically; std merges into it]`, async (dir) => {
      makeStdTree(join(dir, "src"));
      makeStdTree(join(dir, "dest"));
      Deno.writeTextFileSync(join(dir, "dest", "inner", "two.txt"), "two copy");
      Deno.writeTextFileSync(join(dir, "dest", "only-in-dest.txt"), "kept");
      const dest = snapshot(join(dir, "dest"));
      await fails(
        () =>
          std.copy(join(dir, "src"), join(dir, "dest"), { overwrite: true }),
        NotEmptyError,
      );
      assert.deepEqual(snapshot(join(dir, "dest")), dest);
    });
  }

  test(`${cp} with overwrite replaces an empty directory with the copied tree`, async (dir) => {
    makeStdTree(join(dir, "src"));
    Deno.mkdirSync(join(dir, "dest"));
    await std.copy(join(dir, "src"), join(dir, "dest"), { overwrite: true });
    assert.deepEqual(snapshot(join(dir, "dest")), snapshot(join(dir, "src")));
  });

  test(`${cp} copies a symlink to a file as a symlink`, async (dir) => {
    Deno.writeTextFileSync(join(dir, "target.txt"), "t");
    Deno.mkdirSync(join(dir, "links"));
    Deno.symlinkSync("../target.txt", join(dir, "links", "l.txt"));
    await std.copy(join(dir, "links", "l.txt"), join(dir, "l_copy.txt"));
    assert(Deno.lstatSync(join(dir, "l_copy.txt")).isSymlink);
    assertEquals(Deno.readLinkSync(join(dir, "l_copy.txt")), "../target.txt");
  });

  test(`${cp} copies a symlink to a directory as a symlink`, async (dir) => {
    makeStdTree(join(dir, "tree"));
    Deno.symlinkSync(join(dir, "tree"), join(dir, "tree_link"));
    await std.copy(join(dir, "tree_link"), join(dir, "tree_link_copy"));
    assert(Deno.lstatSync(join(dir, "tree_link_copy")).isSymlink);
    assertEquals(
      Deno.readLinkSync(join(dir, "tree_link_copy")),
      join(dir, "tree"),
    );
  });
}
