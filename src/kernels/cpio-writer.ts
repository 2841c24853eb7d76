/**
 * A deterministic writer for the "newc" cpio format (the one the Linux kernel unpacks as an
 * initramfs). Fixed mtimes, uid/gid 0 and inode numbers in entry order, so the same inputs
 * always give the same bytes (and the same sha256 in the kernel manifest).
 * Format: linux Documentation/driver-api/early-userspace/buffer-format.rst.
 */
import { BangerError } from '../base/index.js';

export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Uint8Array; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; major: number; minor: number; mode?: number };

export interface CpioOptions {
  /** Modification time of every entry (seconds since the epoch); default 0. */
  mtime?: number;
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const TRAILER = 'TRAILER!!!';
const PATH_PATTERN = /^[A-Za-z0-9._+@-]+(\/[A-Za-z0-9._+@-]+)*$/;

/** Serialises `entries` in order (parents must come before their children). */
export function writeCpio(entries: readonly CpioEntry[], options: CpioOptions = {}): Buffer {
  const mtime = options.mtime ?? 0;
  const chunks: Buffer[] = [];
  const seen = new Set<string>();
  const dirs = new Set<string>();
  let ino = 1;
  for (const entry of entries) {
    checkPath(entry.path, seen, dirs);
    seen.add(entry.path);
    if (entry.kind === 'dir') dirs.add(entry.path);
    const { mode, data, nlink, rdev } = describe(entry);
    chunks.push(record({ ino: ino++, mode, nlink, mtime, rdev, name: entry.path, data }));
  }
  chunks.push(
    record({
      ino: 0,
      mode: 0,
      nlink: 1,
      mtime: 0,
      rdev: [0, 0],
      name: TRAILER,
      data: new Uint8Array(),
    }),
  );
  return Buffer.concat(chunks);
}

function describe(entry: CpioEntry): {
  mode: number;
  data: Uint8Array;
  nlink: number;
  rdev: [number, number];
} {
  switch (entry.kind) {
    case 'dir':
      return {
        mode: S_IFDIR | perm(entry.mode ?? 0o755),
        data: new Uint8Array(),
        nlink: 2,
        rdev: [0, 0],
      };
    case 'file':
      return {
        mode: S_IFREG | perm(entry.mode ?? 0o644),
        data: entry.data,
        nlink: 1,
        rdev: [0, 0],
      };
    case 'symlink':
      if (entry.target.length === 0 || entry.target.includes('\0')) {
        throw new BangerError(
          'bad_request',
          `cpio symlink ${entry.path} needs a non-empty target without NUL`,
        );
      }
      return {
        mode: S_IFLNK | 0o777,
        data: Buffer.from(entry.target, 'utf8'),
        nlink: 1,
        rdev: [0, 0],
      };
    case 'chardev':
      return {
        mode: S_IFCHR | perm(entry.mode ?? 0o600),
        data: new Uint8Array(),
        nlink: 1,
        rdev: [u32(entry.major, 'major'), u32(entry.minor, 'minor')],
      };
  }
}

function record(r: {
  ino: number;
  mode: number;
  nlink: number;
  mtime: number;
  rdev: [number, number];
  name: string;
  data: Uint8Array;
}): Buffer {
  const name = Buffer.from(`${r.name}\0`, 'utf8');
  const fields = [
    r.ino,
    r.mode,
    0, // uid
    0, // gid
    r.nlink,
    r.mtime,
    r.data.length,
    0, // devmajor
    0, // devminor
    r.rdev[0],
    r.rdev[1],
    name.length,
    0, // check (only used by the "crc" variant)
  ];
  const header = Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii');
  return Buffer.concat([
    header,
    name,
    pad(header.length + name.length),
    r.data,
    pad(r.data.length),
  ]);
}

function hex8(value: number): string {
  return u32(value, 'field').toString(16).padStart(8, '0');
}

function u32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new BangerError(
      'bad_request',
      `cpio ${what} ${String(value)} must be an integer from 0 to 2^32-1`,
    );
  }
  return value;
}

function perm(mode: number): number {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new BangerError(
      'bad_request',
      `cpio mode ${String(mode)} must be permission bits (0 to 0o7777)`,
    );
  }
  return mode;
}

function pad(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function checkPath(p: string, seen: Set<string>, dirs: Set<string>): void {
  const parts = p.split('/');
  if (
    !PATH_PATTERN.test(p) ||
    parts.some((part) => part === '.' || part === '..') ||
    p === TRAILER
  ) {
    throw new BangerError(
      'bad_request',
      `cpio path ${JSON.stringify(p)} must be relative, without "." or ".." parts, made of [A-Za-z0-9._+@-]`,
    );
  }
  if (seen.has(p)) throw new BangerError('bad_request', `cpio path ${p} appears twice`);
  const parent = parts.slice(0, -1).join('/');
  if (parent !== '' && !dirs.has(parent)) {
    throw new BangerError(
      'bad_request',
      `cpio path ${p} comes before its parent directory ${parent}`,
    );
  }
}
