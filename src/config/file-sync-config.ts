/**
 * `[[file_sync]]` entries of config.toml: host files or directories copied into the guest's
 * home each time a VM starts (dotfiles, credentials a sandbox should have). Checked when the
 * config loads: the host side must be absolute (or start with ~/), the guest side must sit
 * under /root, and neither may contain `..`. Whether the host path exists is the daemon's
 * business at start (a missing one is a warning, not a failure).
 */
import os from 'node:os';
import path from 'node:path';
import type { BangerError } from '../base/index.js';

export interface FileSyncEntry {
  /** Absolute host path (a leading ~/ is expanded when the config loads). */
  host: string;
  /** Absolute guest path under /root. */
  guest: string;
}

export const FILE_SYNC_MAX_ENTRIES = 64;

export const FILE_SYNC_CONFIG_KEYS: readonly {
  key: string;
  type: string;
  default: string;
  doc: string;
}[] = [
  {
    key: 'file_sync',
    type: 'array of tables',
    default: '[]',
    doc: 'host files or directories copied into every VM when it starts',
  },
  {
    key: 'file_sync.host',
    type: 'string',
    default: '(required)',
    doc: 'absolute host path of a file or directory (a leading ~/ means your home)',
  },
  {
    key: 'file_sync.guest',
    type: 'string',
    default: '(required)',
    doc: 'where it lands in the guest: an absolute path under /root',
  },
];

type Bad = (key: string, rule: string) => BangerError;

export function parseFileSync(value: unknown, bad: Bad): FileSyncEntry[] {
  if (!Array.isArray(value)) {
    throw bad('file_sync', 'must be an array of tables: [[file_sync]] host = "..." guest = "..."');
  }
  if (value.length > FILE_SYNC_MAX_ENTRIES) {
    throw bad('file_sync', `may have at most ${String(FILE_SYNC_MAX_ENTRIES)} entries`);
  }
  return value.map((item: unknown, i) => {
    const where = `file_sync[${String(i)}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw bad(where, 'must be a table with host and guest');
    }
    const fields = item as Record<string, unknown>;
    for (const key of Object.keys(fields)) {
      if (key !== 'host' && key !== 'guest') throw bad(`${where}.${key}`, 'is not a known key');
    }
    return {
      host: hostPath(fields.host, `${where}.host`, bad),
      guest: guestPath(fields.guest, `${where}.guest`, bad),
    };
  });
}

function hostPath(value: unknown, key: string, bad: Bad): string {
  if (typeof value !== 'string' || value === '') throw bad(key, 'must be a non-empty string');
  const expanded = value.startsWith('~/') ? path.join(os.homedir(), value.slice(2)) : value;
  if (!path.isAbsolute(expanded)) {
    throw bad(key, `must be an absolute path or start with ~/ (got ${JSON.stringify(value)})`);
  }
  checkPlain(expanded, key, value, bad);
  return path.normalize(expanded).replace(/(.)\/$/, '$1');
}

function guestPath(value: unknown, key: string, bad: Bad): string {
  if (typeof value !== 'string' || value === '') throw bad(key, 'must be a non-empty string');
  if (!value.startsWith('/root/') || value.replace(/\/+$/, '') === '/root') {
    throw bad(
      key,
      `must be an absolute path under /root, the guest's home (got ${JSON.stringify(value)})`,
    );
  }
  checkPlain(value, key, value, bad);
  return path.posix.normalize(value).replace(/\/$/, '');
}

function checkPlain(value: string, key: string, shown: string, bad: Bad): void {
  if (value.includes('\0') || value.includes('\n'))
    throw bad(key, 'must not contain NUL or newline');
  if (value.split('/').includes('..')) {
    throw bad(key, `must not contain .. (got ${JSON.stringify(shown)})`);
  }
}
