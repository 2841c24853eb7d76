/**
 * Scratch directories for builds, under the store's tmp dir (same filesystem as the store, so
 * the finished image is published with one rename). Removal refuses to descend into a mount.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError, isWithin, operationFailed } from '../base/index.js';

/** Creates a fresh private directory `<tmpDir>/<prefix>-XXXXXX`. */
export async function createScratchDir(tmpDir: string, prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(tmpDir, `${prefix}-`));
}

/**
 * Removes a scratch directory. Refuses if anything is mounted inside it: a bootstrap killed
 * half-way could otherwise leave /proc or /dev bind mounts that a recursive delete would walk.
 */
export async function removeScratchDir(dir: string): Promise<void> {
  const mounted = (await mountPoints()).filter((m) => isWithin(dir, m));
  if (mounted.length > 0) {
    throw operationFailed(
      `refusing to remove ${dir}: ${mounted.join(', ')} ${mounted.length > 1 ? 'are' : 'is'} mounted inside it`,
      {
        hint: `unmount ${mounted.join(' ')} (umount -R) and remove ${dir}`,
      },
    );
  }
  // A killed bootstrap's processes may still be exiting: retry on ENOTEMPTY/EBUSY a few times.
  await fs.rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}

/** Mount points visible to this process, from /proc/self/mountinfo (field 5, octal-escaped). */
export async function mountPoints(): Promise<string[]> {
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  return parseMountInfo(text);
}

export function parseMountInfo(text: string): string[] {
  const points: string[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (field !== undefined)
      points.push(
        field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))),
      );
  }
  return points;
}

/**
 * Moves a finished directory into place atomically. Fails with `already_exists` when the
 * destination exists (rename onto a non-empty directory fails; we check for an empty one first).
 */
export async function publishDir(move: { src: string; dest: string; what: string }): Promise<void> {
  const { src, dest, what } = move;
  const existing = await fs.lstat(dest).catch(() => undefined);
  if (existing !== undefined) throw new BangerError('already_exists', `${what} already exists`);
  try {
    await fs.rename(src, dest);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTEMPTY') {
      throw new BangerError('already_exists', `${what} already exists`, { cause: err });
    }
    if (code === 'EXDEV') {
      throw new BangerError(
        'precondition_failed',
        `cannot move ${src} to ${dest}: they are on different filesystems`,
        {
          cause: err,
          hint: 'the tmp dir and the image store must be on the same filesystem',
        },
      );
    }
    throw err;
  }
}
