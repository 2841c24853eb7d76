/**
 * The system install's record, /etc/banger/install.toml: who owns the install (user, uid,
 * gid), which version was installed, when, and under which prefix. Written by
 * `banger system install` (root), read by bangerd-root (which trusts nothing else for the
 * owner's uid), by the CLI (to find the install) and by doctor (version drift).
 *
 * The file is a strict subset of TOML (`key = "string"` and `key = integer` lines, comments,
 * blank lines), parsed here by hand because the root helper has no npm dependencies.
 * Pure: no I/O.
 */
import path from 'node:path';
import { BangerError } from '../base/index.js';

/** Where the record lies under an install's root prefix. */
export const INSTALL_RECORD_PATH = 'etc/banger/install.toml';

export interface InstallRecord {
  /** The owner's user name: bangerd runs as this user. */
  owner: string;
  uid: number;
  gid: number;
  /** banger's version that was installed (package.json). */
  version: string;
  /** ISO 8601 time of the install. */
  installedAt: string;
  /** Prefix of every system path ("/" for a real install; a scratch dir in tests). */
  root: string;
}

/** POSIX-ish portable user names (useradd's default rule, without a trailing "$"). */
export const USER_NAME_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;
const VERSION_PATTERN = /^[0-9A-Za-z.+-]{1,64}$/;
const TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const MAX_ID = 0xfffffffe;

const KEYS = {
  owner: 'string',
  uid: 'int',
  gid: 'int',
  version: 'string',
  installed_at: 'string',
  root: 'string',
} as const;

function bad(rule: string): BangerError {
  return new BangerError('precondition_failed', `install record: ${rule}`, {
    hint: 'run `banger system install --owner USER` again (as root)',
  });
}

/** Checks every field; returns the record unchanged. */
export function checkInstallRecord(record: InstallRecord): InstallRecord {
  if (!USER_NAME_PATTERN.test(record.owner))
    throw bad(`owner ${JSON.stringify(record.owner)} must match ${String(USER_NAME_PATTERN)}`);
  for (const [name, id] of [
    ['uid', record.uid],
    ['gid', record.gid],
  ] as const) {
    if (!Number.isSafeInteger(id) || id < 1 || id > MAX_ID)
      throw bad(`${name} ${String(id)} must be an unprivileged id (1 to ${String(MAX_ID)})`);
  }
  if (!VERSION_PATTERN.test(record.version))
    throw bad(`version ${JSON.stringify(record.version)} must match ${String(VERSION_PATTERN)}`);
  if (!TIME_PATTERN.test(record.installedAt))
    throw bad(`installed_at ${JSON.stringify(record.installedAt)} must be an ISO 8601 UTC time`);
  const root = record.root;
  if (
    !root.startsWith('/') ||
    /[\x00-\x1f\x7f"\\]/.test(root) ||
    root.split('/').some((part) => part === '.' || part === '..') ||
    (root !== '/' && (root.endsWith('/') || root.includes('//')))
  ) {
    throw bad(`root ${JSON.stringify(root)} must be an absolute, normalised path`);
  }
  return record;
}

export function formatInstallRecord(record: InstallRecord): string {
  checkInstallRecord(record);
  return [
    '# banger system install: written by `banger system install`; do not edit.',
    `owner = "${record.owner}"`,
    `uid = ${String(record.uid)}`,
    `gid = ${String(record.gid)}`,
    `version = "${record.version}"`,
    `installed_at = "${record.installedAt}"`,
    `root = "${record.root}"`,
    '',
  ].join('\n');
}

export function parseInstallRecord(text: string): InstallRecord {
  if (text.length > 4096) throw bad('the file is larger than 4096 bytes');
  const seen = new Map<string, string | number>();
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-z_]+)\s*=\s*(?:"([^"\\\x00-\x1f]*)"|(\d{1,10}))$/.exec(line);
    const key = m?.[1];
    if (m === null || key === undefined || !(key in KEYS))
      throw bad(`line ${String(index + 1)} is not one of the known "key = value" lines`);
    if (seen.has(key)) throw bad(`${key} is given twice`);
    const kind = KEYS[key as keyof typeof KEYS];
    if (kind === 'string' && m[2] !== undefined) seen.set(key, m[2]);
    else if (kind === 'int' && m[3] !== undefined) seen.set(key, Number(m[3]));
    else throw bad(`${key} must be ${kind === 'int' ? 'an integer' : 'a quoted string'}`);
  }
  for (const key of Object.keys(KEYS)) if (!seen.has(key)) throw bad(`${key} is missing`);
  return checkInstallRecord({
    owner: seen.get('owner') as string,
    uid: seen.get('uid') as number,
    gid: seen.get('gid') as number,
    version: seen.get('version') as string,
    installedAt: seen.get('installed_at') as string,
    root: seen.get('root') as string,
  });
}

/** A record is trusted only where its own `root` says it lies (no copies elsewhere). */
export function checkRecordLocation(record: InstallRecord, file: string): InstallRecord {
  if (path.join(record.root, INSTALL_RECORD_PATH) !== file)
    throw bad(`its root ${record.root} does not match where it lies (${file})`);
  return record;
}
