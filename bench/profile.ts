// Copyright 2026 the safefs authors. MIT license.
/**
 * `deno task bench:profile [--files 10000] [--ops copy,copy-durable,move,remove]
 *   [--backends default,path] [--dir /tmp/safefs-profiles] [--top 15]
 *   [--label NAME] [--no-results]`
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
    out: {
      type: "string",
      default: new URL("./RESULTS.md", import.meta.url).pathname,
    },
  },
});
const FILES = Number(flags.files);
const TOP = Number(flags.top);
const BACKENDS = flags.backends!.split(",") as Backend[];
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
): Promise<{ profile: Profile; out: string }> {
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
  await ins.send("Profiler.enable");
  await ins.send("Profiler.setSamplingInterval", { interval: 200 });
  await ins.send("Runtime.runIfWaitingForDebugger");
  await ins.logged("BENCH-JOB-READY");
  await ins.send("Profiler.start");
  await ins.send("Runtime.evaluate", {
    expression: "globalThis.__benchRelease()",
  });
  await ins.logged("BENCH-JOB-DONE");
  const { profile } = await ins.send<{ profile: Profile }>("Profiler.stop");
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
  return { profile, out: line };
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
        const a = IS_ROOT ? ext4Place(parentDir) : dirPlace(parentDir, false);
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
        const { profile, out } = await profileJob(op.job(a.dir, b), backend);
        const file = `${flags.dir}/${op.id}-${backend}.cpuprofile`;
        Deno.writeTextFileSync(file, JSON.stringify(profile));
        const s = summarize(profile);
        const res = out ? JSON.parse(out) : {};
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
      `profile:${flags.label}`,
      [
        `## bench:profile, ${flags.label}`,
        "",
        ...machineLines(),
        `- filesystem: ${
          IS_ROOT ? "a fresh" : "NOT ROOT, a temp dir on"
        } ${fsLine}`,
        "- V8 sampling profiler (200 µs) over the inspector, started just " +
        "before the call and stopped just after it; (idle) = the event loop " +
        "waiting for async ops (fsync, copy_file_range ... on Deno's threads), " +
        "(program) = native code: Deno's ops and the syscalls of sync calls",
        `- reproduce: \`deno task bench:profile${
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
