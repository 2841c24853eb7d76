/**
 * Reads the ext2/3/4 superblock of a file ourselves (1024 bytes at offset 1024) so that a
 * file is refused before any e2fsprogs tool parses it.
 */
import { promises as fs } from 'node:fs';
import { badRequest } from '../base/index.js';

export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_SIZE = 1024;
export const EXT4_MAGIC = 0xef53;
/** s_magic sits at 0x38 inside the superblock: byte 1080 of the file. */
export const EXT4_MAGIC_OFFSET = SUPERBLOCK_OFFSET + 0x38;

const INCOMPAT_RECOVER = 0x4;
const INCOMPAT_JOURNAL_DEV = 0x8;
const INCOMPAT_64BIT = 0x80;

export interface Ext4Superblock {
  blockSize: number;
  blocksCount: number;
  /** Bytes the filesystem claims: a file shorter than this is truncated. */
  fsBytes: number;
  /** The journal holds changes not yet applied (not unmounted cleanly). */
  needsRecovery: boolean;
  /** This is an external journal device, not a filesystem. */
  journalDevice: boolean;
  uuid: string;
  label: string;
}

/** Decodes a superblock; returns undefined when the magic is not 0xEF53. */
export function parseExt4Superblock(sb: Buffer): Ext4Superblock | undefined {
  if (sb.length < SUPERBLOCK_SIZE || sb.readUInt16LE(0x38) !== EXT4_MAGIC) return undefined;
  const logBlockSize = sb.readUInt32LE(0x18);
  if (logBlockSize > 6) return undefined; // block sizes run from 1 KiB to 64 KiB
  const blockSize = 1024 << logBlockSize;
  const incompat = sb.readUInt32LE(0x60);
  const hi = incompat & INCOMPAT_64BIT ? sb.readUInt32LE(0x150) : 0;
  const blocksCount = hi * 2 ** 32 + sb.readUInt32LE(0x04);
  const uuid = sb.subarray(0x68, 0x78).toString('hex');
  const labelBytes = sb.subarray(0x78, 0x88);
  const nul = labelBytes.indexOf(0);
  return {
    blockSize,
    blocksCount,
    fsBytes: blocksCount * blockSize,
    needsRecovery: (incompat & INCOMPAT_RECOVER) !== 0,
    journalDevice: (incompat & INCOMPAT_JOURNAL_DEV) !== 0,
    uuid: `${uuid.slice(0, 8)}-${uuid.slice(8, 12)}-${uuid.slice(12, 16)}-${uuid.slice(16, 20)}-${uuid.slice(20)}`,
    label: labelBytes.subarray(0, nul < 0 ? labelBytes.length : nul).toString('latin1'),
  };
}

/**
 * Reads and checks the superblock of `file`: refuses (bad_request) a file without the ext4 magic,
 * an external journal, a file shorter than its filesystem, and one whose journal needs recovery.
 */
export async function readExt4Superblock(file: string): Promise<Ext4Superblock> {
  const handle = await fs.open(file, 'r');
  let sb: Buffer;
  let fileBytes: number;
  try {
    fileBytes = (await handle.stat()).size;
    sb = Buffer.alloc(SUPERBLOCK_SIZE);
    const { bytesRead } = await handle.read(sb, 0, SUPERBLOCK_SIZE, SUPERBLOCK_OFFSET);
    sb = sb.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const info = parseExt4Superblock(sb);
  if (info === undefined) {
    throw badRequest(
      `${file} is not an ext4 filesystem: no superblock magic 0xEF53 at byte ${String(EXT4_MAGIC_OFFSET)}`,
      { hint: 'give a raw ext4 image (for example one made with mkfs.ext4 -d DIR FILE SIZE)' },
    );
  }
  if (info.journalDevice) throw badRequest(`${file} is an ext4 external journal, not a filesystem`);
  if (fileBytes < info.fsBytes) {
    throw badRequest(
      `${file} is truncated: its filesystem spans ${String(info.fsBytes)} bytes but the file has ${String(fileBytes)}`,
    );
  }
  if (info.needsRecovery) {
    throw badRequest(`${file} was not unmounted cleanly: its journal needs recovery`, {
      hint: `run e2fsck -fy on it (or on a copy) and try again`,
    });
  }
  return info;
}
