// Copyright 2026 the safefs authors. MIT license.
// Real filesystems for tests, made inside a test's temp dir: ext4 (journaled,
// from an image), tmpfs, xfs, btrfs, overlayfs, exFAT through FUSE and through
// the kernel driver, and read-only squashfs and erofs images.
//
// Every `mountX(base, ...)` returns a `Mounted` (`dir` is where to work,
// `unmount()` releases the mount and its loop device) or, when it cannot run
// here, a reason string (not root, a tool missing, no kernel driver). The
// matching `probeX()` gives that reason synchronously, so a test can be
// registered with Deno's `ignore:` and the reason in its name. A command that
// fails after its probe passed throws: that is a failure, not a skip.
//
// Images are sparse files in `base`; loop devices are attached with
// `losetup -f --show` and detached by `unmount()`, which also runs from an
// `unload` listener for anything a test left mounted. Nothing here writes
// outside `base`.

/** A mounted filesystem. */
export interface Mounted {
  /** The directory to work in (overlayfs: the merged directory). */
  dir: string;
  /** The filesystem type the kernel reports for `dir` (`/proc/self/mountinfo`). */
  type: string;
  /** The loop device behind it, if any. */
  device?: string;
  /** overlayfs: the lower layer, as it was populated before the mount. */
  lower?: string;
  /** overlayfs: the upper layer. */
  upper?: string;
  /** Read-only images: the tree the image was built from. */
  source?: string;
  /** Unmounts and detaches the loop device; safe to call twice. */
  unmount(): Promise<void>;
}

const decoder = new TextDecoder();

const SBIN = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/** The absolute path of `tool` on PATH (or in the sbin dirs), or null. */
export function which(tool: string): string | null {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), ...SBIN];
  for (const d of dirs) {
    if (!d) continue;
    try {
      const p = `${d}/${tool}`;
      const i = Deno.statSync(p);
      if (i.isFile && (i.mode! & 0o111) !== 0) return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** True when this process runs as root. */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}

function kernelFilesystems(): string[] {
  try {
    return Deno.readTextFileSync("/proc/filesystems").split("\n")
      .map((l) => l.split("\t").pop()!.trim()).filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * True when the kernel can mount `type`: listed in /proc/filesystems, or
 * loadable with `modprobe` (tried once).
 */
export function kernelHas(type: string): boolean {
  if (kernelFilesystems().includes(type)) return true;
  const modprobe = which("modprobe");
  if (modprobe === null || !isRoot()) return false;
  new Deno.Command(modprobe, {
    args: ["-q", type],
    stdout: "null",
    stderr: "null",
  })
    .outputSync();
  return kernelFilesystems().includes(type);
}

/** The first reason this machine cannot run something, or null. */
function need(
  opts: { root?: boolean; tools?: string[]; fs?: string[]; fuse?: boolean },
): string | null {
  if (opts.root && !isRoot()) return "needs root";
  for (const t of opts.tools ?? []) {
    if (which(t) === null) return `needs ${t}`;
  }
  for (const f of opts.fs ?? []) {
    if (!kernelHas(f)) return `no ${f} driver in the kernel`;
  }
  if (opts.fuse) {
    try {
      Deno.statSync("/dev/fuse");
    } catch {
      return "no /dev/fuse";
    }
    if (!kernelHas("fuse")) return "no fuse driver in the kernel";
  }
  return null;
}

/** Runs `tool` with `args`; throws with its stderr when it fails. */
export async function run(tool: string, args: string[]): Promise<string> {
  const exe = which(tool) ?? tool;
  const out = await new Deno.Command(exe, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `${tool} ${args.join(" ")} failed (exit ${out.code}): ${
        decoder.decode(out.stderr).trim()
      }`,
    );
  }
  return decoder.decode(out.stdout);
}

function runSync(tool: string, args: string[]): boolean {
  try {
    return new Deno.Command(which(tool) ?? tool, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}

/** The filesystem type mounted at exactly `dir`, or null. */
export function mountType(dir: string): string | null {
  const unescape = (s: string): string =>
    s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  let type: string | null = null;
  for (
    const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
  ) {
    const [left, right] = line.split(" - ");
    if (!right) continue;
    if (unescape(left.split(" ")[4]) === dir) type = right.split(" ")[0];
  }
  return type; // the last one mounted there is the one visible
}

// Everything mounted and not yet released. A test's `finally` releases it;
// the unload listener releases what is left at a normal exit. A process
// killed (Ctrl-C, a CI timeout, SIGKILL) runs neither: for that, a reaper
// shell is started with this module (as root) and told, BEFORE each mount or
// attach, what to release. Its stdin is our pipe: when this process dies in
// any way the pipe closes and it unmounts and detaches whatever is still
// registered, then exits. It is told when things are released normally too.
const live = new Set<() => void>();
globalThis.addEventListener("unload", () => {
  for (const release of [...live]) release();
});

const REAPER = `
mounts=""; images=""; scratch=""
while IFS= read -r line; do
  arg=\${line#* }
  case "\$line" in
    "mount "*) mounts="\$arg
\$mounts" ;;
    "image "*) images="\$images
\$arg" ;;
    "scratch "*) scratch="\$scratch
\$arg" ;;
    "forget "*)
      mounts=\$(printf '%s\\n' "\$mounts" | grep -vxF -- "\$arg")
      images=\$(printf '%s\\n' "\$images" | grep -vxF -- "\$arg")
      scratch=\$(printf '%s\\n' "\$scratch" | grep -vxF -- "\$arg") ;;
  esac
done
printf '%s\\n' "\$mounts" | while IFS= read -r d; do
  [ -n "\$d" ] && { umount "\$d" || umount -l "\$d"; }
done
printf '%s\\n' "\$images" | while IFS= read -r i; do
  [ -n "\$i" ] && losetup -j "\$i" | cut -d: -f1 | while read -r l; do losetup -d "\$l"; done
done
printf '%s\\n' "\$scratch" | while IFS= read -r t; do
  [ -n "\$t" ] && rm -rf --one-file-system "\$t"
done
exit 0
`;

const reaper: WritableStreamDefaultWriter<Uint8Array> | null = (() => {
  if (!isRoot() || which("sh") === null) return null;
  const child = new Deno.Command(which("sh")!, {
    args: ["-c", REAPER],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  return child.stdin.getWriter();
})();

/** Tells the reaper: "mount DIR", "image PATH", "scratch DIR", "forget X". */
async function tell(line: string): Promise<void> {
  await reaper?.write(new TextEncoder().encode(`${line}\n`));
}

/**
 * A fresh temp dir for images and mount points, removed (never crossing into
 * a mounted filesystem) if the process dies before `removeScratchDir()`.
 */
export async function makeScratchDir(prefix: string): Promise<string> {
  const dir = Deno.makeTempDirSync({ prefix });
  await tell(`scratch ${dir}`);
  return dir;
}

/** Removes a dir from `makeScratchDir()`, once nothing is mounted in it. */
export async function removeScratchDir(dir: string): Promise<void> {
  Deno.removeSync(dir, { recursive: true });
  await tell(`forget ${dir}`);
}

function track(release: () => void): void {
  live.add(release);
}

function untrack(release: () => void): void {
  live.delete(release);
}

function umountSync(dir: string): void {
  if (mountType(dir) === null) return;
  if (!runSync("umount", [dir])) runSync("umount", ["-l", dir]);
}

function detachSync(device: string): void {
  runSync("losetup", ["-d", device]);
}

function loopReleased(device: string): boolean {
  try {
    Deno.statSync(
      `/sys/block/${device.replace("/dev/", "")}/loop/backing_file`,
    );
    return false;
  } catch {
    return true;
  }
}

async function umount(dir: string): Promise<void> {
  for (let i = 0; i < 50 && mountType(dir) !== null; i++) {
    // EBUSY right after a test closes its last file is possible with FUSE.
    try {
      await run("umount", [dir]);
    } catch (e) {
      if (i === 49) {
        await run("umount", ["-l", dir]);
        throw e;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function detach(device: string): Promise<void> {
  // A FUSE daemon may still hold the device for a moment after the unmount:
  // then `losetup -d` only sets autoclear, and the kernel detaches it when the
  // daemon exits. Wait for that, so that no loop device outlives the test.
  await run("losetup", ["-d", device]).catch(() => {});
  for (let i = 0; i < 250 && !loopReleased(device); i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  if (!loopReleased(device)) {
    throw new Error(`Loop device ${device} is still attached`);
  }
}

/**
 * Mounts at `dir` with `mount` and returns a `Mounted` whose `unmount()`
 * undoes it; undoes it at once if the mount fails. `mount` reports a loop
 * device it attaches through `attached` as soon as it exists, so that even
 * a signal between the attach and the mount releases it.
 */
async function mounted(
  dir: string,
  mount: (attached: (device: string) => void) => Promise<void>,
  extra: Partial<Mounted> = {},
): Promise<Mounted> {
  Deno.mkdirSync(dir, { recursive: true });
  let device: string | undefined;
  let done = false;
  const releaseSync = (): void => {
    umountSync(dir);
    if (device) detachSync(device);
  };
  track(releaseSync);
  await tell(`mount ${dir}`);
  const unmount = async (): Promise<void> => {
    if (done) return;
    done = true;
    let first: unknown = null;
    try {
      await umount(dir);
    } catch (e) {
      first = e;
    }
    if (device) {
      try {
        await detach(device);
      } catch (e) {
        first ??= e;
      }
    }
    untrack(releaseSync);
    // (A detached image needs no forgetting: \`losetup -j\` finds nothing.)
    if (first !== null) throw first;
    await tell(`forget ${dir}`);
  };
  try {
    await mount((d) => device = d);
  } catch (e) {
    await unmount().catch(() => {});
    throw e;
  }
  const type = mountType(dir);
  if (type === null) {
    await unmount().catch(() => {});
    throw new Error(`Nothing is mounted at '${dir}'`);
  }
  return { dir, type, device, unmount, ...extra };
}

/** Makes a sparse image file of `mib` MiB. */
function sparseImage(path: string, mib: number): void {
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  f.truncateSync(mib * 1024 * 1024);
  f.close();
}

/** Attaches `image` to a free loop device; returns the device. */
async function attach(image: string, readOnly = false): Promise<string> {
  await tell(`image ${image}`);
  const args = ["-f", "--show", ...(readOnly ? ["-r"] : []), image];
  return (await run("losetup", args)).trim();
}

/**
 * Mounts an image through a loop device (`mounted()` detaches it if the
 * mount fails). `mountArgs` come before the device and the directory.
 */
function loopMount(
  image: string,
  dir: string,
  mountArgs: string[],
  opts: { readOnly?: boolean; mounter?: string } = {},
): (attached: (device: string) => void) => Promise<void> {
  return async (attached) => {
    const dev = await attach(image, opts.readOnly);
    attached(dev);
    await run(opts.mounter ?? "mount", [...mountArgs, dev, dir]);
  };
}

// ---------------------------------------------------------------- probes

/** Why ext4 cannot be made here, or null. */
export function probeExt4(): string | null {
  return need({
    root: true,
    tools: ["mkfs.ext4", "losetup", "mount"],
    fs: ["ext4"],
  });
}

/** Why a tmpfs cannot be mounted here, or null. */
export function probeTmpfs(): string | null {
  return need({ root: true, tools: ["mount"], fs: ["tmpfs"] });
}

/** Why xfs cannot be made here, or null. */
export function probeXfs(): string | null {
  return need({
    root: true,
    tools: ["mkfs.xfs", "losetup", "mount"],
    fs: ["xfs"],
  });
}

/** Why btrfs cannot be made here, or null. */
export function probeBtrfs(): string | null {
  return need({
    root: true,
    tools: ["mkfs.btrfs", "losetup", "mount"],
    fs: ["btrfs"],
  });
}

/** Why overlayfs cannot be mounted here, or null. */
export function probeOverlay(): string | null {
  return need({ root: true, tools: ["mount"], fs: ["overlay"] });
}

/** Why exFAT through FUSE (exfat-fuse) cannot be mounted here, or null. */
export function probeExfatFuse(): string | null {
  return need({
    root: true,
    tools: ["mkfs.exfat", "mount.exfat-fuse", "losetup", "umount"],
    fuse: true,
  });
}

/** Why exFAT through the kernel driver cannot be mounted here, or null. */
export function probeExfatKernel(): string | null {
  return need({
    root: true,
    tools: ["mkfs.exfat", "losetup", "mount"],
    fs: ["exfat"],
  });
}

/** Why a squashfs image cannot be made and mounted here, or null. */
export function probeSquashfs(): string | null {
  return need({
    root: true,
    tools: ["mksquashfs", "losetup", "mount"],
    fs: ["squashfs"],
  });
}

/** Why an erofs image cannot be made and mounted here, or null. */
export function probeErofs(): string | null {
  return need({
    root: true,
    tools: ["mkfs.erofs", "losetup", "mount"],
    fs: ["erofs"],
  });
}

// ---------------------------------------------------------------- mounts

/** ext4 (journaled) from a 64 MiB image, at `base/ext4`. */
export async function mountExt4(base: string): Promise<Mounted | string> {
  const why = probeExt4();
  if (why) return why;
  const img = `${base}/ext4.img`;
  sparseImage(img, 64);
  await run("mkfs.ext4", ["-q", "-F", "-O", "has_journal", img]);
  return await mounted(
    `${base}/ext4`,
    loopMount(img, `${base}/ext4`, ["-t", "ext4"]),
  );
}

/** A 256 MiB tmpfs at `base/tmpfs`. */
export async function mountTmpfs(base: string): Promise<Mounted | string> {
  const why = probeTmpfs();
  if (why) return why;
  const dir = `${base}/tmpfs`;
  return await mounted(dir, async () => {
    await run("mount", ["-t", "tmpfs", "-o", "size=256m", "tmpfs", dir]);
  });
}

/**
 * xfs (with reflink) from a sparse image of `mib` MiB (mkfs.xfs needs about
 * 300 MiB at least), at `base/xfs`.
 */
export async function mountXfs(
  base: string,
  mib = 2048,
): Promise<Mounted | string> {
  const why = probeXfs();
  if (why) return why;
  const img = `${base}/xfs.img`;
  sparseImage(img, Math.max(mib, 320));
  await run("mkfs.xfs", ["-q", "-f", "-m", "reflink=1", img]);
  return await mounted(
    `${base}/xfs`,
    loopMount(img, `${base}/xfs`, ["-t", "xfs"]),
  );
}

/** btrfs from a sparse image of `mib` MiB, at `base/btrfs`. */
export async function mountBtrfs(
  base: string,
  mib = 2048,
): Promise<Mounted | string> {
  const why = probeBtrfs();
  if (why) return why;
  const img = `${base}/btrfs.img`;
  sparseImage(img, Math.max(mib, 256));
  await run("mkfs.btrfs", ["-q", "-f", img]);
  return await mounted(
    `${base}/btrfs`,
    loopMount(img, `${base}/btrfs`, ["-t", "btrfs"]),
  );
}

/**
 * overlayfs as Docker mounts it (`redirect_dir=off`, `index=off`: renaming a
 * directory of the lower layer gives EXDEV) at `base/overlay/merged`, with
 * `base/overlay/{lower,upper,work}` beside it. `populate(lower)` fills the
 * lower layer before the mount (it must not change while mounted), so that
 * `merged` holds directories and files of the lower layer.
 */
export async function mountOverlay(
  base: string,
  populate: (lower: string) => void,
): Promise<Mounted | string> {
  const why = probeOverlay();
  if (why) return why;
  const root = `${base}/overlay`;
  const [lower, upper, work, merged] = ["lower", "upper", "work", "merged"]
    .map((n) => `${root}/${n}`);
  for (const d of [lower, upper, work]) Deno.mkdirSync(d, { recursive: true });
  populate(lower);
  return await mounted(merged, async () => {
    await run("mount", [
      "-t",
      "overlay",
      "-o",
      `lowerdir=${lower},upperdir=${upper},workdir=${work},redirect_dir=off,index=off`,
      "overlay",
      merged,
    ]);
  }, { lower, upper });
}

/**
 * exFAT through FUSE (`mount.exfat-fuse`, as a USB stick is mounted where the
 * kernel has no exfat driver) from a 128 MiB image on a loop device, so it is
 * a `fuseblk` mount like a real stick's, at `base/exfat-fuse`.
 */
export async function mountExfatFuse(base: string): Promise<Mounted | string> {
  const why = probeExfatFuse();
  if (why) return why;
  const img = `${base}/exfat-fuse.img`;
  sparseImage(img, 128);
  await run("mkfs.exfat", [img]);
  const dir = `${base}/exfat-fuse`;
  return await mounted(
    dir,
    loopMount(img, dir, [], { mounter: "mount.exfat-fuse" }),
  );
}

/** exFAT through the kernel driver from a 128 MiB image, at `base/exfat`. */
export async function mountExfatKernel(
  base: string,
): Promise<Mounted | string> {
  const why = probeExfatKernel();
  if (why) return why;
  const img = `${base}/exfat.img`;
  sparseImage(img, 128);
  await run("mkfs.exfat", [img]);
  const dir = `${base}/exfat`;
  return await mounted(dir, loopMount(img, dir, ["-t", "exfat"]));
}

/**
 * A read-only squashfs image built from the tree `populate(src)` makes in
 * `base/squashfs-src`, mounted at `base/squashfs`.
 */
export async function mountSquashfs(
  base: string,
  populate: (src: string) => void,
): Promise<Mounted | string> {
  const why = probeSquashfs();
  if (why) return why;
  const src = `${base}/squashfs-src`;
  Deno.mkdirSync(src, { recursive: true });
  populate(src);
  const img = `${base}/squashfs.img`;
  await run("mksquashfs", [src, img, "-quiet", "-no-progress", "-noappend"]);
  const dir = `${base}/squashfs`;
  return await mounted(
    dir,
    loopMount(img, dir, ["-t", "squashfs", "-o", "ro"], { readOnly: true }),
    { source: src },
  );
}

/**
 * A read-only erofs image built from the tree `populate(src)` makes in
 * `base/erofs-src`, mounted at `base/erofs`.
 */
export async function mountErofs(
  base: string,
  populate: (src: string) => void,
): Promise<Mounted | string> {
  const why = probeErofs();
  if (why) return why;
  const src = `${base}/erofs-src`;
  Deno.mkdirSync(src, { recursive: true });
  populate(src);
  const img = `${base}/erofs.img`;
  await run("mkfs.erofs", ["--quiet", "--preserve-mtime", img, src]);
  const dir = `${base}/erofs`;
  return await mounted(
    dir,
    loopMount(img, dir, ["-t", "erofs", "-o", "ro"], { readOnly: true }),
    { source: src },
  );
}
