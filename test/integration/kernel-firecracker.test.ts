/**
 * Firecracker-capable kernels in the kernel store: an imported Firecracker-style vmlinux gets
 * `firecracker` in its manifest's backends only with a config that proves it can boot there,
 * and `kernel build` refuses early (before downloading or compiling) when its build tools or
 * its config are wrong. The ten-minute build itself runs in the e2e suite.
 */
import { promises as fs, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelStore, missingBuildDependencies } from '../../src/kernels/index.js';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const FC_CONFIG = path.join(REPO, 'vendor', 'firecracker', 'microvm-kernel-x86_64-6.1.config');

/** The smallest ELF the store accepts as a vmlinux: x86-64 executable, one PT_LOAD in the file. */
function tinyVmlinux(): Buffer {
  const buf = Buffer.alloc(4096);
  buf.write('\x7fELF', 0, 'latin1');
  buf[4] = 2; // 64-bit
  buf[5] = 1; // little endian
  buf[6] = 1;
  buf.writeUInt16LE(2, 0x10); // ET_EXEC
  buf.writeUInt16LE(62, 0x12); // EM_X86_64
  buf.writeUInt32LE(1, 0x14);
  buf.writeBigUInt64LE(0x1000000n, 0x18); // entry
  buf.writeBigUInt64LE(64n, 0x20); // phoff
  buf.writeUInt16LE(64, 0x34);
  buf.writeUInt16LE(56, 0x36); // phentsize
  buf.writeUInt16LE(1, 0x38); // phnum
  buf.writeUInt32LE(1, 64); // PT_LOAD
  buf.writeBigUInt64LE(0n, 64 + 8); // offset
  buf.writeBigUInt64LE(4096n, 64 + 32); // filesz
  buf.write('Linux version 6.1.192 (banger@banger) #1 SMP', 512, 'latin1');
  return buf;
}

let root: string;
let store: KernelStore;

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'bgk-'));
  store = new KernelStore({
    kernelsDir: path.join(root, 'kernels'),
    tmpDir: path.join(root, 'tmp'),
    cacheDir: path.join(root, 'cache'),
  });
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function importDir(name: string, files: Record<string, Buffer | string>) {
  const dir = path.join(root, `src-${name}`);
  await fs.mkdir(dir);
  for (const [file, data] of Object.entries(files)) await fs.writeFile(path.join(dir, file), data);
  return store.import(name, { from: dir });
}

describe('importing a Firecracker-style vmlinux', () => {
  it('with the Firecracker guest config: both backends, no initramfs', async () => {
    const m = await importDir('fc', {
      vmlinux: tinyVmlinux(),
      config: await fs.readFile(FC_CONFIG),
    });
    expect(m.backends).toEqual(['qemu', 'firecracker']);
    expect(m.initramfs).toBeUndefined();
    expect(m.kernelVersion).toBe('6.1.192');
  });

  it('without a config: QEMU only (nothing proves what is built in)', async () => {
    const m = await importDir('bare', { vmlinux: tinyVmlinux() });
    expect(m.backends).toEqual(['qemu']);
  });

  it('with a config that has virtio as modules: QEMU only', async () => {
    const config = (await fs.readFile(FC_CONFIG, 'utf8')).replace(
      'CONFIG_VIRTIO_BLK=y',
      'CONFIG_VIRTIO_BLK=m',
    );
    const m = await importDir('modular', { vmlinux: tinyVmlinux(), config });
    expect(m.backends).toEqual(['qemu']);
  });
});

describe('kernel build refuses early', () => {
  it('names the Debian packages whose tools are missing', async () => {
    const missing = await missingBuildDependencies('/nonexistent-bin');
    expect(missing).toEqual(
      expect.arrayContaining(['build-essential', 'bison', 'flex', 'bc', 'dwarves', 'binutils']),
    );
  });

  it('a config that could not boot under Firecracker, before downloading anything', async () => {
    const bad = path.join(root, 'bad.config');
    await fs.writeFile(
      bad,
      (await fs.readFile(FC_CONFIG, 'utf8')).replace('CONFIG_VIRTIO_VSOCKETS=y', ''),
    );
    const badStore = new KernelStore({
      kernelsDir: path.join(root, 'k2'),
      tmpDir: path.join(root, 't2'),
      cacheDir: path.join(root, 'c2'),
      firecrackerConfig: bad,
    });
    await expect(badStore.build('bad')).rejects.toThrow(
      /cannot boot under firecracker: CONFIG_VIRTIO_VSOCKETS is not set/,
    );
    await expect(fs.readdir(path.join(root, 'c2'))).rejects.toThrow();
  });
});
