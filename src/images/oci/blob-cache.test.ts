import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobCache, type BlobSource } from './blob-cache.js';

let dir = '';
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'banger-blobs-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const data = Buffer.from('x'.repeat(10_000) + 'y'.repeat(10_000));
const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A source serving `bytes` (honouring ranges unless told not to), failing after `cut` bytes. */
function source(bytes: Buffer, options: { cut?: number; ignoreRange?: boolean } = {}) {
  const calls: number[] = [];
  const open: BlobSource = (offset) => {
    calls.push(offset);
    const start = options.ignoreRange === true ? 0 : offset;
    const body = bytes.subarray(start, options.cut ?? bytes.length);
    async function* gen(): AsyncGenerator<Buffer> {
      for await (const chunk of Readable.from([body.subarray(0, 5000), body.subarray(5000)]))
        yield chunk as Buffer;
      if (options.cut !== undefined) throw new Error('connection reset');
    }
    return Promise.resolve({ start, body: gen() });
  };
  return { open, calls };
}

describe('BlobCache', () => {
  it('downloads, verifies and then serves from the cache', async () => {
    const cache = new BlobCache(dir);
    const s = source(data);
    const file = await cache.ensure(digest, data.length, s.open, { what: 't' });
    expect(await fs.readFile(file)).toEqual(data);
    await cache.ensure(digest, data.length, s.open, { what: 't' });
    expect(s.calls).toEqual([0]);
  });

  it('resumes a cut download from where it stopped, re-hashing what it had', async () => {
    const cache = new BlobCache(dir);
    await expect(
      cache.ensure(digest, data.length, source(data, { cut: 12_000 }).open, { what: 't' }),
    ).rejects.toThrow(/connection reset/);
    const partial = path.join(dir, 'partial', digest.slice(7));
    expect((await fs.stat(partial)).size).toBe(12_000);
    const resumed = source(data);
    const file = await cache.ensure(digest, data.length, resumed.open, { what: 't' });
    expect(resumed.calls).toEqual([12_000]);
    expect(await fs.readFile(file)).toEqual(data);
  });

  it('starts over when the server ignores the range', async () => {
    const cache = new BlobCache(dir);
    await cache
      .ensure(digest, data.length, source(data, { cut: 7000 }).open, { what: 't' })
      .catch(() => undefined);
    const file = await cache.ensure(digest, data.length, source(data, { ignoreRange: true }).open, {
      what: 't',
    });
    expect(await fs.readFile(file)).toEqual(data);
  });

  it('refuses wrong bytes and oversized blobs, keeping nothing', async () => {
    const cache = new BlobCache(dir);
    const wrong = Buffer.from(data);
    wrong[100] = 0x7a;
    await expect(
      cache.ensure(digest, data.length, source(wrong).open, { what: 't' }),
    ).rejects.toThrow(/does not match its digest/);
    await expect(
      cache.ensure(digest, data.length - 1, source(data).open, { what: 't' }),
    ).rejects.toThrow(/larger than/);
    expect(await fs.readdir(path.join(dir, 'partial'))).toEqual([]);
    expect(await fs.readdir(path.join(dir, 'blobs', 'sha256'))).toEqual([]);
  });

  it('shares one download between concurrent callers', async () => {
    const cache = new BlobCache(dir);
    const s = source(data);
    const [a, b] = await Promise.all([
      cache.ensure(digest, data.length, s.open, { what: 't' }),
      cache.ensure(digest, data.length, s.open, { what: 't' }),
    ]);
    expect(a).toBe(b);
    expect(s.calls).toEqual([0]);
  });

  it('prunes what is neither kept nor pinned, with a dry run first', async () => {
    const cache = new BlobCache(dir);
    await cache.ensure(digest, data.length, source(data).open, { what: 't' });
    const release = cache.pin([digest]);
    expect((await cache.prune(new Set(), false)).blobs).toBe(0);
    release();
    expect((await cache.prune(new Set([digest]), false)).blobs).toBe(0);
    const dry = await cache.prune(new Set(), true);
    expect(dry).toMatchObject({ blobs: 1, dryRun: true });
    expect(dry.freedBytes).toBeGreaterThan(0);
    await fs.access(cache.blobPath(digest));
    expect((await cache.prune(new Set(), false)).blobs).toBe(1);
    await expect(fs.access(cache.blobPath(digest))).rejects.toThrow();
  });
});
