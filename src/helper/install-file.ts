/**
 * Reads the install record (/etc/banger/install.toml) the way root must: the owner's uid
 * comes from nowhere else, so the file and every directory above it must be root's and
 * writable by nobody else (a sticky directory such as /tmp is allowed: others cannot rename
 * root's entries in it), and no component may be a symlink.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError } from '../base/index.js';
import { parseInstallRecord, type InstallRecord } from '../protocol/index.js';

/** Where the record lies under an install root. */
export const INSTALL_FILE = 'etc/banger/install.toml';

function untrusted(what: string): BangerError {
  return new BangerError('precondition_failed', `refusing the install record: ${what}`, {
    hint: 'run `banger system install --owner USER` again (as root)',
  });
}

export async function readInstallFile(file: string): Promise<InstallRecord> {
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
      ? new BangerError('not_found', `no install record at ${file}`, {
          hint: 'install banger first: `banger system install --owner USER` (as root)',
        })
      : untrusted(`cannot open ${file}: ${String(code)}`);
  });
  try {
    const st = await handle.stat();
    if (!st.isFile() || st.uid !== 0 || (st.mode & 0o022) !== 0 || st.size > 4096)
      throw untrusted(`${file} must be a small regular file of root that only root can write`);
    const record = parseInstallRecord(await handle.readFile('utf8'));
    if (path.join(record.root, INSTALL_FILE) !== file)
      throw untrusted(`its root ${record.root} does not match where it lies (${file})`);
    return record;
  } finally {
    await handle.close();
  }
}
