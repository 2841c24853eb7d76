import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readTar, type TarEntry } from './tar-reader.js';
import { TAR_END, tarHeader, tarPadding, type TarHeaderInput } from './tar-writer.js';

function archive(entries: { header: TarHeaderInput; body?: Buffer }[], end = TAR_END): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = e.body ?? Buffer.alloc(0);
    parts.push(tarHeader({ ...e.header, size: e.header.size ?? body.length }), body);
    parts.push(tarPadding(body.length));
  }
  parts.push(end);
  return Buffer.concat(parts);
}

/** Feeds the archive in awkward chunk sizes, as a network stream would. */
function chunked(data: Buffer, size = 7): AsyncIterable<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts) as AsyncIterable<Buffer>;
}

async function collect(
  data: Buffer,
  chunk = 7,
): Promise<(Omit<TarEntry, 'body'> & { content?: string })[]> {
  const out: (Omit<TarEntry, 'body'> & { content?: string })[] = [];
  for await (const entry of readTar(chunked(data, chunk), { where: 'test' })) {
    const rest: Omit<TarEntry, 'body'> & { body?: unknown } = { ...entry };
    delete rest.body;
    if (entry.type === 'file') {
      const parts: Buffer[] = [];
      for await (const c of entry.body()) parts.push(c);
      out.push({ ...rest, content: Buffer.concat(parts).toString() });
    } else out.push(rest);
  }
  return out;
}

describe('readTar', () => {
  it('reads files, directories, links and devices with their metadata', async () => {
    const entries = await collect(
      archive([
        { header: { name: 'etc/', type: 'dir', mode: 0o755 } },
        {
          header: { name: 'etc/passwd', mode: 0o4755, uid: 1000, gid: 100, mtime: 1234 },
          body: Buffer.from('root:x:0:0\n'),
        },
        { header: { name: 'etc/link', type: 'symlink', linkname: '/etc/passwd' } },
        { header: { name: 'etc/hard', type: 'hardlink', linkname: 'etc/passwd' } },
        { header: { name: 'dev/null', type: 'char', devMajor: 1, devMinor: 3, mode: 0o666 } },
      ]),
    );
    expect(entries.map((e) => [e.path, e.type])).toEqual([
      ['etc/', 'dir'],
      ['etc/passwd', 'file'],
      ['etc/link', 'symlink'],
      ['etc/hard', 'hardlink'],
      ['dev/null', 'char'],
    ]);
    expect(entries[1]).toMatchObject({
      mode: 0o4755,
      uid: 1000,
      gid: 100,
      mtime: 1234,
      content: 'root:x:0:0\n',
    });
    expect(entries[2]?.linkTarget).toBe('/etc/passwd');
    expect(entries[4]).toMatchObject({ devMajor: 1, devMinor: 3, mode: 0o666 });
  });

  it('takes long names and link targets from PAX headers', async () => {
    const long = `${'d/'.repeat(80)}file`;
    const entries = await collect(
      archive([
        { header: { name: long }, body: Buffer.from('x') },
        { header: { name: 'l', type: 'symlink', linkname: 't'.repeat(300) } },
      ]),
    );
    expect(entries[0]?.path).toBe(long);
    expect(entries[1]?.linkTarget).toBe('t'.repeat(300));
  });

  it('skips bodies that the caller does not read', async () => {
    const data = archive([
      { header: { name: 'a' }, body: Buffer.alloc(3000, 1) },
      { header: { name: 'b' }, body: Buffer.from('bee') },
    ]);
    const names: string[] = [];
    let last = '';
    for await (const e of readTar(chunked(data, 100), { where: 't' })) {
      names.push(e.path);
      if (e.path === 'b') for await (const c of e.body()) last += c.toString();
    }
    expect(names).toEqual(['a', 'b']);
    expect(last).toBe('bee');
  });

  it('refuses GNU sparse entries, old or PAX style', async () => {
    await expect(collect(archive([{ header: { name: 's', typeflag: 'S' } }]))).rejects.toThrow(
      /sparse entries are refused/,
    );
    await expect(
      collect(
        archive([
          {
            header: { name: 's', pax: { 'GNU.sparse.realsize': '10737418240' } },
            body: Buffer.from('x'),
          },
        ]),
      ),
    ).rejects.toThrow(/sparse file entries .*GNU\.sparse\.realsize/);
  });

  it('refuses a bad checksum, unknown types, truncation and non-UTF-8 names', async () => {
    const good = archive([{ header: { name: 'a' }, body: Buffer.from('abc') }]);
    const bad = Buffer.from(good);
    bad[0] = 0x62;
    await expect(collect(bad)).rejects.toThrow(/checksum mismatch/);
    await expect(collect(archive([{ header: { name: 'x', typeflag: 'Z' } }]))).rejects.toThrow(
      /unknown tar entry type "Z"/,
    );
    await expect(collect(good.subarray(0, 600))).rejects.toThrow(/truncated/);
    const latin = archive([{ header: { name: 'caf\u00e9' }, body: Buffer.from('') }]);
    const raw = Buffer.from(latin);
    raw.write('caf\xe9\0', 0, 'latin1');
    // Recompute the checksum so only the name is wrong.
    raw.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += raw[i] ?? 0;
    raw.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    await expect(collect(raw)).rejects.toThrow(/not valid UTF-8/);
  });

  it('refuses oversized meta headers and trailing garbage after the end', async () => {
    const big = archive([{ header: { name: 'a', pax: { comment: 'x'.repeat(2_000_000) } } }]);
    await expect(collect(big)).rejects.toThrow(/PAX header of \d+ bytes is larger/);
    const trailing = Buffer.concat([archive([]), Buffer.alloc(17 * 1024 * 1024)]);
    await expect(collect(trailing, 65536)).rejects.toThrow(/follow the end of the archive/);
  });

  it('reads sizes above 8 GiB from PAX without reading the body', async () => {
    const header = tarHeader({ name: 'huge', size: 10 * 1024 ** 3 });
    const entries: Omit<TarEntry, 'body'>[] = [];
    const it = readTar(chunked(header, 512), { where: 't' });
    const first = await it.next();
    if (first.done !== true) entries.push(first.value);
    expect(entries[0]?.size).toBe(10 * 1024 ** 3);
  });
});
