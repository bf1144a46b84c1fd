// Copyright 2026 the safefs authors. MIT license.
/**
 * `deno task demo`: builds a sample tree in a temp dir on disk and moves a
 * large file and a directory tree across filesystems (disk ↔ /dev/shm when
 * /dev/shm is a separate tmpfs), refuses a no-clobber move and a read through
 * a planted symlink in an `openRoot()` handle, printing each step and how long
 * it took.
 *
 * @module
 */
import {
  AlreadyExistsError,
  backendInfo,
  move,
  openRoot,
  PermissionError,
} from "./mod.ts";

const MiB = 1024 * 1024;

/**
 * Runs one step, then prints its heading with the time it took, then the
 * lines it noted (so each result sits under its own heading).
 */
async function step<T>(
  what: string,
  f: (note: (line: string) => void) => Promise<T>,
): Promise<T> {
  const notes: string[] = [];
  const t0 = performance.now();
  try {
    return await f((line) => notes.push(line));
  } finally {
    const ms = performance.now() - t0;
    console.log(`${what.padEnd(64)} ${ms.toFixed(1).padStart(9)} ms`);
    for (const line of notes) console.log(`  -> ${line}`);
  }
}

/** Entries of a tree, the directory itself included (as move() counts). */
function countEntries(dir: string): number {
  let n = 1;
  for (const e of Deno.readDirSync(dir)) {
    if (e.isDirectory) n += countEntries(`${dir}/${e.name}`);
    else n++;
  }
  return n;
}

const disk = Deno.makeTempDirSync({ prefix: "safefs-demo-" });
let other: string;
let crossFs = false;
try {
  other = Deno.makeTempDirSync({ dir: "/dev/shm", prefix: "safefs-demo-" });
  crossFs = Deno.statSync(other).dev !== Deno.statSync(disk).dev;
} catch {
  other = Deno.makeTempDirSync({ prefix: "safefs-demo-other-" });
}
console.log(`safefs demo: disk dir ${disk}`);
console.log(
  `             other dir ${other} (${
    crossFs
      ? "another filesystem: moves copy, publish, then remove"
      : "same filesystem: moves are renames"
  })`,
);
{
  const b = backendInfo(disk);
  console.log(
    `             backend ${b.name}${
      b.reason
        ? ` (${b.reason})`
        : " (libc through FFI: every call on open directories)"
    }; ${b.filesystem?.type ?? "?"} at the disk dir: no-clobber ${
      b.filesystem?.noClobber ?? "?"
    }, directory exchange ${b.filesystem?.exchange ? "yes" : "no"}\n`,
  );
}

try {
  await step("build sample tree: 64 MiB file + 1,000 files in 20 dirs", () => {
    const big = new Uint8Array(64 * MiB);
    crypto.getRandomValues(big.subarray(0, 65536));
    for (let i = 65536; i < big.length; i += 65536) big.copyWithin(i, 0, 65536);
    Deno.writeFileSync(`${disk}/big.bin`, big);
    for (let d = 0; d < 20; d++) {
      Deno.mkdirSync(`${disk}/tree/dir${d}/nested`, { recursive: true });
      for (let f = 0; f < 50; f++) {
        Deno.writeTextFileSync(
          `${disk}/tree/dir${d}/${f < 25 ? "" : "nested/"}file${f}.txt`,
          `file ${d}/${f}\n`.repeat(f + 1),
        );
      }
    }
    Deno.symlinkSync("dir0/file0.txt", `${disk}/tree/link-to-file0`);
    Deno.linkSync(
      `${disk}/tree/dir0/file1.txt`,
      `${disk}/tree/hardlink-to-file1`,
    );
    return Promise.resolve();
  });
  const entries = countEntries(`${disk}/tree`);

  await step(
    "move a file on one filesystem (rename)",
    () => move(`${disk}/big.bin`, `${disk}/big-renamed.bin`),
  );
  await step(
    `move the 64 MiB file to the other dir`,
    async (note) => {
      const r = await move(`${disk}/big-renamed.bin`, `${other}/big.bin`);
      note(
        `crossDevice=${r.crossDevice}, ${r.bytes} bytes copied, fsynced, published, source removed`,
      );
    },
  );
  await step(
    `move the tree (${entries} entries) to the other dir`,
    async (note) => {
      const r = await move(`${disk}/tree`, `${other}/tree`);
      note(
        `crossDevice=${r.crossDevice}, ${r.entries} entries, symlink and hard link kept`,
      );
    },
  );
  await step(
    "move the tree back (durable: false)",
    () => move(`${other}/tree`, `${disk}/tree`, { durable: false }),
  );
  await step(
    "move the file back",
    () => move(`${other}/big.bin`, `${disk}/big.bin`),
  );

  Deno.writeTextFileSync(`${disk}/other.txt`, "someone else's file");
  await step(
    "move onto an existing file without overwrite (refused)",
    async (note) => {
      try {
        await move(`${disk}/big.bin`, `${disk}/other.txt`);
      } catch (e) {
        if (!(e instanceof AlreadyExistsError)) throw e;
        note(`${e.name} (${e.code}): ${e.message}`);
      }
    },
  );
  Deno.symlinkSync("/etc", `${disk}/tree/link-to-etc`);
  await step(
    "openRoot(tree): read through a planted link to /etc (refused)",
    async (note) => {
      const root = await openRoot(`${disk}/tree`);
      await root.writeFile("dir0/notes.txt", "inside the root");
      note("wrote dir0/notes.txt inside the root");
      try {
        await root.readFile("link-to-etc/passwd");
      } catch (e) {
        if (!(e instanceof PermissionError)) throw e;
        note(`${e.name} (${e.code}): ${e.message}`);
      }
      await root.remove("link-to-etc"); // the link itself, never /etc
    },
  );
  console.log(
    `\ntree after all steps: ${
      countEntries(`${disk}/tree`)
    } entries (the ${entries} moved there and back, plus dir0/notes.txt), ` +
      `big.bin ${Deno.statSync(`${disk}/big.bin`).size} bytes`,
  );
} finally {
  Deno.removeSync(disk, { recursive: true });
  Deno.removeSync(other, { recursive: true });
}
