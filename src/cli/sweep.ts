// Copyright 2026 the safefs authors. MIT license.
/**
 * `safefs sweep`: removes the temp leftovers of crashed safefs operations.
 *
 * @module
 */
import { sweep as sweepDir } from "../sweep.ts";
import { COMMON, UsageError } from "./_args.ts";
import { type Command, COMMON_HELP } from "./_command.ts";
import { checkAll, needs } from "./_grants.ts";

function parseAge(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(s.trim());
  if (!m) {
    throw new UsageError(
      `invalid --older-than '${s}': use e.g. 90s, 10m, 1h, 2d or milliseconds`,
    );
  }
  const unit = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] ?? "ms"]!;
  return Number(m[1]) * unit;
}

/** The `sweep` command. */
export const sweep: Command = {
  name: "sweep",
  usage: "Usage: safefs sweep [options] DIR",
  help:
    `Removes temp leftovers of crashed safefs operations (.NAME.UUID.safefs-tmp, and .safefs-new claims over a minute old)
directly inside DIR that are older than --older-than, and lists them on
stdout ('removed PATH', or 'would remove PATH' with --dry-run).

Options:
      --older-than=AGE     only leftovers at least this old: 90s, 10m, 1h, 2d or
                           milliseconds (default 1h; 0 removes all)
      --dry-run            list them, remove nothing
${COMMON_HELP}

Examples:
  safefs sweep /srv/cache
  safefs sweep --older-than=0 --dry-run /data/incoming`,
  options: [
    ...COMMON,
    { long: "older-than", value: "AGE" },
    { long: "dry-run" },
  ],
  async run(ctx): Promise<void> {
    const { values, positionals, report, cmd } = ctx;
    if (positionals.length !== 1) {
      throw new UsageError(
        positionals.length === 0
          ? "missing DIR"
          : `sweep takes one DIR, not ${positionals.length} paths`,
      );
    }
    const dir = positionals[0];
    const olderThan = typeof values["older-than"] === "string"
      ? parseAge(values["older-than"])
      : undefined;
    const dryRun = values["dry-run"] === true;
    const denied = checkAll(cmd, needs.sweep(dir, dryRun));
    if (denied) return report.refuse(denied);
    await report.run(
      { op: "sweep", dest: dir, what: `sweep '${dir}'` },
      async () => {
        const r = await sweepDir(dir, {
          dryRun,
          ...(olderThan !== undefined ? { olderThan } : {}),
        });
        return { removed: r.removed, entries: r.removed.length };
      },
    ).then((r) => {
      for (const p of r.removed ?? []) {
        report.listing(`${dryRun ? "would remove" : "removed"} ${p}\n`);
      }
    });
  },
};
