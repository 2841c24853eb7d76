import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BangerError } from '../base/index.js';
import { ImageStore } from './image-store.js';
import type { ImageManifest } from './manifest.js';

const SHA = 'c'.repeat(64);

let base = '';
let store: ImageStore;

function manifest(name: string, sizeBytes: number): ImageManifest {
  return {
    schema: 1,
    name,
    format: 'raw',
    rootfs: 'rootfs.ext4',
    sizeBytes,
    sha256: SHA,
    kernel: 'debian',
    source: { kind: 'register', from: '/somewhere/x.ext4' },
    guestPrograms: { dir: '/usr/sbin', files: [{ name: 'banger-init', sha256: SHA }] },
    sshHostKeys: 'absent',
    createdAt: '2025-05-20T10:00:00.000Z',
  };
}

/** Lays out an image directory by hand, as the store would have published it. */
async function plant(
  name: string,
  edit: (m: Record<string, unknown>) => void = () => undefined,
): Promise<string> {
  const dir = path.join(store.imagesDir, name);
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'rootfs.ext4'), Buffer.alloc(4096));
  const m = manifest(name, 4096) as unknown as Record<string, unknown>;
  edit(m);
  await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(m));
  return dir;
}

async function caught(p: Promise<unknown>): Promise<BangerError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BangerError);
  return err as BangerError;
}

beforeEach(async () => {
  base = await fs.mkdtemp(path.join(os.tmpdir(), 'banger-images-'));
  store = new ImageStore({
    layout: {
      imagesDir: path.join(base, 'images'),
      tmpDir: path.join(base, 'tmp'),
      guestBinDir: path.join(base, 'no-guest-programs-here'),
    },
  });
});

afterEach(async () => {
  await fs.rm(base, { recursive: true, force: true });
});

describe('ImageStore.get', () => {
  it('returns a planted image with its validated manifest and rootfs path', async () => {
    const dir = await plant('alpha');
    const image = await store.get('alpha');
    expect(image.dir).toBe(dir);
    expect(image.rootfsPath).toBe(path.join(dir, 'rootfs.ext4'));
    expect(image.manifest.kernel).toBe('debian');
    expect(await store.rootfsPath('alpha')).toBe(image.rootfsPath);
  });

  it('says not_found with the build hint', async () => {
    const err = await caught(store.get('missing'));
    expect(err.code).toBe('not_found');
    expect(err.message).toBe('image missing not found');
    expect(err.hint).toBe('banger image build debian-bookworm');
  });

  it('refuses a bad name before touching the disk', async () => {
    expect((await caught(store.get('../etc'))).code).toBe('bad_request');
  });

  it('never follows a manifest rootfs outside the image directory', async () => {
    await plant('evil', (m) => (m.rootfs = '../../../etc/passwd'));
    const err = await caught(store.get('evil'));
    expect(err.code).toBe('precondition_failed');
    expect(err.message).toContain('rootfs');
  });

  it('refuses a rootfs that is a symlink', async () => {
    const dir = await plant('linked');
    await fs.rm(path.join(dir, 'rootfs.ext4'));
    await fs.symlink('/etc/passwd', path.join(dir, 'rootfs.ext4'));
    expect((await caught(store.get('linked'))).message).toContain('not a regular file');
  });

  it('refuses a manifest that is a symlink', async () => {
    const dir = await plant('mlink');
    const real = path.join(base, 'elsewhere.json');
    await fs.rename(path.join(dir, 'manifest.json'), real);
    await fs.symlink(real, path.join(dir, 'manifest.json'));
    expect((await caught(store.get('mlink'))).message).toContain('it is a symlink');
  });

  it('refuses an image directory that is a symlink', async () => {
    const dir = await plant('real');
    await fs.symlink(dir, path.join(store.imagesDir, 'alias'));
    expect((await caught(store.get('alias'))).message).toContain('is not a directory');
  });

  it('refuses a rootfs whose size differs from the manifest', async () => {
    const dir = await plant('short');
    await fs.truncate(path.join(dir, 'rootfs.ext4'), 100);
    expect((await caught(store.get('short'))).message).toContain(
      'has 100 bytes, its manifest says 4096',
    );
  });

  it('refuses a corrupted manifest clearly', async () => {
    const dir = await plant('corrupt');
    await fs.writeFile(path.join(dir, 'manifest.json'), '{"schema": 1, "na');
    const err = await caught(store.get('corrupt'));
    expect(err.code).toBe('precondition_failed');
    expect(err.message).toBe('image corrupt: manifest.json is not valid JSON');
  });
});

describe('ImageStore.list', () => {
  it('is empty when the store does not exist yet', async () => {
    expect(await store.list()).toEqual({ images: [], broken: [] });
  });

  it('lists valid images sorted and reports broken ones apart, ignoring stray names', async () => {
    await plant('zeta');
    await plant('alpha');
    await plant('bad', (m) => (m.sha256 = 'nope'));
    await fs.writeFile(path.join(store.imagesDir, 'README'), 'not an image');
    const listing = await store.list();
    expect(listing.images.map((i) => i.name)).toEqual(['alpha', 'zeta']);
    expect(listing.broken.map((b) => b.name)).toEqual(['bad']);
    expect(listing.broken[0]?.error.message).toContain('sha256');
  });
});

describe('ImageStore.remove', () => {
  it('removes the image directory and leaves nothing in tmp', async () => {
    await plant('gone');
    await store.remove('gone');
    expect((await caught(store.get('gone'))).code).toBe('not_found');
    expect(await fs.readdir(path.join(base, 'tmp'))).toEqual([]);
  });

  it('says not_found for a missing image', async () => {
    expect((await caught(store.remove('nope'))).code).toBe('not_found');
  });

  it('removes a planted symlink without touching its target', async () => {
    const target = await plant('target');
    await fs.symlink(target, path.join(store.imagesDir, 'alias'));
    await store.remove('alias');
    expect((await store.get('target')).name).toBe('target');
  });
});

describe('ImageStore refusals before any work', () => {
  it('build refuses an unknown recipe', async () => {
    const err = await caught(store.build('my-image'));
    expect(err.code).toBe('bad_request');
    expect(err.message).toContain('no build recipe named "my-image"');
  });

  it('build refuses a bad lock entry and a bad mirror', async () => {
    expect((await caught(store.build('debian-bookworm', { lock: ['git'] }))).message).toContain(
      'invalid lock entry',
    );
    expect(
      (await caught(store.build('debian-bookworm', { mirror: 'file:///x' }))).message,
    ).toContain('must be an http(s) URL');
  });

  it('build and register say how to build missing guest programs', async () => {
    for (const err of [
      await caught(store.build('debian-bookworm')),
      await caught(store.register('mine', { rootfs: '/nonexistent.ext4' })),
    ]) {
      expect(err.code).toBe('precondition_failed');
      expect(err.message).toContain("banger's guest programs are not built");
      expect(err.hint).toContain('npm run build:guest');
    }
  });

  it('build and register refuse an existing name', async () => {
    await plant('debian-bookworm');
    expect((await caught(store.build('debian-bookworm'))).code).toBe('already_exists');
    expect((await caught(store.register('debian-bookworm', { rootfs: '/x' }))).code).toBe(
      'already_exists',
    );
  });

  it('register refuses a bad kernel name', async () => {
    expect(
      (await caught(store.register('mine', { rootfs: '/x', kernel: '../k' }))).message,
    ).toContain('invalid kernel name');
  });
});

describe('ImageStore.sweepScratch', () => {
  it("removes only the store's own leftovers from the tmp dir", async () => {
    const tmp = path.join(base, 'tmp');
    for (const d of [
      'image-build-x-abc123/root/etc',
      'image-register-y-def456',
      'removed-image-z-1',
      'kernel-build-q',
    ]) {
      await fs.mkdir(path.join(tmp, d), { recursive: true });
    }
    const swept = await store.sweepScratch();
    expect(swept.sort()).toEqual([
      'image-build-x-abc123',
      'image-register-y-def456',
      'removed-image-z-1',
    ]);
    expect(await fs.readdir(tmp)).toEqual(['kernel-build-q']);
  });

  it('does nothing when the tmp dir does not exist', async () => {
    expect(await store.sweepScratch()).toEqual([]);
  });
});
