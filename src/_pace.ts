// Copyright 2026 the safefs authors. MIT license.
/**
 * Pacing for loops of synchronous filesystem calls.
 *
 * A synchronous Deno call costs ~1-6 µs of overhead; the same call made async
 * costs ~20-200 µs (a hop to the blocking thread pool and back), which
 * dominates walks over thousands of entries. Loops that stat or list many
 * entries therefore call the `*Sync` seam methods and `await pace()` after
 * each one: it yields to the event loop (timers, abort signals, progress) once
 * `YIELD_MS` of synchronous work has gone by, and costs nothing otherwise.
 *
 * @module
 */
import { setImmediate } from "node:timers";

/** Yield to the event loop after this much synchronous work. */
export const YIELD_MS = 8;

/** Resolves on the next turn of the event loop (after pending I/O). */
export function yieldNow(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Yields now and then; see the module doc. */
export class Pacer {
  #last = performance.now();

  /** True when the caller has run synchronously for `YIELD_MS` or more. */
  due(): boolean {
    return performance.now() - this.#last >= YIELD_MS;
  }

  /** Yields to the event loop when `due()`. */
  async pace(): Promise<void> {
    if (!this.due()) return;
    await yieldNow();
    this.#last = performance.now();
  }
}

/**
 * Runs `fn` on every item, at most `width` at a time, in order of the items.
 * After the first failure no new item is started; it resolves (or rejects with
 * that first error) only once every started call has settled, so the caller's
 * cleanup never races a call still running. `fn` gets the index of the lane
 * it runs on (0 to width-1), for per-lane resources such as buffers.
 */
export async function forEachLimited<T>(
  items: readonly T[],
  width: number,
  fn: (item: T, lane: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const lane = async (l: number): Promise<void> => {
    while (failure === null && next < items.length) {
      const item = items[next++];
      try {
        await fn(item, l);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const lanes: Promise<void>[] = [];
  const n = Math.max(1, Math.min(width, items.length));
  for (let l = 0; l < n; l++) lanes.push(lane(l));
  await Promise.all(lanes);
  if (failure !== null) throw (failure as { error: unknown }).error;
}
