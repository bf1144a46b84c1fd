// Copyright 2026 the safefs authors. MIT license.
import assert, {
  deepStrictEqual,
  equal as assertEquals,
} from "node:assert/strict";
import { join } from "node:path";
import {
  AbortedError,
  AlreadyExistsError,
  InvalidArgumentError,
  IsADirectoryError,
  NotADirectoryError,
  NotFoundError,
  PermissionError,
  SafeFsError,
} from "../src/errors.ts";
import { writeFile } from "../src/write_file.ts";
import { setSysHook, sys } from "../src/_sys.ts";
import {
  BACKEND,
  CAN_MOUNT,
  cleanup,
  diskDir,
  EIO,
  failingAt,
  indexOf,
  isDataWrite,
  isDirFsync,
  isDurabilityCall,
  isFileFsync,
  isNoClobberPublishAt,
  mountTmpfs,
  onEverySysCall,
  recordCalls,
  rejects,
  runDeno,
  showCalls,
  snapshot,
  temps,
  umount,
} from "./_helpers.ts";

if (!CAN_MOUNT) {
  console.warn(
    "SKIPPED: cannot mount tmpfs (needs root): the ENOSPC writeFile test is skipped",
  );
}

const enc = new TextEncoder();

async function* gen(): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < 3; i++) yield enc.encode(`part ${i};`);
}

async function* big(): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < 30; i++) yield new Uint8Array(100_000);
}

function payload(i: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let k = 0; k < size; k++) b[k] = (i * 31 + k * 7) & 0xff;
  b.set(enc.encode(`writer ${i};`), 0);
  return b;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

Deno.test("writeFile() writes bytes, strings, streams and async iterables, leaving no temp", async () => {
  const dir = diskDir();
  try {
    const bytes = payload(1, 300_000);
    let r = await writeFile(join(dir, "bytes"), bytes);
    deepStrictEqual(r, {
      path: join(dir, "bytes"),
      bytes: 300_000,
      replaced: false,
      publish: "rename",
    });
    assert(equalBytes(Deno.readFileSync(join(dir, "bytes")), bytes));
    r = await writeFile(join(dir, "text"), "héllo\n");
    assertEquals(r.bytes, 7);
    assertEquals(Deno.readTextFileSync(join(dir, "text")), "héllo\n");
    r = await writeFile(
      join(dir, "stream"),
      ReadableStream.from([
        bytes.subarray(0, 1000),
        new Uint8Array(),
        bytes.subarray(1000),
      ]),
    );
    assert(equalBytes(Deno.readFileSync(join(dir, "stream")), bytes));
    await writeFile(join(dir, "iter"), gen());
    assertEquals(
      Deno.readTextFileSync(join(dir, "iter")),
      "part 0;part 1;part 2;",
    );
    await writeFile(new URL(`file://${dir}/url`), "");
    assertEquals(Deno.statSync(join(dir, "url")).size, 0);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("writeFile() replaces by default, keeping the replaced file's mode; mode is applied exactly", async () => {
  const dir = diskDir();
  try {
    const p = join(dir, "f");
    await writeFile(p, "one");
    const umask = sys.umask();
    assert(umask !== null, "the umask is readable under -A");
    assertEquals(Deno.statSync(p).mode! & 0o7777, 0o666 & ~umask);
    Deno.chmodSync(p, 0o640);
    const ino = Deno.statSync(p).ino;
    await writeFile(p, "two");
    assertEquals(Deno.readTextFileSync(p), "two");
    assertEquals(Deno.statSync(p).mode! & 0o7777, 0o640, "existing mode kept");
    assert(
      Deno.statSync(p).ino !== ino,
      "replaced by a new inode, not rewritten in place",
    );
    await writeFile(p, "three", { mode: 0o602 });
    assertEquals(
      Deno.statSync(p).mode! & 0o7777,
      0o602,
      "umask does not apply",
    );
    await rejects(
      writeFile(p, "x", { mode: 0o10000 }),
      InvalidArgumentError,
      "EINVAL",
    );
    await rejects(
      writeFile(p, 42 as unknown as string),
      InvalidArgumentError,
      "EINVAL",
    );
    await rejects(
      writeFile(p, ReadableStream.from(["text" as unknown as Uint8Array])),
      InvalidArgumentError,
    );
    assertEquals(Deno.readTextFileSync(p), "three");
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("writeFile() with overwrite: false refuses an existing path with AlreadyExistsError and changes nothing", async () => {
  const dir = diskDir();
  try {
    const p = join(dir, "f");
    await writeFile(p, "first", { overwrite: false });
    const e = await rejects(
      writeFile(p, "second", { overwrite: false }),
      AlreadyExistsError,
      "EEXIST",
    );
    assertEquals(e.op, "writeFile");
    assertEquals(e.path, p);
    assert(e.message.includes(`'${p}'`), e.message);
    assertEquals(Deno.readTextFileSync(p), "first");
    // the check is atomic (ffi: renameat2 RENAME_NOREPLACE; path: link),
    // not lstat-then-act: pass the early check, then have someone create the
    // file before the publish
    Deno.removeSync(p);
    let raced = 0;
    const restore = setSysHook((c) => {
      if (isNoClobberPublishAt(c, p)) {
        raced++;
        Deno.writeTextFileSync(p, "raced in");
      }
    });
    try {
      await rejects(
        writeFile(p, "late", { overwrite: false }),
        AlreadyExistsError,
      );
    } finally {
      restore();
    }
    assertEquals(raced, 1, "the no-clobber publish was not reached");
    assertEquals(Deno.readTextFileSync(p), "raced in");
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("writeFile() replaces a symlink at the path instead of writing through it", async () => {
  const dir = diskDir();
  try {
    Deno.writeTextFileSync(join(dir, "target"), "target content");
    Deno.symlinkSync("target", join(dir, "link"));
    await writeFile(join(dir, "link"), "new");
    assert(Deno.lstatSync(join(dir, "link")).isFile);
    assertEquals(Deno.readTextFileSync(join(dir, "link")), "new");
    assertEquals(Deno.readTextFileSync(join(dir, "target")), "target content");
    // without overwrite, a symlink (even dangling) counts as existing
    Deno.symlinkSync("nowhere", join(dir, "dangling"));
    await rejects(
      writeFile(join(dir, "dangling"), "x", { overwrite: false }),
      AlreadyExistsError,
    );
    assertEquals(Deno.readLinkSync(join(dir, "dangling")), "nowhere");
  } finally {
    cleanup(dir);
  }
});

Deno.test("writeFile() refuses a directory at the path and a missing parent, with typed errors", async () => {
  const dir = diskDir();
  try {
    Deno.mkdirSync(join(dir, "d"));
    const isDir = await rejects(
      writeFile(join(dir, "d"), "x"),
      IsADirectoryError,
      "EISDIR",
    );
    assert(isDir instanceof Deno.errors.IsADirectory);
    await rejects(
      writeFile(join(dir, "d"), "x", { overwrite: false }),
      IsADirectoryError,
      "EISDIR",
    );
    assert(Deno.statSync(join(dir, "d")).isDirectory);
    const e = await rejects(
      writeFile(join(dir, "no/such/f"), "x"),
      NotFoundError,
      "ENOENT",
    );
    assert(e.message.includes(`'${join(dir, "no/such")}'`), e.message);
    Deno.writeTextFileSync(join(dir, "file"), "x");
    const notDir = await rejects(
      writeFile(join(dir, "file/f"), "x"),
      NotADirectoryError,
      "ENOTDIR",
    );
    assert(notDir instanceof Deno.errors.NotADirectory);
    // A trailing slash names a directory: refused for a file.
    await rejects(
      writeFile(join(dir, "file") + "/", "x"),
      NotADirectoryError,
      "ENOTDIR",
    );
    await rejects(
      writeFile(join(dir, "file/f"), "x", { parents: true }),
      NotADirectoryError,
      "ENOTDIR",
    );
    assertEquals(Deno.readTextFileSync(join(dir, "file")), "x");
    await rejects(writeFile("", "x"), InvalidArgumentError);
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("writeFile() refuses a path whose last component is '.' or '..' before any filesystem call", async () => {
  const dir = diskDir();
  try {
    Deno.mkdirSync(join(dir, "d/e"), { recursive: true });
    const before = snapshot(dir);
    for (const p of [`${dir}/d/.`, `${dir}/d/e/..`, `${dir}/d/..`, "."]) {
      for (const overwrite of [true, false]) {
        const { calls, result } = await recordCalls(() =>
          writeFile(p, "x", { overwrite })
        );
        const e = await rejects(
          Promise.reject(result),
          InvalidArgumentError,
          "EINVAL",
        );
        assert(e.message.includes("last component"), e.message);
        assertEquals(showCalls(calls), "", p);
      }
    }
    deepStrictEqual(snapshot(dir), before);
  } finally {
    cleanup(dir);
  }
});

Deno.test("writeFile() with parents creates the missing directories, each made durable in its parent before the next", async () => {
  const dir = diskDir();
  try {
    const p = join(dir, "a/b/c/f");
    const { calls, result } = await recordCalls(() =>
      writeFile(p, "deep", { parents: true, mode: 0o600 })
    );
    assert(!(result instanceof Error), String(result));
    assertEquals(Deno.readTextFileSync(p), "deep");
    assertEquals(Deno.statSync(p).mode! & 0o777, 0o600);
    const umask = sys.umask()!;
    for (const d of ["a", "a/b", "a/b/c"]) {
      assertEquals(Deno.statSync(join(dir, d)).mode! & 0o777, 0o777 & ~umask);
    }
    const ops = showCalls(calls);
    // Each mkdir is followed by an fsync of the directory it was made in,
    // before the next one is made below it.
    let from = 0;
    for (
      const [parent, name] of [[dir, "a"], [`${dir}/a`, "b"], [
        `${dir}/a/b`,
        "c",
      ]]
    ) {
      const mk = indexOf(
        calls,
        (c) => c.op === "mkdirAt" && c.path === join(parent, name),
        from,
      );
      assert(mk >= from, `no mkdir of ${name}: ${ops}`);
      const sync = indexOf(calls, (c) => isDirFsync(c, parent), mk + 1);
      const next = indexOf(calls, (c) => c.op === "mkdirAt", mk + 1);
      assert(sync > mk && (next < 0 || sync < next), ops);
      from = sync;
    }
    // Then the file's own durability: its data, then the directory c.
    assert(indexOf(calls, (c) => isDirFsync(c, join(dir, "a/b/c")), from) > 0);
    assertEquals(calls.filter(isDurabilityCall).length, 3 + 2, ops);
    // An existing part is used as it is (also through a symlink, as mkdir -p).
    Deno.symlinkSync("a/b", join(dir, "ln"));
    await writeFile(join(dir, "ln/x/f2"), "via link", { parents: true });
    assertEquals(Deno.readTextFileSync(join(dir, "a/b/x/f2")), "via link");
    // durable: false makes them without any fsync.
    const quiet = await recordCalls(() =>
      writeFile(join(dir, "q/r/f"), "q", { parents: true, durable: false })
    );
    assertEquals(quiet.calls.filter(isDurabilityCall).length, 0);
    assertEquals(Deno.readTextFileSync(join(dir, "q/r/f")), "q");
    deepStrictEqual(temps(join(dir, "a/b/c")), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("writeFile() holds a lock on its temp while it writes, released once it is published", async () => {
  const dir = diskDir();
  try {
    const p = join(dir, "f");
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let pulls = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(c): Promise<void> {
        pulls++;
        if (pulls === 1) c.enqueue(payload(1, 1000));
        else if (pulls === 2) {
          await gate;
          c.enqueue(payload(2, 1000));
        } else c.close();
      },
    }, { highWaterMark: 0 });
    const done = writeFile(p, stream);
    // Wait (on events) until the temp exists and the writer waits for data.
    while (temps(dir).length === 0 || pulls < 2) {
      await new Promise((r) => setTimeout(r, 1));
    }
    const [tmp] = temps(dir);
    const f = Deno.openSync(join(dir, tmp), { read: true });
    let lockedByWriter: boolean;
    try {
      // flock is per open file description: this one conflicts with the
      // writer's, in this process as in any other (sweep's).
      lockedByWriter = !f.tryLockSync(true);
    } finally {
      f.close();
    }
    release();
    await done;
    assert(lockedByWriter, "the live temp was not locked");
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("writeFile() fsyncs the file before the publishing rename or link and the directory after; durable: false does neither", async () => {
  const dir = diskDir();
  try {
    const p = join(dir, "f");
    for (const overwrite of [true, false]) {
      const { calls, result } = await recordCalls(() =>
        writeFile(p, "data", { overwrite })
      );
      assert(!(result instanceof Error), String(result));
      const ops = showCalls(calls);
      // The publish: rename(2) when replacing; without overwrite the
      // backend's no-clobber publish (ffi: RENAME_NOREPLACE, path: link).
      const pub = indexOf(
        calls,
        (c) =>
          overwrite
            ? c.op === "renameAt" && c.how === "replace" && c.dest === p
            : isNoClobberPublishAt(c, p),
      );
      const write = indexOf(calls, (c) => isDataWrite(c));
      const fsync = indexOf(calls, (c) => isFileFsync(c));
      const dirSync = indexOf(calls, (c) => isDirFsync(c, dir), pub + 1);
      assert(write >= 0 && fsync > write && pub > fsync && dirSync > pub, ops);
      assertEquals(calls.filter(isDurabilityCall).length, 2, ops);
      assertEquals(
        (result as { publish: string }).publish,
        overwrite ? "rename" : BACKEND === "ffi" ? "noreplace" : "link",
      );
      const tmp = calls[pub].path!;
      if (overwrite || BACKEND === "ffi") {
        // Never touch the temp name after a successful rename.
        assert(
          !calls.slice(pub + 1).some((c) => c.path === tmp || c.dest === tmp),
          ops,
        );
      } else {
        // After a link, the temp's name is removed (and nothing else).
        deepStrictEqual(
          calls.slice(pub + 1).filter((c) => c.path === tmp || c.dest === tmp)
            .map((c) => c.op),
          ["unlinkAt"],
          ops,
        );
      }
      Deno.removeSync(p);
    }
    const quiet = await recordCalls(() =>
      writeFile(p, "data", { durable: false })
    );
    assertEquals(quiet.calls.filter(isDurabilityCall).length, 0);
    assertEquals(Deno.readTextFileSync(p), "data");
  } finally {
    cleanup(dir);
  }
});

Deno.test("writeFile() survives a failure at every seam call: typed error, no temp, the file old or complete", async () => {
  const dir = diskDir();
  try {
    const p = join(dir, "f");
    const data = payload(7, 100_000);
    for (const overwrite of [true, false]) {
      const setup = (): void => {
        cleanup(p);
        if (overwrite) Deno.writeTextFileSync(p, "old");
      };
      setup();
      const { calls } = await recordCalls(() =>
        writeFile(p, data, { overwrite })
      );
      assert(calls.length > 5);
      for (let i = 0; i < calls.length; i++) {
        setup();
        const { hit, result } = await failingAt(
          i,
          EIO,
          () => writeFile(p, data, { overwrite }),
        );
        const where = `overwrite=${overwrite} call ${i} ${JSON.stringify(hit)}`;
        deepStrictEqual(temps(dir), [], `${where}: temp left`);
        let now: Uint8Array | null = null;
        try {
          now = Deno.readFileSync(p);
        } catch {
          // absent
        }
        if (!(result instanceof Error)) {
          // Only two failures may be absorbed: the removal of the temp's
          // second name after a link (path backend), and the temp's flock
          // (taken where the filesystem has it; without it the temp is
          // protected from sweep() by its ctime age alone). The write
          // succeeded: the file is the complete new data.
          const op = (hit as { op: string } | null)?.op;
          assert(
            op === "lock" || (op === "unlinkAt" && !overwrite),
            `${where}: a failure was absorbed`,
          );
          assert(now !== null && equalBytes(now, data), where);
          continue;
        }
        assert(result instanceof SafeFsError, `${where}: ${result}`);
        assertEquals((result as SafeFsError).code, "EIO", where);
        const old = overwrite ? enc.encode("old") : null;
        assert(
          (now === null && old === null) ||
            (now !== null && old !== null && equalBytes(now, old)) ||
            (now !== null && equalBytes(now, data)),
          `${where}: the file is neither old nor complete`,
        );
      }
    }
  } finally {
    cleanup(dir);
  }
});

Deno.test("writeFile() aborted removes its temp and leaves the file untouched, even while the stream waits", async () => {
  const dir = diskDir();
  try {
    const p = join(dir, "f");
    Deno.writeTextFileSync(p, "old");
    // abort between chunks
    const ac = new AbortController();
    const chunks = async function* (): AsyncGenerator<Uint8Array> {
      yield payload(1, 1000);
      ac.abort(new Error("enough"));
      yield payload(2, 1000);
    };
    const e = await rejects(
      writeFile(p, chunks(), { signal: ac.signal }),
      AbortedError,
      "ABORT_ERR",
    );
    assertEquals((e.cause as Error).message, "enough");
    assertEquals(Deno.readTextFileSync(p), "old");
    deepStrictEqual(temps(dir), []);
    // abort while the stream has nothing to give (it never ends by itself):
    // when writeFile() asks for a second chunk, none comes, and the abort is
    // raised then, from a timer (a macrotask, as a user's would be).
    let cancelled = false, pulls = 0;
    const ac2 = new AbortController();
    const stalled = new ReadableStream<Uint8Array>({
      start(c): void {
        c.enqueue(payload(3, 1000));
      },
      pull(): Promise<void> {
        if (++pulls === 1) setTimeout(() => ac2.abort(), 0);
        return new Promise(() => {}); // never gives more
      },
      cancel(): void {
        cancelled = true;
      },
    }, { highWaterMark: 0 });
    await rejects(writeFile(p, stalled, { signal: ac2.signal }), AbortedError);
    assert(pulls >= 1, "writeFile() never waited for the stream");
    assertEquals(Deno.readTextFileSync(p), "old");
    deepStrictEqual(temps(dir), []);
    await new Promise((r) => setTimeout(r, 0));
    assert(cancelled, "the stream was cancelled");
    // a failing stream: its error, no temp, file untouched
    const broken = new ReadableStream<Uint8Array>({
      start(c): void {
        c.enqueue(payload(4, 1000));
        c.error(new Error("producer failed"));
      },
    });
    // (wrapped: code EINPUT, the producer's error as its cause)
    const input = await rejects(writeFile(p, broken), SafeFsError, "EINPUT");
    assert(input.message.includes("producer failed"), input.message);
    assertEquals((input.cause as Error).message, "producer failed");
    assertEquals(Deno.readTextFileSync(p), "old");
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("writeFile() with an already aborted signal makes no filesystem call, and creates no parent directory", async () => {
  const dir = diskDir();
  try {
    const p = join(dir, "f");
    Deno.writeTextFileSync(p, "old");
    // With parents to create: the abort comes first, nothing is made.
    const made = await recordCalls(() =>
      writeFile(join(dir, "new/deeper/f"), "x", {
        parents: true,
        signal: AbortSignal.abort(),
      })
    );
    assert(made.result instanceof AbortedError, String(made.result));
    deepStrictEqual(
      Array.from(Deno.readDirSync(dir)).map((e) => e.name),
      ["f"],
      "an aborted writeFile() created directories",
    );
    assertEquals(showCalls(made.calls), "");
    const { calls, result } = await recordCalls(() =>
      writeFile(p, "x", { signal: AbortSignal.abort() })
    );
    assert(result instanceof AbortedError, String(result));
    assertEquals(showCalls(calls), "");
    assertEquals(Deno.readTextFileSync(p), "old");
  } finally {
    cleanup(dir);
  }
});

Deno.test("writeFile() 20 concurrent writers to one path: the file is exactly one writer's complete data", async () => {
  const dir = diskDir();
  try {
    const p = join(dir, "f");
    const datas = Array.from(
      { length: 20 },
      (_, i) => payload(i, 200_000 + i * 1000),
    );
    await Promise.all(datas.map((d) => writeFile(p, d)));
    const got = Deno.readFileSync(p);
    assert(
      datas.some((d) => equalBytes(d, got)),
      "the file mixes writers or is partial",
    );
    deepStrictEqual(temps(dir), []);
    // no-clobber: exactly one of 20 wins, the file is its data
    const q = join(dir, "g");
    const results = await Promise.allSettled(
      datas.map((d) => writeFile(q, d, { overwrite: false })),
    );
    const won = results.flatMap((r, i) => r.status === "fulfilled" ? [i] : []);
    assertEquals(won.length, 1);
    for (const r of results) {
      if (r.status === "rejected") {
        assert(r.reason instanceof AlreadyExistsError, String(r.reason));
      }
    }
    assert(equalBytes(Deno.readFileSync(q), datas[won[0]]));
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("writeFile() 20 writer processes to one path: the file is exactly one writer's complete data", async () => {
  const dir = diskDir();
  try {
    const p = join(dir, "f");
    const script = join(dir, "writer.ts");
    Deno.writeTextFileSync(
      script,
      `import { writeFile } from ${
        JSON.stringify(new URL("../src/write_file.ts", import.meta.url).href)
      };
const i = Number(Deno.args[1]);
const data = new Uint8Array(500_000 + i * 997).fill(i + 1);
for (let k = 0; k < 5; k++) await writeFile(Deno.args[0], data);
console.log("done");`,
    );
    const outs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--quiet", script, p, String(i)],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output()),
    );
    for (const o of outs) {
      assertEquals(
        new TextDecoder().decode(o.stdout).trim(),
        "done",
        new TextDecoder().decode(o.stderr),
      );
    }
    const got = Deno.readFileSync(p);
    const i = got[0] - 1;
    assert(i >= 0 && i < 20, `first byte ${got[0]}`);
    assertEquals(got.length, 500_000 + i * 997, "partial or mixed file");
    assert(got.every((b) => b === i + 1), "mixed data from two writers");
    deepStrictEqual(temps(dir), []);
  } finally {
    cleanup(dir);
  }
});

Deno.test("writeFile(): a reader looking before every filesystem call never sees a partial or mixed file", async () => {
  // The reader runs before every seam call of every write (and after each
  // write): it sees every state of the path that a concurrent reader could
  // see, at every step, whatever the machine's load.
  const dir = diskDir();
  try {
    const p = join(dir, "f");
    const A = new Uint8Array(3_000_000).fill(1);
    const B = new Uint8Array(5_000_000).fill(2);
    await writeFile(p, A);
    const bad: string[] = [];
    const seen = { A: 0, B: 0 };
    const look = (): void => {
      const d = Deno.readFileSync(p);
      if (equalBytes(d, A)) seen.A++;
      else if (equalBytes(d, B)) seen.B++;
      else bad.push(`${d.length}:${d[0]}:${d[d.length - 1]}`);
    };
    let looks = 0;
    for (let k = 0; k < 12; k++) {
      const before = looks;
      await onEverySysCall(() => {
        looks++;
        look();
      }, () => writeFile(p, k % 2 ? A : B, { durable: k % 4 < 2 }));
      look();
      assert(looks - before >= 3, `write ${k}: only ${looks - before} calls`);
    }
    deepStrictEqual(bad.slice(0, 5), [], JSON.stringify(seen));
    // Each version was seen before and after every replacement.
    assert(seen.A >= 12 && seen.B >= 12, JSON.stringify(seen));
  } finally {
    cleanup(dir);
  }
});

Deno.test({
  name:
    "writeFile() into a full filesystem fails with ENOSPC, leaves no temp and the old file intact",
  ignore: !CAN_MOUNT,
  fn: async () => {
    const m = diskDir();
    mountTmpfs(m, "size=1m");
    try {
      const p = join(m, "f");
      await writeFile(p, "old content");
      await rejects(
        writeFile(p, new Uint8Array(3_000_000)),
        SafeFsError,
        "ENOSPC",
      );
      assertEquals(Deno.readTextFileSync(p), "old content");
      deepStrictEqual(temps(m), []);
      await rejects(writeFile(join(m, "g"), big()), SafeFsError, "ENOSPC");
      assertEquals(
        Array.from(Deno.readDirSync(m)).map((e) => e.name).sort().join(","),
        "f",
      );
    } finally {
      umount(m);
      cleanup(m);
    }
  },
});

Deno.test("writeFile() checks permissions first and names the missing flag", async () => {
  const dir = diskDir();
  try {
    const p = join(dir, "out/f");
    Deno.mkdirSync(join(dir, "out"));
    const code = `import { writeFile } from ${
      JSON.stringify(new URL("../src/write_file.ts", import.meta.url).href)
    };
try { await writeFile(Deno.args[0], "x"); console.log(JSON.stringify({ ok: true })); }
catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, flag: e.flag })); }`;
    // write permission for the file alone is not enough: the temp is a sibling
    let r = await runDeno([`--allow-read=${dir}`, `--allow-write=${p}`], code, [
      p,
    ]);
    deepStrictEqual(JSON.parse(r.stdout), {
      name: PermissionError.name,
      code: "ENOTCAPABLE",
      flag: `--allow-write=${join(dir, "out")}`,
    }, r.stderr);
    r = await runDeno([`--allow-write=${join(dir, "out")}`], code, [p]);
    deepStrictEqual(JSON.parse(r.stdout), {
      name: PermissionError.name,
      code: "ENOTCAPABLE",
      flag: `--allow-read=${join(dir, "out")}`,
    }, r.stderr);
    deepStrictEqual(Array.from(Deno.readDirSync(join(dir, "out"))), []);
    r = await runDeno(
      [`--allow-read=${join(dir, "out")}`, `--allow-write=${join(dir, "out")}`],
      code,
      [p],
    );
    deepStrictEqual(JSON.parse(r.stdout), { ok: true }, r.stderr);
    assertEquals(Deno.readTextFileSync(p), "x");
  } finally {
    cleanup(dir);
  }
});
