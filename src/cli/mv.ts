// Copyright 2026 the safefs authors. MIT license.
/**
 * `safefs mv`: moves files and trees, atomically and durably, across
 * filesystems too.
 *
 * @module
 */
import { dirname, resolve } from "./_paths.ts";
import { move, type MoveResult } from "../move.ts";
import { moveInto } from "../move_into.ts";
import { COMMON } from "./_args.ts";
import { CLOBBER, type Command, COMMON_HELP, NO_DURABLE } from "./_command.ts";
import { needs } from "./_grants.ts";
import { look } from "./_look.ts";
import { type Batched, type Done, transfer } from "./_transfer.ts";
import type { Need } from "../_perm.ts";

/** What one move did, as the report shows it. */
function done(r: MoveResult): Done {
  return {
    fields: {
      bytes: r.bytes,
      entries: r.entries,
      crossDevice: r.crossDevice,
      replaced: r.replaced,
    },
    lines: ({ src, dest }) =>
      r.crossDevice
        ? [`copied '${src}' -> '${dest}'`, `removed '${src}'`]
        : [`renamed '${src}' -> '${dest}'`],
  };
}

/** True when `src` and the directory of `dest` are on different devices. */
async function crosses(src: string, dest: string): Promise<boolean> {
  try {
    const [a, b] = await Promise.all([
      look(src, false),
      look(dirname(resolve(dest)), true),
    ]);
    return a !== null && b !== null && a.dev !== b.dev;
  } catch {
    return false;
  }
}

/** The `mv` command. */
export const mv: Command = {
  name: "mv",
  usage: `Usage: safefs mv [options] SRC DEST
       safefs mv [options] SRC... DIR
       safefs mv [options] -t DIR SRC...`,
  help: `Moves SRC to DEST, or each SRC into the existing directory DIR. Across
filesystems the source is copied beside the destination, fsynced, published
with one rename, and only then removed. An existing destination is kept
unless -f is given (GNU mv replaces it by default).

Options:
  -f, --force, --overwrite replace an existing destination (file or empty dir)
  -n, --no-clobber         keep an existing destination (the default; safefs
                           reports it as a failure, exit 1, where GNU skips)
  -i, --interactive        ask before replacing, on a terminal only (without
                           one: keep it, as -n, and say so)
  -t, --target-directory=DIR
                           move every SRC into DIR
  -T, --no-target-directory
                           treat DEST as the new name even if it is a directory
      --no-durable         skip fsyncs (scratch data)
      --no-cross-device    fail instead of copying across filesystems
${COMMON_HELP}

Several sources into one directory are one job: every permission is
checked first, each source is moved on its own (a failure is reported and
the others go on), and the directories are made durable once at the end.

A trailing slash means a directory: 'mv f dir/' needs dir to exist (or f
to be a directory, which is then renamed to dir); 'mv f/ x' needs f to be a
directory. The last of -f, -n, -i wins.

Examples:
  safefs mv draft.txt final.txt
  safefs mv -f build/app.js /srv/www/app.js
  safefs mv photos/ /mnt/usb/        # across filesystems, atomic
  safefs mv -v -t docs/ a.txt b.txt`,
  options: [
    ...COMMON,
    ...CLOBBER,
    { long: "target-directory", short: "t", value: "DIR" },
    { long: "no-target-directory", short: "T" },
    NO_DURABLE,
    { long: "no-cross-device", key: "crossDevice", set: "fail" },
  ],
  run(ctx): Promise<void> {
    const durable = ctx.values.durable !== false;
    const crossDevice = ctx.values.crossDevice === "fail" ? "fail" : "copy";
    return transfer(ctx, {
      cmd: "mv",
      durable,
      async needs({ src, dest }, exact): Promise<Need[]> {
        const across = exact && crossDevice === "copy" &&
          await crosses(src, dest);
        return needs.move(src, dest, across);
      },
      batchNeeds: ({ src, dest }) => needs.moveInto(src, dest),
      async run(item, overwrite, onProgress): Promise<Done> {
        return done(
          await move(item.src, item.dest, {
            overwrite,
            durable,
            crossDevice,
            signal: ctx.signal,
            ...(onProgress ? { onProgress } : {}),
          }),
        );
      },
      async batch(srcs, dir, overwrite, onProgress): Promise<Batched> {
        const r = await moveInto(srcs, dir, {
          overwrite,
          durable,
          crossDevice,
          signal: ctx.signal,
          onProgress,
        });
        return {
          done: r.moved.map((m) => ({ src: m.src, done: done(m) })),
          failed: r.failed,
        };
      },
    });
  },
};
