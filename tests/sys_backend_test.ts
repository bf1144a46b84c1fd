// Copyright 2026 the safefs authors. MIT license.
// The Backend contract (src/_sys_types.ts), call by call, written once and
// run against every backend (tests/_sys_backends.ts). Where a backend lacks
// a feature, the tests of that feature are ignored visibly, and the tests of
// "without the feature it fails, changing nothing" run instead.
import assert from "node:assert/strict";
import { join } from "node:path";
import { errnoName, toSafeFsError } from "../src/_errno.ts";
import {
  AlreadyExistsError,
  CrossDeviceError,
  NotEmptyError,
  NotFoundError,
  SafeFsError,
} from "../src/errors.ts";
import {
  type Backend,
  type Dir,
  type File,
  listAll,
} from "../src/_sys_types.ts";
import {
  bytes,
  conformance,
  exists,
  rejectsErrno,
  sh,
  text,
  throwsErrno,
  UMASK,
} from "./_sys_backends.ts";
import { CAN_MOUNT, HAS_SHM, mountTmpfs, umount } from "./_helpers.ts";

const without = (f: keyof Backend["features"]) => (b: Backend) =>
  b.features[f] ? false as const : `no features.${String(f)}`;
const needs = (f: keyof Backend["features"]) => (b: Backend) =>
  b.features[f] ? `has features.${String(f)}` : false as const;

// ---- opening directories --------------------------------------------------

conformance(
  "openDir opens a directory, refuses a file, and a symlink unless follow",
  ({ b, tmp }) => {
    Deno.mkdirSync(join(tmp, "sub"));
    Deno.writeTextFileSync(join(tmp, "file"), "x");
    Deno.symlinkSync("sub", join(tmp, "link"));
    const d = b.openDir(join(tmp, "sub"), false);
    try {
      assert.equal(d.type, "dir");
      assert.equal(d.path, join(tmp, "sub"));
      assert.equal(b.fstat(d).ino, Deno.statSync(join(tmp, "sub")).ino);
    } finally {
      b.close(d);
    }
    throwsErrno(() => b.openDir(join(tmp, "file"), false), "ENOTDIR");
    throwsErrno(() => b.openDir(join(tmp, "link"), false), "ELOOP", "ENOTDIR");
    throwsErrno(() => b.openDir(join(tmp, "missing"), false), "ENOENT");
    const f = b.openDir(join(tmp, "link"), true);
    try {
      assert.equal(b.fstat(f).ino, Deno.statSync(join(tmp, "sub")).ino);
    } finally {
      b.close(f);
    }
  },
);

conformance(
  "openDirAt never follows a symlink at name; .. is the parent",
  ({ b, tmp, root }) => {
    Deno.mkdirSync(join(tmp, "sub"));
    Deno.writeTextFileSync(join(tmp, "file"), "x");
    Deno.symlinkSync("sub", join(tmp, "link"));
    Deno.symlinkSync(tmp, join(tmp, "abs"));
    throwsErrno(() => b.openDirAt(root, "link"), "ELOOP", "ENOTDIR");
    throwsErrno(() => b.openDirAt(root, "abs"), "ELOOP", "ENOTDIR");
    throwsErrno(() => b.openDirAt(root, "file"), "ENOTDIR");
    throwsErrno(() => b.openDirAt(root, "missing"), "ENOENT");
    const sub = b.openDirAt(root, "sub");
    try {
      assert.equal(sub.path, join(tmp, "sub"));
      assert.equal(b.fstat(sub).ino, Deno.statSync(join(tmp, "sub")).ino);
      const up = b.openDirAt(sub, "..");
      try {
        assert.equal(up.path, tmp);
        assert.equal(b.fstat(up).ino, Deno.statSync(tmp).ino);
      } finally {
        b.close(up);
      }
    } finally {
      b.close(sub);
    }
  },
);

conformance(
  "openDirBeneath opens beneath root and refuses to leave it or follow a symlink",
  ({ b, tmp, root }) => {
    Deno.mkdirSync(join(tmp, "a/b/c"), { recursive: true });
    Deno.symlinkSync("b", join(tmp, "a/lb"));
    const d = b.openDirBeneath(root, "a/b/../b/c");
    try {
      assert.equal(d.path, join(tmp, "a/b/c"));
      assert.equal(b.fstat(d).ino, Deno.statSync(join(tmp, "a/b/c")).ino);
    } finally {
      b.close(d);
    }
    throwsErrno(() => b.openDirBeneath(root, "a/../.."), "EXDEV");
    throwsErrno(() => b.openDirBeneath(root, "a/b/../../../x"), "EXDEV");
    throwsErrno(() => b.openDirBeneath(root, tmp), "EXDEV");
    throwsErrno(() => b.openDirBeneath(root, "a/lb/c"), "ELOOP");
    throwsErrno(() => b.openDirBeneath(root, "a/lb"), "ELOOP");
  },
  without("beneath"),
);

// ---- stat -------------------------------------------------------------------

conformance(
  "statAt reports every kind as lstat does, following a symlink only when asked",
  ({ b, tmp, root }) => {
    Deno.writeTextFileSync(join(tmp, "file"), "hello");
    Deno.chmodSync(join(tmp, "file"), 0o640);
    Deno.mkdirSync(join(tmp, "dir"));
    Deno.symlinkSync("file", join(tmp, "link"));
    Deno.linkSync(join(tmp, "file"), join(tmp, "hard"));
    sh("mkfifo", join(tmp, "fifo"));
    const listener = Deno.listen({
      transport: "unix",
      path: join(tmp, "sock"),
    }); // Deno removes the socket file when it closes
    using _ = { [Symbol.dispose]: () => listener.close() };
    const kinds: Record<string, string> = {
      file: "file",
      dir: "dir",
      link: "symlink",
      fifo: "fifo",
      sock: "socket",
    };
    for (const [name, kind] of Object.entries(kinds)) {
      const st = b.statAt(root, name, false);
      const ref = Deno.lstatSync(join(tmp, name));
      assert.equal(st.kind, kind, name);
      assert.equal(st.dev, ref.dev, `${name} dev`);
      assert.equal(st.ino, ref.ino, `${name} ino`);
      assert.equal(st.mode, ref.mode! & 0o7777, `${name} mode`);
      assert.equal(st.nlink, ref.nlink, `${name} nlink`);
      assert.equal(st.uid, ref.uid, `${name} uid`);
      assert.equal(st.gid, ref.gid, `${name} gid`);
      assert.equal(st.size, ref.size, `${name} size`);
      assert.equal(st.blocks, ref.blocks, `${name} blocks`);
      assert.equal(st.mtimeSec, Math.floor(ref.mtime!.getTime() / 1000));
    }
    assert.equal(b.statAt(root, "file", false).nlink, 2);
    const followed = b.statAt(root, "link", true);
    assert.equal(followed.kind, "file");
    assert.equal(followed.ino, Deno.statSync(join(tmp, "file")).ino);
    const dev = b.openDir("/dev", true);
    try {
      assert.equal(b.statAt(dev, "null", false).kind, "char");
    } finally {
      b.close(dev);
    }
    throwsErrno(() => b.statAt(root, "missing", false), "ENOENT");
  },
);

conformance(
  "statAt and fstat carry the times as the kernel keeps them",
  ({ b, tmp, root }) => {
    Deno.writeTextFileSync(join(tmp, "f"), "x");
    // Set by another program, so that the reading is tested on its own.
    sh("touch", "-d", "@1600000000.123456789", join(tmp, "f"));
    const ns = b.features.nsTimes ? 123456789 : 123000000;
    const st = b.statAt(root, "f", false);
    assert.equal(st.mtimeSec, 1600000000);
    assert.equal(st.mtimeNsec, ns);
    assert.equal(st.atimeSec, 1600000000);
    assert.equal(st.atimeNsec, ns);
    assert(st.ctimeSec >= 1600000000 && st.ctimeNsec < 1e9);
    sh("touch", "-d", "@-86400.5", join(tmp, "f")); // before the epoch
    const old = b.statAt(root, "f", false);
    assert.equal(old.mtimeSec, -86401);
    assert.equal(old.mtimeNsec, 500000000);
    const f = b.openAt(root, "f", { read: true });
    try {
      assert.deepEqual(b.fstat(f), b.statAt(root, "f", false));
    } finally {
      b.close(f);
    }
  },
);

conformance(
  "a sparse file has fewer blocks than its size",
  ({ b, tmp, root }) => {
    const f = Deno.openSync(join(tmp, "sparse"), { write: true, create: true });
    f.truncateSync(1 << 30);
    f.close();
    const st = b.statAt(root, "sparse", false);
    assert.equal(st.size, 1 << 30);
    assert(st.blocks * 512 < st.size, `blocks ${st.blocks}`);
    assert.equal(st.blocks, Deno.lstatSync(join(tmp, "sparse")).blocks);
  },
);

// ---- listing ----------------------------------------------------------------

conformance(
  "list gives every entry once with its type, without . and ..",
  ({ b, tmp, root }) => {
    Deno.writeTextFileSync(join(tmp, "file"), "x");
    Deno.mkdirSync(join(tmp, "dir"));
    Deno.symlinkSync("file", join(tmp, "link"));
    Deno.symlinkSync("dir", join(tmp, "dirlink"));
    sh("mkfifo", join(tmp, "fifo"));
    Deno.writeTextFileSync(join(tmp, "ünï 😀"), "x");
    Deno.writeTextFileSync(join(tmp, "x".repeat(255)), "x");
    const want: Record<string, string> = {
      file: "file",
      dir: "dir",
      link: "symlink",
      dirlink: "symlink",
      fifo: "fifo",
      "ünï 😀": "file",
      ["x".repeat(255)]: "file",
    };
    for (let pass = 0; pass < 2; pass++) { // twice on the same Dir
      const got = listAll(b, root);
      assert.deepEqual(got.map((e) => e.name).sort(), Object.keys(want).sort());
      for (const e of got) {
        // d_type is optional in the contract (null: the filesystem did not
        // say); ext4 says, and the ffi backend must pass it on.
        if (b.features.name === "ffi" || e.kind !== null) {
          assert.equal(e.kind, want[e.name], e.name);
        }
      }
    }
    const sub = b.openDirAt(root, "dir");
    try {
      assert.deepEqual(listAll(b, sub), []);
    } finally {
      b.close(sub);
    }
  },
);

conformance(
  "list never hands out a name that is not the entry's (non-UTF-8 names)",
  ({ b, tmp, root }) => {
    // The name 0xFF 'x' has no UTF-8 reading: a lossy one would name nothing.
    sh("sh", "-c", 'touch "$1/$(printf "\\377x")"', "sh", tmp);
    Deno.writeTextFileSync(join(tmp, "fine"), "x");
    let names: string[];
    try {
      names = listAll(b, root).map((e) => e.name);
    } catch (e) {
      assert.equal(errnoName(e), "EILSEQ");
      assert((e as Error).message.includes(tmp), (e as Error).message);
      return;
    }
    assert.equal(b.features.name, "path", "the ffi backend must refuse it");
    for (const n of names) b.statAt(root, n, false); // each must name its entry
  },
);

// ---- opening files ------------------------------------------------------------

conformance(
  "openAt creates exclusively, never through a symlink, with mode less the umask",
  ({ b, tmp, root }) => {
    const f = b.openAt(root, "new", { write: true, create: true, mode: 0o666 });
    b.close(f);
    assert.equal(Deno.statSync(join(tmp, "new")).mode! & 0o777, 0o666 & ~UMASK);
    const g = b.openAt(root, "private", {
      write: true,
      create: true,
      mode: 0o600,
    });
    b.close(g);
    assert.equal(Deno.statSync(join(tmp, "private")).mode! & 0o777, 0o600);
    throwsErrno(
      () => b.openAt(root, "new", { write: true, create: true }),
      "EEXIST",
    );
    Deno.symlinkSync(join(tmp, "target"), join(tmp, "dangling"));
    throwsErrno(
      () => b.openAt(root, "dangling", { write: true, create: true }),
      "EEXIST",
    );
    assert(!exists(join(tmp, "target")), "created through a dangling symlink");
    Deno.writeTextFileSync(join(tmp, "target"), "secret");
    throwsErrno(() => b.openAt(root, "dangling", { read: true }), "ELOOP");
    throwsErrno(() => b.openAt(root, "dangling", { write: true }), "ELOOP");
    assert.equal(text(join(tmp, "target")), "secret");
  },
);

conformance("openAt never opens a directory (EISDIR)", ({ b, tmp, root }) => {
  Deno.mkdirSync(join(tmp, "dir"));
  throwsErrno(() => b.openAt(root, "dir", { read: true }), "EISDIR");
  throwsErrno(() => b.openAt(root, "dir", { write: true }), "EISDIR");
  throwsErrno(
    () => b.openAt(root, "dir", { read: true, write: true }),
    "EISDIR",
  );
  throwsErrno(() => b.openAt(root, "missing", { read: true }), "ENOENT");
});

conformance(
  "openAt modes: a read-only file cannot be written, a write-only one not read",
  ({ b, tmp, root }) => {
    Deno.writeTextFileSync(join(tmp, "f"), "abc");
    const r = b.openAt(root, "f", { read: true });
    const w = b.openAt(root, "f", { write: true });
    try {
      assert.equal(r.type, "file");
      assert.equal(r.path, join(tmp, "f"));
      throwsErrno(() => b.write(r, bytes("x"), 0), "EBADF");
      throwsErrno(() => b.read(w, new Uint8Array(3), 0), "EBADF");
      assert.equal(text(join(tmp, "f")), "abc");
    } finally {
      b.close(r);
      b.close(w);
    }
  },
);

// ---- creating and removing entries ----------------------------------------------

conformance(
  "mkdirAt creates with mode less the umask, EEXIST over anything",
  ({ b, tmp, root }) => {
    b.mkdirAt(root, "d", 0o777);
    assert.equal(Deno.statSync(join(tmp, "d")).mode! & 0o777, 0o777 & ~UMASK);
    b.mkdirAt(root, "p", 0o700);
    assert.equal(Deno.statSync(join(tmp, "p")).mode! & 0o777, 0o700);
    Deno.symlinkSync("nowhere", join(tmp, "dangling"));
    for (const n of ["d", "dangling"]) {
      throwsErrno(() => b.mkdirAt(root, n, 0o777), "EEXIST");
    }
    assert(!exists(join(tmp, "nowhere")));
  },
);

conformance(
  "unlinkAt removes a file or a symlink itself, never a directory",
  ({ b, tmp, root }) => {
    Deno.writeTextFileSync(join(tmp, "file"), "x");
    Deno.mkdirSync(join(tmp, "dir"));
    Deno.writeTextFileSync(join(tmp, "dir/in"), "x");
    Deno.mkdirSync(join(tmp, "empty"));
    Deno.symlinkSync("file", join(tmp, "flink"));
    Deno.symlinkSync("dir", join(tmp, "dlink"));
    b.unlinkAt(root, "flink");
    b.unlinkAt(root, "dlink");
    assert(!exists(join(tmp, "flink")) && !exists(join(tmp, "dlink")));
    assert.equal(text(join(tmp, "file")), "x");
    assert.equal(text(join(tmp, "dir/in")), "x");
    throwsErrno(() => b.unlinkAt(root, "dir"), "EISDIR", "EPERM");
    throwsErrno(() => b.unlinkAt(root, "empty"), "EISDIR", "EPERM");
    assert(Deno.statSync(join(tmp, "empty")).isDirectory);
    assert.equal(text(join(tmp, "dir/in")), "x");
    b.unlinkAt(root, "file");
    assert(!exists(join(tmp, "file")));
    throwsErrno(() => b.unlinkAt(root, "file"), "ENOENT");
  },
);

conformance(
  "rmdirAt removes an empty directory, never a file or a symlink",
  ({ b, tmp, root }) => {
    Deno.mkdirSync(join(tmp, "empty"));
    Deno.mkdirSync(join(tmp, "full"));
    Deno.writeTextFileSync(join(tmp, "full/in"), "x");
    Deno.writeTextFileSync(join(tmp, "file"), "x");
    Deno.mkdirSync(join(tmp, "target"));
    Deno.symlinkSync("target", join(tmp, "dlink"));
    throwsErrno(() => b.rmdirAt(root, "file"), "ENOTDIR");
    throwsErrno(() => b.rmdirAt(root, "dlink"), "ENOTDIR");
    throwsErrno(() => b.rmdirAt(root, "full"), "ENOTEMPTY");
    assert.equal(text(join(tmp, "file")), "x");
    assert(Deno.lstatSync(join(tmp, "dlink")).isSymlink);
    assert(Deno.statSync(join(tmp, "target")).isDirectory);
    assert.equal(text(join(tmp, "full/in")), "x");
    b.rmdirAt(root, "empty");
    assert(!exists(join(tmp, "empty")));
    throwsErrno(() => b.rmdirAt(root, "empty"), "ENOENT");
  },
);

// ---- renames and links ------------------------------------------------------------

conformance(
  "renameAt replace: rename(2) over a file, and a directory onto an empty one",
  ({ b, tmp, root }) => {
    Deno.writeTextFileSync(join(tmp, "a"), "A");
    Deno.writeTextFileSync(join(tmp, "b"), "B");
    b.renameAt(root, "a", root, "b", "replace");
    assert(!exists(join(tmp, "a")));
    assert.equal(text(join(tmp, "b")), "A");
    Deno.mkdirSync(join(tmp, "d1"));
    Deno.writeTextFileSync(join(tmp, "d1/in"), "1");
    Deno.mkdirSync(join(tmp, "d2"));
    b.renameAt(root, "d1", root, "d2", "replace");
    assert.equal(text(join(tmp, "d2/in")), "1");
    Deno.mkdirSync(join(tmp, "d3"));
    Deno.writeTextFileSync(join(tmp, "d3/in"), "3");
    throwsErrno(
      () => b.renameAt(root, "d3", root, "d2", "replace"),
      "ENOTEMPTY",
      "EEXIST",
    );
    assert.equal(text(join(tmp, "d2/in")), "1");
    throwsErrno(
      () => b.renameAt(root, "missing", root, "x", "replace"),
      "ENOENT",
    );
  },
);

conformance(
  "renameAt noreplace: EEXIST and nothing changed, or a plain rename",
  ({ b, tmp, root }) => {
    Deno.writeTextFileSync(join(tmp, "a"), "A");
    Deno.writeTextFileSync(join(tmp, "b"), "B");
    Deno.symlinkSync("nowhere", join(tmp, "dangling"));
    throwsErrno(() => b.renameAt(root, "a", root, "b", "noreplace"), "EEXIST");
    throwsErrno(
      () => b.renameAt(root, "a", root, "dangling", "noreplace"),
      "EEXIST",
    );
    assert.equal(text(join(tmp, "a")), "A");
    assert.equal(text(join(tmp, "b")), "B");
    assert.equal(Deno.readLinkSync(join(tmp, "dangling")), "nowhere");
    b.renameAt(root, "a", root, "c", "noreplace");
    assert(!exists(join(tmp, "a")));
    assert.equal(text(join(tmp, "c")), "A");
  },
  without("renameFlags"),
);

conformance(
  "renameAt exchange swaps two files, or two directories, atomically",
  ({ b, tmp, root }) => {
    Deno.writeTextFileSync(join(tmp, "a"), "A");
    Deno.writeTextFileSync(join(tmp, "b"), "B");
    b.renameAt(root, "a", root, "b", "exchange");
    assert.equal(text(join(tmp, "a")), "B");
    assert.equal(text(join(tmp, "b")), "A");
    Deno.mkdirSync(join(tmp, "d1"));
    Deno.writeTextFileSync(join(tmp, "d1/one"), "1");
    Deno.mkdirSync(join(tmp, "d2"));
    Deno.writeTextFileSync(join(tmp, "d2/two"), "2");
    b.renameAt(root, "d1", root, "d2", "exchange");
    assert.equal(text(join(tmp, "d1/two")), "2");
    assert.equal(text(join(tmp, "d2/one")), "1");
    b.renameAt(root, "a", root, "d1", "exchange"); // a file and a directory
    assert.equal(text(join(tmp, "d1")), "B");
    assert.equal(text(join(tmp, "a/two")), "2");
    throwsErrno(
      () => b.renameAt(root, "b", root, "missing", "exchange"),
      "ENOENT",
    );
    assert.equal(text(join(tmp, "b")), "A");
  },
  without("renameFlags"),
);

conformance(
  "renameAt without rename flags fails (EINVAL/ENOSYS) and changes nothing",
  ({ b, tmp, root }) => {
    Deno.writeTextFileSync(join(tmp, "a"), "A");
    Deno.writeTextFileSync(join(tmp, "b"), "B");
    for (const how of ["noreplace", "exchange"] as const) {
      throwsErrno(
        () => b.renameAt(root, "a", root, "b", how),
        "EINVAL",
        "ENOSYS",
      );
      throwsErrno(
        () => b.renameAt(root, "a", root, "c", how),
        "EINVAL",
        "ENOSYS",
      );
    }
    assert.equal(text(join(tmp, "a")), "A");
    assert.equal(text(join(tmp, "b")), "B");
    assert(!exists(join(tmp, "c")));
  },
  needs("renameFlags"),
);

conformance("renameAt between two filesystems is EXDEV", ({ b, tmp, root }) => {
  const shm = Deno.makeTempDirSync({ dir: "/dev/shm", prefix: "safefs-sysb-" });
  try {
    Deno.writeTextFileSync(join(tmp, "a"), "A");
    const other = b.openDir(shm, false);
    try {
      const e = throwsErrno(
        () => b.renameAt(root, "a", other, "a", "replace"),
        "EXDEV",
      );
      assert(toSafeFsError(e, { op: "renameAt" }) instanceof CrossDeviceError);
    } finally {
      b.close(other);
    }
    assert.equal(text(join(tmp, "a")), "A");
    assert(!exists(join(shm, "a")));
  } finally {
    Deno.removeSync(shm, { recursive: true });
  }
}, () => HAS_SHM ? false : "/dev/shm is not another filesystem here");

conformance(
  "a Dir held across a rename of its path never acts on what is there now",
  ({ b, tmp, root }) => {
    Deno.mkdirSync(join(tmp, "a"));
    const a = b.openDirAt(root, "a");
    try {
      Deno.renameSync(join(tmp, "a"), join(tmp, "moved"));
      Deno.mkdirSync(join(tmp, "a")); // an impostor at the old path
      let acted = true;
      try {
        b.mkdirAt(a, "x", 0o755);
        const f = b.openAt(a, "f", { write: true, create: true });
        b.close(f);
      } catch {
        acted = false;
      }
      assert.deepEqual(Array.from(Deno.readDirSync(join(tmp, "a"))), []);
      if (b.features.fdRelative) {
        assert(
          acted,
          "a descriptor-based Dir must act where the directory went",
        );
      }
      if (acted) {
        assert(Deno.statSync(join(tmp, "moved/x")).isDirectory);
        assert(Deno.statSync(join(tmp, "moved/f")).isFile);
      }
    } finally {
      b.close(a);
    }
  },
);

conformance(
  "linkAt makes a hard link (EEXIST when taken) and links a symlink itself",
  ({ b, tmp, root }) => {
    Deno.writeTextFileSync(join(tmp, "f"), "F");
    Deno.writeTextFileSync(join(tmp, "g"), "G");
    Deno.symlinkSync("f", join(tmp, "l"));
    b.linkAt(root, "f", root, "f2");
    assert.equal(
      Deno.statSync(join(tmp, "f2")).ino,
      Deno.statSync(join(tmp, "f")).ino,
    );
    assert.equal(b.statAt(root, "f", false).nlink, 2);
    throwsErrno(() => b.linkAt(root, "f", root, "g"), "EEXIST");
    assert.equal(text(join(tmp, "g")), "G");
    b.linkAt(root, "l", root, "l2");
    assert(Deno.lstatSync(join(tmp, "l2")).isSymlink);
    throwsErrno(() => b.linkAt(root, "missing", root, "m"), "ENOENT");
  },
);

conformance(
  "symlinkAt and readLinkAt keep any target exactly",
  ({ b, tmp, root }) => {
    const targets = [
      "plain",
      "../up/and/ünï 😀",
      "/abs/path",
      "d/".repeat(1500) + "end",
    ];
    targets.forEach((t, i) => {
      b.symlinkAt(t, root, `l${i}`);
      assert.equal(Deno.readLinkSync(join(tmp, `l${i}`)), t);
      assert.equal(b.readLinkAt(root, `l${i}`), t);
    });
    Deno.writeTextFileSync(join(tmp, "f"), "x");
    throwsErrno(() => b.symlinkAt("x", root, "f"), "EEXIST");
    assert.equal(text(join(tmp, "f")), "x");
    throwsErrno(() => b.readLinkAt(root, "f"), "EINVAL");
    throwsErrno(() => b.readLinkAt(root, "missing"), "ENOENT");
  },
);

// ---- metadata ----------------------------------------------------------------------

conformance(
  "chmod, chown and utimes act on the open handle",
  ({ b, tmp, root }) => {
    Deno.writeTextFileSync(join(tmp, "f"), "x");
    Deno.mkdirSync(join(tmp, "d"));
    const f = b.openAt(root, "f", { write: true });
    const d = b.openDirAt(root, "d");
    try {
      b.chmod(f, 0o604);
      b.chmod(d, 0o711);
      assert.equal(Deno.statSync(join(tmp, "f")).mode! & 0o7777, 0o604);
      assert.equal(Deno.statSync(join(tmp, "d")).mode! & 0o7777, 0o711);
      const st = b.fstat(f);
      b.chown(f, -1, -1);
      b.chown(d, st.uid, st.gid);
      if (Deno.uid() === 0) {
        b.chown(f, 1234, -1);
        assert.equal(Deno.statSync(join(tmp, "f")).uid, 1234);
        assert.equal(Deno.statSync(join(tmp, "f")).gid, st.gid);
      }
      const at = { sec: 1_500_000_000, nsec: 111_000_000 };
      const mt = { sec: 1_400_000_000, nsec: 987_654_321 };
      b.utimes(f, at, mt);
      b.utimes(d, at, mt);
      for (
        const st of [b.statAt(root, "f", false), b.statAt(root, "d", false)]
      ) {
        assert.equal(st.mtimeSec, mt.sec);
        assert.equal(st.atimeSec, at.sec);
        assert.equal(st.atimeNsec, 111_000_000);
        if (b.features.nsTimes) assert.equal(st.mtimeNsec, 987_654_321);
        else assert.equal(Math.floor(st.mtimeNsec / 1e6), 987);
      }
    } finally {
      b.close(f);
      b.close(d);
    }
  },
);

conformance(
  "lutimesAt and lchownAt change a symlink itself, not its target",
  ({ b, tmp, root }) => {
    Deno.writeTextFileSync(join(tmp, "f"), "x");
    Deno.symlinkSync("f", join(tmp, "l"));
    const before = b.statAt(root, "f", false);
    b.lutimesAt(root, "l", { sec: 1_000_000_000, nsec: 5 }, {
      sec: 1_000_000_001,
      nsec: 7,
    });
    const l = b.statAt(root, "l", false);
    assert.equal(l.mtimeSec, 1_000_000_001);
    if (b.features.nsTimes) assert.equal(l.mtimeNsec, 7);
    const after = b.statAt(root, "f", false);
    assert.equal(after.mtimeSec, before.mtimeSec);
    assert.equal(after.mtimeNsec, before.mtimeNsec);
    if (Deno.uid() === 0) {
      b.lchownAt(root, "l", 4321, 4321);
      assert.equal(Deno.lstatSync(join(tmp, "l")).uid, 4321);
      assert.equal(Deno.statSync(join(tmp, "f")).uid, 0);
    } else {
      b.lchownAt(root, "l", -1, -1);
    }
    throwsErrno(
      () =>
        b.lutimesAt(root, "missing", { sec: 0, nsec: 0 }, { sec: 0, nsec: 0 }),
      "ENOENT",
    );
  },
);

// ---- data ------------------------------------------------------------------------

conformance(
  "read and write at explicit offsets, sync and async",
  async ({ b, tmp, root }) => {
    const f = b.openAt(root, "f", { read: true, write: true, create: true });
    try {
      assert.equal(b.write(f, bytes("hello world"), 0), 11);
      assert.equal(await b.writeAsync(f, bytes("WORLD"), 6), 5);
      assert.equal(b.write(f, bytes("!"), 20), 1); // leaves a gap of zeros
      const buf = new Uint8Array(5);
      assert.equal(b.read(f, buf, 6), 5);
      assert.equal(new TextDecoder().decode(buf), "WORLD");
      assert.equal(await b.readAsync(f, buf, 0), 5);
      assert.equal(new TextDecoder().decode(buf), "hello");
      assert.equal(b.read(f, buf, 21), 0);
      assert.equal(await b.readAsync(f, buf, 100), 0);
      assert.equal(b.read(f, buf, 19), 2);
      assert.deepEqual(Array.from(buf.subarray(0, 2)), [0, 33]);
      b.truncate(f, 5);
      assert.equal(text(join(tmp, "f")), "hello");
      b.truncate(f, 7);
      assert.equal(text(join(tmp, "f")), "hello\0\0");
    } finally {
      b.close(f);
    }
  },
);

conformance(
  "async read and write report the real errno (EBADF, not EIO)",
  async ({ b, tmp, root }) => {
    Deno.writeTextFileSync(join(tmp, "f"), "abc");
    const r = b.openAt(root, "f", { read: true });
    const w = b.openAt(root, "f", { write: true });
    try {
      await rejectsErrno(b.readAsync(w, new Uint8Array(3), 0), "EBADF");
      await rejectsErrno(b.writeAsync(r, bytes("x"), 0), "EBADF");
      assert.equal(text(join(tmp, "f")), "abc");
    } finally {
      b.close(r);
      b.close(w);
    }
  },
);

/** A 2 MiB file with data at [0, 4 KiB) and [1 MiB, 1 MiB + 4 KiB). */
function sparse(path: string): void {
  const f = Deno.openSync(path, { write: true, create: true });
  f.writeSync(new Uint8Array(4096).fill(1));
  f.seekSync(1 << 20, Deno.SeekMode.Start);
  f.writeSync(new Uint8Array(4096).fill(2));
  f.truncateSync(2 << 20);
  f.close();
}

conformance(
  "seek finds data and holes of a sparse file (-1 past the last data)",
  ({ b, tmp, root }) => {
    sparse(join(tmp, "s"));
    const f = b.openAt(root, "s", { read: true });
    try {
      assert.equal(b.seek(f, 0, "data"), 0);
      assert.equal(b.seek(f, 0, "hole"), 4096);
      assert.equal(b.seek(f, 4096, "data"), 1 << 20);
      assert.equal(b.seek(f, (1 << 20) + 4096, "hole"), (1 << 20) + 4096);
      assert.equal(b.seek(f, (1 << 20) + 4096, "data"), -1);
      assert.equal(b.seek(f, 3 << 20, "data"), -1);
    } finally {
      b.close(f);
    }
  },
  without("seekHoles"),
);

conformance(
  "copyRange copies between open files at explicit offsets, keeping holes when asked to",
  async ({ b, tmp, root }) => {
    sparse(join(tmp, "s"));
    const from = b.openAt(root, "s", { read: true });
    const to = b.openAt(root, "t", { write: true, create: true });
    try {
      // Copy the data segments only, as a sparse-aware copier does.
      assert.equal(b.copyRange(from, 0, to, 0, 4096), 4096);
      assert.equal(
        await b.copyRangeAsync(from, 1 << 20, to, 1 << 20, 4096),
        4096,
      );
      assert.equal(b.copyRange(from, 2 << 20, to, 0, 4096), 0); // end of `from`
      assert.equal(await b.copyRangeAsync(from, 2 << 20, to, 0, 4096), 0);
      b.truncate(to, 2 << 20);
      const a = Deno.readFileSync(join(tmp, "s"));
      const c = Deno.readFileSync(join(tmp, "t"));
      assert.equal(c.length, a.length);
      assert(a.every((x, i) => x === c[i]), "copies differ");
      const st = b.statAt(root, "t", false);
      assert(
        st.blocks * 512 < 64 * 1024,
        `holes written out: ${st.blocks} blocks`,
      );
      // Failures carry their errno, sync and async alike.
      throwsErrno(() => b.copyRange(to, 0, from, 0, 10), "EBADF");
      await rejectsErrno(b.copyRangeAsync(to, 0, from, 0, 10), "EBADF");
    } finally {
      b.close(from);
      b.close(to);
    }
  },
  without("copyRange"),
);

conformance(
  "fsync and syncfs, sync and async, on files and directories",
  async ({ b, root }) => {
    const f = b.openAt(root, "f", { write: true, create: true });
    try {
      b.write(f, bytes("x"), 0);
      b.fsync(f);
      b.fsync(root);
      await b.fsyncAsync(f);
      await b.fsyncAsync(root);
      if (b.features.syncfs) {
        b.syncfs(root);
        await b.syncfsAsync(f);
      }
    } finally {
      b.close(f);
    }
  },
);

conformance(
  "lock: taken, refused to a second open of the same file, free again after close",
  ({ b, tmp, root }) => {
    Deno.writeTextFileSync(join(tmp, "f"), "x");
    const one = b.openAt(root, "f", { read: true });
    const two = b.openAt(root, "f", { read: true });
    try {
      assert.equal(b.lock(one), true);
      assert.equal(b.lock(two), false);
      b.close(one);
      assert.equal(b.lock(two), true);
      const d1 = b.openDirAt(root, "..");
      const d2 = b.openDir(tmp, false);
      const d3 = b.openDir(tmp, false);
      try {
        assert.equal(b.lock(d2), true);
        assert.equal(b.lock(d3), false);
        assert.equal(b.lock(d1), true); // another directory
      } finally {
        b.close(d1);
        b.close(d2);
        b.close(d3);
      }
    } finally {
      b.close(one);
      b.close(two);
    }
  },
  without("lock"),
);

// ---- closing, filesystems, real paths ------------------------------------------------

conformance(
  "close twice is harmless, and a closed handle never reaches a newer file",
  ({ b, tmp, root }) => {
    Deno.writeTextFileSync(join(tmp, "old"), "old");
    Deno.writeTextFileSync(join(tmp, "new"), "new");
    const old = b.openAt(root, "old", { read: true, write: true });
    b.close(old);
    b.close(old);
    const fresh = b.openAt(root, "new", { read: true, write: true }); // may reuse the number
    try {
      assert.throws(() => b.write(old, bytes("XXX"), 0));
      assert.throws(() => b.read(old, new Uint8Array(3), 0));
      assert.throws(() => b.truncate(old, 0));
      assert.equal(text(join(tmp, "new")), "new");
      assert.equal(text(join(tmp, "old")), "old");
      if (b.features.name === "ffi") throwsErrno(() => b.fstat(old), "EBADF");
    } finally {
      b.close(fresh);
    }
    const d = b.openDir(tmp, false);
    b.close(d);
    b.close(d);
    if (b.features.fdRelative) {
      // (A path Dir is only a path: the contract says nothing of its use
      // after close.)
      throwsErrno(() => b.mkdirAt(d, "x", 0o777), "EBADF");
      assert(!exists(join(tmp, "x")));
    }
  },
);

conformance("fsInfo names the filesystem from its magic", ({ b, root }) => {
  const info = b.fsInfo(root);
  if (b.features.name === "path" && info === null) return; // allowed: cannot tell
  assert(info !== null);
  const magic = parseInt(
    new TextDecoder().decode(
      new Deno.Command("stat", { args: ["-f", "-c", "%t", "/tmp"] })
        .outputSync().stdout,
    ),
    16,
  );
  assert.equal(info.magic, magic);
  if (magic === 0xEF53) assert.equal(info.name, "ext4");
  if (HAS_SHM) {
    const shm = b.openDir("/dev/shm", true);
    try {
      const i = b.fsInfo(shm)!;
      assert.equal(i.magic, 0x01021994);
      assert.equal(i.name, "tmpfs");
    } finally {
      b.close(shm);
    }
  }
});

conformance(
  "realPath resolves every symlink of an absolute path",
  ({ b, tmp }) => {
    Deno.mkdirSync(join(tmp, "real/sub"), { recursive: true });
    Deno.symlinkSync("real", join(tmp, "l1"));
    Deno.symlinkSync(join(tmp, "l1/sub"), join(tmp, "l2"));
    const real = Deno.realPathSync(tmp);
    assert.equal(b.realPath(join(tmp, "l2")), join(real, "real/sub"));
    assert.equal(b.realPath(join(tmp, "l1/../l2/.")), join(real, "real/sub"));
    throwsErrno(() => b.realPath(join(tmp, "missing")), "ENOENT");
  },
);

// ---- errors ---------------------------------------------------------------------------

conformance("failures classify through toSafeFsError", ({ b, tmp, root }) => {
  Deno.mkdirSync(join(tmp, "full"));
  Deno.writeTextFileSync(join(tmp, "full/x"), "x");
  Deno.symlinkSync("full/x", join(tmp, "link"));
  const cases: [() => unknown, string, new (...a: never[]) => SafeFsError][] = [
    [() => b.statAt(root, "missing", false), "ENOENT", NotFoundError],
    [() => b.mkdirAt(root, "full", 0o777), "EEXIST", AlreadyExistsError],
    [() => b.rmdirAt(root, "full"), "ENOTEMPTY", NotEmptyError],
    [() => b.openAt(root, "link", { read: true }), "ELOOP", SafeFsError],
  ];
  for (const [f, code, cls] of cases) {
    const e = toSafeFsError(throwsErrno(f, code), { op: "t", path: tmp });
    assert(e instanceof cls, `${code}: ${e.constructor.name}`);
    assert.equal(e.code, code);
    assert(e.message.includes(tmp), e.message);
  }
});

conformance(
  "a name with a NUL byte is refused and nothing is created",
  ({ b, tmp, root }) => {
    const e = throwsErrno(
      () => b.mkdirAt(root, "a\0b", 0o777),
      "EINVAL",
      "EUNKNOWN",
    );
    if (b.features.name === "ffi") assert.equal(errnoName(e), "EINVAL");
    throwsErrno(
      () => b.openAt(root, "a\0b", { write: true, create: true }),
      "EINVAL",
      "EUNKNOWN",
    );
    assert.deepEqual(Array.from(Deno.readDirSync(tmp)), []);
  },
);

conformance(
  "ffi: a name with a / is refused (EINVAL), never walked through a symlink",
  ({ b, tmp, root }) => {
    const out = Deno.makeTempDirSync({ prefix: "safefs-sysb-out-" });
    try {
      Deno.writeTextFileSync(join(out, "victim"), "keep");
      Deno.symlinkSync(out, join(tmp, "link"));
      throwsErrno(() => b.unlinkAt(root, "link/victim"), "EINVAL");
      throwsErrno(() => b.statAt(root, "link/victim", false), "EINVAL");
      throwsErrno(
        () => b.renameAt(root, "link/victim", root, "x", "replace"),
        "EINVAL",
      );
      throwsErrno(
        () => b.openAt(root, "link/victim", { write: true }),
        "EINVAL",
      );
      assert.equal(text(join(out, "victim")), "keep");
    } finally {
      Deno.removeSync(out, { recursive: true });
    }
  },
  (b) => b.features.name === "ffi" ? false : "ffi only (the seam checks names)",
);

conformance(
  "ffi: a lone surrogate in a name is refused (EILSEQ), not turned into U+FFFD",
  ({ b, tmp, root }) => {
    Deno.writeTextFileSync(join(tmp, "a\uFFFD"), "keep");
    throwsErrno(() => b.unlinkAt(root, "a\uD800"), "EILSEQ");
    assert.equal(text(join(tmp, "a\uFFFD")), "keep");
  },
  (b) => b.features.name === "ffi" ? false : "ffi only",
);

// ---- ffi only: the async calls' errno and descriptors -------------------------------------

conformance(
  "ffi: a failed fsyncAsync is EIO saying errno was not available (fsync is EINVAL)",
  async ({ b, tmp, root }) => {
    sh("mkfifo", join(tmp, "fifo"));
    const f: File = b.openAt(root, "fifo", { read: true }); // O_NONBLOCK: no wait
    try {
      throwsErrno(() => b.fsync(f), "EINVAL");
      const e = await rejectsErrno(b.fsyncAsync(f), "EIO");
      assert.match((e as Error).message, /errno is not available/);
    } finally {
      b.close(f);
    }
    const closed = b.openAt(root, "fifo", { read: true });
    b.close(closed);
    await rejectsErrno(b.fsyncAsync(closed), "EBADF");
    await rejectsErrno(b.syncfsAsync(closed), "EBADF");
  },
  (b) => b.features.name === "ffi" ? false : "ffi only",
);

conformance(
  "ffi: closing a handle while an async call uses it closes after the call",
  async ({ b, tmp, root }) => {
    const f = b.openAt(root, "f", { write: true, create: true });
    const data = new Uint8Array(8 << 20).fill(7);
    const p = b.writeAsync(f, data, 0);
    b.close(f); // deferred: the write must land in "f", not in a reused descriptor
    throwsErrno(() => b.write(f, data, 0), "EBADF"); // closed for new calls
    const g = b.openAt(root, "g", { write: true, create: true });
    b.close(g);
    assert.equal(await p, data.length);
    assert.equal(Deno.statSync(join(tmp, "f")).size, data.length);
    assert.equal(Deno.statSync(join(tmp, "g")).size, 0);
    throwsErrno(() => b.fstat(f), "EBADF");
  },
  (b) => b.features.name === "ffi" ? false : "ffi only",
);

// ---- calls and fields the lead's wave-2 contract adds (run where present) -------------

type Wave2 = Backend & {
  chmodAt?(dir: Dir, name: string, mode: number): void;
  accessDir?(dir: Dir, mode: number): void;
};
const wave2 = (m: "chmodAt" | "accessDir") => (b: Backend) =>
  typeof (b as Wave2)[m] === "function" ? false as const : `no ${m}`;

conformance(
  "chmodAt changes the mode of a directory by name",
  ({ b, tmp, root }) => {
    Deno.mkdirSync(join(tmp, "d"));
    Deno.chmodSync(join(tmp, "d"), 0o000);
    (b as Wave2).chmodAt!(root, "d", 0o700);
    assert.equal(Deno.statSync(join(tmp, "d")).mode! & 0o7777, 0o700);
    throwsErrno(() => (b as Wave2).chmodAt!(root, "missing", 0o700), "ENOENT");
  },
  wave2("chmodAt"),
);

conformance(
  "accessDir checks the effective user's access to the directory itself",
  ({ b, tmp, root }) => {
    (b as Wave2).accessDir!(root, 7);
    Deno.mkdirSync(join(tmp, "d"));
    const d = b.openDirAt(root, "d");
    try {
      Deno.chmodSync(join(tmp, "d"), 0o500);
      (b as Wave2).accessDir!(d, 5);
      if (Deno.uid() !== 0) {
        throwsErrno(() => (b as Wave2).accessDir!(d, 2), "EACCES");
      }
    } finally {
      Deno.chmodSync(join(tmp, "d"), 0o700);
      b.close(d);
    }
  },
  wave2("accessDir"),
);

conformance(
  "statAt reports a mount root in attrs (STATX_ATTR_MOUNT_ROOT)",
  ({ b }) => {
    const dev = b.openDir("/dev", true);
    try {
      const shm = b.statAt(dev, "shm", false) as { attrs?: number };
      const nul = b.statAt(dev, "null", false) as { attrs?: number };
      assert.equal((shm.attrs ?? 0) & 0x2000, 0x2000);
      assert.equal((nul.attrs ?? 0) & 0x2000, 0);
    } finally {
      b.close(dev);
    }
  },
  (_b, label) =>
    !HAS_SHM
      ? "no tmpfs mounted at /dev/shm"
      : label === "ffi"
      ? false
      : "statx attributes: ffi with statx only",
);

conformance(
  "statAt reports an immutable file in attrs (chattr +i)",
  ({ b, tmp, root }) => {
    Deno.writeTextFileSync(join(tmp, "f"), "x");
    sh("chattr", "+i", join(tmp, "f"));
    try {
      const st = b.statAt(root, "f", false) as { attrs?: number };
      assert.equal((st.attrs ?? 0) & 0x10, 0x10);
      throwsErrno(() => b.unlinkAt(root, "f"), "EPERM");
    } finally {
      sh("chattr", "-i", join(tmp, "f"));
    }
    assert.equal(
      ((b.statAt(root, "f", false) as { attrs?: number }).attrs ?? 0) & 0x10,
      0,
    );
  },
  (_b, label) =>
    Deno.uid() !== 0
      ? "needs root (chattr +i)"
      : label === "ffi"
      ? false
      : "statx attributes: ffi with statx only",
);

conformance(
  "fsInfo says when a filesystem is mounted read-only",
  ({ b, tmp, root }) => {
    Deno.mkdirSync(join(tmp, "ro"));
    Deno.mkdirSync(join(tmp, "rw"));
    mountTmpfs(join(tmp, "ro"), "size=1m,ro");
    try {
      mountTmpfs(join(tmp, "rw"), "size=1m");
      try {
        const ro = b.openDirAt(root, "ro");
        const rw = b.openDirAt(root, "rw");
        try {
          assert.equal((b.fsInfo(ro) as { readOnly?: boolean }).readOnly, true);
          assert.equal(
            (b.fsInfo(rw) as { readOnly?: boolean }).readOnly,
            false,
          );
          assert.equal(b.fsInfo(ro)!.name, "tmpfs");
          throwsErrno(() => b.mkdirAt(ro, "x", 0o777), "EROFS");
        } finally {
          b.close(ro);
          b.close(rw);
        }
      } finally {
        umount(join(tmp, "rw"));
      }
    } finally {
      umount(join(tmp, "ro"));
    }
  },
  (b) =>
    !CAN_MOUNT
      ? "cannot mount tmpfs here (needs root)"
      : b.features.name === "ffi"
      ? false
      : "fsInfo: the path backend cannot tell",
);

conformance(
  "openAt with follow opens a symlink's target (and only then)",
  ({ b, tmp, root }) => {
    Deno.writeTextFileSync(join(tmp, "f"), "target");
    Deno.symlinkSync("f", join(tmp, "l"));
    const open = b.openAt as (
      d: Dir,
      n: string,
      f: { read?: boolean; follow?: boolean },
    ) => File;
    const f = open.call(b, root, "l", { read: true, follow: true });
    try {
      assert.equal(b.fstat(f).ino, Deno.statSync(join(tmp, "f")).ino);
    } finally {
      b.close(f);
    }
    throwsErrno(() => open.call(b, root, "l", { read: true }), "ELOOP");
  },
  (b) =>
    // Only where the contract has `follow` (wave 2): the euid() call came
    // with it.
    typeof (b as { euid?: unknown }).euid === "function"
      ? false
      : "no OpenFlags.follow",
);

conformance(
  "euid is the effective user ID",
  ({ b }) => {
    assert.equal(
      (b as unknown as { euid(): number | null }).euid(),
      Deno.uid(),
    );
  },
  (b) =>
    typeof (b as { euid?: unknown }).euid === "function" ? false : "no euid",
);
