// Copyright 2026 the safefs authors. MIT license.
/**
 * `safefs --help`: the commands, the options they share, the exit status,
 * the `--json` schema and the permissions.
 *
 * @module
 */
import { VERSION } from "../_version.ts";

/** The usage lines of `safefs` itself. */
export const USAGE = `Usage: safefs <command> [options] <paths...>
       safefs <command> --help`;

/** The whole of `safefs --help`. */
export const HELP =
  `safefs ${VERSION}: move, copy, delete and write files safely

${USAGE}

Commands:
  mv     SRC... DEST   move files or trees (atomic, durable, across filesystems)
  cp     SRC... DEST   copy files or trees (identity-checked, atomic publish)
  ln     TARGET LINK   create or atomically replace a symbolic link
  rm     PATH...       remove files or trees (never follows symlinks or mounts)
  write  DEST          write standard input to DEST atomically
  sweep  DIR           remove temp leftovers of crashed safefs operations

Options for every command:
      --json        print one JSON document describing every operation on
                    stdout, and nothing else there (schema below)
  -q, --quiet       print nothing but errors
  -v, --verbose     print what is done on stdout, one line per operation,
                    as GNU does ('a' -> 'b', renamed 'a' -> 'b', removed 'a')
      --progress    draw progress on stderr even when it is not a terminal
  -h, --help        help for a command (safefs mv --help)
      --version     print the version (anywhere on the command line)

Exit status: 0 success; 1 an operation failed, permissions are missing, or
standard output could not be written; 2 usage error; 130 interrupted;
141 standard output was a closed pipe (the operations themselves completed).

The --json document (the same for every command):
  { "command": "mv",            the command (null if it is unknown)
    "ok": true,                 every operation succeeded
    "interrupted": false,       Ctrl-C stopped it
    "operations": [             one per operand, in order
      { "op": "move",           move | copy | symlink | remove | write | sweep
        "src": "a.txt",         mv and cp: the source; ln: the link's target
        "dest": "docs/a.txt",   the path acted on or produced: the new path
                                (mv, cp), the link (ln), the path removed
                                (rm), the file written (write), the
                                directory swept (sweep)
        "ok": true,
        "bytes": 5, "entries": 1, "crossDevice": false,
        "replaced": false,      an existing destination was replaced
        "removed": [...],       sweep: the leftovers removed
        "skipped": true,        -i answered no
        "durationMs": 0.8,      for the sources of one batch (several
                                into a directory): from the end of the
                                source before to its own end
        "error": { "name": "AlreadyExistsError", "code": "EEXIST",
                   "message": "...", "flags": [...], "grant": "..." } } ],
    "error": { ... } }          only when nothing ran: a usage error (code
                                EUSAGE, with "usage") or missing permissions
                                (code ENOTCAPABLE, with "flags" and "grant")
  Paths are as given on the command line (DIR/NAME for a directory target).

Permissions: safefs checks every Deno permission the whole command line
needs before it changes anything, and names every missing flag in one
message. Without --allow-ffi, safefs works through Deno's own file calls,
and Deno demands --allow-all for paths under /dev, /proc and /sys (/dev/shm
too), whatever --allow-read and --allow-write say. With --allow-ffi, safefs
makes the calls itself (checking each path against the grants) and the
scoped --allow-read and --allow-write suffice there too.`;
