/**
 * The privileged half of a Firecracker launch: the files the VM needs, put where Firecracker
 * can reach them (hard links into the chroot, never copies of a writable disk), owned by the
 * uid/gid it runs as; and, once the VMM is gone, the chroot and cgroup removed again.
 * Runs in the root helper (or in-process as root). Never follows a symlink inside a jail.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError, removeIfExists } from '../../base/index.js';
import type { FirecrackerVmLayout, JailerHostInfo, JailLink } from './launch-plan.js';

/** Makes the jail (or, without one, the log and metrics files) for `layout`. */
export async function prepareFirecrackerFiles(
  layout: FirecrackerVmLayout,
  jail: JailerHostInfo | undefined,
): Promise<void> {
  if (jail !== undefined && layout.jailDir !== undefined && layout.chrootDir !== undefined) {
    // A jail left by a VMM of this VM that died with its daemon: its VMM is not running
    // (we are launching it), so the leftovers are stale.
    await removeIfExists(layout.jailDir);
    // Intermediate directories may be traversed but not listed by others; the chroot itself
    // is handed to the jail's uid/gid by the jailer.
    await fs.mkdir(path.dirname(layout.jailDir), { recursive: true, mode: 0o711 });
    await fs.mkdir(layout.jailDir, { mode: 0o711 });
    await fs.mkdir(layout.chrootDir, { mode: 0o700 });
    for (const link of layout.links) await placeLink(link, jail);
  }
  for (const file of layout.creates) {
    await fs.rm(file, { force: true });
    const handle = await fs.open(
      file,
      fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW,
      0o600,
    );
    await handle.close();
    if (jail !== undefined) await fs.chown(file, jail.uid, jail.gid);
  }
}

async function placeLink(link: JailLink, jail: JailerHostInfo): Promise<void> {
  const st = await fs.stat(link.from).catch(() => undefined);
  if (!st?.isFile()) {
    throw new BangerError(
      'not_found',
      `${link.from} is not a file (needed in the firecracker jail)`,
    );
  }
  try {
    await fs.link(link.from, link.to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    if (link.writable) {
      throw new BangerError(
        'precondition_failed',
        `cannot hard-link ${link.from} into the firecracker jail ${path.dirname(link.to)}: they are on different filesystems`,
        {
          hint: 'the jail directory must be on the same filesystem as the VM disks (a copy would lose the guest writes)',
        },
      );
    }
    // A read-only file (kernel, initrd) may be copied: a reflink when the filesystem can.
    await fs.copyFile(link.from, link.to, fsc.COPYFILE_FICLONE);
    await fs.chmod(link.to, 0o444);
    return;
  }
  if (link.writable) {
    // The link is the same inode as the disk: the jailed uid must own it to write.
    await fs.chown(link.to, jail.uid, jail.gid);
    await fs.chmod(link.to, 0o600);
    return;
  }
  if (!readableBy(st, jail)) {
    // Not readable by the jail's user: give it a private copy rather than widening the original.
    await fs.rm(link.to);
    await fs.copyFile(link.from, link.to, fsc.COPYFILE_FICLONE);
    await fs.chown(link.to, jail.uid, jail.gid);
    await fs.chmod(link.to, 0o400);
  }
}

function readableBy(st: { uid: number; gid: number; mode: number }, jail: JailerHostInfo): boolean {
  if (jail.uid === 0) return true;
  if (st.uid === jail.uid) return (st.mode & 0o400) !== 0;
  if (st.gid === jail.gid) return (st.mode & 0o040) !== 0;
  return (st.mode & 0o004) !== 0;
}

export interface ReleaseJailOptions {
  /** Where cgroup hierarchies are mounted (default: read from /proc/mounts). */
  cgroupMounts?: string[];
  onWarning?: (message: string) => void;
}

/**
 * Removes the jail directory and the VM's cgroup. Call only once the VMM is gone: a cgroup
 * with a live process cannot be removed (that is reported, not thrown).
 */
export async function releaseFirecrackerJail(
  layout: Pick<FirecrackerVmLayout, 'jailDir' | 'cgroupDir'>,
  options: ReleaseJailOptions = {},
): Promise<void> {
  if (layout.jailDir !== undefined) await removeIfExists(layout.jailDir);
  if (layout.cgroupDir === undefined) return;
  const mounts = options.cgroupMounts ?? (await cgroupMounts());
  for (const mount of mounts) {
    const dir = path.join(mount, layout.cgroupDir);
    try {
      await fs.rmdir(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') options.onWarning?.(`cannot remove cgroup ${dir}: ${String(code)}`);
    }
  }
}

/** Mount points of cgroup (v1, one per controller set) and cgroup2 hierarchies. */
export async function cgroupMounts(mountsFile = '/proc/mounts'): Promise<string[]> {
  const text = await fs.readFile(mountsFile, 'utf8').catch(() => '');
  return parseCgroupMounts(text);
}

export function parseCgroupMounts(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    if (mountPoint === undefined || (type !== 'cgroup' && type !== 'cgroup2')) continue;
    // /proc/mounts escapes spaces and the like as octal.
    out.push(
      mountPoint.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))),
    );
  }
  return out;
}

/** The host's cgroup version: 2 when a unified hierarchy is mounted at /sys/fs/cgroup. */
export async function hostCgroupVersion(mountsFile = '/proc/mounts'): Promise<1 | 2> {
  const text = await fs.readFile(mountsFile, 'utf8').catch(() => '');
  return /^\S+ \/sys\/fs\/cgroup cgroup2 /m.test(text) ? 2 : 1;
}
