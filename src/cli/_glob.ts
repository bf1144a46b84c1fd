// Copyright 2026 the safefs authors. MIT license.
/**
 * The glob patterns of `cp --exclude`, read as rsync reads them:
 *
 * - `*` matches any run of characters but `/`, `?` one character but `/`,
 *   `[abc]`, `[a-z]`, `[!a-z]` (or `[^a-z]`), `[[:digit:]]` one character
 *   of a set (never `/`), `\x` the character `x` itself; `**` matches
 *   anything, `/` included, and a trailing `/***` matches a directory and
 *   everything in it.
 * - A pattern without a `/` (a trailing one aside) and without `**` is
 *   matched against the entry's name, at any depth.
 * - Any other pattern is matched against the entry's path relative to the
 *   source root: from the root when it begins with `/`, else against the
 *   whole relative path or any tail of it that begins after a `/`
 *   (`build/*.o` matches `build/x.o` and `src/build/x.o`), the root counting
 *   as a `/` before the path (a leading `**` followed by `/` also matches
 *   at the top; between two names, `/**` then `/` stands for at least one
 *   directory, as in rsync).
 * - A trailing `/` matches directories only.
 *
 * @module
 */

/** One compiled pattern. */
export interface Glob {
  /** The pattern as given. */
  pattern: string;
  /**
   * True when the entry matches.
   *
   * @param rel Its path relative to the source root (`a/b.txt`), no slashes
   * at either end.
   * @param isDir It is a directory.
   */
  matches(rel: string, isDir: boolean): boolean;
}

/** The body of a regular expression for the glob `p` (no anchors). */
function body(p: string): string {
  let out = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === "\\" && i + 1 < p.length) {
      out += escape(p[++i]);
    } else if (c === "*") {
      let n = 1;
      while (p[i + 1] === "*") {
        n++;
        i++;
      }
      out += n === 1 ? "[^/]*" : ".*";
    } else if (c === "?") {
      out += "[^/]";
    } else if (c === "[") {
      const cls = bracket(p, i);
      if (cls === null) out += "\\[";
      else {
        out += cls.re;
        i = cls.end;
      }
    } else {
      out += escape(c);
    }
  }
  return out;
}

function escape(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

/**
 * The class starting at `p[start] === "["`: its regular expression and the
 * index of its `]`, or null when it is not closed (then `[` is literal).
 */
function bracket(p: string, start: number): { re: string; end: number } | null {
  let i = start + 1;
  let negate = false;
  if (p[i] === "!" || p[i] === "^") {
    negate = true;
    i++;
  }
  let set = "";
  let first = true;
  for (; i < p.length; i++) {
    let c = p[i];
    if (c === "]" && !first) {
      // A set never matches "/", negated or not.
      return {
        re: negate ? `(?!/)[^${set}]` : `(?!/)[${set}]`,
        end: i,
      };
    }
    first = false;
    if (c === "[" && p[i + 1] === ":") {
      const end = p.indexOf(":]", i + 2);
      const named = end < 0 ? undefined : POSIX[p.slice(i + 2, end)];
      if (named !== undefined) {
        set += named;
        i = end + 1;
        continue;
      }
    }
    if (c === "\\" && i + 1 < p.length) c = p[++i];
    if (p[i + 1] === "-" && i + 2 < p.length && p[i + 2] !== "]") {
      let hi = p[i + 2];
      i += 2;
      if (hi === "\\" && i + 1 < p.length) hi = p[++i];
      if (hi < c) return null;
      set += `${classChar(c)}-${classChar(hi)}`;
    } else {
      set += classChar(c);
    }
  }
  return null;
}

/** POSIX character classes, as regular expression set contents (ASCII). */
const POSIX: Record<string, string> = {
  alnum: "a-zA-Z0-9",
  alpha: "a-zA-Z",
  blank: " \\t",
  cntrl: "\\x00-\\x1f\\x7f",
  digit: "0-9",
  graph: "!-~",
  lower: "a-z",
  print: " -~",
  punct: "!-\\/:-@\\[-`{-~",
  space: " \\t\\n\\r\\f\\v",
  upper: "A-Z",
  xdigit: "0-9A-Fa-f",
};

function classChar(c: string): string {
  return /[\\\]^-]/.test(c) ? `\\${c}` : c;
}

/**
 * Compiles one `--exclude` pattern. Throws `SyntaxError` for an empty one.
 *
 * @param pattern The pattern, as given.
 */
export function compileGlob(pattern: string): Glob {
  let p = pattern;
  if (p === "" || p === "/") {
    throw new SyntaxError(`empty pattern '${pattern}'`);
  }
  let dirOnly = false;
  if (p.endsWith("/") && !p.endsWith("\\/")) {
    dirOnly = true;
    while (p.endsWith("/")) p = p.slice(0, -1);
  }
  // `dir/***`: the directory and everything in it.
  let orBelow = false;
  if (p.endsWith("/***")) {
    orBelow = true;
    p = p.slice(0, -4);
  }
  const anchored = p.startsWith("/");
  if (anchored) p = p.replace(/^\/+/, "");
  if (p === "") throw new SyntaxError(`empty pattern '${pattern}'`);
  const byPath = anchored || orBelow || p.includes("/") || p.includes("**");
  // An unanchored path pattern may start after any `/` of "/" + the path.
  const head = byPath && !anchored ? "^(?:.*/)?" : "^";
  const re = new RegExp(`${head}${body(p)}${orBelow ? "(?:/.*)?" : ""}$`, "su");
  return {
    pattern,
    matches(rel: string, isDir: boolean): boolean {
      // `dir/***` matches the entries below a directory whatever they are.
      if (dirOnly && !isDir && !orBelow) return false;
      if (byPath) return re.test(anchored ? rel : `/${rel}`);
      return re.test(rel.slice(rel.lastIndexOf("/") + 1));
    },
  };
}

/**
 * A copy filter leaving out every entry that one of `globs` matches.
 *
 * @param globs The compiled patterns.
 * @param rootOf The source root an entry's absolute path lies under.
 */
export function excludeFilter(
  globs: Glob[],
  rootOf: (path: string) => string,
): (src: string, info: Deno.FileInfo) => boolean {
  return (src, info) => {
    const root = rootOf(src);
    const rel = root === "/" ? src.slice(1) : src.slice(root.length + 1);
    return !globs.some((g) => g.matches(rel, info.isDirectory));
  };
}
