// Copyright 2026 the safefs authors. MIT license.
/**
 * One engine, two drivers: how each primitive runs both as a promise
 * (`move`) and synchronously (`moveSync`) from the same code.
 *
 * The engines are generator functions. Metadata calls of the seam are
 * synchronous (1-3 µs on the ffi backend) and are made directly. The rest is
 * yielded as an {@linkcode Effect} for the driver to perform:
 * - `PACE`: a point where the async driver may let the event loop run (once
 *   `YIELD_MS` of synchronous work has gone by), so timers, abort signals and
 *   progress callbacks keep working during a long walk;
 * - a {@linkcode Heavy} call (an fsync, a large copy): the async driver runs
 *   its off-thread form and awaits it, the sync driver its blocking form;
 * - {@linkcode Parallel} tasks: the async driver runs up to `width` of them at
 *   once (their heavy calls overlap), the sync driver one after the other.
 *   After the first failure no new task starts; the effect fails with that
 *   first error only once every started task has settled, so cleanup never
 *   races a task still running.
 *
 * Errors thrown by an effect are thrown back into the generator at its
 * `yield`, so engines use ordinary try/catch/finally.
 *
 * @module
 */

/** Yield to the event loop after this much synchronous work. */
export const YIELD_MS = 8;

/** A pacing point. */
export interface Pace {
  readonly t: "pace";
}

/** A call with a blocking and an off-thread form. */
export interface Heavy<T> {
  readonly t: "heavy";
  sync(): T;
  async(): Promise<T>;
}

/** Tasks that may run concurrently. */
export interface Parallel {
  readonly t: "parallel";
  tasks: Iterable<Gen<void>>;
  width: number;
}

/** What an engine yields. */
export type Effect = Pace | Heavy<unknown> | Parallel;

/** An engine: a generator of effects returning `T`. */
export type Gen<T> = Generator<Effect, T, unknown>;

/** The pacing point, to `yield` directly. */
export const PACE: Pace = { t: "pace" };

/**
 * Loops over entries yield {@linkcode PACE} once every this many entries,
 * not for each: a yield climbs the whole chain of delegating generators
 * back to the driver, which cost a tree copy ~5 µs of CPU per file. Not
 * fewer: at one in 32, the path backend's removal of 200,000 files peaked
 * 14 MiB higher (V8 sized its heap differently), at one in 4 it did not.
 */
const PACE_EVERY = 4;

/** True at the `k`-th entry of a per-entry loop: the ones that yield `PACE`. */
export function paceAt(k: number): boolean {
  return k % PACE_EVERY === 0;
}

/** Performs `sync` or `async` (whichever the driver runs) and returns its result. */
export function* heavy<T>(sync: () => T, async: () => Promise<T>): Gen<T> {
  return (yield { t: "heavy", sync, async }) as T;
}

/**
 * Awaits a promise under the async driver; under the sync driver a promise
 * cannot be waited for and `what` is thrown as a `TypeError`.
 */
export function* awaited<T>(value: T | Promise<T>, what: string): Gen<T> {
  if (!(value instanceof Promise)) return value;
  return yield* heavy<T>(() => {
    value.catch(() => {});
    throw new TypeError(what);
  }, () => value);
}

/** Runs `tasks`, up to `width` at once under the async driver. */
export function* parallel(
  tasks: Iterable<Gen<void>>,
  width: number,
): Gen<void> {
  yield { t: "parallel", tasks, width };
}

/** Yields to the event loop now and then (see the module doc). */
export class Pacer {
  #last = performance.now();

  /** True when the caller has run synchronously for `YIELD_MS` or more. */
  due(): boolean {
    return performance.now() - this.#last >= YIELD_MS;
  }

  /** Resolves on a later turn of the event loop (after pending I/O). */
  async yield(): Promise<void> {
    // The global setImmediate: importing node:timers costs every process
    // milliseconds at start-up.
    await new Promise((resolve) => setImmediate(resolve));
    this.#last = performance.now();
  }
}

/** Runs an engine as a promise. */
export async function runAsync<T>(
  g: Gen<T>,
  pacer: Pacer = new Pacer(),
): Promise<T> {
  let input: unknown = undefined;
  let failed = false;
  let error: unknown = undefined;
  while (true) {
    let r: IteratorResult<Effect, T>;
    if (failed) {
      failed = false;
      r = g.throw(error);
    } else {
      r = g.next(input);
    }
    if (r.done) return r.value;
    const eff = r.value;
    input = undefined;
    try {
      if (eff.t === "pace") {
        if (pacer.due()) await pacer.yield();
      } else if (eff.t === "heavy") {
        input = await eff.async();
      } else {
        await runParallel(eff, pacer);
      }
    } catch (e) {
      failed = true;
      error = e;
    }
  }
}

async function runParallel(p: Parallel, pacer: Pacer): Promise<void> {
  const it = p.tasks[Symbol.iterator]();
  let failure: { error: unknown } | null = null;
  const lane = async (): Promise<void> => {
    while (failure === null) {
      let n: IteratorResult<Gen<void>>;
      try {
        n = it.next();
      } catch (error) {
        failure ??= { error };
        return;
      }
      if (n.done) return;
      try {
        await runAsync(n.value, pacer);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const lanes: Promise<void>[] = [];
  for (let i = 0; i < Math.max(1, p.width); i++) lanes.push(lane());
  await Promise.all(lanes);
  if (failure !== null) throw (failure as { error: unknown }).error;
}

/** Runs an engine synchronously (blocking the thread until it is done). */
export function runSync<T>(g: Gen<T>): T {
  let input: unknown = undefined;
  let failed = false;
  let error: unknown = undefined;
  while (true) {
    let r: IteratorResult<Effect, T>;
    if (failed) {
      failed = false;
      r = g.throw(error);
    } else {
      r = g.next(input);
    }
    if (r.done) return r.value;
    const eff = r.value;
    input = undefined;
    try {
      if (eff.t === "heavy") {
        input = eff.sync();
      } else if (eff.t === "parallel") {
        for (const task of eff.tasks) runSync(task);
      }
    } catch (e) {
      failed = true;
      error = e;
    }
  }
}
