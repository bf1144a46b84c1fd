// Copyright 2026 the safefs authors. MIT license.
/**
 * The open directories of a depth-first walk: the chain from the walk's root
 * to the directory being worked on, each held open so that every call names
 * an entry relative to its held directory (never a path walked again).
 *
 * Depth is unbounded (trees of 10,000+ levels), descriptors are not: only
 * the deepest `WINDOW` directories stay open. When the walk climbs back to a
 * directory whose descriptor was closed, it is opened again as `..` of the
 * child being left, and must be the same directory (dev, ino) it was: one
 * that was moved meanwhile fails the walk with `SourceChangedError` instead
 * of leading it somewhere else.
 *
 * @module
 */
import { type Dir, sys } from "./_sys.ts";
import { SourceChangedError } from "./errors.ts";

/** Directories kept open per chain. */
export const WINDOW = 48;

/** One directory of the chain. */
export interface Frame {
  /** Open while it is among the deepest `WINDOW`; null otherwise. */
  dir: Dir | null;
  /** Its name in its parent ("" for the chain's root). */
  name: string;
  dev: number;
  ino: number;
}

/** A chain of open directories. Frames may carry more fields (`F`). */
export class Chain<F extends Frame> {
  readonly frames: F[] = [];
  #op: string;

  /** @param op The primitive, for errors. */
  constructor(op: string) {
    this.#op = op;
  }

  /** How deep the chain is (the root counts 1). */
  get depth(): number {
    return this.frames.length;
  }

  /** The deepest frame; its directory is open. */
  get top(): F {
    return this.frames[this.frames.length - 1];
  }

  /** The open directory of the deepest frame. */
  get dir(): Dir {
    return this.top.dir!;
  }

  /**
   * Adds a frame (its `dir` open), closing the one that leaves the window.
   * The root frame (the first) is never closed here: its directory is
   * usually the caller's.
   */
  push(f: F): void {
    this.frames.push(f);
    const old = this.frames.length - 1 - WINDOW;
    if (old >= 1) {
      const o = this.frames[old];
      if (o.dir !== null) {
        sys.close(o.dir);
        o.dir = null;
      }
    }
  }

  /**
   * Removes the deepest frame and returns it, its directory still open (the
   * caller closes it). The new deepest frame is opened again through `..`
   * when it had been closed.
   */
  pop(): F {
    const child = this.frames.pop()!;
    const parent = this.frames[this.frames.length - 1];
    if (parent !== undefined && parent.dir === null && child.dir !== null) {
      const d = sys.openDirAt(child.dir, "..");
      const st = sys.fstat(d);
      if (st.dev !== parent.dev || st.ino !== parent.ino) {
        sys.close(d);
        throw new SourceChangedError(
          `Cannot ${this.#op} '${child.dir.path}': its parent directory was ` +
            `moved while the tree was being walked; stopped`,
          { code: "ESRCCHANGED", op: this.#op, path: child.dir.path },
        );
      }
      parent.dir = d;
    }
    return child;
  }

  /** The path of the deepest frame, for messages. */
  path(): string {
    const top = this.top;
    if (top.dir !== null) return top.dir.path;
    return this.frames.map((f) => f.name).join("/");
  }

  /** Closes every directory still open (but the root's, with `keepRoot`). */
  closeAll(keepRoot = false): void {
    for (let k = keepRoot ? 1 : 0; k < this.frames.length; k++) {
      const f = this.frames[k];
      if (f.dir !== null) sys.close(f.dir);
      f.dir = null;
    }
    this.frames.length = 0;
  }
}
