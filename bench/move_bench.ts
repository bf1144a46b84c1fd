// Copyright 2026 the safefs authors. MIT license.
// deno bench: move() on one filesystem, durable and not, against Deno.rename.
import { move } from "../mod.ts";

const dir = Deno.makeTempDirSync({ prefix: "safefs-bench-move-" });
let n = 0;
function fresh(): [string, string] {
  const a = `${dir}/a${n}`, b = `${dir}/b${n}`;
  n++;
  Deno.writeTextFileSync(a, "payload");
  return [a, b];
}

Deno.bench({
  name: "Deno.rename (same fs)",
  group: "move same-fs file",
  baseline: true,
  async fn(b): Promise<void> {
    const [src, dest] = fresh();
    b.start();
    await Deno.rename(src, dest);
    b.end();
  },
});

Deno.bench({
  name: "safefs move, durable: false",
  group: "move same-fs file",
  async fn(b): Promise<void> {
    const [src, dest] = fresh();
    b.start();
    await move(src, dest, { durable: false });
    b.end();
  },
});

Deno.bench({
  name: "safefs move, overwrite, durable: false (one rename)",
  group: "move same-fs file",
  async fn(b): Promise<void> {
    const [src, dest] = fresh();
    b.start();
    await move(src, dest, { durable: false, overwrite: true });
    b.end();
  },
});

Deno.bench({
  name: "safefs move, durable (2 directory fsyncs)",
  group: "move same-fs file",
  async fn(b): Promise<void> {
    const [src, dest] = fresh();
    b.start();
    await move(src, dest);
    b.end();
  },
});

globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});
