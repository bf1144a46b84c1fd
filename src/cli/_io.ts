// Copyright 2026 the safefs authors. MIT license.
/**
 * The CLI's streams: what `main()` accepts from a caller, and the process's
 * own streams as defaults (a question on the terminal for `-i`).
 *
 * @module
 */

/** Where the CLI reads and writes; tests may pass their own. */
export interface CliIo {
  /**
   * Standard output (the `--json` document, `-v` lines, `sweep` listings).
   * @default {Deno.stdout}
   */
  stdout?: { writeSync(p: Uint8Array): number };
  /**
   * Standard error (messages, the progress bar).
   * @default {Deno.stderr}
   */
  stderr?: { writeSync(p: Uint8Array): number; isTerminal(): boolean };
  /**
   * Standard input, for `write`.
   * @default {Deno.stdin.readable}
   */
  stdin?: ReadableStream<Uint8Array>;
  /**
   * Asks the user a yes/no question for `-i` and resolves to the answer;
   * `null` when there is nobody to ask (`-i` then keeps existing
   * destinations, as `-n` does, and says so).
   * @default {a question on stderr answered on stdin when stdin is a terminal, else null}
   */
  ask?: ((question: string) => Promise<boolean>) | null;
}

/** A stream the CLI writes to. */
export interface Sink {
  writeSync(p: Uint8Array): number;
}

/** {@linkcode CliIo} with every default filled in. */
export interface Io {
  stdout: Sink;
  stderr: Sink & { isTerminal(): boolean };
  stdin: () => ReadableStream<Uint8Array>;
  ask: ((question: string, signal: AbortSignal) => Promise<boolean>) | null;
}

const enc = new TextEncoder();

/** Writes all of `bytes` (writeSync may take only part). Throws what it throws. */
export function writeAll(sink: Sink, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += sink.writeSync(bytes.subarray(done));
}

/** Reads one line from the process's stdin, or "" at its end or on abort. */
async function readLine(signal: AbortSignal): Promise<string> {
  const buf = new Uint8Array(256);
  const dec = new TextDecoder();
  let line = "";
  const aborted = new Promise<null>((resolve) => {
    if (signal.aborted) resolve(null);
    signal.addEventListener("abort", () => resolve(null), { once: true });
  });
  while (!line.includes("\n")) {
    const n = await Promise.race([Deno.stdin.read(buf), aborted]);
    if (n === null) break;
    line += dec.decode(buf.subarray(0, n), { stream: true });
  }
  return line.split("\n")[0];
}

/**
 * Fills in the defaults of `io`.
 *
 * @param io What the caller gave.
 */
export function resolveIo(io: CliIo): Io {
  const stdout = io.stdout ?? Deno.stdout;
  const stderr = io.stderr ?? Deno.stderr;
  let ask: Io["ask"] = null;
  if (io.ask !== undefined) {
    const given = io.ask;
    ask = given === null ? null : (q) => given(q);
  } else if (Deno.stdin.isTerminal()) {
    ask = async (q, signal) => {
      try {
        writeAll(stderr, enc.encode(q));
      } catch {
        return false;
      }
      return /^\s*y(es)?\s*$/i.test(await readLine(signal));
    };
  }
  return {
    stdout,
    stderr,
    stdin: () => io.stdin ?? Deno.stdin.readable,
    ask,
  };
}
