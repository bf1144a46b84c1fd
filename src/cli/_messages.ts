// Copyright 2026 the safefs authors. MIT license.
/**
 * One-line descriptions of failures for the text reporter, and the error
 * object of the `--json` document.
 *
 * @module
 */
import { PermissionError, SafeFsError } from "../errors.ts";
import { joinFlags } from "../_perm.ts";

/** Short reasons for the errno names users meet most. */
const REASONS: Record<string, string> = {
  EEXIST: "destination exists",
  ENOENT: "no such file or directory",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  ENOTEMPTY: "directory not empty",
  EXDEV: "on different filesystems",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only filesystem",
  EIO: "input/output error",
  ENAMETOOLONG: "file name too long",
  ELOOP: "too many levels of symbolic links",
  EBUSY: "device or resource busy",
  ESTALE: "stale file handle",
  EFTYPE: "unsupported file type",
  ESRCCHANGED: "the source changed while it was read",
  ABORT_ERR: "interrupted",
};

/** Codes whose library message says more than the reason. */
const OWN_WORDS = new Set(["ESRCCHANGED", "EXDEV", "ELOOP"]);

const HINTS: Record<string, Record<string, string>> = {
  EEXIST: {
    mv: "; use --overwrite to replace it",
    cp: "; use --overwrite to replace it",
    write: "; drop --no-clobber to replace it",
    ln: "; use -f to replace it",
  },
  EXDEV: { mv: "; drop --no-cross-device to copy across filesystems" },
  ENOENT: {
    rm: "; use --missing-ok to ignore missing paths",
    write: "; use -p to create the missing directories",
  },
};

/**
 * `safefs: cannot <verb> <subject>: <reason> (<CODE>)[; hint]`.
 *
 * @param cmd The command, for hints.
 * @param what Verb and subject: `move 'a' to 'b'`.
 * @param e What was thrown.
 */
export function describeError(cmd: string, what: string, e: unknown): string {
  if (e instanceof PermissionError && e.code === "ENOTCAPABLE") {
    return `safefs: cannot ${what}: ${e.message} (${e.code})`;
  }
  if (e instanceof SafeFsError) {
    const own = e.message.replace(/^Cannot [a-z]+ .*?: /i, "");
    const reason = REASONS[e.code] ?? own;
    const detail = OWN_WORDS.has(e.code)
      ? ` (${e.code}): ${own}`
      : ` (${e.code})`;
    return `safefs: cannot ${what}: ${reason}${detail}${
      HINTS[e.code]?.[cmd] ?? ""
    }`;
  }
  return `safefs: cannot ${what}: ${
    e instanceof Error ? e.message : String(e)
  }`;
}

/** The `error` member of the `--json` document and its operations. */
export interface ErrorJson {
  /** The error class: `AlreadyExistsError`, `UsageError`, ... */
  name: string;
  /** The errno name or safefs code; `EUSAGE` for usage errors. */
  code: string;
  /** The message, one line. */
  message: string;
  /** Every missing Deno flag (permission errors). */
  flags?: string[];
  /** The flags as one command-line fragment (permission errors). */
  grant?: string;
  /** Mount points left in place (`rm`). */
  mountPoints?: string[];
  /** Whether the destination was already published (when the error says). */
  published?: boolean;
  /** The command's usage lines (usage errors). */
  usage?: string;
}

/**
 * `e` as the `--json` document shows it.
 *
 * @param e What was thrown.
 */
export function errorJson(e: unknown): ErrorJson {
  const out: ErrorJson = {
    name: e instanceof Error ? e.name : "Error",
    code: e instanceof SafeFsError ? e.code : "EUNKNOWN",
    message: e instanceof Error ? e.message : String(e),
  };
  if (e instanceof PermissionError && e.flags) {
    out.flags = [...e.flags];
    out.grant = joinFlags(e.flags);
  }
  const extra = e as { mountPoints?: unknown; published?: unknown };
  if (Array.isArray(extra.mountPoints)) {
    out.mountPoints = extra.mountPoints.map(String);
  }
  if (typeof extra.published === "boolean") out.published = extra.published;
  return out;
}
