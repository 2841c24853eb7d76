import { mkdtempSync, promises as fs, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bangerVersion } from '../config/index.js';
import type { SavedManifest } from './saved-manifest.js';
import {
  externalFile,
  freezeFile,
  readManifest,
  SavedStates,
  type CurrentArtifacts,
} from './saved-states.js';

describe('SavedStates', () => {
  let root: string;
  let store: SavedStates;
  let now: CurrentArtifacts;

  beforeEach(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'bss-'));
    store = new SavedStates({
      warmDir: path.join(root, 'warm'),
      snapshotsDir: path.join(root, 'snapshots'),
    });
    await fs.mkdir(path.join(root, 'img'));
    await fs.writeFile(path.join(root, 'img', 'rootfs.ext4'), 'rootfs');
    await fs.writeFile(path.join(root, 'img', 'vmlinux'), 'kernel');
    now = {
      image: { name: 'img', sha256: 'a'.repeat(64), rootfs: path.join(root, 'img', 'rootfs.ext4') },
      kernel: { name: 'k', files: [path.join(root, 'img', 'vmlinux')], sha256: 'd'.repeat(64) },
      backend: 'qemu',
      vmmVersion: '7.2.22',
      accel: 'tcg',
      bangerVersion: bangerVersion(),
    };
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  async function saveOne(kind: 'template' | 'snapshot', name?: string) {
    const staged = await store.stage(kind);
    await fs.writeFile(path.join(staged, 'qemu-state'), 'state');
    await fs.writeFile(path.join(staged, 'memory'), 'memory');
    await fs.writeFile(path.join(staged, 'root.qcow2'), 'root');
    const manifest: SavedManifest = {
      schema: 1,
      kind,
      id: '0123456789ab',
      ...(name ? { name } : {}),
      createdAt: new Date().toISOString(),
      bangerVersion: now.bangerVersion,
      backend: 'qemu',
      vmmVersion: '7.2.22',
      accel: 'tcg',
      image: {
        name: 'img',
        sha256: now.image.sha256,
        rootfs: await externalFile(now.image.rootfs),
      },
      kernel: {
        name: 'k',
        sha256: now.kernel.sha256,
        files: [await externalFile(now.kernel.files[0] ?? '')],
      },
      shape: { vcpus: 1, memoryMib: 512, workDiskBytes: 0 },
      launch: '{}',
      state: {
        file: await freezeFile(staged, 'qemu-state', { hash: true }),
        compression: 'none',
        memory: await freezeFile(staged, 'memory', { mode: 0o600 }),
      },
      disks: { root: { ...(await freezeFile(staged, 'root.qcow2')), format: 'qcow2' } },
      guest: { agentVersion: '0.1.0', bootId: 'b' },
    };
    return store.commit(staged, manifest);
  }

  it('commits a staged directory under its id, read-only, and reads it back', async () => {
    const entry = await saveOne('template');
    expect(entry.dir).toBe(path.join(root, 'warm', '0123456789ab'));
    expect((await fs.stat(path.join(entry.dir, 'qemu-state'))).mode & 0o777).toBe(0o400);
    expect((await fs.stat(path.join(entry.dir, 'memory'))).mode & 0o777).toBe(0o600);
    expect(entry.manifest.state.file.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await store.templates()).toEqual([entry]);
    expect(await store.snapshots()).toEqual([]);
    expect(store.savedState(entry)).toEqual({
      backend: 'qemu',
      stateFile: path.join(entry.dir, 'qemu-state'),
      memoryFile: path.join(entry.dir, 'memory'),
      compression: 'none',
    });
    expect(await store.staleReason(entry, now)).toBeUndefined();
  });

  it('finds it stale when one of its files, the image or the kernel changed', async () => {
    const entry = await saveOne('template');
    // The bytes change: so do mtime and ctime, whatever the size.
    await fs.chmod(path.join(entry.dir, 'root.qcow2'), 0o600);
    await fs.writeFile(path.join(entry.dir, 'root.qcow2'), 'ROOT');
    expect(await store.staleReason(entry, now)).toMatch(
      /its root disk .* changed since it was saved/,
    );

    const other = await saveOne('snapshot', 'snap');
    expect(
      await store.staleReason(other, { ...now, image: { ...now.image, sha256: 'c'.repeat(64) } }),
    ).toMatch(/image img changed/);
    expect(await store.staleReason(other, { ...now, bangerVersion: '9.9.9' })).toMatch(
      /saved by banger .*, this is 9.9.9/,
    );
    expect(await store.staleReason(other, { ...now, vmmVersion: '8.0.0' })).toMatch(/7.2.22/);
    expect(await store.staleReason(other, { ...now, accel: 'kvm' })).toMatch(/under tcg/);
    expect(
      await store.staleReason(other, { ...now, kernel: { ...now.kernel, sha256: 'e'.repeat(64) } }),
    ).toMatch(/kernel k changed/);
    await fs.writeFile(now.kernel.files[0] ?? '', 'new kernel');
    expect(await store.staleReason(other, now)).toMatch(/kernel file .* changed/);
    await fs.rm(now.image.rootfs);
    expect(await store.staleReason(other, now)).toMatch(/rootfs of image img .* is missing/);
  });

  it('names snapshots by name and refuses a second one of that name', async () => {
    const entry = await saveOne('snapshot', 'snap');
    expect(entry.dir).toBe(path.join(root, 'snapshots', 'snap'));
    expect((await store.snapshot('snap'))?.manifest.name).toBe('snap');
    await expect(saveOne('snapshot', 'snap')).rejects.toMatchObject({ code: 'already_exists' });
    // The refused staging directory is left for the caller (it removes it); sweep takes it too.
    await store.sweep();
    expect((await fs.readdir(path.join(root, 'snapshots'))).sort()).toEqual(['snap']);
    await store.remove(entry);
    expect(await store.snapshot('snap')).toBeUndefined();
    expect(await fs.readdir(path.join(root, 'snapshots'))).toEqual([]);
  });

  it('ignores a directory whose manifest is missing, damaged or lies about its files', async () => {
    const entry = await saveOne('template');
    await fs.mkdir(path.join(root, 'warm', 'junk'));
    expect(await store.templates()).toHaveLength(1);
    const text = await fs.readFile(path.join(entry.dir, 'manifest.json'), 'utf8');
    await fs.chmod(path.join(entry.dir, 'manifest.json'), 0o600);
    await fs.writeFile(
      path.join(entry.dir, 'manifest.json'),
      text.replace('"qemu-state"', '"../../../etc/passwd"'),
    );
    expect(await readManifest(entry.dir)).toBeUndefined();
    expect(await store.templates()).toEqual([]);
  });
});
