/**
 * Edits a freshly bootstrapped root tree on the host before it becomes an ext4 image: banger's
 * guest programs, first-boot placeholders, no baked-in secrets, no caches. Every write stays
 * inside the tree (parents resolved and checked) and never follows a symlink at the final name.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import { isWithin, operationFailed, sha256File } from '../base/index.js';
import type { GuestProgramFile } from './guest-programs.js';

export interface PrepareTreeOptions {
  /** Programs to install, as found by `loadGuestPrograms`. */
  guestPrograms: readonly GuestProgramFile[];
  /** Directory inside the image for them (e.g. /usr/sbin). */
  guestDir: string;
  /** Every mtime newer than this (seconds) is clamped to it, for reproducible trees. */
  sourceDateEpoch: number;
}

export interface PreparedTree {
  /** Bytes the tree occupies (allocated blocks plus inode overhead), for sizing the image. */
  contentBytes: number;
  /** ssh host keys found and removed. */
  removedHostKeys: string[];
}

/** Files whose content is a placeholder the guest fills in at boot. */
const FIRST_BOOT_FILES: readonly { path: string; content: string; mode: number }[] = [
  // banger-init sets the real hostname per VM.
  { path: 'etc/hostname', content: 'banger\n', mode: 0o644 },
  {
    path: 'etc/hosts',
    content:
      '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n',
    mode: 0o644,
  },
  // banger-init mounts what the VM needs; nothing else should be mounted from here.
  {
    path: 'etc/fstab',
    content: '# banger: banger-init mounts the root and work disks at boot\n',
    mode: 0o644,
  },
  // mmdebstrap copied the build host's resolver; the guest gets its own from banger-init.
  { path: 'etc/resolv.conf', content: '', mode: 0o644 },
  // Empty: generated on first boot, so VMs from one image do not share an id.
  { path: 'etc/machine-id', content: '', mode: 0o444 },
  {
    path: 'etc/ssh/sshd_config.d/banger.conf',
    content:
      '# banger: root logs in with the keys banger installs; host keys are made per VM at first boot.\n' +
      'PermitRootLogin prohibit-password\n' +
      'PasswordAuthentication no\n' +
      'KbdInteractiveAuthentication no\n' +
      'UseDNS no\n',
    mode: 0o644,
  },
];

/** Paths whose contents are dropped (rebuilt by apt on demand or at runtime). */
const EMPTIED_DIRS: readonly string[] = [
  'var/lib/apt/lists',
  'var/cache/apt',
  'var/log/apt',
  'tmp',
  'var/tmp',
];
/** Kept inside emptied dirs: apt expects these to exist. */
const KEEP_NAMES = new Set(['partial', 'lock', 'archives']);

export async function prepareRootTree(
  root: string,
  options: PrepareTreeOptions,
): Promise<PreparedTree> {
  const realRoot = await fs.realpath(root);
  await installGuestPrograms(realRoot, options.guestPrograms, options.guestDir);
  for (const file of FIRST_BOOT_FILES)
    await writeInTree(realRoot, file.path, file.content, file.mode);
  // root's home must exist and be private (sshd's StrictModes checks it).
  await ensureDirInTree(realRoot, 'root', 0o700, true);
  const removedHostKeys = await removeHostKeys(realRoot);
  for (const dir of EMPTIED_DIRS) await emptyDirInTree(realRoot, dir);
  await fs.rm(path.join(realRoot, 'var/lib/dbus/machine-id'), { force: true });
  const contentBytes = await clampAndMeasure(realRoot, options.sourceDateEpoch);
  return { contentBytes, removedHostKeys };
}

/** Copies the guest programs to `guestDir` in the tree: mode 0755, owner root, bytes as hashed. */
async function installGuestPrograms(
  root: string,
  programs: readonly GuestProgramFile[],
  guestDir: string,
): Promise<void> {
  const rel = guestDir.replace(/^\/+/, '');
  const dir = await ensureDirInTree(root, rel, 0o755);
  for (const program of programs) {
    const dest = path.join(dir, program.name);
    await refuseDirectory(dest);
    await fs.rm(dest, { force: true });
    await fs.copyFile(program.hostPath, dest, fsc.COPYFILE_EXCL);
    await fs.chown(dest, 0, 0);
    // chmod after chown: chown clears set-id bits, and the umask trimmed the mode at creation.
    await fs.chmod(dest, 0o755);
    // The manifest records the hash taken earlier: the copy must be those very bytes.
    if ((await sha256File(dest)) !== program.sha256) {
      throw operationFailed(`${program.hostPath} changed while the image was being built`, {
        hint: 'wait for the guest build (npm run build:guest) to finish and build again',
      });
    }
  }
}

async function removeHostKeys(root: string): Promise<string[]> {
  const sshDir = await parentInTree(root, 'etc/ssh/x');
  const names = await fs.readdir(sshDir).catch(() => [] as string[]);
  const keys = names.filter((n) => n.startsWith('ssh_host_'));
  for (const name of keys) await fs.rm(path.join(sshDir, name), { force: true });
  return keys.map((n) => `/etc/ssh/${n}`);
}

async function emptyDirInTree(root: string, rel: string): Promise<void> {
  const dir = path.join(root, rel);
  const st = await fs.lstat(dir).catch(() => undefined);
  if (st === undefined || !st.isDirectory()) return;
  await parentInTree(root, `${rel}/x`);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (KEEP_NAMES.has(entry.name) && entry.isDirectory())
      await emptyDirInTree(root, `${rel}/${entry.name}`);
    else if (KEEP_NAMES.has(entry.name)) continue;
    else await fs.rm(p, { recursive: true, force: true });
  }
}

/** Writes a regular file at `rel` (replacing whatever non-directory is there), owned by root. */
async function writeInTree(
  root: string,
  rel: string,
  content: string,
  mode: number,
): Promise<void> {
  const parent = await parentInTree(root, rel, true);
  const dest = path.join(parent, path.basename(rel));
  await refuseDirectory(dest);
  await fs.rm(dest, { force: true });
  const handle = await fs.open(
    dest,
    fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW,
    mode,
  );
  try {
    await handle.writeFile(content);
    await handle.chown(0, 0);
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

/** Makes sure directory `rel` exists in the tree as a real directory; returns its host path. */
async function ensureDirInTree(
  root: string,
  rel: string,
  mode: number,
  enforceMode = false,
): Promise<string> {
  const parent = await parentInTree(root, rel, true);
  const dir = path.join(parent, path.basename(rel));
  const st = await fs.lstat(dir).catch(() => undefined);
  if (st === undefined) {
    await fs.mkdir(dir, { mode });
    await fs.chown(dir, 0, 0);
    await fs.chmod(dir, mode);
  } else if (st.isSymbolicLink()) {
    const real = await fs.realpath(dir);
    if (!isWithin(root, real)) throw outside(root, rel);
    return real;
  } else if (!st.isDirectory()) {
    throw operationFailed(`/${rel} in the image is not a directory`);
  } else if (enforceMode) {
    await fs.chmod(dir, mode);
  }
  return dir;
}

/** Resolves the parent of `rel` inside the tree; refuses one that resolves outside it. */
async function parentInTree(root: string, rel: string, create = false): Promise<string> {
  const wanted = path.join(root, path.dirname(rel));
  if (create) await ensureParents(root, path.dirname(rel));
  const real = await fs.realpath(wanted).catch(() => wanted);
  if (!isWithin(root, real)) throw outside(root, rel);
  return real;
}

async function ensureParents(root: string, rel: string): Promise<void> {
  if (rel === '.' || rel === '') return;
  await ensureDirInTree(root, rel, 0o755);
}

async function refuseDirectory(p: string): Promise<void> {
  const st = await fs.lstat(p).catch(() => undefined);
  if (st?.isDirectory() === true) throw operationFailed(`${p} is a directory, expected a file`);
}

function outside(root: string, rel: string): Error {
  return operationFailed(`/${rel} in the tree at ${root} resolves outside the tree (a symlink)`);
}

/** Clamps mtimes to the epoch (without following symlinks) and sums the tree's allocated bytes. */
async function clampAndMeasure(root: string, epoch: number): Promise<number> {
  let bytes = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      const st = await fs.lstat(p);
      // 256-byte inodes plus directory entries: a rough but safe per-file overhead.
      bytes += st.blocks * 512 + 512;
      if (st.mtimeMs / 1000 > epoch) await fs.lutimes(p, epoch, epoch);
      if (entry.isDirectory()) await walk(p);
    }
  };
  await walk(root);
  const st = await fs.lstat(root);
  if (st.mtimeMs / 1000 > epoch) await fs.utimes(root, epoch, epoch);
  return bytes;
}
