// Copyright 2026 the safefs authors. MIT license.
/**
 * Runs ONE operation of a JS contender in its own process and prints one JSON
 * line: its time (performance.now() around the call alone, not Deno's
 * start-up), when its first progress callback fired, the process's VmHWM
 * just before exit, and which safefs backend was asked for and reported.
 *
 *   deno run -A bench/_runner.ts '{"op":"safefs.copy","src":"a","dst":"b"}'
 *
 * safefs is reached only through `../mod.ts` (the public API), imported on
 * demand like every other contender, so each process loads only what it
 * measures. The backend is chosen by the environment (`SAFEFS_BACKEND=path`
 * or unset), which is why every safefs measurement is its own process.
 *
 * @module
 */

interface Job {
  op: string;
  src?: string;
  dst?: string;
  path?: string;
  dir?: string;
  /** Writes: how many, over how many names. */
  n?: number;
  names?: number;
  durable?: boolean;
  overwrite?: boolean;
  fsync?: boolean;
  /** Pass an onProgress callback (and report when it first fired). */
  progress?: boolean;
  /**
   * bench:profile: print BENCH-JOB-READY and wait to be released before the
   * job, BENCH-JOB-DONE and wait again after it (the profiler runs between).
   */
  hold?: boolean;
}

const job = JSON.parse(Deno.args[0]) as Job;
const backendEnv = Deno.env.get("SAFEFS_BACKEND") ?? null;

// deno-lint-ignore no-explicit-any
type Any = any;
let firstProgressMs: number | null = null;
let progressCalls = 0;
let t0 = 0;
const onProgress = (): void => {
  progressCalls++;
  if (firstProgressMs === null) firstProgressMs = performance.now() - t0;
};
const prog = (): Record<string, unknown> => job.progress ? { onProgress } : {};
/** Options with `durable` only when the job sets it (older builds lack it). */
const dur = (): Record<string, unknown> =>
  job.durable === undefined ? {} : { durable: job.durable };

const payload = new TextEncoder().encode(
  JSON.stringify({ hello: "world", n: 42, pad: "x".repeat(40) }),
);

async function loadSafefs(): Promise<Any> {
  return await import("../mod.ts");
}

/** Prepares the job (imports, untimed) and returns the timed action. */
async function prepare(): Promise<() => Promise<unknown>> {
  const [kind, name] = job.op.split(".");
  if (kind === "noop") return () => Promise.resolve();
  if (kind === "safefs") {
    const m = await loadSafefs();
    switch (name) {
      case "noop":
        return () => Promise.resolve();
      case "copy":
        return () => m.copy(job.src, job.dst, { ...dur(), ...prog() });
      case "move":
        return () =>
          m.move(job.src, job.dst, {
            ...dur(),
            ...prog(),
            ...(job.overwrite ? { overwrite: true } : {}),
          });
      case "remove":
        return () => m.remove(job.path, { ...dur(), ...prog() });
      case "writeFile":
        return writes((p) => m.writeFile(p, payload, { ...dur() }));
    }
  }
  if (kind === "fse") {
    const fse = (await import("fs-extra")).default as Any;
    switch (name) {
      case "copy":
        return () => fse.copy(job.src, job.dst);
      case "move":
        return () => fse.move(job.src, job.dst);
      case "remove":
        return () => fse.remove(job.path);
    }
  }
  if (kind === "rimraf") {
    const { rimraf } = await import("rimraf");
    return () => rimraf(job.path!);
  }
  if (kind === "wfa") {
    const wfa = (await import("write-file-atomic")).default as Any;
    const { Buffer } = await import("node:buffer");
    const buf = Buffer.from(payload);
    return writes((p) => wfa(p, buf, { fsync: job.fsync ?? true }));
  }
  if (kind === "deno") {
    switch (name) {
      case "copyFile":
        return () => Deno.copyFile(job.src!, job.dst!);
      case "remove":
        return () => Deno.remove(job.path!, { recursive: true });
      case "writeFile":
        return writes((p) => Deno.writeFile(p, payload));
    }
  }
  throw new Error(`unknown op ${job.op}`);
}

/** `n` writes in sequence over `names` file names in `dir`. */
function writes(
  f: (path: string) => Promise<unknown>,
): () => Promise<unknown> {
  return async () => {
    const n = job.n ?? 2000, names = job.names ?? 100;
    for (let i = 0; i < n; i++) await f(`${job.dir}/f${i % names}.json`);
  };
}

function vmHwm(): number | null {
  const m = Deno.readTextFileSync("/proc/self/status").match(
    /VmHWM:\s*(\d+)/,
  );
  return m ? Number(m[1]) : null;
}

async function backendInfo(): Promise<string | null> {
  if (!job.op.startsWith("safefs.")) return null;
  const m = await loadSafefs();
  if (typeof m.backendInfo !== "function") return null;
  try {
    const info = await m.backendInfo();
    return typeof info === "string"
      ? info
      : (info?.name ?? JSON.stringify(info));
  } catch (e) {
    return `backendInfo() threw ${e instanceof Error ? e.message : e}`;
  }
}

/** bench:profile's hand-shake (see `hold`). */
async function hold(marker: string): Promise<void> {
  const released = new Promise<void>((resolve) => {
    (globalThis as Any).__benchRelease = resolve;
  });
  // A live timer keeps the event loop turning, so the inspector's messages
  // (Profiler.start, the release) are served while we wait.
  const tick = setInterval(() => {}, 5);
  console.log(marker);
  await released;
  clearInterval(tick);
}

const action = await prepare();
if (job.hold) await hold("BENCH-JOB-READY");
let error: { name: string; code?: string; message: string } | undefined;
t0 = performance.now();
try {
  await action();
} catch (e) {
  const err = e as { name?: string; code?: string; message?: string };
  error = {
    name: err?.name ?? "Error",
    ...(err?.code ? { code: String(err.code) } : {}),
    message: String(err?.message ?? e).slice(0, 500),
  };
}
const ms = performance.now() - t0;
const out = {
  ms,
  firstProgressMs,
  progressCalls,
  vmHwmKiB: vmHwm(),
  backendEnv,
  backendInfo: await backendInfo(),
  ...(error ? { error } : {}),
};
console.log(JSON.stringify(out));
if (job.hold) await hold("BENCH-JOB-DONE");
