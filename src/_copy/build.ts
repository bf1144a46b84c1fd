// Copyright 2026 the safefs authors. MIT license.
/**
 * Building a planned copy under ONE temp name beside its destination, and
 * checking it before it is published.
 *
 * The temp's root is locked (`flock`) right after it is created and stays
 * locked until the caller has published or removed it, so `sweep()` never
 * takes it, however old the times copied onto it are.
 *
 * A tree is built directory by directory in walk order, with the source's and
 * the copy's directories held open side by side: in each directory, its
 * files, symlinks and hard links are made and its subdirectories created
 * (owner rwx); once everything below a directory is done, its owner, mode
 * and times are set (so finishing a child does not move its parent's mtime)
 * and, in `"each"` durability, it is fsynced after those changes. Then:
 * 1. a tree's source is examined again (`recheckSource`): a tree that
 *    gained, lost or replaced entries while it was copied fails the build;
 * 2. the copy is checked against what was made (`verifyCopy`): an entry
 *    removed or replaced by another process fails the build;
 * 3. the copy is made durable (`Syncer.finish`).
 * Nothing is published by this module; on failure the caller removes the
 * temp with the deletion engine.
 *
 * @module
 */
import { type Dir, feat, type Handle, sys } from "../_sys.ts";
import { type Gen, PACE, paceAt } from "../_run.ts";
import { under } from "../_path.ts";
import { applyFileMeta, copyFile } from "./file.ts";
import { K_DIR, K_FILE, K_LINK, type Plan } from "./plan.ts";
import {
  copySide,
  recheckSource,
  sourceSide,
  verifyCopy,
  walkPlan,
} from "./walk.ts";
import { checkAbort, type EngineOptions, type Meter } from "./options.ts";
import { fsync, type Syncer } from "./sync.ts";
import { SafeFsError } from "../errors.ts";
import { capsOf, isUnsupported } from "../_caps.ts";
import { claimName, createTemp } from "../_temp.ts";

/** Where the copy is built. */
export interface BuildTarget {
  /** The destination's directory (the temp is made in it). */
  dir: Dir;
  /** Its device. */
  dev: number;
  /**
   * The temp's name; while it is created, its claim name (see `_temp.ts`),
   * which a symlink keeps until it is published.
   */
  name: string;
}

/** The built temp's root. */
export interface Built {
  /** Open and locked for a file or directory; null for a symlink. */
  handle: Handle | null;
  /** Its inode. */
  ino: number;
}

/** The source root: its directory and name, and for a directory its open handle. */
export interface SourceRoot {
  parent: Dir | null;
  name: string;
  path: string;
  dir: Dir | null;
}

/**
 * Builds the copy at `t.name` in `t.dir`; returns its root (open, locked)
 * once it has been re-checked, verified and made durable.
 */
export function* build(
  p: Plan,
  src: SourceRoot,
  t: BuildTarget,
  o: EngineOptions,
  meter: Meter,
  sync: Syncer,
): Gen<Built> {
  meter.enter("copy", src.path);
  if (p.kind[0] === K_FILE) {
    const job = {
      srcDir: src.parent!,
      name: src.name,
      path: src.path,
      plan: p,
      index: 0,
      dstDir: t.dir,
      dstDev: t.dev,
      dstName: t.name,
      keep: true,
      root: true,
      recheck: true,
      private: false,
    };
    let r;
    try {
      r = yield* copyFile(job, o, meter);
    } finally {
      t.name = job.dstName;
    }
    p.copyIno[0] = r.ino;
    meter.tick(src.path, 0, 1);
    if (sync.mode !== "none") {
      // The root temp file stays open (it is locked): fsync it in place.
      meter.enter("sync", src.path);
      yield* fsync(r.out!);
    }
    return { handle: r.out, ino: r.ino };
  }
  if (p.kind[0] === K_LINK) {
    t.name = claimName(t.name); // it cannot be locked
    makeLink(p, 0, t.dir, t.name, o, src.path);
    meter.tick(src.path, 0, 1);
    return { handle: null, ino: p.copyIno[0] };
  }

  const root = createTemp(t.dir, t.name, (name) => {
    sys.mkdirAt(t.dir, name, 0o700);
    return sys.openDirAt(t.dir, name);
  }, (name) => t.name = name);
  let ok = false;
  try {
    const made = sys.fstat(root);
    p.copyIno[0] = made.ino;
    const uid = made.uid;
    const tmpPath = under(t.dir.path, t.name);
    yield* walkPlan(
      p,
      o.op,
      [
        sourceSide(p, src.dir!, src.path, o),
        copySide(p, root, t.dev, tmpPath, o.op),
      ],
      function* (d, [sDir, tDir], [sPath]): Gen<void> {
        const f = p.firstOf(d);
        for (let k = 0; k < p.countOf(d); k++) {
          const i = f + k;
          const name = p.name(i);
          const path = under(sPath, name);
          if (paceAt(k)) yield PACE;
          checkAbort(o.signal, o.op, path);
          const kind = p.kind[i];
          if (kind === K_DIR) {
            sys.mkdirAt(tDir, name, o.preserve.mode ? 0o700 : 0o777);
            p.copyIno[i] = sys.statAt(tDir, name, false).ino;
          } else if (kind === K_LINK) {
            makeLink(p, i, tDir, name, o, path);
          } else if (
            p.linkOf.has(i) &&
            linkCopy(p, i, root, tDir, name, t.dev, o.op, tmpPath)
          ) {
            // A second name of a file already copied: linked to its copy.
          } else {
            const r = yield* copyFile(
              {
                srcDir: sDir,
                name,
                path,
                plan: p,
                index: i,
                dstDir: tDir,
                dstDev: t.dev,
                dstName: name,
                keep: sync.mode === "each",
                root: false,
                recheck: false,
                private: true,
              },
              o,
              meter,
            );
            p.copyIno[i] = r.ino;
            if (r.out !== null) yield* sync.file(r.out);
            if (sync.wrote(p.size[i])) yield* sync.behind(root);
          }
          meter.tick(path, 0, 1);
        }
      },
      function* (d, [_sDir, tDir], [sPath]): Gen<void> {
        applyFileMeta(tDir, p, d, o, uid);
        yield* sync.dir(tDir);
        meter.tick(sPath, 0, 1);
      },
    );
    // A syncfs runs while the source is re-checked and the copy verified.
    yield* sync.start(root);
    yield* recheckSource(p, src.dir!, src.path, o);
    yield* verifyCopy(p, root, t.dev, tmpPath, o.op, o.signal);
    if (sync.mode !== "none") meter.enter("sync", src.path);
    yield* sync.finish();
    ok = true;
    return { handle: root, ino: made.ino };
  } finally {
    if (!ok) {
      yield* sync.settle();
      sys.close(root);
    }
  }
}

/**
 * Makes entry `i` of the plan, a second name of a file already copied, a
 * hard link to that copy. Returns false, having made nothing, where the
 * destination's filesystem has no hard links (exFAT, FAT, many FUSE
 * mounts): the caller then copies the file again under this name.
 */
function linkCopy(
  p: Plan,
  i: number,
  root: Dir,
  tDir: Dir,
  name: string,
  dev: number,
  op: string,
  rootPath: string,
): boolean {
  const caps = capsOf(dev);
  if (caps.link === false) return false;
  const first = p.linkOf.get(i)!;
  const holder = openCopyDir(p, root, p.parent[first], dev, op, rootPath);
  try {
    sys.linkAt(holder, p.name(first), tDir, name);
  } catch (e) {
    if (
      isUnsupported(e) ||
      (e instanceof SafeFsError && (e.code === "EPERM" || e.code === "EMLINK"))
    ) {
      caps.link = false;
      return false;
    }
    throw e;
  } finally {
    if (holder !== root) sys.close(holder);
  }
  caps.link = true;
  p.copyIno[i] = p.copyIno[first];
  return true;
}

/** Makes symlink `i` of the plan as `name` in `dir`, with its owner and times. */
function makeLink(
  p: Plan,
  i: number,
  dir: Dir,
  name: string,
  o: EngineOptions,
  path: string,
): void {
  const target = p.targets.get(i)!;
  try {
    sys.symlinkAt(target, dir, name);
  } catch (e) {
    if (
      e instanceof SafeFsError &&
      (e.code === "EPERM" || e.code === "EOPNOTSUPP" || e.code === "ENOSYS")
    ) {
      throw noSymlinks(o.op, path, dir.path, e);
    }
    throw e;
  }
  if (o.preserve.owner !== false) {
    try {
      sys.lchownAt(dir, name, p.uid[i], p.gid[i]);
    } catch (e) {
      if (
        !(o.preserve.owner === "try" && e instanceof SafeFsError &&
          (e.code === "EPERM" || e.code === "EACCES"))
      ) throw e;
    }
  }
  if (o.preserve.times && feat.fdRelative) {
    sys.lutimesAt(
      dir,
      name,
      { sec: p.atS[i], nsec: p.atN[i] },
      { sec: p.mtS[i], nsec: p.mtN[i] },
    );
  }
  p.copyIno[i] = sys.statAt(dir, name, false).ino;
}

/** The error for a symlink the destination's filesystem cannot store. */
export function noSymlinks(
  op: string,
  link: string,
  where: string,
  cause?: unknown,
): SafeFsError {
  return new SafeFsError(
    `Cannot ${op} the symlink '${link}': the filesystem of '${where}' cannot ` +
      `store symlinks; nothing was published`,
    { code: "EOPNOTSUPP", op, path: link, dest: where, cause },
  );
}

/** Opens the copy's directory `d` from the copy's root, by the plan's names. */
function openCopyDir(
  p: Plan,
  root: Dir,
  d: number,
  dev: number,
  op: string,
  rootPath: string,
): Dir {
  if (d === 0) return root;
  const path: number[] = [];
  for (let k = d; k > 0; k = p.parent[k]) path.push(k);
  const side = copySide(p, root, dev, rootPath, op);
  let cur = root;
  let curPath = rootPath;
  for (let j = path.length - 1; j >= 0; j--) {
    const next = side.open(cur, path[j], curPath);
    if (cur !== root) sys.close(cur);
    cur = next;
    curPath = under(curPath, p.name(path[j]));
  }
  return cur;
}
