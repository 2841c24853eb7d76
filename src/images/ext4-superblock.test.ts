import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXT4_MAGIC_OFFSET, parseExt4Superblock, readExt4Superblock } from './ext4-superblock.js';

/** A superblock with the fields we read: 4 KiB blocks, `blocks` blocks, label, flags. */
function superblock(
  options: { blocks?: number; incompat?: number; magic?: number; label?: string } = {},
): Buffer {
  const sb = Buffer.alloc(1024);
  sb.writeUInt32LE(options.blocks ?? 256, 0x04);
  sb.writeUInt32LE(2, 0x18); // 1024 << 2 = 4096
  sb.writeUInt16LE(options.magic ?? 0xef53, 0x38);
  sb.writeUInt32LE(options.incompat ?? 0x2c2, 0x60);
  Buffer.from('0123456789abcdef0123456789abcdef', 'hex').copy(sb, 0x68);
  sb.write(options.label ?? 'banger-root', 0x78, 'latin1');
  return sb;
}

describe('parseExt4Superblock', () => {
  it('reads size, uuid, label and flags', () => {
    expect(parseExt4Superblock(superblock())).toEqual({
      blockSize: 4096,
      blocksCount: 256,
      fsBytes: 1024 * 1024,
      needsRecovery: false,
      journalDevice: false,
      uuid: '01234567-89ab-cdef-0123-456789abcdef',
      label: 'banger-root',
    });
  });

  it('refuses a buffer without the 0xEF53 magic', () => {
    expect(parseExt4Superblock(superblock({ magic: 0x1234 }))).toBeUndefined();
    expect(parseExt4Superblock(Buffer.alloc(10))).toBeUndefined();
  });

  it('notices a journal that needs recovery', () => {
    expect(parseExt4Superblock(superblock({ incompat: 0x2c2 | 0x4 }))?.needsRecovery).toBe(true);
  });

  it('places the magic at byte 1080 of the file', () => {
    expect(EXT4_MAGIC_OFFSET).toBe(1080);
  });
});

describe('readExt4Superblock', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'banger-sb-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function fileWith(name: string, sb: Buffer | undefined, size: number): Promise<string> {
    const file = path.join(dir, name);
    const data = Buffer.alloc(size);
    if (sb) sb.copy(data, 1024);
    await fs.writeFile(file, data);
    return file;
  }

  it('accepts a file whose superblock has the magic and fits', async () => {
    const file = await fileWith('ok.ext4', superblock(), 1024 * 1024);
    expect((await readExt4Superblock(file)).label).toBe('banger-root');
  });

  it('refuses a file without the magic, naming the offset', async () => {
    const file = await fileWith('zero.img', undefined, 8192);
    await expect(readExt4Superblock(file)).rejects.toThrow(
      /not an ext4 filesystem: no superblock magic 0xEF53 at byte 1080/,
    );
  });

  it('refuses a file too short to hold a superblock', async () => {
    const file = await fileWith('tiny.img', undefined, 100);
    await expect(readExt4Superblock(file)).rejects.toThrow(/not an ext4 filesystem/);
  });

  it('refuses a truncated filesystem', async () => {
    const file = await fileWith('cut.ext4', superblock({ blocks: 1000 }), 1024 * 1024);
    await expect(readExt4Superblock(file)).rejects.toThrow(/is truncated/);
  });

  it('refuses a filesystem whose journal needs recovery', async () => {
    const file = await fileWith('dirty.ext4', superblock({ incompat: 0x2c6 }), 1024 * 1024);
    await expect(readExt4Superblock(file)).rejects.toThrow(/not unmounted cleanly/);
  });
});
