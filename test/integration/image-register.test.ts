/**
 * Registering a user's ext4 file: real mkfs.ext4, cp and debugfs, no mounts. Guest programs are
 * stand-in files: what is checked is that exactly these bytes land in the image.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError, run, sha256File, sha256Hex } from '../../src/base/index.js';
import { ImageStore, listDirInExt4, readFileFromExt4, statInExt4 } from '../../src/images/index.js';

const TOOLS = ['mkfs.ext4', 'debugfs', 'cp'];

async function missingTools(): Promise<string[]> {
  const missing: string[] = [];
  for (const tool of TOOLS) {
    const found = await run('which', [tool]).then(
      () => true,
      () => false,
    );
    if (!found) missing.push(tool);
  }
  return missing;
}

const missing = await missingTools();
if (missing.length > 0 && process.env.CI === 'true') {
  throw new Error(`image register tests need ${missing.join(', ')} (e2fsprogs, coreutils)`);
}

let base = '';
let store: ImageStore;
const guest = { init: randomBytes(3000), agent: randomBytes(5000) };

/** Makes an ext4 file from a tree described as path -> content (string) or symlink target ({ symlink }). */
async function makeExt4(
  name: string,
  tree: Record<string, string | { symlink: string }>,
): Promise<string> {
  const root = path.join(base, `${name}-tree`);
  await fs.mkdir(root, { recursive: true });
  for (const [rel, content] of Object.entries(tree)) {
    const p = path.join(root, rel);
    await fs.mkdir(path.dirname(p), { recursive: true });
    if (typeof content === 'string') {
      if (rel.endsWith('/')) await fs.mkdir(p, { recursive: true });
      else await fs.writeFile(p, content);
    } else {
      await fs.symlink(content.symlink, p);
    }
  }
  const file = path.join(base, `${name}.ext4`);
  await run('mkfs.ext4', ['-q', '-F', '-d', root, file, '32M']);
  return file;
}

async function leftovers(): Promise<{ images: string[]; tmp: string[] }> {
  const list = async (dir: string): Promise<string[]> => fs.readdir(dir).catch(() => []);
  return { images: await list(path.join(base, 'images')), tmp: await list(path.join(base, 'tmp')) };
}

async function caught(p: Promise<unknown>): Promise<BangerError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BangerError);
  return err as BangerError;
}

describe.skipIf(missing.length > 0)('image register (real e2fsprogs)', () => {
  beforeAll(async () => {
    base = await fs.mkdtemp(path.join(os.tmpdir(), 'banger-register-'));
    const guestDir = path.join(base, 'guest');
    await fs.mkdir(guestDir);
    await fs.writeFile(path.join(guestDir, 'banger-init'), guest.init, { mode: 0o755 });
    await fs.writeFile(path.join(guestDir, 'banger-agent'), guest.agent, { mode: 0o755 });
    store = new ImageStore({
      layout: {
        imagesDir: path.join(base, 'images'),
        tmpDir: path.join(base, 'tmp'),
        guestBinDir: guestDir,
      },
    });
  });

  afterAll(async () => {
    await fs.rm(base, { recursive: true, force: true });
  });

  it('copies a merged-/usr image, injects the programs 0755 root-owned, and leaves the user file alone', async () => {
    const file = await makeExt4('merged', {
      'usr/sbin/': '',
      sbin: { symlink: 'usr/sbin' },
      'etc/hostname': 'mine\n',
      'etc/ssh/ssh_host_ed25519_key': 'SECRET',
    });
    const before = await sha256File(file);
    const steps: string[] = [];
    const { image, timings } = await store.register('merged', {
      rootfs: file,
      kernel: 'custom-6.1',
      onProgress: (e) => steps.push(e.step),
    });

    expect(await sha256File(file)).toBe(before);
    expect(image.manifest.source).toEqual({ kind: 'register', from: file });
    expect(image.manifest.kernel).toBe('custom-6.1');
    expect(image.manifest.sha256).toBe(await sha256File(image.rootfsPath));
    expect(image.manifest.sshHostKeys).toBe('present');
    expect(image.manifest.guestPrograms).toEqual({
      dir: '/usr/sbin',
      files: [
        { name: 'banger-init', sha256: sha256Hex(guest.init) },
        { name: 'banger-agent', sha256: sha256Hex(guest.agent) },
      ],
    });
    for (const [name, bytes] of [
      ['banger-init', guest.init],
      ['banger-agent', guest.agent],
    ] as const) {
      expect(await statInExt4(image.rootfsPath, `/usr/sbin/${name}`)).toMatchObject({
        type: 'regular',
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: bytes.length,
      });
      // Through the merged-/usr symlink, as the kernel's init= will find it.
      expect(sha256Hex(await readFileFromExt4(image.rootfsPath, `/sbin/${name}`))).toBe(
        sha256Hex(bytes),
      );
    }
    expect((await readFileFromExt4(image.rootfsPath, '/etc/hostname')).toString()).toBe('mine\n');
    expect(steps).toEqual(['copy', 'inject', 'checksum', 'done']);
    expect(timings.steps.map((s) => s.step)).toEqual(['copy', 'inject', 'checksum']);
    expect((await fs.stat(image.rootfsPath)).mode & 0o777).toBe(0o600);
    expect(await leftovers()).toEqual({ images: ['merged'], tmp: [] });
  });

  it('creates /usr/sbin when the image has no /usr at all', async () => {
    const file = await makeExt4('bare', { 'etc/motd': 'hi\n' });
    const { image } = await store.register('bare', { rootfs: file });
    expect(await statInExt4(image.rootfsPath, '/usr')).toMatchObject({
      type: 'directory',
      mode: 0o755,
      uid: 0,
    });
    expect(await statInExt4(image.rootfsPath, '/usr/sbin/banger-init')).toMatchObject({
      mode: 0o755,
    });
    expect(image.manifest.sshHostKeys).toBe('absent');
    await store.remove('bare');
  });

  it('follows /usr/sbin when it is a symlink (sbin merged into bin) and records where the programs went', async () => {
    const file = await makeExt4('usrmerge', { 'usr/bin/': '', 'usr/sbin': { symlink: 'bin' } });
    const { image } = await store.register('usrmerge', { rootfs: file });
    expect(image.manifest.guestPrograms.dir).toBe('/usr/bin');
    const names = (await listDirInExt4(image.rootfsPath, '/usr/bin')).map((e) => e.name).sort();
    expect(names).toEqual(['banger-agent', 'banger-init']);
    expect(sha256Hex(await readFileFromExt4(image.rootfsPath, '/usr/sbin/banger-agent'))).toBe(
      sha256Hex(guest.agent),
    );
    await store.remove('usrmerge');
  });

  it('replaces guest programs an image already carries (re-registering a banger image)', async () => {
    const file = await makeExt4('again', {
      'usr/sbin/banger-init': 'old init',
      'usr/sbin/banger-agent': 'old agent',
    });
    const { image } = await store.register('again', { rootfs: file });
    expect(sha256Hex(await readFileFromExt4(image.rootfsPath, '/usr/sbin/banger-init'))).toBe(
      sha256Hex(guest.init),
    );
    await store.remove('again');
  });

  it('refuses an image whose /usr/sbin is a file, leaving nothing behind', async () => {
    const file = await makeExt4('odd', { 'usr/sbin': 'not a directory' });
    const err = await caught(store.register('odd', { rootfs: file }));
    expect(err.code).toBe('bad_request');
    expect(err.message).toContain('/usr/sbin is a regular file, expected a directory');
    expect(await leftovers()).toEqual({ images: ['merged'], tmp: [] });
  });

  it('refuses a missing file, a directory, a non-ext4 file, a duplicate and a bad name, leaving nothing behind', async () => {
    const notExt4 = path.join(base, 'random.img');
    await fs.writeFile(notExt4, randomBytes(64 * 1024));
    const ext4 = await makeExt4('dup', { 'etc/x': 'x' });

    const missingFile = await caught(
      store.register('m1', { rootfs: path.join(base, 'nope.ext4') }),
    );
    expect(missingFile.code).toBe('not_found');
    expect(missingFile.message).toContain('nope.ext4 does not exist');

    const dir = await caught(store.register('m2', { rootfs: base }));
    expect(dir.code).toBe('bad_request');
    expect(dir.message).toContain('is not a regular file');

    const random = await caught(store.register('m3', { rootfs: notExt4 }));
    expect(random.code).toBe('bad_request');
    expect(random.message).toContain('no superblock magic 0xEF53 at byte 1080');

    const dup = await caught(store.register('merged', { rootfs: ext4 }));
    expect(dup.code).toBe('already_exists');

    const badName = await caught(store.register('Bad/Name', { rootfs: ext4 }));
    expect(badName.code).toBe('bad_request');

    expect(await leftovers()).toEqual({ images: ['merged'], tmp: [] });
  });

  it('readFileFromExt4 says not_found for a missing path and refuses a directory', async () => {
    const image = await store.get('merged');
    expect((await caught(readFileFromExt4(image.rootfsPath, '/etc/nope'))).code).toBe('not_found');
    expect((await caught(readFileFromExt4(image.rootfsPath, '/etc'))).message).toContain(
      'is a directory',
    );
    expect(await statInExt4(image.rootfsPath, '/etc/nope')).toBeUndefined();
  });
});
