/**
 * Reads the install record (/etc/banger/install.toml) the way root must: the owner's uid
 * comes from nowhere else, so the file must be root's all the way down (base/root-file.ts)
 * and must lie where its own `root` says.
 */
import { readRootOwnedFile } from '../base/index.js';
import { checkRecordLocation, parseInstallRecord, type InstallRecord } from '../protocol/index.js';

export async function readInstallFile(file: string): Promise<InstallRecord> {
  const text = await readRootOwnedFile(file, {
    maxBytes: 4096,
    what: 'the install record',
    hint: 'run `banger system install --owner USER` again (as root)',
  });
  return checkRecordLocation(parseInstallRecord(text), file);
}
