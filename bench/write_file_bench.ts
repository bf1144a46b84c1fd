// Copyright 2026 the safefs authors. MIT license.
// deno bench -A bench/write_file_bench.ts
// writeFile() against Deno.writeFile (in place, not atomic), for small and
// large payloads, durable and not, and with streamed input.
import { writeFile } from "../mod.ts";

const dir = Deno.makeTempDirSync({
  dir: "/var/tmp",
  prefix: "safefs-bench-write-",
});
const small = new TextEncoder().encode('{"port": 8080}\n'.repeat(4));
const large = new Uint8Array(16 << 20);
crypto.getRandomValues(large.subarray(0, 65536));
for (let i = 65536; i < large.length; i += 65536) {
  large.copyWithin(i, 0, 65536);
}
const path = `${dir}/target`;
Deno.writeFileSync(path, small);

for (const [label, data] of [["60 B", small], ["16 MiB", large]] as const) {
  Deno.bench({
    name: "Deno.writeFile (in place, not atomic)",
    group: `${label}, not durable`,
    baseline: true,
    async fn(): Promise<void> {
      await Deno.writeFile(path, data);
    },
  });
  Deno.bench({
    name: "safefs writeFile, durable: false",
    group: `${label}, not durable`,
    async fn(): Promise<void> {
      await writeFile(path, data, { durable: false });
    },
  });
  Deno.bench({
    name: "Deno.writeFile + fsync (in place, not atomic)",
    group: `${label}, durable`,
    baseline: true,
    async fn(): Promise<void> {
      const f = await Deno.open(path, {
        write: true,
        create: true,
        truncate: true,
      });
      let off = 0;
      while (off < data.length) off += await f.write(data.subarray(off));
      await f.sync();
      f.close();
    },
  });
  Deno.bench({
    name: "safefs writeFile (file fsync + dir fsync)",
    group: `${label}, durable`,
    async fn(): Promise<void> {
      await writeFile(path, data);
    },
  });
}

Deno.bench({
  name: "safefs writeFile, 16 MiB as a stream of 64 KiB chunks",
  group: "16 MiB, not durable",
  async fn(): Promise<void> {
    const stream = new ReadableStream<Uint8Array>({
      start(c): void {
        for (let i = 0; i < large.length; i += 65536) {
          c.enqueue(large.subarray(i, i + 65536));
        }
        c.close();
      },
    });
    await writeFile(path, stream, { durable: false });
  },
});

globalThis.addEventListener("unload", (): void => {
  Deno.removeSync(dir, { recursive: true });
});
