import { createWriteStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../base/index.js';
import { tarHeader, tarStream, type TarEntry } from './tar-writer.js';

let dir: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tar-writer-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function writeArchive(entries: TarEntry[], file: string): Promise<void> {
  await pipeline(tarStream(entries), createWriteStream(file));
}

const LONG_DIR = `${'deep-directory-name/'.repeat(8)}leaf`;
const LONG_FILE = `${'x'.repeat(120)}.txt`;
const UNICODE = 'naïve café/日本語 ファイル.txt';

describe('tarStream (checked with GNU tar)', () => {
  it('round-trips names, modes, symlinks, empty files and directories', async () => {
    const src = path.join(dir, 'src');
    await fs.mkdir(src);
    const files: [string, string | Buffer, number][] = [
      ['plain.txt', 'hello\n', 0o644],
      ['script.sh', '#!/bin/sh\necho hi\n', 0o755],
      ['secret', 'shh', 0o600],
      ['empty', '', 0o644],
      ['with space.txt', 'spaced', 0o644],
      [UNICODE.replace('/', '-'), 'unicode', 0o644],
      ['binary.bin', Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256)), 0o644],
    ];
    const entries: TarEntry[] = [{ name: 'sub', kind: 'dir', mode: 0o750, mtime: 1_000_000 }];
    for (const [name, content, mode] of files) {
      const file = path.join(src, name);
      await fs.writeFile(file, content);
      await fs.chmod(file, mode);
      entries.push({ name, kind: 'file', mode, mtime: 0, source: file });
    }
    const longSource = path.join(src, 'long');
    await fs.writeFile(longSource, 'long names\n');
    entries.push({
      name: `${LONG_DIR}/${LONG_FILE}`,
      kind: 'file',
      mode: 0o644,
      mtime: 0,
      source: longSource,
    });
    entries.push({
      name: `sub/${UNICODE}`,
      kind: 'file',
      mode: 0o644,
      mtime: 0,
      source: longSource,
    });
    const paxName = `${'ü'.repeat(90)}/${'é'.repeat(45)}`; // over 256 bytes: needs a PAX path
    entries.push({ name: paxName, kind: 'file', mode: 0o644, mtime: 0, source: longSource });
    entries.push({ name: 'link', kind: 'symlink', mode: 0o777, mtime: 5, linkname: 'plain.txt' });
    const longTarget = `../${'t'.repeat(150)}/target`;
    entries.push({
      name: 'longlink',
      kind: 'symlink',
      mode: 0o777,
      mtime: 5,
      linkname: longTarget,
    });

    const archive = path.join(dir, 'a.tar');
    await writeArchive(entries, archive);
    const out = path.join(dir, 'out');
    await fs.mkdir(out);
    // A C locale: names must not depend on the extracting side's charset.
    await run('tar', ['-x', '-f', archive, '-C', out, '--no-same-owner'], {
      env: { ...process.env, LC_ALL: 'C' },
    });

    for (const [name, content, mode] of files) {
      const file = path.join(out, name);
      expect(await fs.readFile(file)).toEqual(Buffer.from(content));
      expect((await fs.stat(file)).mode & 0o7777).toBe(mode);
    }
    expect(await fs.readFile(path.join(out, LONG_DIR, LONG_FILE), 'utf8')).toBe('long names\n');
    expect(await fs.readFile(path.join(out, 'sub', UNICODE), 'utf8')).toBe('long names\n');
    expect(await fs.readFile(path.join(out, paxName), 'utf8')).toBe('long names\n');
    expect((await fs.stat(path.join(out, 'sub'))).mode & 0o7777).toBe(0o750);
    expect(await fs.readlink(path.join(out, 'link'))).toBe('plain.txt');
    expect(await fs.readlink(path.join(out, 'longlink'))).toBe(longTarget);

    const listing = await run('tar', ['-t', '-f', archive]);
    expect(listing.stdout.toString().trim().split('\n')).toHaveLength(entries.length);
  });

  it('keeps the mtime of files', async () => {
    const file = path.join(dir, 'f');
    await fs.writeFile(file, 'x');
    await fs.utimes(file, 1_600_000_000, 1_600_000_000);
    const archive = path.join(dir, 'a.tar');
    await writeArchive([{ name: 'f', kind: 'file', mode: 0o644, mtime: 0, source: file }], archive);
    const out = path.join(dir, 'out');
    await fs.mkdir(out);
    await run('tar', ['-x', '-f', archive, '-C', out]);
    expect(Math.floor((await fs.stat(path.join(out, 'f'))).mtimeMs / 1000)).toBe(1_600_000_000);
  });

  it('refuses a file that was swapped for a symlink', async () => {
    await fs.writeFile(path.join(dir, 'real'), 'x');
    await fs.symlink(path.join(dir, 'real'), path.join(dir, 'swapped'));
    const stream = tarStream([
      { name: 'f', kind: 'file', mode: 0o644, mtime: 0, source: path.join(dir, 'swapped') },
    ]);
    await expect(pipeline(stream, createWriteStream(path.join(dir, 'a.tar')))).rejects.toThrow(
      'cannot read',
    );
  });

  it('reports progress and stops when aborted', async () => {
    const file = path.join(dir, 'big');
    await fs.writeFile(file, Buffer.alloc(1024 * 1024, 1));
    const seen: number[] = [];
    await pipeline(
      tarStream([{ name: 'big', kind: 'file', mode: 0o644, mtime: 0, source: file }], {
        onProgress: (p) => seen.push(p.bytes),
      }),
      createWriteStream(path.join(dir, 'a.tar')),
    );
    expect(seen.at(-1)).toBe(512 + 1024 * 1024);
    const controller = new AbortController();
    controller.abort();
    await expect(
      pipeline(
        tarStream([{ name: 'big', kind: 'file', mode: 0o644, mtime: 0, source: file }], {
          signal: controller.signal,
        }),
        createWriteStream(path.join(dir, 'b.tar')),
      ),
    ).rejects.toThrow('canceled');
  });
});

describe('tarHeader', () => {
  it('writes a valid ustar checksum and a PAX header only when needed', () => {
    const short = tarHeader({
      name: 'a',
      kind: 'file',
      mode: 0o644,
      mtime: 0,
      size: 3,
      linkname: '',
    });
    expect(short.length).toBe(512);
    expect(short.subarray(257, 263).toString('latin1')).toBe('ustar\0');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (short[i] ?? 0);
    expect(parseInt(short.subarray(148, 154).toString('latin1'), 8)).toBe(sum);
    const long = tarHeader({
      name: 'n'.repeat(300),
      kind: 'file',
      mode: 0o644,
      mtime: 0,
      size: 1,
      linkname: '',
    });
    expect(long[156]).toBe('x'.charCodeAt(0));
    expect(long.toString('utf8')).toContain(` path=${'n'.repeat(300)}\n`);
  });
});
