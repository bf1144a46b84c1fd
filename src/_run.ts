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
 * - {@linkcode Begin}: a heavy call started now and waited for later (with
 *   {@linkcode awaited}), so that work which only reads overlaps it: the
 *   async driver starts its off-thread form and hands back the promise, the
 *   sync driver runs its blocking form there and then;
 * - {@linkcode Each}: one heavy call per item of a batch (fsyncs, removals);
 *   the async driver runs up to `width` of them at once (they overlap), the
 *   sync driver one after the other. After the first failure no new call
 *   starts; the effect fails with that first error only once every started
 *   call has settled, so cleanup never races a call still running. A call
 *   in flight is a promise and a closure, not a chain of generators and a
 *   driver, and the calls go out after a turn of the event loop: what is
 *   alive while a batch is awaited is what V8 finds alive if it collects in
 *   that idle time, and it grows its heap by that.
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

/** A heavy call started now, its result waited for later. */
export interface Begin<T> {
  readonly t: "begin";
  sync(): T;
  async(): Promise<T>;
}

/** Heavy calls over the items `0..count - 1` of a batch, which may overlap. */
export interface Each {
  readonly t: "each";
  count: number;
  width: number;
  /** Item `k`'s call, blocking. */
  sync(k: number): void;
  /** Item `k`'s call, off-thread. */
  async(k: number): Promise<void>;
}

/** What an engine yields. */
export type Effect = Pace | Heavy<unknown> | Begin<unknown> | Each;

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
 * Starts `async` (async driver) and returns its promise unawaited, or runs
 * `sync` (sync driver) and returns its result: pass what it returns to
 * {@linkcode awaited}, also on the way out of a failure, so that nothing
 * the call uses is closed while it runs.
 */
export function* begin<T>(
  sync: () => T,
  async: () => Promise<T>,
): Gen<T | Promise<T>> {
  return (yield { t: "begin", sync, async }) as T | Promise<T>;
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

/**
 * `sync(k)` or `async(k)` (whichever the driver runs) for every `k` below
 * `count`, up to `width` at once under the async driver (see the module doc).
 */
export function* each(
  count: number,
  width: number,
  sync: (k: number) => void,
  async: (k: number) => Promise<void>,
): Gen<void> {
  if (count > 0) yield { t: "each", count, width, sync, async };
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
export async function runAsync<T>(g: Gen<T>): Promise<T> {
  const pacer = new Pacer();
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
      } else if (eff.t === "begin") {
        const started = eff.async();
        // Its failure is thrown where it is awaited, not reported unhandled.
        started.catch(() => {});
        input = started;
      } else {
        await runEach(eff);
      }
    } catch (e) {
      failed = true;
      error = e;
    }
  }
}

async function runEach(e: Each): Promise<void> {
  // A turn of the event loop before the calls go out: a young-generation
  // collection V8 has scheduled runs now, while the engine holds little,
  // and not while every call in flight is alive (it would copy them all).
  await new Promise((resolve) => setImmediate(resolve));
  let next = 0;
  let failure: { error: unknown } | null = null;
  const lane = async (): Promise<void> => {
    while (failure === null && next < e.count) {
      try {
        await e.async(next++);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const lanes: Promise<void>[] = [];
  const width = Math.min(Math.max(1, e.width), e.count);
  for (let i = 0; i < width; i++) lanes.push(lane());
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
      if (eff.t === "heavy" || eff.t === "begin") {
        input = eff.sync();
      } else if (eff.t === "each") {
        for (let k = 0; k < eff.count; k++) eff.sync(k);
      }
    } catch (e) {
      failed = true;
      error = e;
    }
  }
}
