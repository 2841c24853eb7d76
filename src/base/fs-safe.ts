/**
 * Filesystem helpers for banger-owned paths: private from birth (0700/0600), never
 * following a symlink that someone planted, refusing directories owned by someone else.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { BangerError } from './errors.js';

export interface PrivateDirOptions {
  /** Required permission bits (default 0o700). */
  mode?: number;
  /** Owner the directory must have (default: this process's uid). */
  uid?: number;
}

/**
 * Creates `dir` (and missing parents, 0700) and proves it is ours: a real directory (not a
 * symlink, no symlink on the way), owned by `uid`, not writable by anyone else.
 */
export async function ensurePrivateDir(
  dir: string,
  options: PrivateDirOptions = {},
): Promise<void> {
  const mode = options.mode ?? 0o700;
  const uid = options.uid ?? process.getuid?.() ?? 0;
  if (!path.isAbsolute(dir))
    throw new BangerError('bad_request', `directory ${dir} must be an absolute path`);
  await fs.mkdir(dir, { recursive: true, mode });
  const st = await fs.lstat(dir);
  if (st.isSymbolicLink() || !st.isDirectory()) {
    throw new BangerError(
      'precondition_failed',
      `refusing ${dir}: it is a symlink or not a directory`,
      {
        hint: `remove ${dir} and try again`,
      },
    );
  }
  const real = await fs.realpath(dir);
  if (real !== path.resolve(dir)) {
    throw new BangerError(
      'precondition_failed',
      `refusing ${dir}: it is reached through a symlink (real path ${real})`,
    );
  }
  if (st.uid !== uid) {
    throw new BangerError(
      'precondition_failed',
      `refusing ${dir}: it is owned by uid ${String(st.uid)}, expected uid ${String(uid)}`,
      { hint: `remove ${dir} or fix its owner` },
    );
  }
  if ((st.mode & 0o7777) !== mode) await fs.chmod(dir, mode);
}

/** Writes a file atomically (temp file + rename) with private permissions, never through a symlink. */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  mode = 0o600,
): Promise<void> {
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`,
  );
  const handle = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** True when `p` exists (without following a final symlink). */
export async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** Removes a path if present; never throws for a missing path. */
export async function removeIfExists(p: string): Promise<void> {
  await fs.rm(p, { recursive: true, force: true });
}

/** True when `child` is `parent` or inside it, comparing normalised absolute paths. */
export function isWithin(parent: string, child: string): boolean {
  const rel = path.relative(path.resolve(parent), path.resolve(child));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
