// Copyright 2026 the safefs authors. MIT license.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
  notEqual as assertNotEquals,
} from "node:assert/strict";
import { createHash } from "node:crypto";
import process from "node:process";
import { dirname, join } from "node:path";
import {
  AbortedError,
  AlreadyExistsError,
  InvalidArgumentError,
  NotEmptyError,
  NotFoundError,
  PermissionError,
  SafeFsError,
  SourceChangedError,
  UnsupportedFileTypeError,
} from "../src/errors.ts";
import { toSafeFsError } from "../src/_errno.ts";
import { copy } from "../src/copy.ts";
import { tuning } from "../src/_copy.ts";
import { backend, setSysHook, sys } from "../src/_sys.ts";
import {
  CAN_MOUNT,
  cleanup,
  diskDir,
  EIO,
  failingAt,
  HAS_SHM,
  makeTree,
  mountTmpfs,
  onEverySysCall,
  recordCalls,
  rejects,
  runDeno,
  shmDir,
  snapshot,
  temps,
  umount,
  watchFifoOpens,
  writeBytes,
} from "./_helpers.ts";

const noShm = { ignore: !HAS_SHM };
const noMount = { ignore: !CAN_MOUNT };
if (!HAS_SHM) {
  console.warn(
    "SKIPPED: /dev/shm is not a separate filesystem: cross-device copy tests are skipped",
  );
}
if (!CAN_MOUNT) {
  console.warn(
    "SKIPPED: cannot mount tmpfs (needs root): ENOSPC and mount-point copy tests are skipped",
  );
}

// ---------------------------------------------------------------------------
// The two ways the engine moves file data. "loop" reads through the checked
// handle; "kernel" uses the seam's copyFile (copy_file_range). Tests of the
// data path run under both. The kernel strategy is forced with a faithful
// stand-in for `sys.copyFile` (Deno.copyFile, plus a test callback that runs
// just before it, where a concurrent writer would strike).
// ---------------------------------------------------------------------------
type Strategy = "loop" | "kernel";
const STRATEGIES: Strategy[] = ["loop", "kernel"];
let duringKernelCopy: ((from: string, to: string) => void) | null = null;
let afterKernelCopy: ((from: string, to: string) => void) | null = null;
let kernelCopies = 0;

async function withStrategy<T>(s: Strategy, fn: () => Promise<T>): Promise<T> {
  const seam = sys as { copyFile?: (a: string, b: string) => Promise<void> };
  const saved = { ...tuning };
  const savedCopy = seam.copyFile;
  if (s === "loop") {
    tuning.kernelCopyMin = Infinity;
  } else {
    tuning.kernelCopyMin = 0;
    tuning.kernelCopyResponsiveMax = Infinity;
    seam.copyFile = async (a: string, b: string): Promise<void> => {
      kernelCopies++;
      try {
        duringKernelCopy?.(a, b);
        await Deno.copyFile(a, b);
        afterKernelCopy?.(a, b);
      } catch (e) {
        throw toSafeFsError(e, { op: "copyFile", path: a, dest: b });
      }
    };
  }
  const before = kernelCopies;
  try {
    const r = await fn();
    if (s === "kernel") {
      assert(kernelCopies > before, "the kernel copy was not used");
    }
    return r;
  } finally {
    Object.assign(tuning, saved);
    if (savedCopy === undefined) delete seam.copyFile;
    else seam.copyFile = savedCopy;
    duringKernelCopy = null;
    afterKernelCopy = null;
  }
}

function sha(path: string): string {
  return createHash("sha256").update(Deno.readFileSync(path)).digest("hex");
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

for (const s of STRATEGIES) {
  Deno.test(`copy() [${s}] copies a file with its content, mode and times, leaving no temp`, async () => {
    const dir = diskDir();
    try {
      writeBytes(join(dir, "a"), 3_000_000, 2);
      Deno.chmodSync(join(dir, "a"), 0o640);
      Deno.utimeSync(
        join(dir, "a"),
        new Date(1_400_000_000_000),
        new Date(1_500_000_000_123),
      );
      const r = await withStrategy(
        s,
        () => copy(join(dir, "a"), join(dir, "b")),
      );
      assertEquals(r.bytes, 3_000_000);
      assertEquals(r.entries, 1);
      // atime first (nothing has read the source before the copy; reading the
      // copy would move its atime).
      assertEquals(
        Deno.statSync(join(dir, "b")).atime?.getTime(),
        1_400_000_000_000,
      );
      const src = snapshot(join(dir, "a"), { times: true })!;
      assertEquals(src[""], `f:640:${sha(join(dir, "a"))}:1500000000123`);
      deepStrictEqual(snapshot(join(dir, "b"), { times: true }), src);
      deepStrictEqual(temps(dir), []);
    } finally {
      cleanup(dir);
    }
  });

  Deno.test(`copy() [${s}] detects a source swapped for another file between lstat and open, and publishes nothing`, async () => {
    const dir = diskDir();
    try {
      writeBytes(join(dir, "a"), 2_000_000, 1);
      writeBytes(join(dir, "other"), 2_000_000, 9);
      let swapped = false;
      const restore = setSysHook((c) => {
        if (!swapped && c.op === "open" && c.path === join(dir, "a")) {
          swapped = true;
          Deno.renameSync(join(dir, "other"), join(dir, "a"));
        }
      });
      try {
        await rejects(
          withStrategy(s, () => copy(join(dir, "a"), join(dir, "b"))),
          SourceChangedError,
          "ESRCCHANGED",
        );
      } finally {
        restore();
      }
      assert(swapped);
      assertEquals(snapshot(join(dir, "b")), null);
      deepStrictEqual(temps(dir), []);
    } finally {
      cleanup(dir);
    }
  });

  Deno.test(`copy() [${s}] detects a source appended to during the copy, and publishes nothing`, async () => {
    const dir = diskDir();
    try {
      writeBytes(join(dir, "a"), 5_000_000, 1);
      Deno.writeTextFileSync(join(dir, "b"), "old");
      let appended = false;
      const append = (): void => {
        if (appended) return;
        appended = true;
        const f = Deno.openSync(join(dir, "a"), { append: true });
        f.writeSync(new Uint8Array(10));
        f.close();
      };
      duringKernelCopy = append;
      const restore = setSysHook((c) => {
        if (c.op === "read" && c.path === join(dir, "a")) append();
      });
      try {
        await rejects(
          withStrategy(
            s,
            () => copy(join(dir, "a"), join(dir, "b"), { overwrite: true }),
          ),
          SourceChangedError,
          "ESRCCHANGED",
        );
      } finally {
        restore();
      }
      assert(appended);
      assertEquals(
        Deno.readTextFileSync(join(dir, "b")),
        "old",
        "dest untouched",
      );
      deepStrictEqual(temps(dir), []);
    } finally {
      cleanup(dir);
    }
  });

  Deno.test({
    name:
      `copy() [${s}] copies a file across filesystems (/tmp to /dev/shm) and back`,
    ...noShm,
    fn: async () => {
      const a = diskDir(), b = shmDir();
      try {
        writeBytes(join(a, "f"), 4_000_000, 3);
        Deno.chmodSync(join(a, "f"), 0o604);
        const snap = snapshot(join(a, "f"), { times: true });
        await withStrategy(s, () => copy(join(a, "f"), join(b, "f")));
        deepStrictEqual(snapshot(join(b, "f"), { times: true }), snap);
        await withStrategy(s, () => copy(join(b, "f"), join(a, "g")));
        deepStrictEqual(snapshot(join(a, "g"), { times: true }), snap);
        deepStrictEqual(temps(a), []);
        deepStrictEqual(temps(b), []);
      } finally {
        cleanup(a, b);
      }
    },
  });

  Deno.test({
    name:
      `copy() [${s}] into a full filesystem fails with ENOSPC, leaves no temp and the destination untouched`,
    ...noMount,
    fn: async () => {
      const a = diskDir(), m = diskDir();
      mountTmpfs(m, "size=1m");
      try {
        writeBytes(join(a, "big"), 3_000_000);
        Deno.writeTextFileSync(join(m, "big"), "old content");
        const e = await rejects(
          withStrategy(
            s,
            () => copy(join(a, "big"), join(m, "big"), { overwrite: true }),
          ),
          SafeFsError,
          "ENOSPC",
        );
        assert(e.message.includes("'"), e.message);
        assertEquals(Deno.readTextFileSync(join(m, "big")), "old content");
        deepStrictEqual(temps(m), []);
        // and the space is free again: a small copy now fits
        Deno.writeTextFileSync(join(a, "small"), "fits");
        await copy(join(a, "small"), join(m, "small"));
        assertEquals(Deno.readTextFileSync(join(m, "small")), "fits");
      } finally {
        umount(m);
        cleanup(a, m);
      }
    },
  });

  Deno.test(`copy() [${s}] fsyncs the file before the publishing link and the directory after; durable: false does neither`, async () => {
    const dir = diskDir();
    try {
      writeBytes(join(dir, "a"), 2_000_000);
      const { calls, result } = await withStrategy(
        s,
        () => recordCalls(() => copy(join(dir, "a"), join(dir, "b"))),
      );
      assert(!(result instanceof Error), String(result));
      const ops = calls.map((c) => `${c.op} ${c.path ?? ""} ${c.dest ?? ""}`)
        .join("\n");
      const fsync = calls.findIndex((c) => c.op === "fsync");
      const link = calls.findIndex((c) =>
        c.op === "link" && c.dest === join(dir, "b")
      );
      const dirSync = calls.findIndex((c, i) =>
        i > link && c.op === "fsyncDir" && c.path === dir
      );
      assert(fsync >= 0 && link > fsync, ops);
      assert(dirSync > link, ops);
      assertEquals(
        calls.filter((c) => c.op.startsWith("fsync")).length,
        2,
        ops,
      );
      // overwrite publishes with rename, same order
      const over = await withStrategy(
        s,
        () =>
          recordCalls(() =>
            copy(join(dir, "a"), join(dir, "b"), { overwrite: true })
          ),
      );
      const f2 = over.calls.findIndex((c) => c.op === "fsync");
      const r2 = over.calls.findIndex((c) =>
        c.op === "rename" && c.dest === join(dir, "b")
      );
      const d2 = over.calls.findIndex((c, i) => i > r2 && c.op === "fsyncDir");
      assert(f2 >= 0 && r2 > f2 && d2 > r2);
      const quiet = await withStrategy(
        s,
        () =>
          recordCalls(() =>
            copy(join(dir, "a"), join(dir, "c"), { durable: false })
          ),
      );
      assertEquals(
        quiet.calls.filter((c) => c.op.startsWith("fsync")).length,
        0,
      );
      assertEquals(sha(join(dir, "c")), sha(join(dir, "a")));
    } finally {
      cleanup(dir);
    }
  });
}

Deno.test("copy() [kernel] detects a source replaced at its path while the kernel copied it", async () => {
  const dir = diskDir();
  try {
    writeBytes(join(dir, "a"), 2_000_000, 1);
    writeBytes(join(dir, "other"), 2_000_000, 9); // same size: only identity tells
    duringKernelCopy = () =>
      Deno.renameSync(join(dir, "other"), join(dir, "a"));
    await rejects(
      withStrategy("kernel", () => copy(join(dir, "a"), join(dir, "b"))),
      SourceChangedError,
      "ESRCCHANGED",
    );
    assertEquals(snapshot(join(dir, "b")), null);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() [kernel] has the kernel write a new file in a private 0o700 directory, never through an existing name", async () => {
  const dir = diskDir();
  try {
    writeBytes(join(dir, "a"), 2_000_000, 1);
    const seen: string[] = [];
    duringKernelCopy = (_from, to) => {
      const parent = Deno.lstatSync(dirname(to));
      seen.push((parent.mode! & 0o777).toString(8));
      assert(parent.isDirectory && dirname(dirname(to)) === dir);
      assertEquals(
        snapshot(to),
        null,
        "the kernel copy's target already exists",
      );
    };
    await withStrategy("kernel", () => copy(join(dir, "a"), join(dir, "b")));
    deepStrictEqual(seen, ["700"]);
    assertEquals(sha(join(dir, "b")), sha(join(dir, "a")));
    deepStrictEqual(temps(dir), [], "private directory left behind");
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() [kernel] refuses to publish a short kernel copy", async () => {
  const dir = diskDir();
  try {
    writeBytes(join(dir, "a"), 2_000_000, 1);
    afterKernelCopy = (_from, to) => Deno.truncateSync(to, 1_999_999);
    await rejects(
      withStrategy("kernel", () => copy(join(dir, "a"), join(dir, "b"))),
      SafeFsError,
      "EIO",
    );
    assertEquals(snapshot(join(dir, "b")), null);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test({
  name:
    "copy() uses the kernel copy only when the temp never gets more permissions than the result",
  fn: async () => {
    const dir = diskDir();
    try {
      writeBytes(join(dir, "a"), 2_000_000, 1);
      Deno.chmodSync(join(dir, "a"), 0o666);
      await withStrategy("kernel", async () => {
        // Deno.copyFile gives the temp the source's mode (0o666) while it
        // copies; with preserve.mode false the result may be narrower (the
        // umask), so the handle loop must be used.
        const before = kernelCopies;
        await copy(join(dir, "a"), join(dir, "b"), {
          preserve: { mode: false },
        });
        assertEquals(
          Deno.statSync(join(dir, "b")).mode! & 0o777,
          0o666 & ~sys.umask(),
        );
        assertEquals(
          kernelCopies,
          before,
          "the temp was exposed with a wider mode",
        );
        await copy(join(dir, "a"), join(dir, "c"));
        assertEquals(kernelCopies, before + 1);
        assertEquals(Deno.statSync(join(dir, "c")).mode! & 0o777, 0o666);
      });
    } finally {
      cleanup(dir);
    }
  },
});

Deno.test("copy() refuses a FIFO source at once without opening it", async () => {
  const dir = diskDir();
  try {
    new Deno.Command("mkfifo", { args: [join(dir, "p")] }).outputSync();
    let opened = false;
    const restore = setSysHook((c) => {
      if (c.op === "open" && c.path === join(dir, "p")) opened = true;
    });
    // An open of a FIFO would block: seen in the kernel (no timer) and
    // unblocked by opening the FIFO ourselves, it fails the test.
    const unblock = (p: string) => (): void =>
      Deno.openSync(p, { read: true, write: true }).close();
    const check = (w: { openedFifo: boolean; result: unknown }): void => {
      assert(!w.openedFifo, `the FIFO was opened (${w.result})`);
      if (w.result instanceof assert.AssertionError) throw w.result;
    };
    try {
      let w = await watchFifoOpens(
        rejects(
          copy(join(dir, "p"), join(dir, "q")),
          UnsupportedFileTypeError,
          "EFTYPE",
        ),
        unblock(join(dir, "p")),
      );
      check(w);
      // dereference: a symlink to a FIFO is refused the same way
      Deno.symlinkSync("p", join(dir, "lp"));
      w = await watchFifoOpens(
        rejects(
          copy(join(dir, "lp"), join(dir, "q"), { dereference: true }),
          UnsupportedFileTypeError,
        ),
        unblock(join(dir, "p")),
      );
      check(w);
      // a FIFO inside a tree: refused before anything is created
      Deno.mkdirSync(join(dir, "t"));
      Deno.writeTextFileSync(join(dir, "t/f"), "x");
      new Deno.Command("mkfifo", { args: [join(dir, "t/p")] }).outputSync();
      w = await watchFifoOpens(
        rejects(
          copy(join(dir, "t"), join(dir, "t2")),
          UnsupportedFileTypeError,
        ),
        unblock(join(dir, "t/p")),
      );
      check(w);
    } finally {
      restore();
    }
    assert(!opened, "the FIFO was opened");
    assertEquals(snapshot(join(dir, "q")), null);
    assertEquals(snapshot(join(dir, "t2")), null);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() onto an existing destination without overwrite fails with AlreadyExistsError and changes nothing", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "a"), "new");
    Deno.writeTextFileSync(join(dir, "b"), "old");
    const e = await rejects(
      copy(join(dir, "a"), join(dir, "b")),
      AlreadyExistsError,
      "EEXIST",
    );
    assertEquals(e.op, "copy");
    assertEquals(e.path, join(dir, "a"));
    assertEquals(e.dest, join(dir, "b"));
    assert(e.message.includes(`'${join(dir, "b")}'`));
    assertNotEquals(e.message[0], e.message[0].toLowerCase());
    assertEquals(Deno.readTextFileSync(join(dir, "b")), "old");
    // a dangling symlink at dest counts as existing too
    Deno.symlinkSync("nowhere", join(dir, "l"));
    await rejects(copy(join(dir, "a"), join(dir, "l")), AlreadyExistsError);
    assertEquals(Deno.readLinkSync(join(dir, "l")), "nowhere");
    // with overwrite: replaced
    await copy(join(dir, "a"), join(dir, "b"), { overwrite: true });
    assertEquals(Deno.readTextFileSync(join(dir, "b")), "new");
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() no-clobber is atomic: of 16 concurrent copies to one path exactly one wins", async () => {
  const dir = diskDir();
  try {
    for (const kind of ["file", "dir"]) {
      const srcs: string[] = [];
      for (let i = 0; i < 16; i++) {
        const p = join(dir, `${kind}${i}`);
        if (kind === "file") writeBytes(p, 100_000, i + 1);
        else {
          Deno.mkdirSync(p);
          Deno.writeTextFileSync(join(p, "id"), String(i));
          writeBytes(join(p, "data"), 50_000, i + 1);
        }
        srcs.push(p);
      }
      const dest = join(dir, `dest-${kind}`);
      const results = await Promise.allSettled(srcs.map((s) => copy(s, dest)));
      const won = results.flatMap((r, i) =>
        r.status === "fulfilled" ? [i] : []
      );
      assertEquals(won.length, 1, `${kind}: exactly one wins`);
      for (const r of results) {
        if (r.status === "rejected") {
          assert(r.reason instanceof AlreadyExistsError, String(r.reason));
        }
      }
      deepStrictEqual(snapshot(dest), snapshot(srcs[won[0]]));
    }
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() refuses bad arguments with typed errors and changes nothing", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "f"), "x");
    Deno.linkSync(join(dir, "f"), join(dir, "hard"));
    Deno.mkdirSync(join(dir, "d/sub"), { recursive: true });
    Deno.mkdirSync(join(dir, "full"));
    Deno.writeTextFileSync(join(dir, "full/x"), "x");
    Deno.mkdirSync(join(dir, "empty"));
    Deno.symlinkSync(join(dir, "d"), join(dir, "dlink"));
    const before = snapshot(dir);

    await rejects(
      copy(join(dir, "f"), join(dir, "f")),
      InvalidArgumentError,
      "EINVAL",
    );
    await rejects(
      copy(join(dir, "f"), join(dir, "hard"), { overwrite: true }),
      InvalidArgumentError,
      "EINVAL",
    );
    await rejects(
      copy(join(dir, "d"), join(dir, "d/sub/copy")),
      InvalidArgumentError,
    );
    // into itself through a symlink
    await rejects(
      copy(join(dir, "d"), join(dir, "dlink/copy")),
      InvalidArgumentError,
    );
    await rejects(
      copy(join(dir, "nope"), join(dir, "x")),
      NotFoundError,
      "ENOENT",
    );
    const e = await rejects(
      copy(join(dir, "f"), join(dir, "no/such/x")),
      NotFoundError,
    );
    assert(e.message.includes(`'${join(dir, "no/such")}'`), e.message);
    await rejects(
      copy(join(dir, "f"), join(dir, "f/x")),
      SafeFsError,
      "ENOTDIR",
    );
    // overwrite semantics like move
    await rejects(
      copy(join(dir, "f"), join(dir, "empty"), { overwrite: true }),
      SafeFsError,
      "EISDIR",
    );
    await rejects(
      copy(join(dir, "d"), join(dir, "f"), { overwrite: true }),
      SafeFsError,
      "ENOTDIR",
    );
    await rejects(
      copy(join(dir, "d"), join(dir, "full"), { overwrite: true }),
      NotEmptyError,
      "ENOTEMPTY",
    );
    await rejects(copy("", join(dir, "x")), InvalidArgumentError);
    await rejects(
      copy(join(dir, "f"), join(dir, "x"), { verify: "md5" as "sha256" }),
      InvalidArgumentError,
    );
    deepStrictEqual(snapshot(dir), before);
    // a directory replaces an EMPTY directory with overwrite
    await copy(join(dir, "d"), join(dir, "empty"), { overwrite: true });
    assert(Deno.statSync(join(dir, "empty/sub")).isDirectory);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() accepts file: URLs", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "a"), "url");
    const r = await copy(
      new URL(`file://${dir}/a`),
      new URL(`file://${dir}/b`),
    );
    assertEquals(r.dest, join(dir, "b"));
    assertEquals(Deno.readTextFileSync(join(dir, "b")), "url");
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() with verify: sha256 catches a corrupted temp and publishes nothing", async () => {
  const dir = diskDir();
  const realWrite = backend.write;
  try {
    writeBytes(join(dir, "a"), 3_000_000, 4);
    // Corrupt what reaches the kernel: flip one byte of the first write.
    let flipped = false;
    backend.write = (h, buf) => {
      if (!flipped && buf.length > 100) {
        flipped = true;
        const bad = buf.slice();
        bad[77] ^= 0xff;
        return realWrite(h, bad);
      }
      return realWrite(h, buf);
    };
    const e = await rejects(
      copy(join(dir, "a"), join(dir, "b"), { verify: "sha256" }),
      SafeFsError,
      "EIO",
    );
    assert(e.message.includes("sha256"), e.message);
    assertEquals(snapshot(join(dir, "b")), null);
    deepStrictEqual(temps(dir), []);
    // The same corruption without verify is published: the check is what caught it.
    // (the handle loop: the kernel copy makes no write calls to corrupt)
    flipped = false;
    await withStrategy(
      "loop",
      () => copy(join(dir, "a"), join(dir, "c"), { durable: false }),
    );
    assert(flipped);
    assertNotEquals(sha(join(dir, "c")), sha(join(dir, "a")));
    // and with an honest write path verify passes
    backend.write = realWrite;
    await copy(join(dir, "a"), join(dir, "d"), { verify: "sha256" });
    assertEquals(sha(join(dir, "d")), sha(join(dir, "a")));
  } finally {
    backend.write = realWrite;
    cleanup(dir);
  }
});

Deno.test("copy() copies a symlink as a symlink, and its target with dereference", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "target"), "pointed at");
    Deno.symlinkSync("target", join(dir, "l"));
    Deno.symlinkSync("/nonexistent", join(dir, "dangling"));
    await copy(join(dir, "l"), join(dir, "l2"));
    assertEquals(Deno.readLinkSync(join(dir, "l2")), "target");
    await copy(join(dir, "dangling"), join(dir, "d2"));
    assertEquals(Deno.readLinkSync(join(dir, "d2")), "/nonexistent");
    await copy(join(dir, "l"), join(dir, "f"), { dereference: true });
    assert(Deno.lstatSync(join(dir, "f")).isFile);
    assertEquals(Deno.readTextFileSync(join(dir, "f")), "pointed at");
    await rejects(
      copy(join(dir, "dangling"), join(dir, "x"), { dereference: true }),
      NotFoundError,
    );
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

// ---------------------------------------------------------------------------
// Trees
// ---------------------------------------------------------------------------

Deno.test("copy() copies a tree: symlinks stay symlinks, hard links stay hard links, modes and times kept", async () => {
  const dir = diskDir();
  try {
    makeTree(join(dir, "t"));
    Deno.utimeSync(
      join(dir, "t/sub"),
      new Date(1_300_000_000_000),
      new Date(1_300_000_000_000),
    );
    Deno.utimeSync(
      join(dir, "t"),
      new Date(1_200_000_000_000),
      new Date(1_200_000_000_000),
    );
    const before = snapshot(join(dir, "t"), { times: true });
    const progress: number[] = [];
    const r = await copy(join(dir, "t"), join(dir, "c"), {
      onProgress: (p) => progress.push(p.filesDone),
    });
    deepStrictEqual(snapshot(join(dir, "c"), { times: true }), before);
    deepStrictEqual(
      snapshot(join(dir, "t"), { times: true }),
      before,
      "source untouched",
    );
    assertEquals(
      Deno.lstatSync(join(dir, "c/a.txt")).ino,
      Deno.lstatSync(join(dir, "c/sub/a-hard.txt")).ino,
    );
    assertNotEquals(
      Deno.lstatSync(join(dir, "c/a.txt")).ino,
      Deno.lstatSync(join(dir, "t/a.txt")).ino,
    );
    assertEquals(r.entries, Object.keys(before!).length);
    assertEquals(progress.at(-1), r.entries);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test({
  name:
    "copy() copies a tree across filesystems (/tmp to /dev/shm), durably, publishing it in one rename",
  ...noShm,
  fn: async () => {
    const a = diskDir(), b = shmDir();
    try {
      makeTree(join(a, "t"));
      const before = snapshot(join(a, "t"), { times: true });
      const { calls, result } = await recordCalls(() =>
        copy(join(a, "t"), join(b, "t"))
      );
      assert(!(result instanceof Error), String(result));
      deepStrictEqual(snapshot(join(b, "t"), { times: true }), before);
      // Exactly one call makes the tree appear at dest, after every fsync of it.
      const pub = calls.filter((c) =>
        c.dest === join(b, "t") || c.path === join(b, "t")
      );
      deepStrictEqual(pub.map((c) => c.op), ["lstat", "lstat", "rename"]);
      const ri = calls.findIndex((c) =>
        c.op === "rename" && c.dest === join(b, "t")
      );
      const files = calls.filter((c) => c.op === "fsync").length;
      assertEquals(files, 4, "every regular file (hard link once) fsynced");
      assert(
        calls.slice(0, ri).filter((c) => c.op === "fsyncDir").length === 3,
      );
      assert(calls.slice(ri).some((c) => c.op === "fsyncDir" && c.path === b));
      deepStrictEqual(temps(b), []);
    } finally {
      cleanup(a, b);
    }
  },
});

Deno.test("copy() handles 1,000 levels of nesting and 10,000 files", async () => {
  // On tmpfs when there is one: creating 10,000 files on this ext4 costs ~7 s
  // in the kernel alone (cp -a too).
  const dir = HAS_SHM ? shmDir() : diskDir();
  try {
    // deep: built with relative mkdirs
    let p = join(dir, "deep");
    Deno.mkdirSync(p);
    const parts: string[] = [];
    for (let i = 0; i < 1000; i++) parts.push("d");
    Deno.mkdirSync(join(p, ...parts), { recursive: true });
    Deno.writeTextFileSync(join(p, ...parts, "bottom"), "deepest");
    await copy(p, join(dir, "deep2"), { durable: false });
    assertEquals(
      Deno.readTextFileSync(join(dir, "deep2", ...parts, "bottom")),
      "deepest",
    );
    // wide: 10,000 files in 100 directories
    p = join(dir, "wide");
    Deno.mkdirSync(p);
    for (let d = 0; d < 100; d++) {
      Deno.mkdirSync(join(p, `d${d}`));
      for (let f = 0; f < 100; f++) {
        Deno.writeTextFileSync(join(p, `d${d}`, `f${f}`), `${d}/${f}`);
      }
    }
    const t0 = performance.now();
    const r = await copy(p, join(dir, "wide2"), { durable: false });
    const ms = performance.now() - t0;
    assertEquals(r.entries, 1 + 100 + 10_000);
    deepStrictEqual(snapshot(join(dir, "wide2")), snapshot(p));
    console.log(`10,000 files copied in ${ms.toFixed(0)} ms`);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() reports a tree that changes while it is copied, publishing nothing", async () => {
  for (const change of ["add", "remove", "replace", "modify"] as const) {
    const dir = diskDir();
    try {
      makeTree(join(dir, "t"));
      let done = false;
      const restore = setSysHook((c) => {
        // Strike once the copy has begun: at its first mkdir inside the temp.
        if (done || c.op !== "mkdir" || !c.path!.includes("safefs-tmp/")) {
          return;
        }
        done = true;
        if (change === "add") {
          Deno.writeTextFileSync(join(dir, "t/sub/new"), "new");
        }
        if (change === "remove") {
          Deno.removeSync(join(dir, "t/sub/deeper/c.txt"));
        }
        if (change === "replace") {
          Deno.writeTextFileSync(join(dir, "t/x"), "x");
          Deno.renameSync(join(dir, "t/x"), join(dir, "t/empty"));
        }
        if (change === "modify") {
          Deno.writeTextFileSync(join(dir, "t/sub/deeper/c.txt"), "more");
        }
      });
      try {
        await rejects(
          copy(join(dir, "t"), join(dir, "c")),
          SourceChangedError,
          "ESRCCHANGED",
        );
      } finally {
        restore();
      }
      assert(done, change);
      assertEquals(snapshot(join(dir, "c")), null, change);
      deepStrictEqual(temps(dir), [], change);
    } finally {
      cleanup(dir);
    }
  }
});

Deno.test("copy() with dereference reports a symlink loop instead of following it forever", async () => {
  const dir = diskDir();
  try {
    Deno.mkdirSync(join(dir, "t/a"), { recursive: true });
    Deno.writeTextFileSync(join(dir, "t/a/f"), "f");
    Deno.symlinkSync("..", join(dir, "t/a/up"));
    await rejects(
      copy(join(dir, "t"), join(dir, "c"), { dereference: true }),
      SafeFsError,
      "ELOOP",
    );
    assertEquals(snapshot(join(dir, "c")), null);
    deepStrictEqual(temps(dir), []);
    // without dereference the loop is just a symlink
    await copy(join(dir, "t"), join(dir, "c"));
    assertEquals(Deno.readLinkSync(join(dir, "c/a/up")), "..");
  } finally {
    cleanup(dir);
  }
});

Deno.test({
  name:
    "copy() with oneFileSystem skips a mount point inside the tree and reports it",
  ...noMount,
  fn: async () => {
    const dir = diskDir();
    const mnt = join(dir, "t/mnt");
    Deno.mkdirSync(mnt, { recursive: true });
    mountTmpfs(mnt, "size=1m");
    try {
      Deno.writeTextFileSync(join(mnt, "inside"), "other fs");
      Deno.writeTextFileSync(join(dir, "t/f"), "f");
      const r = await copy(join(dir, "t"), join(dir, "c"), {
        oneFileSystem: true,
      });
      deepStrictEqual(r.skippedMounts, [mnt]);
      assertEquals(snapshot(join(dir, "c/mnt")), null);
      assertEquals(Deno.readTextFileSync(join(dir, "c/f")), "f");
      // by default the mounted content is copied
      const r2 = await copy(join(dir, "t"), join(dir, "c2"));
      deepStrictEqual(r2.skippedMounts, []);
      assertEquals(
        Deno.readTextFileSync(join(dir, "c2/mnt/inside")),
        "other fs",
      );
    } finally {
      umount(mnt);
      cleanup(dir);
    }
  },
});

Deno.test("copy() aborted mid-copy leaves no temp and no destination", async () => {
  const dir = diskDir();
  try {
    writeBytes(join(dir, "big"), 20_000_000);
    makeTree(join(dir, "t"));
    for (const src of ["big", "t"]) {
      const ac = new AbortController();
      await rejects(
        copy(join(dir, src), join(dir, `${src}-copy`), {
          signal: ac.signal,
          onProgress: (p) => {
            if (p.bytesDone > 0) ac.abort(new Error("stop"));
          },
        }),
        AbortedError,
        "ABORT_ERR",
      );
      assertEquals(snapshot(join(dir, `${src}-copy`)), null);
      deepStrictEqual(temps(dir), []);
    }
    const ac = new AbortController();
    ac.abort();
    await rejects(
      copy(join(dir, "t"), join(dir, "x"), { signal: ac.signal }),
      AbortedError,
    );
    assertEquals(snapshot(join(dir, "x")), null);
  } finally {
    cleanup(dir);
  }
});

Deno.test({
  name:
    "copy() keeps set-user-ID bits only with the owner, never on a copy owned by the copier (root only)",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    const dir = diskDir();
    try {
      Deno.writeTextFileSync(join(dir, "a"), "#!/bin/sh\n");
      Deno.chownSync(join(dir, "a"), 1234, 5678);
      Deno.chmodSync(join(dir, "a"), 0o4755);
      await copy(join(dir, "a"), join(dir, "b"), { preserve: { owner: true } });
      const st = Deno.statSync(join(dir, "b"));
      deepStrictEqual([st.uid, st.gid, st.mode! & 0o7777], [
        1234,
        5678,
        0o4755,
      ]);
      // Without the owner, the set-user/group-ID bits go: the copy belongs
      // to the copier and must not run as it.
      for (const strategy of STRATEGIES) {
        const c = join(dir, `c-${strategy}`);
        await withStrategy(
          strategy,
          () => copy(join(dir, "a"), c),
        ).catch((e) => {
          // The kernel copy is refused for set-user-ID files (its temp would
          // carry the bits while half written): the loop copied it instead.
          if (!String(e).includes("kernel copy was not used")) throw e;
        });
        const sc = Deno.statSync(c);
        deepStrictEqual([sc.uid, sc.gid, sc.mode! & 0o7777], [0, 0, 0o755]);
      }
    } finally {
      cleanup(dir);
    }
  },
});

Deno.test("copy() with overwrite: a reader looking before every filesystem call never sees a partial file or tree", async () => {
  // The reader runs before every seam call of the copies (and after them):
  // it sees every state of the destinations a concurrent reader could see.
  const dir = diskDir();
  try {
    writeBytes(join(dir, "big"), 32 * 1024 * 1024, 3);
    Deno.writeTextFileSync(join(dir, "dest"), "old");
    makeTree(join(dir, "tree"));
    for (let i = 0; i < 200; i++) {
      Deno.writeTextFileSync(join(dir, "tree", `n${i}`), `${i}`);
    }
    const bigSha = sha(join(dir, "big"));
    const treeSnap = snapshot(join(dir, "tree"));
    const bad: string[] = [];
    const seen = { old: 0, new: 0, noTree: 0, tree: 0 };
    // The content of each inode seen at dest is checked once.
    const checked = new Map<number, string>();
    const look = (): void => {
      const st = Deno.lstatSync(join(dir, "dest"));
      let v = checked.get(st.ino!);
      if (v === undefined) {
        v = st.size === 3
          ? (Deno.readTextFileSync(join(dir, "dest")) === "old" ? "old" : "bad")
          : sha(join(dir, "dest")) === bigSha
          ? "new"
          : `bad size ${st.size}`;
        checked.set(st.ino!, v);
      }
      if (v === "old" || v === "new") seen[v]++;
      else bad.push(`dest: ${v}`);
      const t = snapshot(join(dir, "tree-copy"));
      if (t === null) seen.noTree++;
      else if (JSON.stringify(t) === JSON.stringify(treeSnap)) seen.tree++;
      else bad.push(`tree: ${Object.keys(t).length} entries`);
    };
    let looks = 0;
    await onEverySysCall(() => {
      looks++;
      look();
    }, async () => {
      await copy(join(dir, "big"), join(dir, "dest"), { overwrite: true });
      await copy(join(dir, "tree"), join(dir, "tree-copy"));
    });
    look();
    deepStrictEqual(bad.slice(0, 5), [], JSON.stringify(seen));
    assert(seen.old > 0 && seen.new > 0, JSON.stringify(seen));
    assert(seen.noTree > 200 && seen.tree > 0, JSON.stringify(seen));
    assert(looks > 200, `${looks} looks`);
    assertEquals(sha(join(dir, "dest")), bigSha);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() survives a failure at every seam call: typed error, no temp, destination old or complete", async () => {
  const dir = diskDir();
  try {
    const cases: [string, () => void, { overwrite?: boolean }][] = [
      ["file", () => writeBytes(join(dir, "s"), 1_500_000), {}],
      ["file overwrite", () => {
        writeBytes(join(dir, "s"), 10_000);
        Deno.writeTextFileSync(join(dir, "out/d"), "old");
      }, { overwrite: true }],
      ["tree", () => makeTree(join(dir, "s")), {}],
    ];
    let tried = 0;
    for (const [label, setup, opts] of cases) {
      const reset = (): void => {
        cleanup(join(dir, "s"), join(dir, "out"));
        Deno.mkdirSync(join(dir, "out"));
        setup();
      };
      reset();
      const srcSnap = snapshot(join(dir, "s"));
      const destSnap = snapshot(join(dir, "out/d"));
      const { calls } = await recordCalls(() =>
        copy(join(dir, "s"), join(dir, "out/d"), opts)
      );
      deepStrictEqual(
        snapshot(join(dir, "out/d")),
        srcSnap,
        `${label}: clean run`,
      );
      for (let i = 0; i < calls.length; i++) {
        reset();
        const { hit, result } = await failingAt(
          { calls, n: i },
          EIO,
          () => copy(join(dir, "s"), join(dir, "out/d"), opts),
        );
        const where = `${label}: failing call ${i} ${JSON.stringify(hit)}`;
        tried++;
        deepStrictEqual(temps(join(dir, "out")), [], `${where}: temp left`);
        deepStrictEqual(
          snapshot(join(dir, "s")),
          srcSnap,
          `${where}: source changed`,
        );
        const now = JSON.stringify(snapshot(join(dir, "out/d")));
        if (!(result instanceof Error)) {
          // Only the unlink of the temp's second name after a link may be absorbed.
          assertEquals(
            now,
            JSON.stringify(srcSnap),
            `${where}: resolved but incomplete`,
          );
          assertEquals((hit as { op: string } | null)?.op, "unlink", where);
          continue;
        }
        assert(result instanceof SafeFsError, `${where}: ${result}`);
        assertEquals((result as SafeFsError).code, "EIO", where);
        assert(
          now === JSON.stringify(destSnap) || now === JSON.stringify(srcSnap),
          `${where}: destination is neither old nor complete: ${now}`,
        );
      }
    }
    assert(tried > 30, `only ${tried} fault points`);
  } finally {
    cleanup(dir);
  }
});

Deno.test("copy() checks permissions first and names the missing flag", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "a"), "x");
    Deno.mkdirSync(join(dir, "out"));
    const r = await runDeno(
      [`--allow-read=${dir}`, `--allow-write=${join(dir, "out/b")}`],
      `import { copy } from ${
        JSON.stringify(new URL("../src/copy.ts", import.meta.url).href)
      };
       try { await copy(Deno.args[0], Deno.args[1]); console.log("copied"); }
       catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, flag: e.flag })); }`,
      [join(dir, "a"), join(dir, "out/b")],
    );
    const out = JSON.parse(r.stdout);
    deepStrictEqual(out, {
      name: PermissionError.name,
      code: "ENOTCAPABLE",
      flag: `--allow-write=${join(dir, "out")}`,
    }, r.stderr);
    deepStrictEqual(Array.from(Deno.readDirSync(join(dir, "out"))), []);
    // Deno.symlink needs unscoped read and write: a tree with a symlink is
    // refused before anything is created, naming the flag.
    Deno.mkdirSync(join(dir, "t"));
    Deno.writeTextFileSync(join(dir, "t/f"), "f");
    Deno.symlinkSync("f", join(dir, "t/l"));
    const t = await runDeno(
      [`--allow-read=${dir}`, `--allow-write=${join(dir, "out")}`],
      `import { copy } from ${
        JSON.stringify(new URL("../src/copy.ts", import.meta.url).href)
      };
       try { await copy(Deno.args[0], Deno.args[1]); console.log("copied"); }
       catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, flag: e.flag, path: e.path })); }`,
      [join(dir, "t"), join(dir, "out/t")],
    );
    deepStrictEqual(JSON.parse(t.stdout), {
      name: PermissionError.name,
      code: "ENOTCAPABLE",
      flag: "--allow-read",
      path: join(dir, "t/l"),
    }, t.stderr);
    deepStrictEqual(Array.from(Deno.readDirSync(join(dir, "out"))), []);
  } finally {
    cleanup(dir);
  }
});

// ---------------------------------------------------------------------------
// Modes of small files in trees (copied through sys.createFile when not
// durable)
// ---------------------------------------------------------------------------

Deno.test("copy() of a tree without a preserved mode gives its small files the umask's default mode", async () => {
  const dir = diskDir();
  const saved = process.umask(0o027);
  try {
    Deno.mkdirSync(join(dir, "s/sub"), { recursive: true });
    for (const rel of ["a", "sub/b"]) {
      Deno.writeTextFileSync(join(dir, "s", rel), rel);
      Deno.chmodSync(join(dir, "s", rel), 0o666);
    }
    for (const durable of [false, true]) {
      const d = join(dir, `d-${durable}`);
      await copy(join(dir, "s"), d, { durable, preserve: { mode: false } });
      for (const rel of ["a", "sub/b"]) {
        assertEquals(
          (Deno.statSync(join(d, rel)).mode! & 0o7777).toString(8),
          (0o666 & ~0o027).toString(8),
          `${rel}, durable: ${durable}`,
        );
      }
    }
  } finally {
    process.umask(saved);
    cleanup(dir);
  }
});

Deno.test("copy() never lets another user reach the data of a private file while its copy is built", async () => {
  // At every seam call of the copy, each copied file that exists must be
  // unreadable to others: either its mode grants them no read, or a
  // directory above it (up to the destination's directory) refuses them
  // search (x).
  const dir = diskDir();
  const saved = process.umask(0o022);
  try {
    Deno.mkdirSync(join(dir, "s/sub"), { recursive: true });
    Deno.mkdirSync(join(dir, "out"));
    for (const rel of ["k1", "sub/k2"]) {
      Deno.writeTextFileSync(join(dir, "s", rel), "secret");
      Deno.chmodSync(join(dir, "s", rel), 0o600);
    }
    Deno.writeTextFileSync(join(dir, "one"), "secret");
    Deno.chmodSync(join(dir, "one"), 0o600);
    const exposed: string[] = [];
    const check = (): void => {
      const walk = (p: string, reachable: boolean): void => {
        const i = Deno.lstatSync(p);
        const mode = i.mode! & 0o777;
        if (i.isFile && reachable && (mode & 0o044) !== 0) {
          exposed.push(`${p} ${mode.toString(8)}`);
        }
        if (i.isDirectory) {
          for (const e of Deno.readDirSync(p)) {
            walk(join(p, e.name), reachable && (mode & 0o011) !== 0);
          }
        }
      };
      walk(join(dir, "out"), true);
    };
    for (const durable of [false, true]) {
      const restore = setSysHook(check);
      try {
        await copy(join(dir, "s"), join(dir, `out/tree-${durable}`), {
          durable,
        });
        await copy(join(dir, "one"), join(dir, `out/one-${durable}`), {
          durable,
        });
      } finally {
        restore();
      }
      check();
    }
    deepStrictEqual(exposed, []);
    assertEquals(
      Deno.statSync(join(dir, "out/tree-false/sub/k2")).mode! & 0o777,
      0o600,
    );
  } finally {
    process.umask(saved);
    cleanup(dir);
  }
});

Deno.test("copy() of a tree waits for every file in flight before it removes its temp after a failure", async () => {
  // Eight files are copied at a time. One file's create (f1) is held until
  // another one (f3) has failed while f1 was in flight, and then until copy()
  // settles (or, for a copy() that rightly waits for f1, a little longer).
  // The temp tree must be removed only after f1's create has finished, so
  // nothing is left behind (a create landing after the cleanup would leave a
  // temp directory), and copy() must not settle before it.
  const dir = diskDir();
  const realCreate = backend.createFile;
  try {
    Deno.mkdirSync(join(dir, "s/d"), { recursive: true });
    for (let i = 0; i < 40; i++) {
      Deno.writeTextFileSync(join(dir, `s/d/f${i}`), `file ${i}`);
    }
    let slowDone = false, f1InFlight = false, failedWhileF1 = false;
    let f3Failed!: () => void;
    const failed = new Promise<void>((r) => (f3Failed = r));
    let settledNow!: () => void;
    const settled = new Promise<void>((r) => (settledNow = r));
    const later = (ms: number): Promise<void> =>
      new Promise((r) => setTimeout(r, ms));
    backend.createFile = async (p, data) => {
      if (p.endsWith("/d/f1")) {
        f1InFlight = true;
        // The hold is ordered by events; the timers only end it for a copy()
        // that does the right thing (waits for f1), so they cannot make a
        // correct copy() fail.
        await Promise.race([failed, later(2000)]);
        await Promise.race([settled, later(300)]);
        await realCreate(p, data);
        slowDone = true;
        f1InFlight = false;
        return;
      }
      if (p.endsWith("/d/f3")) {
        failedWhileF1 = f1InFlight;
        f3Failed();
        throw new Error("Input/output error (os error 5)");
      }
      await realCreate(p, data);
    };
    const p = copy(join(dir, "s"), join(dir, "out"), { durable: false });
    p.finally(() => settledNow()).catch(() => {});
    await rejects(p, SafeFsError, "EIO");
    assert(failedWhileF1, "f3 did not fail while f1 was in flight");
    assert(slowDone, "copy() settled before the create in flight had finished");
    deepStrictEqual(temps(dir), [], "temp left behind");
    assertEquals(snapshot(join(dir, "out")), null);
  } finally {
    backend.createFile = realCreate;
    cleanup(dir);
  }
});

Deno.test("copy() of a tree reports a file written to after it was read, publishing nothing", async () => {
  // In a tree the per-file fstat after the read is skipped: the re-check of
  // the whole tree at the end of the build must catch the write instead.
  for (const durable of [false, true]) {
    const dir = diskDir();
    try {
      makeTree(join(dir, "t"));
      const victim = join(dir, "t/sub/deeper/c.txt");
      let done = false;
      const restore = setSysHook((c) => {
        // The copy of c.txt is being written: its source was read already.
        const writing = c.op === "createFile" || c.op === "write";
        if (done || !writing || !c.path!.endsWith("/sub/deeper/c.txt")) return;
        done = true;
        Deno.writeTextFileSync(victim, "written after the read");
      });
      try {
        await rejects(
          copy(join(dir, "t"), join(dir, "c"), { durable }),
          SourceChangedError,
          "ESRCCHANGED",
        );
      } finally {
        restore();
      }
      assert(done, `durable: ${durable}`);
      assertEquals(snapshot(join(dir, "c")), null);
      deepStrictEqual(temps(dir), []);
    } finally {
      cleanup(dir);
    }
  }
});
