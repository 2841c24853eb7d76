/**
 * Writes banger's guest programs into an ext4 image file with `debugfs -w`: no mount, no loop
 * device. The image may be anyone's, so the target directory is resolved step by step (only
 * its last component may be a symlink, as /usr/sbin is on some distributions) and every
 * written file is read back and compared.
 */
import path from 'node:path';
import { badRequest, operationFailed, sha256Hex } from '../base/index.js';
import { debugfs } from './debugfs.js';
import {
  assertInImagePath,
  describeType,
  readFileFromExt4,
  statInExt4,
  type Ext4Stat,
} from './ext4.js';
import type { GuestProgramFile } from './guest-programs.js';

export interface InjectOptions {
  /** Directory inside the image (default /usr/sbin; /sbin is a symlink to it on merged-/usr systems). */
  guestDir: string;
  signal?: AbortSignal;
}

/** Injects the programs; returns the directory (symlinks resolved) that now holds them. */
export async function injectGuestProgramsIntoExt4(
  image: string,
  programs: readonly GuestProgramFile[],
  options: InjectOptions,
): Promise<string> {
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  const hostDir = sameHostDir(programs);
  const { dir, inode } = await resolveTargetDir(image, assertInImagePath(options.guestDir), signal);

  const script: string[] = [];
  for (const program of programs) {
    const existing = await statInExt4(image, `${dir}/${program.name}`, signal);
    if (existing?.type === 'directory') {
      throw badRequest(
        `${image} has a directory at ${dir}/${program.name}, where banger's program goes`,
      );
    }
    if (existing !== undefined) script.push(`rm ${dir}/${program.name}`);
  }
  // cd by inode number: it cannot land anywhere but the directory we resolved.
  script.push(`cd <${String(inode)}>`);
  for (const program of programs) {
    const target = `${dir}/${program.name}`;
    script.push(
      `write ${program.name} ${program.name}`,
      `sif ${target} mode 0100755`,
      `sif ${target} uid 0`,
      `sif ${target} gid 0`,
    );
  }
  await debugfs(image, { script }, { write: true, cwd: hostDir, ...signal });

  for (const program of programs) {
    const target = `${dir}/${program.name}`;
    const st = await statInExt4(image, target, signal);
    const bytes = await readFileFromExt4(image, target, signal);
    if (
      st?.type !== 'regular' ||
      st.mode !== 0o755 ||
      st.uid !== 0 ||
      st.gid !== 0 ||
      sha256Hex(bytes) !== program.sha256
    ) {
      throw operationFailed(
        `writing ${program.name} into ${image} did not stick (read back differs)`,
        {
          hint: 'the filesystem may be full or damaged: check it with e2fsck -fn',
        },
      );
    }
  }
  return dir;
}

/** debugfs `write` takes host paths relative to its cwd: all programs must sit in one directory. */
function sameHostDir(programs: readonly GuestProgramFile[]): string {
  const dirs = new Set(programs.map((p) => path.dirname(p.hostPath)));
  const [dir] = dirs;
  if (
    dir === undefined ||
    dirs.size !== 1 ||
    programs.some((p) => path.basename(p.hostPath) !== p.name)
  ) {
    throw operationFailed('guest programs must sit in one directory under their own names');
  }
  return dir;
}

/**
 * Walks `guestDir` from the root: creates missing directories (root-owned, 0755), refuses a
 * symlink or non-directory on the way, and follows one symlink in the last component.
 */
async function resolveTargetDir(
  image: string,
  guestDir: string,
  signal: { signal?: AbortSignal },
): Promise<{ dir: string; inode: number }> {
  const parts = guestDir.split('/').filter((p) => p !== '');
  let current = '';
  let st: Ext4Stat | undefined;
  for (const [i, part] of parts.entries()) {
    current = `${current}/${part}`;
    st = await statInExt4(image, current, signal);
    const last = i === parts.length - 1;
    if (st === undefined) {
      await debugfs(
        image,
        {
          script: [
            `mkdir ${current}`,
            `sif ${current} mode 040755`,
            `sif ${current} uid 0`,
            `sif ${current} gid 0`,
          ],
        },
        { write: true, ...signal },
      );
      st = await statInExt4(image, current, signal);
    } else if (st.type === 'symlink' && last) {
      const target = st.linkTarget ?? '';
      const resolved = path.posix.resolve(path.posix.dirname(current), target);
      st = await statInExt4(image, assertInImagePath(resolved), signal);
      current = resolved;
    }
    if (st?.type !== 'directory') {
      throw badRequest(
        `${image}: ${current} is ${st === undefined ? 'missing' : describeType(st.type)}, expected a directory for banger's guest programs`,
        {
          hint: `banger installs its programs in ${guestDir}; the image needs a plain directory there`,
        },
      );
    }
  }
  if (st === undefined) throw badRequest(`invalid guest program directory ${guestDir}`);
  return { dir: current, inode: st.inode };
}
