// Copyright 2026 the safefs authors. MIT license.
/**
 * `safefs write`: standard input to a file, atomically. An empty input does
 * not replace a non-empty file unless asked (`--allow-empty`): in a pipeline
 * it usually means the producer failed.
 *
 * @module
 */
import { AbortedError, SafeFsError } from "../errors.ts";
import { writeFile } from "../write_file.ts";
import { COMMON, UsageError } from "./_args.ts";
import { type Command, COMMON_HELP, NO_DURABLE } from "./_command.ts";
import { checkAll, needs } from "./_grants.ts";
import { look } from "./_look.ts";

/** The first non-empty chunk of `reader`, or null at its end. */
async function first(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  signal: AbortSignal,
  dest: string,
): Promise<Uint8Array | null> {
  const aborted = new Promise<never>((_, reject) => {
    const fail = (): void =>
      reject(
        new AbortedError(`Write of '${dest}' was aborted`, {
          code: "ABORT_ERR",
          op: "writeFile",
          path: dest,
          cause: signal.reason,
        }),
      );
    if (signal.aborted) fail();
    signal.addEventListener("abort", fail, { once: true });
  });
  for (;;) {
    const r = await Promise.race([reader.read(), aborted]);
    if (r.done) return null;
    if (r.value.length > 0) return r.value;
  }
}

/** `head` followed by the rest of `reader`. */
function rest(
  head: Uint8Array,
  reader: ReadableStreamDefaultReader<Uint8Array>,
): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    async pull(c): Promise<void> {
      if (!sent) {
        sent = true;
        c.enqueue(head);
        return;
      }
      const r = await reader.read();
      if (r.done) c.close();
      else c.enqueue(r.value);
    },
    cancel: (why) => reader.cancel(why),
  });
}

/** The `write` command. */
export const write: Command = {
  name: "write",
  usage: "Usage: safefs write [options] DEST",
  help:
    `Writes standard input to DEST atomically: readers see the old file or the
complete new one, never a partial write. An empty input does not replace a
non-empty DEST (a failed producer is the usual cause) unless --allow-empty
is given; an empty input for a new or empty DEST is fine.

Options:
  -n, --no-clobber         fail if DEST exists (default: replace it)
      --allow-empty        let an empty input replace a non-empty DEST
      --mode=OCTAL         file mode, e.g. 0644 (default: DEST's mode, else 0666 & ~umask)
  -p, --parents            create the missing directories leading to DEST
                           (each made durable in its parent)
      --no-durable         skip fsyncs (scratch data)
${COMMON_HELP}

Examples:
  generate-config | safefs write /etc/myapp.conf
  curl -sf https://example.com/data.json | safefs write --mode=0600 data.json
  make-report | safefs write -p reports/2026/05/summary.txt`,
  options: [
    ...COMMON,
    { long: "no-clobber", short: "n" },
    { long: "allow-empty" },
    { long: "mode", value: "OCTAL" },
    { long: "parents", short: "p" },
    NO_DURABLE,
  ],
  async run(ctx): Promise<void> {
    const { values, positionals, report, io, signal, cmd } = ctx;
    if (positionals.length !== 1) {
      throw new UsageError(
        positionals.length === 0
          ? "missing DEST"
          : `write takes one DEST, not ${positionals.length} paths`,
      );
    }
    const dest = positionals[0];
    let mode: number | undefined;
    if (typeof values.mode === "string") {
      if (!/^0?[0-7]{3,4}$/.test(values.mode)) {
        throw new UsageError(
          `invalid --mode '${values.mode}': use an octal mode such as 0644`,
        );
      }
      mode = parseInt(values.mode, 8);
    }
    const parents = values.parents === true;
    const denied = checkAll(
      cmd,
      parents ? await needs.writeParents(dest) : needs.write(dest),
    );
    if (denied) return report.refuse(denied);
    const overwrite = values["no-clobber"] !== true;
    const base = { op: "write", dest, what: `write '${dest}'` };
    const r = await report.run(base, async () => {
      const reader = io.stdin().getReader();
      const head = await first(reader, signal, dest);
      if (head === null && overwrite && values["allow-empty"] !== true) {
        const there = await look(dest, false);
        if (there !== null && !(there.isFile && there.size === 0)) {
          throw new SafeFsError(
            `Cannot write '${dest}': refusing to replace it (${there.size} bytes) ` +
              `with an empty input, which usually means the producer failed; ` +
              `use --allow-empty to write it anyway`,
            { code: "EEMPTY", op: "writeFile", path: dest },
          );
        }
      }
      const res = await writeFile(
        dest,
        head === null ? new Uint8Array(0) : rest(head, reader),
        {
          overwrite,
          durable: values.durable !== false,
          parents,
          signal,
          ...(mode !== undefined ? { mode } : {}),
        },
      );
      return { bytes: res.bytes, replaced: res.replaced };
    });
    if (r.ok) report.verbose(`wrote '${dest}' (${r.bytes} bytes)`);
  },
};
