// Copyright 2026 the safefs authors. MIT license.
// deno bench: the seam's raw calls, per backend (ffi, path) beside Deno's own
// sync calls, in microseconds per call. Run as root or not, on the disk temp
// dir (ext4 here). The path backend is benched where src/_sys_path.ts exists.
import { type Backend, type Dir, listAll } from "../src/_sys_types.ts";
import { createFfiBackend } from "../src/_sys_ffi.ts";

const backends: [string, Backend][] = [];
const ffi = createFfiBackend();
if (typeof ffi === "string") console.log(`ffi backend unavailable: ${ffi}`);
else backends.push(["ffi", ffi]);
try {
  const { createPathBackend } = await import(
    new URL("../src/_sys_path.ts", import.meta.url).href
  );
  backends.push(["path", createPathBackend() as Backend]);
} catch (e) {
  console.log(
    `path backend not benched: ${e instanceof Error ? e.message : e}`,
  );
}

const top = Deno.makeTempDirSync({ prefix: "safefs-bench-sys-" });
const open: [Backend, Dir][] = [];
globalThis.addEventListener("unload", () => {
  for (const [b, d] of open) b.close(d);
  Deno.removeSync(top, { recursive: true });
});

/** A fresh directory for one backend's benches, opened. */
function dirFor(b: Backend, name: string): [string, Dir] {
  const path = `${top}/${name}`;
  Deno.mkdirSync(path);
  const d = b.openDir(path, false);
  open.push([b, d]);
  return [path, d];
}

for (const [label, b] of backends) {
  const [path, d] = dirFor(b, `${label}-small`);
  Deno.writeTextFileSync(`${path}/file`, "x");
  Deno.bench({
    name: `${label} statAt`,
    group: "statAt",
    fn(): void {
      b.statAt(d, "file", false);
    },
  });
  Deno.bench({
    name: `${label} openAt(read) + close`,
    group: "openAt + close",
    fn(): void {
      b.close(b.openAt(d, "file", { read: true }));
    },
  });
  let n = 0;
  Deno.bench({
    name: `${label} openAt(create) + close + unlinkAt`,
    group: "create + unlink",
    fn(): void {
      const name = `c${n++}`;
      b.close(b.openAt(d, name, { write: true, create: true }));
      b.unlinkAt(d, name);
    },
  });
  let flip = 0;
  Deno.bench({
    name: `${label} renameAt (replace)`,
    group: "renameAt",
    fn(): void {
      const [from, to] = flip++ & 1 ? ["r1", "file"] : ["file", "r1"];
      b.renameAt(d, from, d, to, "replace");
    },
  });

  const [big, bd] = dirFor(b, `${label}-1000`);
  for (let i = 0; i < 1000; i++) {
    Deno.writeFileSync(`${big}/e${i}`, new Uint8Array());
  }
  Deno.bench({
    name: `${label} list (1,000 entries)`,
    group: "list 1,000",
    fn(): void {
      if (listAll(b, bd).length !== 1000) throw new Error("wrong count");
    },
  });
}

// Baselines: Deno's own sync calls, and what a scoped grant costs per call.
const base = `${top}/deno`;
Deno.mkdirSync(`${base}/list`, { recursive: true });
Deno.writeTextFileSync(`${base}/file`, "x");
for (let i = 0; i < 1000; i++) {
  Deno.writeFileSync(`${base}/list/e${i}`, new Uint8Array());
}
Deno.bench({
  name: "Deno.lstatSync",
  group: "statAt",
  baseline: true,
  fn(): void {
    Deno.lstatSync(`${base}/file`);
  },
});
Deno.bench({
  name: "Deno.openSync + close",
  group: "openAt + close",
  baseline: true,
  fn(): void {
    Deno.openSync(`${base}/file`).close();
  },
});
Deno.bench({
  name: "Deno.readDirSync (1,000 entries)",
  group: "list 1,000",
  baseline: true,
  fn(): void {
    Array.from(Deno.readDirSync(`${base}/list`));
  },
});
Deno.bench({
  name: "Deno.permissions.querySync (read, one path)",
  group: "permission check",
  fn(): void {
    Deno.permissions.querySync({ name: "read", path: `${base}/file` });
  },
});
