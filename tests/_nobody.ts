// Copyright 2026 the safefs authors. MIT license.
// Running safefs as another user (uid/gid 65534, "nobody"). Root bypasses
// permission bits, so tests of EACCES/EPERM run the primitives in such a
// process. That process must not depend on where the checkout lives (a
// private 0700 directory like /root, a path with spaces, a symlink): it gets
// a world-readable copy of the public module (mod.ts and everything under
// src/, copied afresh for each run, so new files come along) in a temp dir,
// and, when the deno executable itself is out of its reach (installed inside
// the checkout by scripts/deno, say), a copy of that too. Where even that
// cannot work (not root, no setpriv, a private temp dir), `NOBODY.why` says
// why and the tests are reported as ignored.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { cleanup, DENO, outputOf, ROOT } from "./_helpers.ts";

const UID = 65534;

/** Copies `from` (a directory) to `to`: directories 0755, files 0644. */
function copyTree(from: string, to: string): void {
  Deno.mkdirSync(to);
  Deno.chmodSync(to, 0o755);
  for (const e of Deno.readDirSync(from)) {
    const a = join(from, e.name), b = join(to, e.name);
    if (e.isDirectory) copyTree(a, b);
    else if (e.isFile) {
      Deno.copyFileSync(a, b);
      Deno.chmodSync(b, 0o644);
    }
  }
}

/** Runs `argv` as nobody (setpriv), with its own HOME and DENO_DIR. */
function asNobody(
  argv: string[],
  home: string,
): Deno.Command {
  return new Deno.Command("setpriv", {
    args: [
      `--reuid=${UID}`,
      `--regid=${UID}`,
      "--clear-groups",
      ...argv,
    ],
    cwd: home,
    env: { HOME: home, DENO_DIR: join(home, "deno") },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

function nobodyHome(): string {
  const home = Deno.makeTempDirSync({ prefix: "safefs-nobody-" });
  Deno.chownSync(home, UID, UID);
  return home;
}

/** True when nobody can run the deno executable at `path`. */
function canRun(path: string): boolean {
  const home = nobodyHome();
  try {
    return asNobody([path, "--version"], home).outputSync().success;
  } catch {
    return false;
  } finally {
    cleanup(home);
  }
}

let denoReachable: boolean | null = null;

/**
 * A world-readable temp dir with mod.ts and src/ (and a deno executable when
 * the one running the tests is out of nobody's reach).
 */
function publicModule(): { dir: string; mod: string; deno: string } {
  const dir = Deno.makeTempDirSync({ prefix: "safefs-public-" });
  Deno.chmodSync(dir, 0o755);
  Deno.copyFileSync(join(ROOT, "mod.ts"), join(dir, "mod.ts"));
  Deno.chmodSync(join(dir, "mod.ts"), 0o644);
  copyTree(join(ROOT, "src"), join(dir, "src"));
  denoReachable ??= canRun(DENO);
  let deno = DENO;
  if (!denoReachable) {
    deno = join(dir, "deno");
    try {
      Deno.linkSync(DENO, deno);
    } catch {
      Deno.copyFileSync(DENO, deno);
    }
    Deno.chmodSync(deno, 0o755);
  }
  return { dir, mod: pathToFileURL(join(dir, "mod.ts")).href, deno };
}

/**
 * Runs a Deno script as nobody with `--allow-all`: `script(mod)` gives its
 * text, `mod` being the URL of the world-readable mod.ts to import.
 */
export async function runAsNobody(
  script: (mod: string) => string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const pub = publicModule();
  const home = nobodyHome();
  try {
    const file = join(pub.dir, "script.ts");
    Deno.writeTextFileSync(file, script(pub.mod));
    Deno.chmodSync(file, 0o644);
    return await outputOf(
      asNobody(
        [pub.deno, "run", "-A", "--no-prompt", "--quiet", file, ...args],
        home,
      ),
    );
  } finally {
    cleanup(pub.dir, home);
  }
}

/**
 * Whether safefs can run as nobody here, and if not, why (for the name of
 * the ignored tests and a SKIPPED line).
 */
export const NOBODY: { ok: boolean; why: string } = await (async () => {
  if (Deno.uid() !== 0) {
    return { ok: false, why: "not root (cannot switch user)" };
  }
  try {
    const out = await runAsNobody(
      (mod) =>
        `import { move } from ${JSON.stringify(mod)};
console.log(Deno.uid(), typeof move);`,
      [],
    );
    const said = out.stdout.trim();
    return said === `${UID} function` ? { ok: true, why: "" } : {
      ok: false,
      why:
        `deno as uid ${UID} could not load safefs from a world-readable copy: ${
          out.stderr.slice(0, 300)
        }`,
    };
  } catch (e) {
    return { ok: false, why: `setpriv unavailable: ${e}` };
  }
})();

if (!NOBODY.ok) {
  console.warn(
    `SKIPPED: tests that run safefs as uid ${UID} (OS permission errors): ${NOBODY.why}`,
  );
}
