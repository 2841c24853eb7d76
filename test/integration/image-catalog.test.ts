/**
 * Catalog bundles through the real image store, served by a real HTTP server on loopback:
 * an exported image round-trips through a catalog (index fetched and validated, bundle
 * downloaded, sha256-checked, unpacked, verified against its manifest, guest programs
 * injected); hostile bundles (wrong sha256, an extra entry, a path escape, a symlink, a rootfs
 * that does not match its manifest) are refused and leave nothing behind; a registered image
 * is promoted.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError, run } from '../../src/base/index.js';
import {
  fetchCatalog,
  ImageStore,
  readFileFromExt4,
  requireEntry,
  statInExt4,
  type CatalogEntry,
} from '../../src/images/index.js';
import { tarOf, zstd, type LayerEntry } from '../support/oci-layout.js';

const TOOLS = ['zstd', 'mkfs.ext4', 'debugfs', 'cp'];
const missing: string[] = [];
for (const tool of TOOLS) {
  if (
    !(await run('which', [tool]).then(
      () => true,
      () => false,
    ))
  )
    missing.push(tool);
}
if (missing.length > 0 && process.env.CI === 'true') {
  throw new Error(`catalog tests need ${missing.join(', ')} (see install.sh)`);
}

let base = '';
let store: ImageStore;
let server: http.Server;
let origin = '';
const served = new Map<string, Buffer>();
const guest = { init: randomBytes(2000), agent: randomBytes(4000) };

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function caught(p: Promise<unknown>): Promise<BangerError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BangerError);
  return err as BangerError;
}

/** Serves `bytes` at /name and returns a catalog entry for it. */
function serve(name: string, bytes: Buffer, entry: Partial<CatalogEntry> = {}): CatalogEntry {
  served.set(`/${name}`, bytes);
  return {
    name,
    arch: 'amd64',
    url: `${origin}/${name}`,
    sha256: sha256(bytes),
    size: bytes.length,
    kernel: 'debian',
    ...entry,
  };
}

async function bundleOf(entries: LayerEntry[]): Promise<Buffer> {
  return zstd(tarOf(entries));
}

async function leftovers(): Promise<string[]> {
  const tmp = await fs.readdir(path.join(base, 'tmp')).catch(() => [] as string[]);
  return tmp.filter((n) => n.startsWith('image-'));
}

describe.skipIf(missing.length > 0)('catalog bundles from a local HTTP server', () => {
  let rootfs = '';
  let rootfsSha = '';

  beforeAll(async () => {
    base = await fs.mkdtemp(path.join(os.tmpdir(), 'banger-catalog-'));
    await fs.mkdir(path.join(base, 'guest'));
    await fs.writeFile(path.join(base, 'guest', 'banger-init'), guest.init, { mode: 0o755 });
    await fs.writeFile(path.join(base, 'guest', 'banger-agent'), guest.agent, { mode: 0o755 });
    store = new ImageStore({
      layout: {
        imagesDir: path.join(base, 'images'),
        tmpDir: path.join(base, 'tmp'),
        guestBinDir: path.join(base, 'guest'),
        ociCacheDir: path.join(base, 'cache', 'oci'),
        bundleCacheDir: path.join(base, 'cache', 'bundles'),
      },
    });
    const tree = path.join(base, 'tree');
    await fs.mkdir(path.join(tree, 'etc'), { recursive: true });
    await fs.mkdir(path.join(tree, 'usr', 'sbin'), { recursive: true });
    await fs.symlink('usr/sbin', path.join(tree, 'sbin'));
    await fs.writeFile(path.join(tree, 'etc', 'motd'), 'from a bundle\n');
    rootfs = path.join(base, 'small.ext4');
    await run('mkfs.ext4', ['-q', '-F', '-d', tree, rootfs, '16M']);
    rootfsSha = sha256(await fs.readFile(rootfs));
    server = http.createServer((req, res) => {
      const body = served.get(req.url ?? '');
      if (body === undefined) {
        res.writeHead(404).end();
        return;
      }
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (range) {
        const start = Number(range[1]);
        res.writeHead(206, {
          'content-range': `bytes ${String(start)}-${String(body.length - 1)}/${String(body.length)}`,
        });
        res.end(body.subarray(start));
        return;
      }
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${String((server.address() as { port: number }).port)}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (base !== '') await fs.rm(base, { recursive: true, force: true });
  });

  it('round-trips an exported image through a catalog index', async () => {
    await store.register('source-image', { rootfs, kernel: 'debian' });
    const out = path.join(base, 'exported.tar.zst');
    const exported = await store.export('source-image', { output: out });
    const bytes = await fs.readFile(out);
    expect(exported.sha256).toBe(sha256(bytes));
    expect(exported.entry).toMatchObject({
      name: 'source-image',
      arch: 'amd64',
      kernel: 'debian',
      size: bytes.length,
    });
    expect(exported.entry.url).toBe(`source-image-amd64-${exported.sha256.slice(0, 12)}.tar.zst`);
    served.set(`/bundles/${exported.entry.url}`, bytes);
    served.set(
      '/catalog.json',
      Buffer.from(
        JSON.stringify({
          schema: 1,
          images: [{ ...exported.entry, url: `bundles/${exported.entry.url}` }],
        }),
      ),
    );
    const catalog = await fetchCatalog(`${origin}/catalog.json`);
    const entry = requireEntry(catalog.images, 'source-image', catalog.url);
    expect(entry.url).toBe(`${origin}/bundles/${exported.entry.url}`);
    const progress: string[] = [];
    const { image } = await store.pullCatalog({
      entry,
      catalogUrl: catalog.url,
      name: 'from-catalog',
      onProgress: (e) => progress.push(e.step),
    });
    expect(image.manifest.source).toEqual({
      kind: 'catalog',
      catalog: `${origin}/catalog.json`,
      entry: 'source-image',
      bundleUrl: entry.url,
      bundleSha256: exported.sha256,
      bundleSize: bytes.length,
    });
    expect(progress).toEqual(expect.arrayContaining(['download', 'unpack', 'inject', 'checksum']));
    expect((await readFileFromExt4(image.rootfsPath, '/etc/motd')).toString()).toBe(
      'from a bundle\n',
    );
    expect(await readFileFromExt4(image.rootfsPath, '/usr/sbin/banger-init')).toEqual(guest.init);
    // Sparse on disk: the rootfs takes what its content needs, not its size.
    const st = await fs.stat(image.rootfsPath);
    expect(st.blocks * 512).toBeLessThan(st.size);
    expect(await leftovers()).toEqual([]);
  });

  it('refuses a bundle whose bytes do not match the catalog sha256', async () => {
    const good = await fs.readFile(path.join(base, 'exported.tar.zst'));
    const entry = serve('tampered', good, { sha256: sha256(Buffer.from('something else')) });
    const err = await caught(store.pullCatalog({ entry, catalogUrl: origin }));
    expect(err.code).toBe('operation_failed');
    expect(err.message).toMatch(/does not match its digest/);
    await expect(store.get('tampered')).rejects.toThrow(/not found/);
    expect(await fs.readdir(path.join(base, 'cache', 'bundles', 'partial'))).toEqual([]);
  });

  it('refuses bundles with an extra entry, a path escape, a symlink or a rootfs unlike its manifest', async () => {
    const rootfsBytes = await fs.readFile(rootfs);
    const manifest = (sha = rootfsSha): string =>
      JSON.stringify({
        schema: 1,
        kind: 'image',
        name: 'x',
        arch: 'amd64',
        files: [{ name: 'rootfs.ext4', size: rootfsBytes.length, sha256: sha }],
        createdAt: new Date().toISOString(),
      });
    const cases: [string, LayerEntry[], RegExp][] = [
      [
        'extra-entry',
        [
          { name: 'manifest.json', body: manifest() },
          { name: 'rootfs.ext4', body: rootfsBytes },
          { name: 'notes.txt', body: 'hi' },
        ],
        /unexpected entry "notes.txt"; a bundle holds exactly manifest.json and rootfs.ext4/,
      ],
      [
        'path-escape',
        [
          { name: 'manifest.json', body: manifest() },
          { name: '../../escaped.ext4', body: rootfsBytes },
        ],
        /entry "\.\.\/\.\.\/escaped.ext4" is a path, not a top-level file/,
      ],
      [
        'nested',
        [
          { name: 'manifest.json', body: manifest() },
          { name: 'dir/rootfs.ext4', body: rootfsBytes },
        ],
        /is a path, not a top-level file/,
      ],
      [
        'symlink',
        [
          { name: 'manifest.json', body: manifest() },
          { name: 'rootfs.ext4', type: 'symlink', linkname: '/etc/shadow' },
        ],
        /rootfs.ext4 is a symlink, not a regular file/,
      ],
      [
        'mismatch',
        [
          { name: 'manifest.json', body: manifest('0'.repeat(64)) },
          { name: 'rootfs.ext4', body: rootfsBytes },
        ],
        /rootfs.ext4 does not match the size and sha256 in its manifest.json/,
      ],
      ['no-rootfs', [{ name: 'manifest.json', body: manifest() }], /the bundle has no rootfs.ext4/],
    ];
    for (const [name, entries, message] of cases) {
      const entry = serve(`bad-${name}`, await bundleOf(entries));
      const err = await caught(store.pullCatalog({ entry, catalogUrl: origin }));
      expect(err.code, name).toBe('bad_request');
      expect(err.message, name).toMatch(message);
      await expect(store.get(`bad-${name}`)).rejects.toThrow(/not found/);
    }
    const notZstd = serve('bad-not-zstd', tarOf([{ name: 'manifest.json', body: manifest() }]));
    expect(
      (await caught(store.pullCatalog({ entry: notZstd, catalogUrl: origin }))).message,
    ).toMatch(/not a zstd-compressed bundle/);
    expect(await leftovers()).toEqual([]);
    const planted: string[] = [];
    for (const e of await fs.readdir(base, { withFileTypes: true, recursive: true })) {
      if (e.name === 'escaped.ext4') planted.push(path.join(e.parentPath, e.name));
    }
    expect(planted).toEqual([]);
  });

  it('refuses a catalog index that is not one, and a name it does not list', async () => {
    served.set('/broken.json', Buffer.from('{"schema": 1, "images": [{"name": "../x"}]}'));
    await expect(fetchCatalog(`${origin}/broken.json`)).rejects.toThrow(
      /images\[0\]\.name must match/,
    );
    served.set(
      '/ftp.json',
      Buffer.from(
        JSON.stringify({
          schema: 1,
          images: [{ name: 'a', arch: 'amd64', url: 'ftp://x/y', sha256: 'a'.repeat(64), size: 1 }],
        }),
      ),
    );
    await expect(fetchCatalog(`${origin}/ftp.json`)).rejects.toThrow(/url must be http\(s\)/);
    const catalog = await fetchCatalog(`${origin}/catalog.json`);
    expect(() => requireEntry(catalog.images, 'nope', catalog.url)).toThrow(
      /nope is not in the catalog/,
    );
  });

  it('promotes a registered image: host keys gone, userland recorded, source marked', async () => {
    const tree = path.join(base, 'keys-tree');
    await fs.mkdir(path.join(tree, 'etc', 'ssh'), { recursive: true });
    await fs.mkdir(path.join(tree, 'usr', 'bin'), { recursive: true });
    await fs.writeFile(path.join(tree, 'etc', 'ssh', 'ssh_host_ed25519_key'), 'secret');
    await fs.writeFile(path.join(tree, 'etc', 'ssh', 'ssh_host_ed25519_key.pub'), 'public');
    await fs.writeFile(path.join(tree, 'usr', 'bin', 'apt-get'), '#!/bin/sh\n', { mode: 0o755 });
    const file = path.join(base, 'keys.ext4');
    await run('mkfs.ext4', ['-q', '-F', '-d', tree, file, '16M']);
    const registered = await store.register('with-keys', { rootfs: file, kernel: 'debian' });
    expect(registered.image.manifest.sshHostKeys).toBe('present');
    const { image } = await store.promote('with-keys');
    expect(image.manifest.sshHostKeys).toBe('absent');
    expect(image.manifest.userland).toEqual({ init: false, sshd: false, packageManager: 'apt' });
    expect(image.manifest.source).toMatchObject({ kind: 'register', from: file });
    expect(
      image.manifest.source.kind === 'register' && image.manifest.source.promotedAt,
    ).toBeTruthy();
    expect(await statInExt4(image.rootfsPath, '/etc/ssh/ssh_host_ed25519_key')).toBeUndefined();
    expect(await statInExt4(image.rootfsPath, '/etc/ssh/ssh_host_ed25519_key.pub')).toBeUndefined();
    await expect(store.promote('with-keys')).rejects.toThrow(/was promoted already/);
    await expect(store.promote('from-catalog')).rejects.toThrow(/already managed/);
    expect(await leftovers()).toEqual([]);
  });
});
