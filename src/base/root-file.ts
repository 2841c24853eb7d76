/**
 * Reading a file that root must be able to trust (the system install's record): the file and
 * every directory above it must be root's and writable by nobody else (a sticky directory
 * such as /tmp is allowed: others cannot rename root's entries in it), and no component may
 * be a symlink. Used by bangerd-root and the service supervisor before they act on it.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError } from './errors.js';

export async function readRootOwnedFile(
  file: string,
  options: { maxBytes: number; what: string; hint?: string },
): Promise<string> {
  const untrusted = (rule: string): BangerError =>
    new BangerError('precondition_failed', `refusing ${options.what}: ${rule}`, {
      hint: options.hint,
    });
  if (!path.isAbsolute(file) || path.normalize(file) !== file)
    throw untrusted(`${file} is not an absolute, normalised path`);
  const parts = file.split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const at = `/${parts.slice(0, i).join('/')}`;
    const st = await fs.lstat(at);
    const sticky = (st.mode & 0o1000) !== 0;
    if (!st.isDirectory() || st.uid !== 0 || ((st.mode & 0o022) !== 0 && !sticky))
      throw untrusted(`${at} must be a directory of root that only root can write`);
  }
  const handle = await fs.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    throw code === 'ENOENT'
      ? new BangerError('not_found', `no ${options.what} at ${file}`, { hint: options.hint })
      : untrusted(`cannot open ${file}: ${String(code)}`);
  });
  try {
    const st = await handle.stat();
    if (!st.isFile() || st.uid !== 0 || (st.mode & 0o022) !== 0 || st.size > options.maxBytes)
      throw untrusted(
        `${file} must be a regular file of root, at most ${String(options.maxBytes)} bytes, that only root can write`,
      );
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * Creates `dir` and its missing parents with exactly `mode` (the umask would make them 0700,
 * which the owner could not traverse); existing components are left as they are.
 */
export async function makeDirs(dir: string, mode = 0o755): Promise<void> {
  const missing: string[] = [];
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    if (
      await fs.lstat(at).then(
        () => true,
        () => false,
      )
    )
      break;
    missing.unshift(at);
    if (at === path.dirname(at)) break;
  }
  for (const at of missing) {
    await fs.mkdir(at, { mode }).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    });
    await fs.chmod(at, mode);
  }
}
