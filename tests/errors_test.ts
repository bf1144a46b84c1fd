// Copyright 2026 the safefs authors. MIT license.
// Every safefs error is also an instance of the Deno.errors class Deno's own
// calls throw for the same failure, and of its own safefs class and
// SafeFsError, and of nothing else: for every code of the errno table, for
// each way an error is made, and for real failures of the primitives.
import assert, { equal as assertEquals } from "node:assert/strict";
import { join } from "node:path";
import {
  AbortedError,
  AlreadyExistsError,
  copy,
  CrossDeviceError,
  InvalidArgumentError,
  IsADirectoryError,
  MountPointError,
  move,
  NotADirectoryError,
  NotEmptyError,
  NotFoundError,
  PermissionError,
  remove,
  SafeFsError,
  SourceChangedError,
  UnsupportedFileTypeError,
  writeFile,
} from "../mod.ts";
import { errnoName, errnoOf, errorFor, toSafeFsError } from "../src/_errno.ts";
import { cleanup, diskDir, HAS_SHM, rejects, shmDir } from "./_helpers.ts";

type AnyClass = abstract new (...args: never[]) => unknown;

/** Every public safefs error class. */
const SAFEFS_CLASSES: Record<string, AnyClass> = {
  SafeFsError,
  AlreadyExistsError,
  NotFoundError,
  IsADirectoryError,
  NotADirectoryError,
  CrossDeviceError,
  SourceChangedError,
  PermissionError,
  NotEmptyError,
  MountPointError,
  UnsupportedFileTypeError,
  InvalidArgumentError,
  AbortedError,
};

/** Every Deno.errors class, plus the built-in error classes. */
const OTHER_CLASSES: Record<string, AnyClass> = {
  ...Object.fromEntries(
    Object.entries(Deno.errors).map(([k, v]) => [`Deno.errors.${k}`, v]),
  ),
  TypeError,
  RangeError,
  DOMException,
};

const E = Deno.errors;

/**
 * The specification: code → [safefs class, Deno class or null]. A code not
 * listed gives a plain SafeFsError that is no Deno.errors class.
 */
const SPEC: Record<string, [AnyClass, AnyClass | null]> = {
  EEXIST: [AlreadyExistsError, E.AlreadyExists],
  ENOENT: [NotFoundError, E.NotFound],
  EISDIR: [IsADirectoryError, E.IsADirectory],
  ENOTDIR: [NotADirectoryError, E.NotADirectory],
  EACCES: [PermissionError, E.PermissionDenied],
  EPERM: [PermissionError, E.PermissionDenied],
  ENOTCAPABLE: [PermissionError, E.NotCapable],
  EINVAL: [InvalidArgumentError, E.NotSupported],
  EFTYPE: [UnsupportedFileTypeError, E.NotSupported],
  EXDEV: [CrossDeviceError, null],
  ENOTEMPTY: [NotEmptyError, null],
  ESRCCHANGED: [SourceChangedError, null],
  ABORT_ERR: [AbortedError, null],
  ELOOP: [SafeFsError, E.FilesystemLoop],
  EINTR: [SafeFsError, E.Interrupted],
  EAGAIN: [SafeFsError, E.WouldBlock],
  ETIMEDOUT: [SafeFsError, E.TimedOut],
};

function expected(code: string): [AnyClass, AnyClass | null] {
  return SPEC[code] ?? [SafeFsError, null];
}

/** The names of the classes of `table` that `v` is an instance of. */
function instanceOf(v: unknown, table: Record<string, AnyClass>): string[] {
  return Object.entries(table).filter(([, C]) => v instanceof C).map(([k]) =>
    k
  );
}

function nameOf(C: AnyClass, table: Record<string, AnyClass>): string {
  return Object.entries(table).find(([, c]) => c === C)![0];
}

/** Asserts `err` is exactly what SPEC says for `code`, and keeps its fields. */
function assertClassFor(err: unknown, code: string, how: string): void {
  const [cls, deno] = expected(code);
  const want = cls === SafeFsError ? ["SafeFsError"] : [
    "SafeFsError",
    nameOf(cls, SAFEFS_CLASSES),
  ];
  assert.deepEqual(
    instanceOf(err, SAFEFS_CLASSES).sort(),
    want.sort(),
    `${how} ${code}: safefs classes`,
  );
  assert.deepEqual(
    instanceOf(err, OTHER_CLASSES),
    deno === null ? [] : [nameOf(deno, OTHER_CLASSES)],
    `${how} ${code}: Deno classes`,
  );
  assert(err instanceof Error, `${how} ${code}: an Error`);
  const e = err as SafeFsError;
  assertEquals(e.name, (cls as unknown as { name: string }).name);
  assertEquals(e.code, code);
}

/** Every errno name of the table in src/_errno.ts on this OS, plus macOS's own. */
const ERRNO_CODES: string[] = [
  ...new Set([
    ...Array.from({ length: 200 }, (_, n) => errnoOf(n)).filter((c) =>
      !c.startsWith("ERRNO")
    ),
    "EDEADLK",
    "ENOTSUP",
    "ENOATTR",
  ]),
];
/** Codes safefs makes up, and Deno's name for a denied permission. */
const SAFEFS_CODES = [
  "ENOTCAPABLE",
  "ESRCCHANGED",
  "EFTYPE",
  "ABORT_ERR",
  "ETIMEDOUT",
  "EUNKNOWN",
  "ERRNO999",
];

Deno.test("the errno table has the codes the mapping is about", () => {
  for (const c of ["EEXIST", "ENOENT", "EISDIR", "ENOTDIR", "EACCES"]) {
    assert(ERRNO_CODES.includes(c), c);
  }
  for (const c of ["EPERM", "EINVAL", "EXDEV", "ENOTEMPTY", "ELOOP"]) {
    assert(ERRNO_CODES.includes(c), c);
  }
  assert(ERRNO_CODES.length >= 35, `${ERRNO_CODES.length} codes`);
});

Deno.test("errorFor() gives each code of the errno table its class and Deno class, and nothing else", () => {
  for (const code of [...ERRNO_CODES, ...SAFEFS_CODES]) {
    const err = errorFor(code, `Cannot x '/p': ${code}`, {
      code,
      op: "x",
      path: "/p",
    });
    assertClassFor(err, code, "errorFor");
  }
});

Deno.test("new SafeFsError() with a code that has a class builds that class", () => {
  for (const code of [...ERRNO_CODES, ...SAFEFS_CODES]) {
    const err = new SafeFsError(`Cannot x '/p': ${code}`, { code, op: "x" });
    assertClassFor(err, code, "new SafeFsError");
  }
});

Deno.test("toSafeFsError() classifies a Deno error by its (os error N) the same way", () => {
  for (let n = 1; n < 200; n++) {
    const code = errnoOf(n);
    if (code.startsWith("ERRNO")) continue;
    const raw = new Error(`Something (os error ${n}): rename '/a' -> '/b'`);
    const err = toSafeFsError(raw, { op: "rename", path: "/a", dest: "/b" });
    assertClassFor(err, code, "toSafeFsError");
    assert.equal(err.cause, raw);
    assert.equal(err.path, "/a");
    assert.equal(err.dest, "/b");
  }
});

Deno.test("toSafeFsError() of Deno's own error classes keeps their Deno class", () => {
  const cases: [Error, string][] = [
    [new E.NotFound("No such file"), "ENOENT"],
    [new E.AlreadyExists("File exists"), "EEXIST"],
    [new E.PermissionDenied("Permission denied"), "EACCES"],
    [new E.NotCapable("Requires write access"), "ENOTCAPABLE"],
    [new E.IsADirectory("Is a directory"), "EISDIR"],
    [new E.NotADirectory("Not a directory"), "ENOTDIR"],
    [new E.FilesystemLoop("Too many levels"), "ELOOP"],
  ];
  for (const [raw, code] of cases) {
    const err = toSafeFsError(raw, { op: "x", path: "/p" });
    assertClassFor(err, code, "toSafeFsError(Deno)");
    assert(err instanceof (raw.constructor as AnyClass), raw.name);
  }
});

Deno.test("each class constructed directly is its Deno class, whatever the code", () => {
  const cases: [AnyClass, string][] = [
    [AlreadyExistsError, "EEXIST"],
    [NotFoundError, "ENOENT"],
    [IsADirectoryError, "EISDIR"],
    [NotADirectoryError, "ENOTDIR"],
    [PermissionError, "EACCES"],
    [InvalidArgumentError, "EINVAL"],
    [UnsupportedFileTypeError, "EFTYPE"],
    [CrossDeviceError, "EXDEV"],
    [NotEmptyError, "ENOTEMPTY"],
    [SourceChangedError, "ESRCCHANGED"],
    [AbortedError, "ABORT_ERR"],
  ];
  for (const [C, code] of cases) {
    const Ctor = C as unknown as new (m: string, o: object) => SafeFsError;
    assertClassFor(new Ctor("m", { code, op: "x" }), code, "new");
    // An odd code does not change the class, nor its Deno class.
    const odd = new Ctor("m", { code: "EIO", op: "x" });
    assert(odd instanceof C);
    const [, deno] = expected(code);
    assert.deepEqual(
      instanceOf(odd, OTHER_CLASSES),
      deno === null ? [] : [nameOf(deno, OTHER_CLASSES)],
    );
  }
});

Deno.test("PermissionError is PermissionDenied for the OS, NotCapable for Deno's flags, and keeps flag", () => {
  const os = new PermissionError("m", { code: "EACCES", op: "x" });
  assert(os instanceof E.PermissionDenied && !(os instanceof E.NotCapable));
  const flag = new PermissionError("m", {
    code: "ENOTCAPABLE",
    op: "move",
    path: "/x",
    flag: "--allow-write=/x",
  });
  assert(flag instanceof E.NotCapable && !(flag instanceof E.PermissionDenied));
  assert(flag instanceof PermissionError && flag instanceof SafeFsError);
  assertEquals(flag.flag, "--allow-write=/x");
  assertEquals(flag.name, "PermissionError");
  assertEquals(flag.constructor, PermissionError);
});

Deno.test("errors keep name, message, code, op, path, dest, cause and a stack from where they were made", () => {
  const cause = new Error("inner");
  const made: SafeFsError[] = [
    new AlreadyExistsError("Cannot move 'a' to 'b'", {
      code: "EEXIST",
      op: "move",
      path: "a",
      dest: "b",
      cause,
    }),
    new SafeFsError("Cannot move 'a' to 'b'", {
      code: "ENOTDIR",
      op: "move",
      path: "a",
      dest: "b",
      cause,
    }),
    new PermissionError("Cannot move 'a' to 'b'", {
      code: "ENOTCAPABLE",
      op: "move",
      path: "a",
      dest: "b",
      cause,
    }),
    new SafeFsError("Cannot move 'a' to 'b'", {
      code: "ELOOP",
      op: "move",
      path: "a",
      dest: "b",
      cause,
    }),
  ];
  for (const e of made) {
    assertEquals(e.message, "Cannot move 'a' to 'b'");
    assertEquals(e.op, "move");
    assertEquals(e.path, "a");
    assertEquals(e.dest, "b");
    assertEquals(e.cause, cause);
    assertEquals(String(e), `${e.name}: Cannot move 'a' to 'b'`);
    const stack = e.stack!.split("\n");
    assertEquals(stack[0], `${e.name}: Cannot move 'a' to 'b'`);
    // The first frame is this test, not the errors module.
    assert(stack[1].includes("errors_test.ts"), stack[1]);
    // The message stays writable (move() prefixes it after a publish).
    e.message = "changed";
    assertEquals(e.message, "changed");
  }
  assertEquals(made[1].name, "NotADirectoryError");
  assertEquals(made[3].name, "SafeFsError");
});

Deno.test("Deno.inspect() names the safefs class", () => {
  for (
    const e of [
      new AlreadyExistsError("m", { code: "EEXIST", op: "x" }),
      new NotFoundError("m", { code: "ENOENT", op: "x" }),
      new InvalidArgumentError("m", { code: "EINVAL", op: "x" }),
      new SourceChangedError("m", { code: "ESRCCHANGED", op: "x" }),
    ]
  ) {
    assert(Deno.inspect(e).startsWith(`${e.name}: m`), Deno.inspect(e));
  }
});

Deno.test("subclasses of the safefs classes stay exact", () => {
  class ArchiveExists extends AlreadyExistsError {}
  class FlagMissing extends PermissionError {}
  const a = new ArchiveExists("m", { code: "EEXIST", op: "x" });
  assert.deepEqual(instanceOf(a, SAFEFS_CLASSES).sort(), [
    "AlreadyExistsError",
    "SafeFsError",
  ]);
  assert(a instanceof ArchiveExists && a instanceof E.AlreadyExists);
  const f = new FlagMissing("m", { code: "ENOTCAPABLE", op: "x" });
  assert(f instanceof FlagMissing && f instanceof PermissionError);
  assert(f instanceof SafeFsError && f instanceof E.NotCapable);
  assert(!(f instanceof ArchiveExists) && !(a instanceof FlagMissing));
  assertEquals(f.name, "FlagMissing");
  const m = new MountPointError("m", {
    code: "EBUSY",
    op: "remove",
    mountPoints: ["/t/mnt"],
  });
  assert.deepEqual(instanceOf(m, SAFEFS_CLASSES).sort(), [
    "MountPointError",
    "NotEmptyError",
    "SafeFsError",
  ]);
  assert.deepEqual(instanceOf(m, OTHER_CLASSES), []);
});

Deno.test("Deno's own errors and look-alikes are not safefs errors", () => {
  const others: unknown[] = [
    new E.AlreadyExists("x"),
    new E.NotFound("x"),
    new E.NotCapable("x"),
    new (class extends E.NotSupported {})("x"),
    new Error("x"),
    Object.assign(new Error("x"), { code: "EEXIST", op: "move" }),
    { code: "EEXIST", name: "AlreadyExistsError" },
    Object.create(E.AlreadyExists.prototype),
    null,
    undefined,
    "AlreadyExistsError",
    42,
  ];
  for (const v of others) {
    assert.deepEqual(instanceOf(v, SAFEFS_CLASSES), [], String(v));
  }
});

Deno.test("errnoName() reads the code of every safefs error, and toSafeFsError() passes it through", () => {
  for (const code of [...ERRNO_CODES, ...SAFEFS_CODES]) {
    const err = errorFor(code, "m", { code, op: "x" });
    assertEquals(errnoName(err), code);
    assertEquals(toSafeFsError(err, { op: "y" }), err);
  }
});

// ---------------------------------------------------------------------------
// Real failures of the primitives, caught the way code written for Deno's
// own calls catches them.

/** The Deno.errors classes `err` is an instance of. */
function denoClasses(err: unknown): string[] {
  return instanceOf(err, OTHER_CLASSES);
}

/** The error a Deno call throws. */
function denoError(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("the Deno call did not fail");
}

Deno.test("move() onto an existing file: Deno.errors.AlreadyExists", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "a"), "a");
    Deno.writeTextFileSync(join(dir, "b"), "b");
    const err = await rejects(
      move(join(dir, "a"), join(dir, "b")),
      E.AlreadyExists,
    );
    assert(err instanceof AlreadyExistsError && err instanceof SafeFsError);
    assert.deepEqual(
      denoClasses(err),
      denoClasses(denoError(() => Deno.mkdirSync(join(dir, "b")))),
    );
    assertEquals(Deno.readTextFileSync(join(dir, "b")), "b");
  } finally {
    cleanup(dir);
  }
});

Deno.test("move() and copy() of a missing source, or to a missing directory: Deno.errors.NotFound", async () => {
  const dir = diskDir();
  try {
    const deno = denoClasses(denoError(() => Deno.lstatSync(join(dir, "no"))));
    assert.deepEqual(deno, ["Deno.errors.NotFound"]);
    const calls = [
      () => move(join(dir, "no"), join(dir, "b")),
      () => copy(join(dir, "no"), join(dir, "b")),
      () => remove(join(dir, "no")),
    ];
    for (const call of calls) {
      const err = await rejects(call(), E.NotFound, "ENOENT");
      assert(err instanceof NotFoundError);
      assert.deepEqual(denoClasses(err), deno);
    }
    Deno.writeTextFileSync(join(dir, "a"), "a");
    const err = await rejects(
      move(join(dir, "a"), join(dir, "no", "b")),
      E.NotFound,
    );
    assert(err instanceof NotFoundError);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() of a directory onto a file, and of a file onto a directory: NotADirectory, IsADirectory", async () => {
  const dir = diskDir();
  try {
    Deno.mkdirSync(join(dir, "d"));
    Deno.mkdirSync(join(dir, "e"));
    Deno.writeTextFileSync(join(dir, "f"), "f");
    const notDir = await rejects(
      copy(join(dir, "d"), join(dir, "f"), { overwrite: true }),
      E.NotADirectory,
      "ENOTDIR",
    );
    assert(notDir instanceof NotADirectoryError);
    assert.deepEqual(
      denoClasses(notDir),
      denoClasses(
        denoError(() => Deno.renameSync(join(dir, "d"), join(dir, "f"))),
      ),
    );
    const isDir = await rejects(
      copy(join(dir, "f"), join(dir, "e"), { overwrite: true }),
      E.IsADirectory,
      "EISDIR",
    );
    assert(isDir instanceof IsADirectoryError);
    assert.deepEqual(
      denoClasses(isDir),
      denoClasses(
        denoError(() => Deno.renameSync(join(dir, "f"), join(dir, "e"))),
      ),
    );
    assertEquals(Deno.readTextFileSync(join(dir, "f")), "f");
  } finally {
    cleanup(dir);
  }
});

Deno.test("writeFile() onto a directory, below a file, and without overwrite: IsADirectory, NotADirectory, AlreadyExists", async () => {
  const dir = diskDir();
  try {
    Deno.mkdirSync(join(dir, "d"));
    Deno.writeTextFileSync(join(dir, "f"), "f");
    const isDir = await rejects(writeFile(join(dir, "d"), "x"), E.IsADirectory);
    assert(isDir instanceof IsADirectoryError);
    assert.deepEqual(
      denoClasses(isDir),
      denoClasses(denoError(() => Deno.writeTextFileSync(join(dir, "d"), "x"))),
    );
    const notDir = await rejects(
      writeFile(join(dir, "f", "x"), "x"),
      E.NotADirectory,
    );
    assert(notDir instanceof NotADirectoryError);
    assert.deepEqual(
      denoClasses(notDir),
      denoClasses(
        denoError(() => Deno.writeTextFileSync(join(dir, "f", "x"), "x")),
      ),
    );
    const exists = await rejects(
      writeFile(join(dir, "f"), "x", { overwrite: false }),
      E.AlreadyExists,
    );
    assert(exists instanceof AlreadyExistsError);
    assertEquals(Deno.readTextFileSync(join(dir, "f")), "f");
  } finally {
    cleanup(dir);
  }
});

Deno.test("move() of a directory into itself: Deno.errors.NotSupported, as @std/fs throws", async () => {
  const dir = diskDir();
  try {
    Deno.mkdirSync(join(dir, "d", "sub"), { recursive: true });
    const err = await rejects(
      move(join(dir, "d"), join(dir, "d", "sub", "d")),
      E.NotSupported,
      "EINVAL",
    );
    assert(err instanceof InvalidArgumentError);
    assert.deepEqual(denoClasses(err), ["Deno.errors.NotSupported"]);
    assert(Deno.statSync(join(dir, "d", "sub")).isDirectory);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() of a FIFO: Deno.errors.NotSupported", async () => {
  const dir = diskDir();
  try {
    const made = new Deno.Command("mkfifo", { args: [join(dir, "p")] })
      .outputSync();
    assert(made.success, "mkfifo");
    const err = await rejects(
      copy(join(dir, "p"), join(dir, "q")),
      E.NotSupported,
      "EFTYPE",
    );
    assert(err instanceof UnsupportedFileTypeError);
    assert.deepEqual(denoClasses(err), ["Deno.errors.NotSupported"]);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() with dereference through a symlink loop: Deno.errors.FilesystemLoop", async () => {
  const dir = diskDir();
  try {
    Deno.symlinkSync(join(dir, "loop"), join(dir, "loop"));
    const deno = denoClasses(denoError(() => Deno.statSync(join(dir, "loop"))));
    assert.deepEqual(deno, ["Deno.errors.FilesystemLoop"]);
    const err = await rejects(
      copy(join(dir, "loop"), join(dir, "out"), { dereference: true }),
      E.FilesystemLoop,
      "ELOOP",
    );
    assert(err instanceof SafeFsError);
    assert.deepEqual(denoClasses(err), deno);
    // A tree with a link back to its own parent: refused the same way.
    Deno.mkdirSync(join(dir, "t", "a"), { recursive: true });
    Deno.symlinkSync("..", join(dir, "t", "a", "up"));
    const tree = await rejects(
      copy(join(dir, "t"), join(dir, "t2"), { dereference: true }),
      E.FilesystemLoop,
      "ELOOP",
    );
    assert(tree instanceof SafeFsError);
  } finally {
    cleanup(dir);
  }
});

const isRoot = Deno.uid() === 0;
let hasChattr = false;
try {
  hasChattr = new Deno.Command("chattr", { args: ["--help"], stderr: "null" })
    .outputSync().code !== 127;
} catch {
  hasChattr = false;
}
if (!isRoot || !hasChattr) {
  console.warn(
    "SKIPPED: the EPERM test needs root and chattr (an immutable file)",
  );
}

Deno.test({
  name: "move() of an immutable file (EPERM): Deno.errors.PermissionDenied",
  ignore: !isRoot || !hasChattr,
  async fn(): Promise<void> {
    const dir = diskDir();
    const f = join(dir, "f");
    Deno.writeTextFileSync(f, "f");
    const chattr = (flag: string): boolean =>
      new Deno.Command("chattr", { args: [flag, f] }).outputSync().success;
    try {
      assert(chattr("+i"), "chattr +i");
      const deno = denoClasses(denoError(() => Deno.renameSync(f, f + "2")));
      assert.deepEqual(deno, ["Deno.errors.PermissionDenied"]);
      const err = await rejects(move(f, join(dir, "g")), E.PermissionDenied);
      assert(err instanceof PermissionError);
      assert(["EPERM", "EACCES"].includes(err.code), err.code);
      assert.deepEqual(denoClasses(err), deno);
    } finally {
      chattr("-i");
      cleanup(dir);
    }
  },
});

Deno.test("a missing --allow-write flag: Deno.errors.NotCapable, as Deno's own calls throw", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "a"), "a");
    const script = `
      import { move, PermissionError, SafeFsError } from ${
      JSON.stringify(new URL("../mod.ts", import.meta.url).href)
    };
      const classes = (e) => Object.entries(Deno.errors)
        .filter(([, C]) => e instanceof C).map(([k]) => k);
      let own, ours;
      try { Deno.renameSync(Deno.args[0], Deno.args[1]); } catch (e) { own = e; }
      try { await move(Deno.args[0], Deno.args[1]); } catch (e) { ours = e; }
      console.log(JSON.stringify({
        own: classes(own),
        ours: classes(ours),
        safefs: ours instanceof PermissionError && ours instanceof SafeFsError,
        code: ours?.code,
        flag: ours?.flag,
      }));
    `;
    const file = join(dir, "child.ts");
    Deno.writeTextFileSync(file, script);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--quiet",
        `--allow-read=${dir}`,
        file,
        join(dir, "a"),
        join(dir, "b"),
      ],
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert(out.success, new TextDecoder().decode(out.stderr));
    const r = JSON.parse(text);
    assert.deepEqual(r.own, ["NotCapable"]);
    assert.deepEqual(r.ours, ["NotCapable"]);
    assertEquals(r.safefs, true);
    assertEquals(r.code, "ENOTCAPABLE");
    assert(String(r.flag).startsWith("--allow-write"), r.flag);
    assertEquals(Deno.readTextFileSync(join(dir, "a")), "a");
  } finally {
    cleanup(dir);
  }
});

Deno.test({
  name:
    "move() across filesystems with crossDevice: 'fail': CrossDeviceError, no Deno class (Deno's own EXDEV is a plain Error)",
  ignore: !HAS_SHM,
  async fn(): Promise<void> {
    const dir = diskDir();
    const shm = shmDir();
    try {
      Deno.writeTextFileSync(join(shm, "a"), "a");
      const own = denoError(() =>
        Deno.renameSync(join(shm, "a"), join(dir, "a"))
      );
      assertEquals((own as { code?: string }).code, "EXDEV");
      assert.deepEqual(denoClasses(own), []);
      const err = await rejects(
        move(join(shm, "a"), join(dir, "a"), { crossDevice: "fail" }),
        CrossDeviceError,
        "EXDEV",
      );
      assert.deepEqual(denoClasses(err), []);
      assert(err instanceof SafeFsError);
    } finally {
      cleanup(dir, shm);
    }
  },
});

Deno.test("an aborted copy: AbortedError with the signal's reason as cause, not a DOMException", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "a"), "a");
    const ac = new AbortController();
    ac.abort();
    const err = await rejects(
      copy(join(dir, "a"), join(dir, "b"), { signal: ac.signal }),
      AbortedError,
      "ABORT_ERR",
    );
    assertEquals(err.cause, ac.signal.reason);
    assert(!(err instanceof DOMException));
    assert.deepEqual(denoClasses(err), []);
    assertEquals(err.name, "AbortedError");
  } finally {
    cleanup(dir);
  }
});
