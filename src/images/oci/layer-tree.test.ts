import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readTar } from '../tar/tar-reader.js';
import { TAR_END, tarHeader, tarPadding, type TarHeaderInput } from '../tar/tar-writer.js';
import { DEFAULT_LAYER_LIMITS, type LayerLimits } from './layer-policy.js';
import { LayerTree } from './layer-tree.js';

type Entry = TarHeaderInput & { body?: string };

function layer(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    parts.push(tarHeader({ ...e, size: body.length }), body, tarPadding(body.length));
  }
  parts.push(TAR_END);
  return Buffer.concat(parts);
}

function once(data: Buffer): AsyncIterable<Buffer> {
  return Readable.from([data]) as AsyncIterable<Buffer>;
}

let scratch = '';
let root = '';

beforeEach(async () => {
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'banger-layer-tree-'));
  root = path.join(scratch, 'root');
});
afterEach(async () => {
  await fs.rm(scratch, { recursive: true, force: true });
});

async function apply(layers: Entry[][], limits: Partial<LayerLimits> = {}): Promise<LayerTree> {
  await fs.rm(root, { recursive: true, force: true });
  const tree = new LayerTree(root, { ...DEFAULT_LAYER_LIMITS, ...limits });
  await tree.init();
  for (const [i, entries] of layers.entries()) {
    await tree.applyLayer(readTar(once(layer(entries)), { where: `layer ${String(i + 1)}` }), {
      layer: i,
      where: `layer ${String(i + 1)}`,
    });
  }
  return tree;
}

/** Everything under the scratch dir, so a test sees any file written outside the root. */
async function listAll(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    out.push(path.relative(scratch, path.join(e.parentPath, e.name)));
  }
  return out.sort();
}

describe('LayerTree', () => {
  it('applies files, dirs, symlinks and hard links, later layers winning', async () => {
    const tree = await apply([
      [
        { name: 'etc/', type: 'dir', mode: 0o755 },
        { name: 'etc/motd', body: 'one' },
        { name: 'bin/tool', body: '#!tool', mode: 0o4755, uid: 1000 },
        { name: 'bin/alias', type: 'hardlink', linkname: 'bin/tool' },
        { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
      ],
      [{ name: 'etc/motd', body: 'two' }],
    ]);
    expect(await fs.readFile(path.join(root, 'etc/motd'), 'utf8')).toBe('two');
    const a = await fs.stat(path.join(root, 'bin/tool'));
    const b = await fs.stat(path.join(root, 'bin/alias'));
    expect(a.ino).toBe(b.ino);
    // Set-id bits never reach the host copy; the fix-up script carries them into the image.
    expect(a.mode & 0o7777).toBe(0o755);
    expect(await fs.readlink(path.join(root, 'lib'))).toBe('usr/lib');
    const script = tree.fixupScript({ uid: 0, gid: 0 });
    expect(script).toContain('sif "/bin/tool" mode 0104755');
    expect(script).toContain('sif "/bin/tool" uid 1000');
  });

  it('honours whiteouts and opaque directories from lower layers only', async () => {
    await apply([
      [
        { name: 'a/keep', body: 'k' },
        { name: 'a/gone', body: 'g' },
        { name: 'o/lower', body: 'l' },
        { name: 'o/sub/deep', body: 'd' },
      ],
      [
        { name: 'a/.wh.gone' },
        { name: 'o/', type: 'dir' },
        { name: 'o/.wh..wh..opq' },
        { name: 'o/upper', body: 'u' },
      ],
    ]);
    expect(await listAll(root)).toEqual(['root/a', 'root/a/keep', 'root/o', 'root/o/upper']);
  });

  it('refuses .. and absolute names', async () => {
    await expect(apply([[{ name: '../evil', body: 'x' }]])).rejects.toThrow(/contains "\.\."/);
    await expect(apply([[{ name: 'a/../../evil', body: 'x' }]])).rejects.toThrow(/\.\./);
    await expect(apply([[{ name: '/etc/evil', body: 'x' }]])).rejects.toThrow(/absolute path/);
    expect(await listAll(scratch)).not.toContain('evil');
  });

  it('never writes through a symlink, in the same layer or a later one', async () => {
    const outside = path.join(scratch, 'outside');
    await fs.mkdir(outside);
    await expect(
      apply([
        [
          { name: 'esc', type: 'symlink', linkname: outside },
          { name: 'esc/file', body: 'x' },
        ],
      ]),
    ).rejects.toThrow(/written through the symlink "esc"/);
    await expect(
      apply([
        [{ name: 'esc', type: 'symlink', linkname: '../../..' }],
        [{ name: 'esc/x/file', body: 'x' }],
      ]),
    ).rejects.toThrow(/never writes through a symlink/);
    expect(await fs.readdir(outside)).toEqual([]);
  });

  it('replaces a symlink at the final name instead of following it', async () => {
    const outside = path.join(scratch, 'victim');
    await fs.writeFile(outside, 'safe');
    await apply([
      [{ name: 'f', type: 'symlink', linkname: outside }],
      [{ name: 'f', body: 'new' }],
    ]);
    expect(await fs.readFile(outside, 'utf8')).toBe('safe');
    expect(await fs.readFile(path.join(root, 'f'), 'utf8')).toBe('new');
  });

  it('refuses hard links that leave the image or point at nothing', async () => {
    await expect(
      apply([[{ name: 'h', type: 'hardlink', linkname: '../../etc/passwd' }]]),
    ).rejects.toThrow(/hard link target .* contains "\.\."/);
    await expect(
      apply([[{ name: 'h', type: 'hardlink', linkname: '/etc/passwd' }]]),
    ).rejects.toThrow(/absolute path/);
    await expect(apply([[{ name: 'h', type: 'hardlink', linkname: 'nope' }]])).rejects.toThrow(
      /not in the image/,
    );
    await expect(
      apply([
        [
          { name: 'd', type: 'symlink', linkname: '/etc' },
          { name: 'h', type: 'hardlink', linkname: 'd/passwd' },
        ],
      ]),
    ).rejects.toThrow(/symlink/);
  });

  it('keeps device nodes off the host and applies the device policy', async () => {
    const tree = await apply([
      [
        { name: 'dev/null', type: 'char', devMajor: 1, devMinor: 3, mode: 0o666 },
        { name: 'dev/pipe', type: 'fifo', mode: 0o600 },
      ],
    ]);
    const st = await fs.lstat(path.join(root, 'dev/null'));
    expect(st.isFile()).toBe(true);
    expect(st.size).toBe(0);
    const script = tree.fixupScript({ uid: 0, gid: 0 });
    expect(script).toEqual(
      expect.arrayContaining([
        'mknod "null" c 1 3',
        'sif "/dev/null" mode 020666',
        'mknod "pipe" p',
      ]),
    );
    await expect(
      apply([[{ name: 'dev/sda', type: 'block', devMajor: 8, devMinor: 0 }]]),
    ).rejects.toThrow(/block device "dev\/sda" \(8:0\) is refused by the device policy "safe"/);
    await expect(
      apply([[{ name: 'dev/null', type: 'char', devMajor: 1, devMinor: 3 }]], { devices: 'none' }),
    ).rejects.toThrow(/policy "none"/);
  });

  it('stops at the entry and byte limits', async () => {
    const many: Entry[] = Array.from({ length: 11 }, (_, i) => ({ name: `f${String(i)}` }));
    await expect(apply([many], { maxEntries: 10 })).rejects.toThrow(/more than 10 entries/);
    await expect(
      apply([[{ name: 'big', body: 'x'.repeat(100) }]], { maxBytes: 99 }),
    ).rejects.toThrow(/past 99 bytes/);
  });

  it('writes owner and mode fix-ups only where the host copy differs', async () => {
    const tree = await apply([
      [
        { name: 'home/dev/', type: 'dir', mode: 0o750, uid: 1000, gid: 1000 },
        { name: 'home/dev/file', body: 'x', mode: 0o600, uid: 1000, gid: 1000 },
        { name: 'plain', body: 'p', mode: 0o644 },
        { name: 'tmp/', type: 'dir', mode: 0o1777 },
      ],
    ]);
    const script = tree.fixupScript({ uid: 0, gid: 0 });
    expect(script).toEqual([
      'sif "/home/dev" uid 1000',
      'sif "/home/dev" gid 1000',
      'sif "/home/dev/file" uid 1000',
      'sif "/home/dev/file" gid 1000',
      'sif "/tmp" mode 041777',
    ]);
  });
});
