// Copyright 2026 the safefs authors. MIT license.
/**
 * The `path` backend: the seam's (directory, name) calls made with Deno's
 * path-based file API, for programs run without `--allow-ffi`.
 *
 * A {@linkcode Dir} here is an absolute path plus the (dev, ino) seen when it
 * was opened. Before every call that changes something in a directory, the
 * directory's path is checked to still name that (dev, ino); a mismatch fails
 * the call with code `"ESRCCHANGED"` and nothing done. Renames made through
 * this backend update the paths of the directories and files it holds open,
 * so a held directory follows our own renames as a descriptor would.
 *
 * What it cannot do (and the ffi backend does): every call resolves its path
 * again, so between a check and the call a process that can rename entries of
 * a directory on the way can redirect the call elsewhere; there is no
 * `RENAME_NOREPLACE`, `RENAME_EXCHANGE`, `copy_file_range` between open files,
 * `SEEK_DATA`/`SEEK_HOLE`, `syncfs` or nanosecond times; `unlinkAt` checks
 * the entry is not a directory and then calls `Deno.remove`, so an EMPTY
 * directory swapped in between is removed; paths longer than PATH_MAX fail
 * with ENAMETOOLONG.
 *
 * @module
 */
import { ATTR_MOUNT_ROOT } from "./_sys_types.ts";
import { DirList, kindByte, kindOfByte } from "./_dir_list.ts";
import type {
  Backend,
  Dir,
  DirEntry,
  File,
  FsInfo,
  Handle,
  Kind,
  OpenFlags,
  RenameHow,
  Stat,
  Timespec,
} from "./_sys_types.ts";

/** A place in the list of open handles (see `open`). */
class Linked {
  prev: PathHandle | null = null;
  next: PathHandle | null = null;
}

class PathDir extends Linked implements Dir {
  readonly type = "dir" as const;
  /** An open FsFile on the directory, for fsync and lock (lazily). */
  fh: Deno.FsFile | null = null;
  constructor(
    public path: string,
    readonly dev: number,
    readonly ino: number,
    /** Opened through a symlink at its last component (checked by stat). */
    readonly follow: boolean,
  ) {
    super();
  }
}

class PathFile extends Linked implements File {
  readonly type = "file" as const;
  constructor(
    public path: string,
    readonly fh: Deno.FsFile,
    readonly dev: number,
    readonly ino: number,
  ) {
    super();
  }
}

type PathHandle = PathDir | PathFile;

/**
 * Open handles, whose paths follow the renames made through this backend:
 * a list threaded through the handles themselves. A `Set` reallocates its
 * table as handles come and go (three per file of a copy), and V8 promotes
 * every live table it copies: on a copy of 200,000 files that was 12 MiB
 * promoted to the old generation, which grows the young one.
 */
const open = {
  head: null as PathHandle | null,
  add(h: PathHandle): void {
    h.prev = null;
    h.next = this.head;
    if (this.head !== null) this.head.prev = h;
    this.head = h;
  },
  /** Unlinks `h`; false when it was not open. */
  delete(h: PathHandle): boolean {
    // Only the head of the list has no previous handle.
    if (h.prev === null && this.head !== h) return false;
    if (h.prev !== null) h.prev.next = h.next;
    else this.head = h.next;
    if (h.next !== null) h.next.prev = h.prev;
    h.prev = h.next = null;
    return true;
  },
};

let nodeModules: {
  fs: typeof import("node:fs");
  process: typeof import("node:process");
} | null = null;

/**
 * `node:fs` (rmdir, access, lchown, lutimes: calls Deno lacks) and
 * `node:process` (umask), loaded when first needed: importing them costs
 * every process about 30 ms at start-up, the ffi backend never needs them,
 * and a `safefs --version` should not wait for them.
 */
function node(): NonNullable<typeof nodeModules> {
  return nodeModules ??= {
    fs: process.getBuiltinModule("node:fs") as typeof import("node:fs"),
    process: process.getBuiltinModule(
      "node:process",
    ) as typeof import("node:process"),
  };
}

/** An error carrying an errno name, classified by `_errno.ts` like any other. */
function coded(code: string, message: string): Error {
  const e = new Error(message);
  (e as Error & { code: string }).code = code;
  return e;
}

function join(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

function exists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function kindOf(i: Deno.FileInfo): Kind {
  if (i.isFile) return "file";
  if (i.isDirectory) return "dir";
  if (i.isSymlink) return "symlink";
  if (i.isFifo) return "fifo";
  if (i.isSocket) return "socket";
  if (i.isCharDevice) return "char";
  if (i.isBlockDevice) return "block";
  return "unknown";
}

/** Milliseconds since the epoch (0 where Deno gives no time). */
function ms(d: Date | null): number {
  return d === null ? 0 : d.getTime();
}

/** The process umask, once read (see `umask` below). */
let umaskRead: number | null | undefined;

/** Mount points by their last component, and when they were read. */
let mounts: { at: number; byName: Map<string, Set<string>> | null } | null =
  null;

/**
 * How long a reading of /proc/self/mountinfo is used (milliseconds): read
 * again at each `openDir` (where every operation starts), and within an
 * operation at most this often.
 */
const MOUNTS_TTL = 100;

/**
 * The mount points of this process (from /proc/self/mountinfo, re-read when
 * older than {@linkcode MOUNTS_TTL}), by last component; null where that
 * file may not be read (no read permission for it: not asked for).
 */
function mountPoints(): Map<string, Set<string>> | null {
  const now = performance.now();
  if (mounts !== null && now - mounts.at < MOUNTS_TTL) return mounts.byName;
  let byName: Map<string, Set<string>> | null = null;
  try {
    const granted = Deno.permissions.querySync({
      name: "read",
      path: "/proc/self/mountinfo",
    }).state === "granted";
    if (granted) {
      byName = new Map();
      const text = Deno.readTextFileSync("/proc/self/mountinfo");
      for (const line of text.split("\n")) {
        const field = line.split(" ")[4];
        if (field === undefined) continue;
        const mp = field.replace(
          /\\([0-7]{3})/g,
          (_, o: string) => String.fromCharCode(parseInt(o, 8)),
        );
        const name = mp.slice(mp.lastIndexOf("/") + 1);
        let set = byName.get(name);
        if (set === undefined) byName.set(name, set = new Set());
        set.add(mp);
      }
    }
  } catch {
    byName = null;
  }
  mounts = { at: now, byName };
  return byName;
}

/**
 * lstat (or stat) of a path; a directory that is a mount point (a bind
 * mount of the same filesystem included) gets `ATTR_MOUNT_ROOT`, as statx
 * gives it to the ffi backend.
 */
function statPath(p: string, follow: boolean): Stat {
  const st = toStat(follow ? Deno.statSync(p) : Deno.lstatSync(p));
  if (st.kind !== "dir") return st;
  const set = mountPoints()?.get(p.slice(p.lastIndexOf("/") + 1));
  if (set === undefined) return st;
  let real = p;
  if (!set.has(p)) {
    try {
      real = Deno.realPathSync(p);
    } catch {
      return st;
    }
  }
  if (set.has(real)) st.attrs |= ATTR_MOUNT_ROOT;
  return st;
}

function toStat(i: Deno.FileInfo): Stat {
  // Plain numbers, no intermediate arrays: a tree copy stats every entry
  // several times, and the garbage decides how far V8 grows its heap.
  const a = ms(i.atime), m = ms(i.mtime), c = ms(i.ctime ?? i.mtime);
  const aSec = Math.floor(a / 1000), mSec = Math.floor(m / 1000);
  const cSec = Math.floor(c / 1000);
  return {
    kind: kindOf(i),
    dev: i.dev,
    ino: i.ino ?? 0,
    mode: (i.mode ?? 0) & 0o7777,
    nlink: i.nlink ?? 1,
    uid: i.uid ?? 0,
    gid: i.gid ?? 0,
    size: i.size,
    blocks: i.blocks ?? 0,
    atimeSec: aSec,
    atimeNsec: (a - aSec * 1000) * 1e6,
    mtimeSec: mSec,
    mtimeNsec: (m - mSec * 1000) * 1e6,
    ctimeSec: cSec,
    ctimeNsec: (c - cSec * 1000) * 1e6,
    attrs: 0,
  };
}

function seconds(t: Timespec): number {
  return t.sec + t.nsec / 1e9;
}

/**
 * Entries per part of a listing (`listPart`): a part's entries live while
 * the caller stats each one, and the fewer of them a garbage collection
 * finds alive, the less V8 grows its young generation.
 */
const PART = 256;

/**
 * A directory's listing between its parts. Deno reads a whole directory at
 * once, as an object per entry; those are let go at once, and the entries
 * are kept compactly (a {@linkcode DirList}). Kept as objects while the
 * caller stats each entry, they were alive at V8's young-generation
 * collections, which copy what is alive and grow the young generation by
 * it: a 20,000-file copy left 33-39 KiB alive per collection with the
 * objects, 20-27 KiB with the buffers.
 */
interface Listing {
  list: DirList;
  /** The next entry to return. */
  next: number;
}

/** The listings being read in parts, by directory. */
const listings = new WeakMap<PathDir, Listing>();

/** A listing whose last part has been returned. */
const DONE: Listing = { list: new DirList(0), next: 0 };

/** Reads directory `d` whole into a {@linkcode Listing}. */
function readListing(d: PathDir): Listing {
  const all = [...Deno.readDirSync(d.path)];
  let room = 0;
  for (const e of all) room += e.name.length * 3;
  const list = new DirList(all.length, room);
  for (const e of all) list.add(e.name, denoKind(e));
  return { list, next: 0 };
}

/** An entry from its name and type byte; a name Deno could not decode is refused. */
function named(dir: PathDir, name: string, kind: number): DirEntry {
  if (name.includes("\uFFFD") && !exists(join(dir.path, name))) {
    // Deno replaced bytes that are not UTF-8: the name given names
    // nothing (or something else). Refused rather than guessed.
    throw coded(
      "EILSEQ",
      `a name in '${dir.path}' is not valid UTF-8 and cannot be named without --allow-ffi (os error 84)`,
    );
  }
  return { name, kind: kindOfByte(kind) };
}

const [FILE, DIR, LINK] = [
  kindByte("file"),
  kindByte("dir"),
  kindByte("symlink"),
];

function denoKind(e: Deno.DirEntry): number {
  return e.isFile ? FILE : e.isDirectory ? DIR : e.isSymlink ? LINK : 0;
}

/**
 * `listPartAsync` reads a listing an entry at a time from Deno's async
 * iterator instead of whole. Read whole, a directory of 200,000 entries
 * grew the process by 160 MiB (an object per entry, all alive at once);
 * streamed, by 20. A listing read in parts (the walks, the re-check and
 * the verifies) is always streamed: Deno's objects for a directory of
 * 1,000 entries, alive at a young-generation collection, were what grew
 * V8's heap most in a move of 200,000 files (130-147 MiB read whole,
 * 121-134 streamed). A listing kept whole (removals, sweeps) is streamed
 * from this size (`st_size` when the listing starts: 20 bytes an entry on
 * tmpfs, about 27 on ext4): each entry streamed is an async call, about 5 µs
 * more than read whole, which `remove()` of many small directories feels.
 */
const STREAM_MIN = 256 * 1024;

/**
 * Entries per part of a streamed listing: each entry is an async call, and
 * V8 collected its young generation about once per 256 of them, finding a
 * part of 256 half built each time: nearly every entry was copied (61 MiB
 * over the three listings of a 200,000-entry move).
 */
const STREAM_PART = 32;

/**
 * The streamed listings, by directory: Deno's iterator while entries are
 * left, null once it is done.
 */
const streams = new WeakMap<PathDir, AsyncIterator<Deno.DirEntry> | null>();

/** Ends `d`'s streamed listing, if one is open (its descriptor is let go). */
function endStream(d: PathDir): void {
  const s = streams.get(d);
  streams.delete(d);
  s?.return?.().catch(() => {});
}

/**
 * The next part of `d`'s listing for the async driver: streamed unless the
 * caller keeps it whole and the directory is small (see `STREAM_MIN`),
 * else read whole by `listPart`.
 */
async function streamPart(
  d: PathDir,
  first: boolean,
  whole: boolean,
  listPart: (d: PathDir, first: boolean) => DirEntry[] | null,
): Promise<DirEntry[] | null> {
  if (first) {
    endStream(d);
    const i = whole
      ? (d.follow ? Deno.statSync(d.path) : Deno.lstatSync(d.path))
      : null;
    if (i === null || i.size >= STREAM_MIN) {
      streams.set(d, Deno.readDir(d.path)[Symbol.asyncIterator]());
    }
  }
  const s = streams.get(d);
  if (s === undefined) return listPart(d, first);
  if (s === null) return null;
  const out: DirEntry[] = [];
  while (out.length < STREAM_PART) {
    const r = await s.next();
    if (r.done) {
      streams.set(d, null);
      break;
    }
    out.push(named(d, r.value.name, denoKind(r.value)));
  }
  return out.length === 0 ? null : out;
}

/** Fails unless `d.path` still names the directory that was opened. */
function check(d: Dir): PathDir {
  const pd = d as PathDir;
  const i = pd.follow ? Deno.statSync(pd.path) : Deno.lstatSync(pd.path);
  if (!i.isDirectory || i.dev !== pd.dev || i.ino !== pd.ino) {
    throw coded(
      "ESRCCHANGED",
      `the directory '${pd.path}' was replaced since it was opened`,
    );
  }
  return pd;
}

function checkHandle(h: Handle): PathHandle {
  if (h.type === "dir") return check(h);
  const f = h as PathFile;
  const i = Deno.lstatSync(f.path);
  if (i.dev !== f.dev || i.ino !== f.ino) {
    throw coded(
      "ESRCCHANGED",
      `the file '${f.path}' was replaced since it was opened`,
    );
  }
  return f;
}

function dirFile(d: PathDir): Deno.FsFile {
  if (d.fh === null) {
    const fh = Deno.openSync(d.path, { read: true });
    const i = fh.statSync();
    if (!i.isDirectory || i.dev !== d.dev || i.ino !== d.ino) {
      fh.close();
      throw coded(
        "ESRCCHANGED",
        `the directory '${d.path}' was replaced since it was opened`,
      );
    }
    d.fh = fh;
  }
  return d.fh;
}

/** After a rename of `from` to `to`: the open handles under `from` move too. */
function moved(from: string, to: string): void {
  const prefix = from + "/";
  for (let h = open.head; h !== null; h = h.next) {
    if (h.path === from) h.path = to;
    else if (h.path.startsWith(prefix)) h.path = to + h.path.slice(from.length);
  }
}

function openDirPath(path: string, follow: boolean): PathDir {
  const i = follow ? Deno.statSync(path) : Deno.lstatSync(path);
  if (i.isSymlink) {
    throw coded("ELOOP", `'${path}' is a symlink (os error 40)`);
  }
  if (!i.isDirectory) {
    throw coded("ENOTDIR", `'${path}' is not a directory (os error 20)`);
  }
  const d = new PathDir(path, i.dev, i.ino ?? 0, follow);
  open.add(d);
  return d;
}

const unsupported = (what: string): Error =>
  coded("EOPNOTSUPP", `${what} is not available on the path backend`);

/** Creates the path backend. */
export function createPathBackend(): Backend {
  const backend: Backend = {
    features: {
      name: "path",
      fdRelative: false,
      renameFlags: false,
      beneath: false,
      nsTimes: false,
      seekHoles: false,
      copyRange: false,
      syncfs: false,
      lock: true,
      removeLeaf: true,
      syncListsInParts: false,
      maxPath: 4095,
    },

    openDir: (path, follow) => {
      // Every operation starts here: it sees the mounts of its start.
      mounts = null;
      return openDirPath(path, follow);
    },
    openDirAt: (dir, name) => {
      const d = check(dir);
      if (name === "..") {
        const parent = d.path === "/"
          ? "/"
          : d.path.slice(0, d.path.lastIndexOf("/")) || "/";
        return openDirPath(parent, false);
      }
      return openDirPath(join(d.path, name), false);
    },
    openDirBeneath: () => {
      throw unsupported("openat2");
    },
    fstat: (h) => {
      if (h.type === "file") return toStat((h as PathFile).fh.statSync());
      // By path, checked to be the directory opened: an open would need
      // read permission, which a directory of write and search only lacks.
      const d = h as PathDir;
      const i = d.follow ? Deno.statSync(d.path) : Deno.lstatSync(d.path);
      if (!i.isDirectory || i.dev !== d.dev || i.ino !== d.ino) {
        throw coded(
          "ESRCCHANGED",
          `the directory '${d.path}' was replaced since it was opened`,
        );
      }
      return toStat(i);
    },
    statAt: (dir, name, follow) => {
      const p = join((dir as PathDir).path, name);
      return statPath(p, follow);
    },
    // chattr flags cannot be read without FFI, and every probe for them
    // changes something (a write open copies an overlayfs file up).
    attrsAt: () => 0,
    tryStatAt: (dir, name, follow) => {
      const p = join((dir as PathDir).path, name);
      try {
        return statPath(p, follow);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return null;
        throw e;
      }
    },
    // Deno reads a whole directory at once: the parts are cut from that.
    listPart: (dir, first) => {
      const d = dir as PathDir;
      let l = listings.get(d);
      if (first) endStream(d);
      if (first || l === undefined) {
        l = readListing(d);
        listings.set(d, l);
      }
      const n = l.list.length;
      const end = Math.min(l.next + PART, n);
      if (l.next === end) {
        listings.delete(d);
        return null;
      }
      const out: DirEntry[] = [];
      for (let k = l.next; k < end; k++) {
        out.push(named(d, l.list.name(k), l.list.kindByte(k)));
      }
      l.next = end;
      // The last part: the buffers are let go now, not after the caller
      // has gone through the part.
      if (end === n) listings.set(d, DONE);
      return out;
    },
    listPartAsync: (dir, first, whole) =>
      streamPart(dir as PathDir, first, whole, backend.listPart),
    openAt: (dir, name, flags: OpenFlags) => {
      const d = flags.create || flags.write ? check(dir) : (dir as PathDir);
      const p = join(d.path, name);
      if (flags.create) {
        const fh = Deno.openSync(p, {
          read: flags.read ?? false,
          write: true,
          createNew: true,
          mode: flags.mode ?? 0o666,
        });
        const i = fh.statSync();
        const f = new PathFile(p, fh, i.dev, i.ino ?? 0);
        open.add(f);
        return f;
      }
      const before = flags.follow ? Deno.statSync(p) : Deno.lstatSync(p);
      if (before.isSymlink) {
        throw coded("ELOOP", `'${p}' is a symlink (os error 40)`);
      }
      if (before.isDirectory) {
        throw coded("EISDIR", `'${p}' is a directory (os error 21)`);
      }
      if (!before.isFile) {
        // Deno cannot open without O_NONBLOCK: opening a FIFO would block.
        throw coded(
          "EFTYPE",
          `'${p}' is not a regular file and cannot be opened safely without --allow-ffi`,
        );
      }
      const fh = Deno.openSync(p, {
        read: flags.read ?? false,
        write: flags.write ?? false,
      });
      const i = fh.statSync();
      if (i.dev !== before.dev || i.ino !== before.ino) {
        fh.close();
        throw coded(
          "ESRCCHANGED",
          `'${p}' was replaced while it was being opened`,
        );
      }
      const f = new PathFile(p, fh, i.dev, i.ino ?? 0);
      open.add(f);
      return f;
    },
    mkdirAt: (dir, name, mode) => {
      Deno.mkdirSync(join(check(dir).path, name), { mode });
    },
    unlinkAt: (dir, name) => {
      const p = join(check(dir).path, name);
      if (Deno.lstatSync(p).isDirectory) {
        throw coded("EISDIR", `'${p}' is a directory (os error 21)`);
      }
      Deno.removeSync(p);
    },
    rmdirAt: (dir, name) => {
      node().fs.rmdirSync(join(check(dir).path, name));
    },
    renameAt: (fromDir, fromName, toDir, toName, how: RenameHow) => {
      if (how !== "replace") {
        throw coded(
          "EINVAL",
          `rename with ${how} is not available on the path backend (os error 22)`,
        );
      }
      const a = join(check(fromDir).path, fromName);
      const b = join(check(toDir).path, toName);
      Deno.renameSync(a, b);
      moved(a, b);
    },
    linkAt: (fromDir, fromName, toDir, toName) => {
      Deno.linkSync(
        join(check(fromDir).path, fromName),
        join(check(toDir).path, toName),
      );
    },
    symlinkAt: (target, dir, name) => {
      const p = join(check(dir).path, name);
      // Deno's own check for symlinks asks only whether writing is granted
      // somewhere: a --deny-write scope would not stop it.
      if (
        Deno.permissions.querySync({ name: "write", path: p }).state !==
          "granted"
      ) {
        throw new Deno.errors.NotCapable(
          `Requires write access to "${p}", run again with the --allow-write flag`,
        );
      }
      Deno.symlinkSync(target, p);
    },
    readLinkAt: (dir, name) =>
      Deno.readLinkSync(join((dir as PathDir).path, name)),
    chmod: (h, mode) => {
      Deno.chmodSync(checkHandle(h).path, mode);
    },
    chmodAt: (dir, name, mode) => {
      const p = join(check(dir).path, name);
      // Deno's chmod follows a symlink: refuse one (a swap in between still
      // wins; the ffi backend never follows).
      if (Deno.lstatSync(p).isSymlink) {
        throw coded("EOPNOTSUPP", `'${p}' is a symlink (os error 95)`);
      }
      Deno.chmodSync(p, mode);
    },
    accessDir: (dir, mode) => {
      const d = check(dir);
      if ((mode & 2) !== 0) {
        // A read-only mount: the rename of a name that does not exist is
        // refused with EROFS before the name is even looked up (ENOENT
        // otherwise). Nothing is created, so nothing changes, not even an
        // overlayfs copy-up (a probe that made a file would copy the
        // directory up, and change its identity).
        const probe = join(d.path, `.${crypto.randomUUID()}.safefs-tmp`);
        try {
          Deno.renameSync(probe, probe + "2");
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
      }
      // Deno's access() reads the mode bits (not ACLs or chattr flags).
      node().fs.accessSync(d.path, mode);
    },
    chown: (h, uid, gid) => {
      Deno.chownSync(
        checkHandle(h).path,
        uid === -1 ? null : uid,
        gid === -1 ? null : gid,
      );
    },
    utimes: (h, atime, mtime) => {
      if (h.type === "file") {
        (h as PathFile).fh.utimeSync(seconds(atime), seconds(mtime));
      } else {
        Deno.utimeSync(check(h).path, seconds(atime), seconds(mtime));
      }
    },
    lchownAt: (dir, name, uid, gid) => {
      node().fs.lchownSync(join(check(dir).path, name), uid, gid);
    },
    lutimesAt: (dir, name, atime, mtime) => {
      node().fs.lutimesSync(
        join(check(dir).path, name),
        seconds(atime),
        seconds(mtime),
      );
    },
    read: (f, buf, pos) => {
      const fh = (f as PathFile).fh;
      fh.seekSync(pos, Deno.SeekMode.Start);
      return fh.readSync(buf) ?? 0;
    },
    write: (f, buf, pos) => {
      const fh = (f as PathFile).fh;
      fh.seekSync(pos, Deno.SeekMode.Start);
      return fh.writeSync(buf);
    },
    readAsync: async (f, buf, pos) => {
      const fh = (f as PathFile).fh;
      await fh.seek(pos, Deno.SeekMode.Start);
      return (await fh.read(buf)) ?? 0;
    },
    writeAsync: async (f, buf, pos) => {
      const fh = (f as PathFile).fh;
      await fh.seek(pos, Deno.SeekMode.Start);
      return await fh.write(buf);
    },
    truncate: (f, len) => {
      (f as PathFile).fh.truncateSync(len);
    },
    seek: () => {
      throw unsupported("SEEK_DATA/SEEK_HOLE");
    },
    copyRange: () => {
      throw unsupported("copy_file_range");
    },
    copyRangeAsync: () => Promise.reject(unsupported("copy_file_range")),
    fsync: (h) => {
      if (h.type === "file") (h as PathFile).fh.syncSync();
      else dirFile(h as PathDir).syncSync();
    },
    fsyncAsync: (h) =>
      h.type === "file"
        ? (h as PathFile).fh.sync()
        : dirFile(h as PathDir).sync(),
    syncfs: () => {
      throw unsupported("syncfs");
    },
    syncfsAsync: () => Promise.reject(unsupported("syncfs")),
    lock: (h) => {
      const fh = h.type === "file" ? (h as PathFile).fh : dirFile(h as PathDir);
      return fh.tryLockSync(true);
    },
    removeLeaf: (dir, name) => {
      Deno.removeSync(join(check(dir).path, name), { recursive: true });
    },
    removeLeafAsync: async (dir, name) => {
      await Deno.remove(join(check(dir).path, name), { recursive: true });
    },
    moved: () => {
      // Renames through this backend move the paths of its open handles.
    },
    close: (h) => {
      const ph = h as PathHandle;
      if (!open.delete(ph)) return;
      if (ph instanceof PathFile) ph.fh.close();
      else {
        endStream(ph);
        if (ph.fh !== null) ph.fh.close();
      }
    },
    fsInfo: (): FsInfo | null => null,
    realPath: (path) => Deno.realPathSync(path),
    // Read once per process, as the ffi backend does (reading it means
    // setting it, twice: racy with other threads, and two calls per file);
    // a copy checks the mode its file got at creation.
    umask: () => {
      if (umaskRead !== undefined) return umaskRead;
      try {
        umaskRead = Deno.permissions.querySync(
            { name: "sys", kind: "umask" } as Deno.PermissionDescriptor,
          ).state === "granted"
          ? node().process.umask()
          : null;
      } catch {
        umaskRead = null;
      }
      return umaskRead;
    },
    euid: () => {
      try {
        if (
          Deno.permissions.querySync({ name: "sys", kind: "uid" }).state !==
            "granted"
        ) {
          return null;
        }
        return Deno.uid();
      } catch {
        return null;
      }
    },
  };
  return backend;
}
