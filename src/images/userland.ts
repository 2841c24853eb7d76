/**
 * What an image's userland offers banger: an init to hand over to, an ssh server, a package
 * manager (which is how ssh gets added at first boot when the image lacks it). Paths are
 * resolved the way the guest would see them: symlinks followed inside the image only, with
 * `/` as the image root.
 */
export type PackageManager = 'apt' | 'apk' | 'dnf' | 'microdnf' | 'yum' | 'zypper' | 'pacman';
export const PACKAGE_MANAGERS: readonly PackageManager[] = [
  'apt',
  'apk',
  'dnf',
  'microdnf',
  'yum',
  'zypper',
  'pacman',
];

export interface Userland {
  /** The image has an init of its own (/sbin/init or systemd). */
  init: boolean;
  sshd: boolean;
  packageManager: PackageManager | null;
}

/** One path, not following a final symlink; undefined when absent. */
export type PathLookup = (
  absPath: string,
) => Promise<{ type: 'file' | 'dir' | 'symlink' | 'other'; linkTarget?: string } | undefined>;

const INIT_PATHS = [
  '/sbin/init',
  '/usr/sbin/init',
  '/lib/systemd/systemd',
  '/usr/lib/systemd/systemd',
];
const SSHD_PATHS = ['/usr/sbin/sshd', '/sbin/sshd', '/usr/bin/sshd', '/usr/sbin/dropbear'];
const MANAGER_PATHS: readonly [PackageManager, string][] = [
  ['apt', '/usr/bin/apt-get'],
  ['apk', '/sbin/apk'],
  ['apk', '/usr/bin/apk'],
  ['dnf', '/usr/bin/dnf'],
  ['microdnf', '/usr/bin/microdnf'],
  ['yum', '/usr/bin/yum'],
  ['zypper', '/usr/bin/zypper'],
  ['pacman', '/usr/bin/pacman'],
];

export async function detectUserland(lookup: PathLookup): Promise<Userland> {
  const isFile = async (p: string): Promise<boolean> =>
    (await resolveInImage(lookup, p)) === 'file';
  const any = async (paths: readonly string[]): Promise<boolean> => {
    for (const p of paths) if (await isFile(p)) return true;
    return false;
  };
  let packageManager: PackageManager | null = null;
  for (const [manager, p] of MANAGER_PATHS) {
    if (await isFile(p)) {
      packageManager = manager;
      break;
    }
  }
  return { init: await any(INIT_PATHS), sshd: await any(SSHD_PATHS), packageManager };
}

/** How the image can be reached: the line `image pull` prints. */
export function describeSsh(userland: Userland): string {
  if (userland.sshd) return 'ssh: the image has an ssh server';
  if (userland.packageManager !== null) {
    return `ssh: no ssh server in the image; it is installed at first boot with ${userland.packageManager} (needs the VM to reach a package mirror)`;
  }
  return 'ssh: no ssh server and no package manager in the image, so no ssh; `banger vm run` and `vm exec` work through the agent';
}

/** Type of what `p` finally names, following symlinks inside the image (at most 40). */
export async function resolveInImage(
  lookup: PathLookup,
  p: string,
): Promise<'file' | 'dir' | 'other' | undefined> {
  let pending = p.split('/').filter((s) => s !== '');
  let done: string[] = [];
  for (let hops = 0; pending.length > 0;) {
    const part = pending.shift() ?? '';
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const current = `/${[...done, part].join('/')}`;
    const st = await lookup(current);
    if (st === undefined) return undefined;
    if (st.type === 'symlink') {
      if (++hops > 40 || st.linkTarget === undefined) return undefined;
      const target = st.linkTarget.split('/').filter((s) => s !== '');
      if (st.linkTarget.startsWith('/')) done = [];
      pending = [...target, ...pending];
      continue;
    }
    if (pending.length > 0 && st.type !== 'dir') return undefined;
    done.push(part);
    if (pending.length === 0) return st.type;
  }
  return 'dir';
}
