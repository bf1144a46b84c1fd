// Copyright 2026 the safefs authors. MIT license.
/**
 * `deno task bench:profile [--files 10000] [--ops copy,copy-durable,move,remove]
 *   [--backends default,path] [--dir /tmp/safefs-profiles] [--top 15]
 *   [--fs ext4|tmpfs] [--heap] [--label NAME] [--no-results]`
 *
 * CPU profiles of safefs on a tree of small files (100 B, 10 x 10 dirs) on a
 * fresh ext4 image (root) or a temp dir: the runner (bench/_runner.ts, public
 * API only) is started under `--inspect-wait`, this script connects to it
 * over the inspector protocol, starts V8's sampling profiler just before the
 * call and stops it just after, so the profile holds the operation alone.
 * Deno 2.9 has no `--cpu-prof`; this is its equivalent.
 *
 * Writes each profile as `<dir>/<op>-<backend>.cpuprofile` (open it in Chrome
 * DevTools, Performance panel, or https://www.speedscope.app) and a summary:
 * where the wall time went ((idle) = the event loop waiting on async ops
 * such as fsync on Deno's thread pool, (program) = native code outside JS:
 * Deno's ops, syscalls made synchronously, (garbage collector)), and the
 * functions with the most self and total time. The summary goes to
 * bench/RESULTS.md (section `profile:<label>`).
 *
 * `--heap` profiles memory instead: V8's sampling heap profiler over the
 * call, counting objects later collected too (so: bytes allocated per
 * allocation site), and the JS heap in use polled every 50 ms (its peak,
 * beside the process's VmHWM, tells JS heap from native memory). Section
 * `profile-heap:<label>`; the `.heapprofile` files open in Chrome DevTools.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  type Backend,
  backendEnv,
  buildTree3,
  dirPlace,
  ext4Place,
  fmtInt,
  IS_ROOT,
  machineLines,
  mountOf,
  type Place,
  releaseAll,
  RUNNER,
  syncAll,
  table,
  tmpfsPlace,
  writeSection,
} from "./_util.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    files: { type: "string", default: "10000" },
    ops: { type: "string", default: "copy,copy-durable,move,remove" },
    backends: { type: "string", default: "default,path" },
    dir: { type: "string", default: "/tmp/safefs-profiles" },
    top: { type: "string", default: "15" },
    label: { type: "string", default: "latest" },
    "no-results": { type: "boolean" },
    heap: { type: "boolean" },
    fs: { type: "string", default: "ext4" },
    out: {
      type: "string",
      default: new URL("./RESULTS.md", import.meta.url).pathname,
    },
  },
});
const FILES = Number(flags.files);
const TOP = Number(flags.top);
const BACKENDS = flags.backends!.split(",") as Backend[];
const HEAP = flags.heap === true;
Deno.mkdirSync(flags.dir!, { recursive: true });
const payload = new TextEncoder().encode("x".repeat(100));

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}
interface HeapProfile {
  head: HeapNode;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A minimal inspector-protocol client. */
class Inspector {
  #ws: WebSocket;
  #id = 0;
  #pending = new Map<number, (r: unknown) => void>();
  #logs: string[] = [];
  #waiter: (() => void) | null = null;
  #logged(line: string): void {
    this.#logs.push(line);
    this.#waiter?.();
  }
  /** Resolves once the inspected program has console.logged `line`. */
  async logged(line: string): Promise<void> {
    while (!this.#logs.includes(line)) {
      await new Promise<void>((r) => (this.#waiter = r));
    }
  }
  /** Everything the program console.logged. */
  get logs(): string[] {
    return this.#logs;
  }
  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (ev): void => {
      const msg = JSON.parse(String(ev.data));
      if (msg.id !== undefined) this.#pending.get(msg.id)?.(msg);
      if (msg.method === "Runtime.consoleAPICalled") {
        for (const a of msg.params.args ?? []) {
          if (typeof a.value === "string") this.#logged(a.value);
        }
      }
    };
  }
  static open(url: string): Promise<Inspector> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.onopen = (): void => resolve(new Inspector(ws));
      ws.onerror = (e): void => reject(new Error(`inspector: ${e}`));
    });
  }
  send<T = unknown>(method: string, params: unknown = {}): Promise<T> {
    const id = ++this.#id;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, (m) => {
        const msg = m as { error?: { message: string }; result: T };
        this.#pending.delete(id);
        if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
        else resolve(msg.result);
      });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }
  close(): void {
    this.#ws.close();
  }
}

/** Reads lines from a stream until one matches; returns the match. */
async function waitLine(
  reader: ReadableStreamDefaultReader<string>,
  re: RegExp,
  seen: string[],
): Promise<RegExpMatchArray> {
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      throw new Error(
        `process ended before ${re}: ${seen.join("").slice(-2000)}`,
      );
    }
    buf += value;
    seen.push(value);
    const m = buf.match(re);
    if (m) return m;
  }
}

async function profileJob(
  job: Record<string, unknown>,
  backend: Backend,
): Promise<{ profile: Profile | HeapProfile; peakHeap: number; out: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-prompt",
      "--inspect-wait=127.0.0.1:0",
      RUNNER,
      JSON.stringify({ ...job, hold: true }),
    ],
    env: backendEnv(backend),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const err = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const errSeen: string[] = [];
  const outSeen: string[] = [];
  const url = (await waitLine(err, /(ws:\/\/\S+)/, errSeen))[1];
  // Keep draining stderr so the child never blocks on a full pipe.
  (async (): Promise<void> => {
    for (;;) {
      const r = await err.read();
      if (r.done) break;
      errSeen.push(r.value);
    }
  })();
  const ins = await Inspector.open(url);
  await ins.send("Runtime.enable");
  if (HEAP) {
    await ins.send("HeapProfiler.enable");
  } else {
    await ins.send("Profiler.enable");
    await ins.send("Profiler.setSamplingInterval", { interval: 200 });
  }
  await ins.send("Runtime.runIfWaitingForDebugger");
  await ins.logged("BENCH-JOB-READY");
  if (HEAP) {
    await ins.send("HeapProfiler.startSampling", {
      samplingInterval: 16384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  } else {
    await ins.send("Profiler.start");
  }
  await ins.send("Runtime.evaluate", {
    expression: "globalThis.__benchRelease()",
  });
  let peakHeap = 0;
  let finished = false;
  const poll = (async (): Promise<void> => {
    while (HEAP && !finished) {
      const u = await ins.send<{ usedSize: number }>("Runtime.getHeapUsage");
      peakHeap = Math.max(peakHeap, u.usedSize);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await ins.logged("BENCH-JOB-DONE");
  finished = true;
  await poll;
  const { profile } = HEAP
    ? await ins.send<{ profile: HeapProfile }>("HeapProfiler.stopSampling")
    : await ins.send<{ profile: Profile }>("Profiler.stop");
  await ins.send("Runtime.evaluate", {
    expression: "globalThis.__benchRelease()",
  });
  ins.close();
  for (;;) {
    const r = await out.read();
    if (r.done) break;
    outSeen.push(r.value);
  }
  await child.status;
  const line = outSeen.join("").split("\n").find((l) => l.startsWith("{")) ??
    "";
  return { profile, peakHeap, out: line };
}

const repoRoot = new URL("../", import.meta.url).href;
function frameName(f: CallFrame): string {
  const url = f.url.replace(repoRoot, "").replace(
    /^.*\/node_modules\//,
    "npm:",
  );
  return f.url
    ? `${f.functionName || "(anonymous)"} ${url}:${f.lineNumber + 1}`
    : f.functionName || "(anonymous)";
}

/** Bytes allocated per function (self) and under it (total). */
function summarizeHeap(p: HeapProfile): {
  allocated: number;
  self: [string, number][];
  total: [string, number][];
} {
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let allocated = 0;
  const walk = (n: HeapNode, stack: string[]): number => {
    const k = frameName(n.callFrame);
    self.set(k, (self.get(k) ?? 0) + n.selfSize);
    allocated += n.selfSize;
    let sum = n.selfSize;
    const inner = [...stack, k];
    for (const c of n.children) sum += walk(c, inner);
    if (!stack.includes(k)) total.set(k, (total.get(k) ?? 0) + sum);
    return sum;
  };
  walk(p.head, []);
  const top = (m: Map<string, number>): [string, number][] =>
    [...m].filter(([k]) => !k.startsWith("(")).sort((a, b) => b[1] - a[1])
      .slice(0, TOP);
  return { allocated, self: top(self), total: top(total) };
}

/** Self and total time per function, and the top-level split. */
function summarize(p: Profile): {
  wallMs: number;
  split: [string, number][];
  self: [string, number][];
  total: [string, number][];
} {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0;
    selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + dt);
  }
  const root = new URL("../", import.meta.url).href;
  const short = (url: string): string =>
    url.replace(root, "")
      .replace(/^.*\/node_modules\//, "npm:")
      .replace(/^ext:/, "ext:");
  const name = (f: CallFrame): string =>
    f.url
      ? `${f.functionName || "(anonymous)"} ${short(f.url)}:${f.lineNumber + 1}`
      : f.functionName || "(anonymous)";
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const split = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const k = name(n.callFrame);
    self.set(k, (self.get(k) ?? 0) + us);
    // Total time: once per distinct function on the stack.
    const seen = new Set<string>();
    let top = "";
    for (
      let cur: number | undefined = id;
      cur !== undefined;
      cur = parent.get(cur)
    ) {
      const f = byId.get(cur)!.callFrame;
      const fk = name(f);
      if (!seen.has(fk)) {
        seen.add(fk);
        total.set(fk, (total.get(fk) ?? 0) + us);
      }
      if (f.url.includes("/src/")) top = "safefs JS (src/)";
    }
    const fn = n.callFrame.functionName;
    const cat = ["(idle)", "(program)", "(garbage collector)"].includes(fn)
      ? fn
      : fn.startsWith("op_") && !n.callFrame.url
      ? "Deno ops (native: Rust + the syscall), self"
      : n.callFrame.url.includes("/bench/_runner.ts")
      ? "the runner's hand-shake"
      : n.callFrame.url.includes("/src/")
      ? "safefs JS (src/), self"
      : n.callFrame.url.startsWith("ext:")
      ? top
        ? "Deno runtime JS (ext:) called by safefs"
        : "Deno runtime JS (ext:)"
      : top
      ? "other JS called by safefs"
      : "other JS";
    split.set(cat, (split.get(cat) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>): [string, number][] =>
    [...m].sort((a, b) => b[1] - a[1]);
  return {
    wallMs: (p.endTime - p.startTime) / 1000,
    split: sorted(split),
    self: sorted(self).filter(([k]) => !k.startsWith("(")).slice(0, TOP),
    total: sorted(total).filter(([k]) => !k.startsWith("(")).slice(0, TOP),
  };
}

// ---------------------------------------------------------------------------

interface OpSpec {
  id: string;
  title: string;
  two?: boolean;
  job: (a: string, b: string) => Record<string, unknown>;
}
const ALL_OPS: OpSpec[] = [
  {
    id: "copy",
    title: "copy, durable: false",
    job: (a) => ({
      op: "safefs.copy",
      src: `${a}/src`,
      dst: `${a}/dst`,
      durable: false,
    }),
  },
  {
    id: "copy-durable",
    title: "copy (durable)",
    job: (a) => ({ op: "safefs.copy", src: `${a}/src`, dst: `${a}/dst` }),
  },
  {
    id: "move",
    title: "move across filesystems (durable)",
    two: true,
    job: (a, b) => ({ op: "safefs.move", src: `${a}/src`, dst: `${b}/dst` }),
  },
  {
    id: "remove",
    title: "remove (durable)",
    job: (a) => ({ op: "safefs.remove", path: `${a}/src` }),
  },
];
const OPS = ALL_OPS.filter((o) => flags.ops!.split(",").includes(o.id));

const parentDir = Deno.makeTempDirSync({
  dir: "/var/tmp",
  prefix: "safefs-prof-",
});
const sections: string[] = [];
let fsLine = "";
try {
  for (const op of OPS) {
    for (const backend of BACKENDS) {
      const places: Place[] = [];
      try {
        const a = flags.fs === "tmpfs"
          ? tmpfsPlace(parentDir)
          : IS_ROOT
          ? ext4Place(parentDir)
          : dirPlace(parentDir, false);
        if (!a) throw new Error("no tmpfs");
        places.push(a);
        let b = "";
        if (op.two) {
          const pb = IS_ROOT ? ext4Place(parentDir) : tmpfsPlace(parentDir);
          if (!pb) throw new Error("no second filesystem");
          places.push(pb);
          b = pb.dir;
        }
        fsLine ||= `${a.kind}: ${mountOf(a.dir).type} ${
          mountOf(a.dir).options
        }`;
        buildTree3(`${a.dir}/src`, FILES, payload);
        syncAll();
        const { profile, peakHeap, out } = await profileJob(
          op.job(a.dir, b),
          backend,
        );
        const res = out ? JSON.parse(out) : {};
        const file = `${flags.dir}/${op.id}-${backend}.${
          HEAP ? "heapprofile" : "cpuprofile"
        }`;
        Deno.writeTextFileSync(file, JSON.stringify(profile));
        if (HEAP) {
          const h = summarizeHeap(profile as HeapProfile);
          const mib = (b: number): string => `${(b / 1048576).toFixed(1)} MiB`;
          const per = (b: number): string => `${(b / FILES).toFixed(0)} B`;
          const lines = [
            "",
            `### ${op.title} of ${fmtInt(FILES)} files [${backend}], memory`,
            "",
            `Call took ${(res.ms ?? 0).toFixed(0)} ms${
              res.error ? ` and FAILED (${res.error.name})` : ""
            }; process VmHWM ${mib((res.vmHwmKiB ?? 0) * 1024)}; peak JS ` +
            `heap used (polled) ${mib(peakHeap)} = ${
              per(peakHeap)
            } per file; ` +
            `allocated during the call (sampled, collected objects included) ` +
            `${mib(h.allocated)} = ${
              per(h.allocated)
            } per file; profile: \`${file}\`.`,
            "",
            ...table(
              ["allocation sites by bytes (self)", "allocated", "per file"],
              h.self.map(([k, v]) => [`\`${k}\``, mib(v), per(v)]),
              [false, true, true],
            ),
            "",
            ...table(
              [
                "functions by bytes allocated under them",
                "allocated",
                "per file",
              ],
              h.total.map(([k, v]) => [`\`${k}\``, mib(v), per(v)]),
              [false, true, true],
            ),
          ];
          console.error(lines.join("\n"));
          sections.push(...lines);
          continue;
        }
        const s = summarize(profile as Profile);
        const pct = (us: number): string =>
          `${(us / 1000).toFixed(0)} ms (${(us / 10 / s.wallMs).toFixed(0)}%)`;
        const lines = [
          "",
          `### ${op.title} of ${fmtInt(FILES)} files [${backend}]`,
          "",
          `Call took ${(res.ms ?? s.wallMs).toFixed(0)} ms${
            res.error ? ` and FAILED (${res.error.name})` : ""
          }; profiled ${s.wallMs.toFixed(0)} ms; profile: \`${file}\`.`,
          "",
          ...table(
            ["where the time went", "time"],
            s.split.map(([k, v]) => [k, pct(v)]),
            [
              false,
              true,
            ],
          ),
          "",
          ...table(
            ["top functions by self time", "self"],
            s.self.map(([k, v]) => [`\`${k}\``, pct(v)]),
            [false, true],
          ),
          "",
          ...table(
            ["top functions by total time", "total"],
            s.total.map(([k, v]) => [`\`${k}\``, pct(v)]),
            [false, true],
          ),
        ];
        console.error(lines.join("\n"));
        sections.push(...lines);
      } finally {
        for (const p of places.reverse()) p.release();
      }
    }
  }
  if (!flags["no-results"]) {
    writeSection(
      flags.out!,
      `${HEAP ? "profile-heap" : "profile"}:${flags.label}`,
      [
        `## bench:profile${HEAP ? " --heap" : ""}, ${flags.label}`,
        "",
        ...machineLines(),
        `- filesystem: ${
          IS_ROOT ? "a fresh" : "NOT ROOT, a temp dir on"
        } ${fsLine}`,
        HEAP
          ? "- V8 sampling heap profiler (16 KiB) over the inspector, with " +
            "objects later collected, from just before the call to just after; " +
            "JS heap in use polled every 50 ms (Runtime.getHeapUsage); " +
            `tree: ${fmtInt(FILES)} files of 100 B in 10 x 10 directories`
          : "- V8 sampling profiler (200 µs) over the inspector, started just " +
            "before the call and stopped just after it; (idle) = the event loop " +
            "waiting for async ops (fsync, copy_file_range ... on Deno's threads), " +
            "(program) = native code: Deno's ops and the syscalls of sync calls",
        `- reproduce: \`deno task bench:profile${HEAP ? " --heap" : ""}${
          FILES !== 10000 ? ` --files ${FILES}` : ""
        }${flags.fs !== "ext4" ? ` --fs ${flags.fs}` : ""} --ops ${flags.ops}${
          flags.label !== "latest" ? ` --label ${flags.label}` : ""
        }\``,
        ...sections,
      ].join("\n"),
    );
  }
} finally {
  releaseAll();
  Deno.removeSync(parentDir, { recursive: true });
}
