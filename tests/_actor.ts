// Copyright 2026 the safefs authors. MIT license.
// Concurrent processes whose actions are counted: symlink-swap attackers,
// swappers, creators, other deleters. A test that races one of them must show
// that it acted, and that it was still running while the operation ran: every
// action appends one byte to a counter file, which the test reads at any
// instant (`count()`, synchronous, so a seam hook may read it too), and a
// process that exits before it is stopped fails the test (`stop()` throws).
import { join } from "node:path";
import { cleanup, DENO } from "./_helpers.ts";

/**
 * What every actor script starts with: `act()` counts one action (one
 * O_APPEND write(2) of one byte to the counter file).
 */
const PRELUDE =
  `const __counter = Deno.openSync(Deno.env.get("SAFEFS_ACTOR_COUNTER"), { append: true });
const __one = new Uint8Array([1]);
const act = () => { __counter.writeSync(__one); };
`;

/** A running process whose actions are counted. */
export interface Actor {
  /** Its process id. */
  readonly pid: number;
  /** Actions counted so far (safe to call from a seam hook). */
  count(): number;
  /** True while the process runs (read from /proc: works in a seam hook). */
  alive(): boolean;
  /**
   * Resolves once `n` actions were counted in all; rejects when the process
   * exits first. An event, not a deadline: it waits as long as it takes.
   */
  waitFor(n: number): Promise<number>;
  /** `waitFor` for a seam hook: blocks this isolate until `n` actions. */
  waitForSync(n: number): number;
  /**
   * Kills the process (SIGKILL) and returns its final count. Throws when it
   * had exited before (a dead attacker proves nothing).
   */
  stop(): Promise<number>;
  /**
   * Waits for a process that ends by itself (e.g. `rm -rf`) and returns its
   * count and exit code.
   */
  done(): Promise<{ count: number; code: number; stderr: string }>;
}

interface Spawned {
  child: Deno.ChildProcess;
  dir: string;
  counter: string;
  lines: boolean;
  what: string;
}

function make(s: Spawned): Actor {
  let exited: Deno.CommandStatus | null = null;
  const status = s.child.status.then((st) => (exited = st));
  let stderr = "";
  const errDone = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of s.child.stderr) {
      if (stderr.length < 4000) stderr += dec.decode(chunk);
    }
  })().catch(() => {});
  let finished = false;
  const count = (): number => {
    if (!s.lines) return Deno.statSync(s.counter).size;
    return Deno.readFileSync(s.counter).reduce(
      (n, b) => n + (b === 10 ? 1 : 0),
      0,
    );
  };
  const alive = (): boolean => {
    if (exited !== null) return false;
    try {
      const stat = Deno.readTextFileSync(`/proc/${s.child.pid}/stat`);
      const state = stat.slice(
        stat.lastIndexOf(")") + 2,
        stat.lastIndexOf(")") + 3,
      );
      return state !== "Z" && state !== "X";
    } catch {
      return false;
    }
  };
  const died = (): Error =>
    new Error(
      `${s.what} exited before it was stopped (${
        exited ? `code ${exited.code}, signal ${exited.signal}` : "zombie"
      }) after ${count()} actions: ${stderr.slice(0, 2000)}`,
    );
  const finish = async (): Promise<void> => {
    if (finished) return;
    finished = true;
    await status;
    await errDone;
  };
  return {
    pid: s.child.pid,
    count,
    alive,
    async waitFor(n: number): Promise<number> {
      while (true) {
        const c = count();
        if (c >= n) return c;
        if (!alive()) throw died();
        await new Promise((r) => setTimeout(r, 1));
      }
    },
    waitForSync(n: number): number {
      const nap = new Int32Array(new SharedArrayBuffer(4));
      while (true) {
        const c = count();
        if (c >= n) return c;
        if (!alive()) throw died();
        Atomics.wait(nap, 0, 0, 0.2);
      }
    },
    async stop(): Promise<number> {
      const wasAlive = alive();
      try {
        s.child.kill("SIGKILL");
      } catch {
        // exited already: reported below
      }
      await finish();
      const n = count();
      cleanup(s.dir);
      if (!wasAlive) throw died();
      return n;
    },
    async done(): Promise<{ count: number; code: number; stderr: string }> {
      await finish();
      const n = count();
      cleanup(s.dir);
      return { count: n, code: exited!.code, stderr };
    },
  };
}

function counterDir(): { dir: string; counter: string } {
  const dir = Deno.makeTempDirSync({ prefix: "safefs-actor-" });
  const counter = join(dir, "count");
  Deno.writeFileSync(counter, new Uint8Array());
  return { dir, counter };
}

/**
 * Runs `code` (a Deno script; it calls `act()` once per action) with `args`
 * as `Deno.args`, until stopped. `what` names it in failure messages.
 */
export function spawnActor(what: string, code: string, args: string[]): Actor {
  const { dir, counter } = counterDir();
  const child = new Deno.Command(DENO, {
    args: ["eval", "--quiet", PRELUDE + code, ...args],
    env: { SAFEFS_ACTOR_COUNTER: counter },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  return make({ child, dir, counter, lines: false, what });
}

/**
 * Runs a command whose every stdout line is one action (e.g. `rm -rfv`:
 * one line per entry it removed).
 */
export function spawnCommandActor(
  what: string,
  cmd: string,
  args: string[],
): Actor {
  const { dir, counter } = counterDir();
  const child = new Deno.Command("sh", {
    args: ["-c", 'exec "$0" "$@" >>"$SAFEFS_ACTOR_COUNTER"', cmd, ...args],
    env: { SAFEFS_ACTOR_COUNTER: counter },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  return make({ child, dir, counter, lines: true, what });
}
