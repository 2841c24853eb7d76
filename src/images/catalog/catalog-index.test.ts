import { describe, expect, it } from 'vitest';
import { findEntry, parseCatalog, requireEntry } from './catalog-index.js';

const sha = 'a'.repeat(64);
const entry = (over: Record<string, unknown> = {}) => ({
  name: 'img',
  arch: 'amd64',
  url: 'b/img.tar.zst',
  sha256: sha,
  size: 10,
  ...over,
});

describe('parseCatalog', () => {
  it('resolves bundle URLs against the index URL', () => {
    const c = parseCatalog(
      JSON.stringify({
        schema: 1,
        images: [entry({ kernel: 'k' })],
        kernels: [entry({ name: 'k' })],
      }),
      'http://h/cat/index.json',
    );
    expect(c.images[0]).toMatchObject({ url: 'http://h/cat/b/img.tar.zst', kernel: 'k' });
    expect(c.kernels[0]?.name).toBe('k');
  });

  it.each([
    ['[]', /must be a JSON object/],
    ['{"schema":2}', /schema must be 1/],
    [JSON.stringify({ schema: 1, images: [entry({ sha256: 'x' })] }), /sha256/],
    [JSON.stringify({ schema: 1, images: [entry({ size: -1 })] }), /size/],
    [JSON.stringify({ schema: 1, images: [entry({ url: 'file:///etc/passwd' })] }), /http\(s\)/],
    [JSON.stringify({ schema: 1, images: [entry(), entry()] }), /lists img\/amd64 twice/],
    [JSON.stringify({ schema: 1, images: [entry({ kernel: '../k' })] }), /kernel/],
  ])('refuses %s', (text, message) => {
    expect(() => parseCatalog(text, 'http://h/i.json')).toThrow(message);
  });
});

describe('findEntry', () => {
  it('finds the amd64 entry and refuses other architectures by name', () => {
    const c = parseCatalog(
      JSON.stringify({ schema: 1, images: [entry(), entry({ name: 'arm', arch: 'arm64' })] }),
      'http://h/i.json',
    );
    expect(findEntry(c.images, 'img', c.url)?.name).toBe('img');
    expect(findEntry(c.images, 'none', c.url)).toBeUndefined();
    expect(() => findEntry(c.images, 'arm', c.url)).toThrow(/is for arm64; banger runs amd64 only/);
    expect(() => requireEntry(c.images, 'none', c.url)).toThrow(/none is not in the catalog/);
  });
});
