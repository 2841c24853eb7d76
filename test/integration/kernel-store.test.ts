/**
 * The kernel store against the real Debian archive: pull the cloud kernel into a temp store,
 * check the manifest against the files, import it back from a directory, remove it.
 * Needs apt-get, apt-cache, dpkg-deb, depmod and lz4; under CI=true their absence fails.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError, run, type ProgressEvent } from '../../src/base/index.js';
import { KernelStore, writeCpio, type KernelManifest } from '../../src/kernels/index.js';

const TOOLS = ['apt-get', 'apt-cache', 'dpkg-deb', 'depmod', 'lz4', 'cpio'];

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
  throw new Error(
    `kernel store integration test needs ${missing.join(', ')} (CI=true: not skipping)`,
  );
}

describe.skipIf(missing.length > 0)('KernelStore with the real Debian archive', () => {
  let root: string;
  let store: KernelStore;
  let manifest: KernelManifest;
  const events: ProgressEvent[] = [];
  let firstPullMs = 0;

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'banger-kstore-'));
    store = new KernelStore({
      kernelsDir: path.join(root, 'state', 'kernels'),
      tmpDir: path.join(root, 'state', 'tmp'),
      cacheDir: path.join(root, 'cache'),
    });
    const t0 = Date.now();
    manifest = await store.pullDebian('debian', { progress: (e) => events.push(e) });
    firstPullMs = Date.now() - t0;
  });

  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('pulls the cloud kernel with a manifest whose sizes and sha256s match the files', async () => {
    expect(manifest.name).toBe('debian');
    expect(manifest.kernelVersion).toMatch(/^\d+\.\d+\.\d+-\d+-cloud-amd64$/);
    expect(manifest.source).toMatchObject({
      kind: 'debian',
      package: `linux-image-${manifest.kernelVersion}`,
    });
    expect(manifest.backends).toEqual(['qemu']);
    expect(manifest.vmlinux).toBe('vmlinux');
    expect(manifest.initramfs).toBe('initramfs.cpio');
    const dir = path.join(root, 'state', 'kernels', 'debian');
    for (const f of manifest.files) {
      const bytes = await fs.readFile(path.join(dir, f.name));
      expect(bytes.length).toBe(f.size);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.sha256);
    }
    const onDisk = JSON.parse(
      await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'),
    ) as unknown;
    expect(onDisk).toEqual(manifest);
    await store.verify('debian');
    expect(events.map((e) => e.step)).toEqual(
      expect.arrayContaining([
        'resolve',
        'download',
        'unpack',
        'modules',
        'extract',
        'initramfs',
        'install',
      ]),
    );
    console.log(`first pull: ${String(firstPullMs)} ms`);
  });

  it('extracts an ELF vmlinux and builds a small initramfs holding busybox, the modules and /init', async () => {
    const paths = await store.paths('debian');
    const head = await fs.readFile(paths.vmlinux);
    expect(head.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(paths.initrd).toBeDefined();
    const listing = (
      await run('cpio', ['-t', '--quiet'], { input: await fs.readFile(paths.initrd!) })
    ).stdout
      .toString('utf8')
      .trim()
      .split('\n');
    expect(listing).toEqual(
      expect.arrayContaining([
        'init',
        'bin/busybox',
        'bin/sh',
        'dev/console',
        'lib/modules/virtio_ring.ko',
        'lib/modules/virtio.ko',
        'lib/modules/virtio_mmio.ko',
        'lib/modules/virtio_blk.ko',
        'lib/modules/failover.ko',
        'lib/modules/net_failover.ko',
        'lib/modules/virtio_net.ko',
        'lib/modules/virtio_console.ko',
        'lib/modules/virtio_rng.ko',
      ]),
    );
    const initrdSize = (await fs.stat(paths.initrd!)).size;
    expect(initrdSize).toBeLessThan(4 * 1024 * 1024);
    console.log(`initramfs: ${String(initrdSize)} bytes, ${String(listing.length)} entries`);
  });

  it('refuses to pull over an existing kernel, and pulls again fast from the .deb cache', async () => {
    await expect(store.pullDebian('debian')).rejects.toMatchObject({ code: 'already_exists' });
    const t0 = Date.now();
    const again = await store.pullDebian('debian-again');
    const ms = Date.now() - t0;
    console.log(`second pull (cached .debs): ${String(ms)} ms`);
    const a = manifest.files.find((f) => f.name === 'initramfs.cpio');
    const b = again.files.find((f) => f.name === 'initramfs.cpio');
    // Deterministic initramfs: the same packages give the same bytes.
    expect(b?.sha256).toBe(a?.sha256);
    expect((await store.list()).map((k) => k.name)).toEqual(['debian', 'debian-again']);
    await store.remove('debian-again');
    expect((await store.list()).map((k) => k.name)).toEqual(['debian']);
    await expect(store.get('debian-again')).rejects.toMatchObject({
      code: 'not_found',
      hint: 'banger kernel pull debian',
    });
  });

  it('imports a bzImage + initrd + config directory and extracts the same vmlinux', async () => {
    const src = path.join(root, 'import-src');
    await fs.mkdir(src);
    const unpack = path.join(root, 'unpack');
    const debs = path.join(root, 'cache', 'debs');
    const deb = (await fs.readdir(debs)).find((f) => f.startsWith('linux-image-'))!;
    await run('dpkg-deb', ['-x', path.join(debs, deb), unpack]);
    const v = manifest.kernelVersion;
    await fs.copyFile(path.join(unpack, 'boot', `vmlinuz-${v}`), path.join(src, 'vmlinuz'));
    await fs.copyFile(path.join(unpack, 'boot', `config-${v}`), path.join(src, 'config'));
    const kernelPaths = await store.paths('debian');
    await fs.copyFile(kernelPaths.initrd!, path.join(src, 'initrd.img'));

    const imported = await store.import('mine', { from: src });
    expect(imported.source).toEqual({ kind: 'import', from: src });
    expect(imported.kernelVersion).toBe(v);
    expect(imported.backends).toEqual(['qemu']);
    expect(imported.initramfs).toBe('initrd');
    expect(imported.config).toBe('config');
    const sha = (m: KernelManifest): string | undefined =>
      m.files.find((f) => f.name === 'vmlinux')?.sha256;
    expect(sha(imported)).toBe(sha(manifest));
    await store.remove('mine');
  });

  it('refuses bad imports with errors naming the path and the rule', async () => {
    const empty = path.join(root, 'empty');
    await fs.mkdir(empty);
    const cases: [string, { from: string }, string, RegExp][] = [
      ['ok', { from: path.join(root, 'nope') }, 'not_found', /nope does not exist/],
      ['ok', { from: 'relative/dir' }, 'bad_request', /must be an absolute path/],
      [
        'ok',
        { from: empty },
        'bad_request',
        /holds no kernel: expected one of vmlinux, vmlinuz, bzImage/,
      ],
      ['Bad/Name', { from: empty }, 'bad_request', /kernel name "Bad\/Name" must match/],
      ['debian', { from: empty }, 'already_exists', /kernel debian already exists/],
    ];
    for (const [name, opts, code, message] of cases) {
      const err = await store.import(name, opts).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BangerError);
      expect(err).toMatchObject({ code });
      expect((err as Error).message).toMatch(message);
    }
    const notKernel = path.join(root, 'not-kernel');
    await fs.mkdir(notKernel);
    await fs.writeFile(path.join(notKernel, 'vmlinux'), 'hello');
    await expect(store.import('x', { from: notKernel })).rejects.toThrow(
      /neither an ELF vmlinux nor an x86 bzImage/,
    );
    const badInitrd = path.join(root, 'bad-initrd');
    await fs.mkdir(badInitrd);
    await fs.copyFile((await store.paths('debian')).vmlinux, path.join(badInitrd, 'vmlinux'));
    await fs.writeFile(path.join(badInitrd, 'initrd'), 'not an archive');
    await expect(store.import('y', { from: badInitrd })).rejects.toThrow(
      /initrd is not an initramfs/,
    );
    await fs.writeFile(path.join(badInitrd, 'initrd'), writeCpio([{ kind: 'dir', path: 'x' }]));
    const ok = await store.import('y', { from: badInitrd });
    expect(ok.kernelVersion).toBe(manifest.kernelVersion);
    // Nothing half-made is left in the store's scratch space.
    expect(
      (await fs.readdir(path.join(root, 'state', 'tmp'))).filter((f) => !f.startsWith('.')),
    ).toEqual([]);
    expect((await store.list()).map((k) => k.name)).toEqual(['debian', 'y']);
  });

  it('refuses a kernel whose manifest was tampered with, hides it from list(), and still removes it', async () => {
    const manifestPath = path.join(root, 'state', 'kernels', 'y', 'manifest.json');
    const m = JSON.parse(await fs.readFile(manifestPath, 'utf8')) as Record<string, unknown>;
    await fs.writeFile(manifestPath, JSON.stringify({ ...m, vmlinux: '../debian/vmlinux' }));
    await expect(store.get('y')).rejects.toMatchObject({
      code: 'operation_failed',
      hint: expect.stringMatching(/banger kernel rm y/) as unknown,
    });
    await expect(store.paths('y')).rejects.toThrow(/field vmlinux must match/);
    expect((await store.list()).map((k) => k.name)).toEqual(['debian']);
    await fs.writeFile(manifestPath, JSON.stringify(m));
    await fs.appendFile(path.join(root, 'state', 'kernels', 'y', 'vmlinux'), 'x');
    await expect(store.paths('y')).rejects.toThrow(/not the size its manifest states/);
    await store.remove('y');
    await expect(store.remove('y')).rejects.toMatchObject({ code: 'not_found' });
  });
});
