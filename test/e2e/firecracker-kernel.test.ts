/**
 * The Firecracker-compatible kernel (`banger kernel build`: Debian's linux-source-6.1 with
 * Firecracker's guest config) boots under the QEMU backend with no initramfs: the same vmlinux
 * Firecracker would get. Building it takes about 10 minutes on 2 cores, so the test reuses a
 * build this machine already has, in this order:
 *   1. a built kernel in the machine's own banger store (install.sh makes one when asked:
 *      BANGER_FIRECRACKER_KERNEL=1, which CI sets),
 *   2. the machine's kernel build cache (~/.cache/banger/kernel-builds),
 *   3. otherwise it builds it here, and leaves the result in the machine's build cache so the
 *      next run on this machine takes seconds.
 */
import { existsSync, promises as fs, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { resolveLayout } from '../../src/config/index.js';
import { BangerHome } from '../support/banger-home.js';

const home = BangerHome.open(inject('e2eHome'));
const KERNEL = 'e2e-firecracker';
const IMAGE = 'e2e-fc-bookworm';

interface KernelView {
  name: string;
  kernelVersion: string;
  backends: string[];
  source: { kind: string };
  files: { name: string }[];
}

/** A directory holding a vmlinux and its config that `kernel import` takes, if the machine has one. */
async function reusableBuild(): Promise<string | undefined> {
  const machine = resolveLayout({ env: process.env });
  if (existsSync(machine.kernelsDir)) {
    for (const name of readdirSync(machine.kernelsDir)) {
      const manifest = path.join(machine.kernelsDir, name, 'manifest.json');
      if (!existsSync(manifest)) continue;
      const m = JSON.parse(await fs.readFile(manifest, 'utf8')) as KernelView;
      if (m.source.kind === 'build' && m.backends.includes('firecracker'))
        return path.dirname(manifest);
    }
  }
  const cache = path.join(machine.cacheDir, 'kernel-builds');
  if (existsSync(cache)) {
    for (const entry of readdirSync(cache)) {
      if (existsSync(path.join(cache, entry, 'build.json'))) return path.join(cache, entry);
    }
  }
  return undefined;
}

describe('the Firecracker-config kernel under the QEMU backend', () => {
  let kernel: KernelView;

  beforeAll(async () => {
    const reuse = await reusableBuild();
    if (reuse !== undefined) {
      await home.ok(['kernel', 'import', KERNEL, '--from', reuse]);
    } else {
      await home.ok(['kernel', 'build', KERNEL], { timeoutMs: 45 * 60_000 });
      // Keep the build for the next run on this machine (a cache: re-creatable, not state).
      const built = path.join(home.root, 'cache', 'banger', 'kernel-builds');
      const machineCache = path.join(resolveLayout({ env: process.env }).cacheDir, 'kernel-builds');
      for (const entry of readdirSync(built)) {
        if (existsSync(path.join(machineCache, entry))) continue;
        await fs.mkdir(machineCache, { recursive: true, mode: 0o700 });
        await fs.cp(path.join(built, entry), path.join(machineCache, entry), { recursive: true });
      }
    }
    kernel = JSON.parse((await home.ok(['kernel', 'show', KERNEL, '--json'])).out) as KernelView;
    const rootfs = path.join(home.stateDir, 'images', 'debian-bookworm', 'rootfs.ext4');
    await home.ok(['image', 'register', IMAGE, '--rootfs', rootfs, '--kernel', KERNEL]);
  }, 50 * 60_000);

  afterAll(async () => {
    await home.run(['image', 'delete', IMAGE]);
    await home.run(['kernel', 'rm', KERNEL]);
  });

  it('is stored as a kernel both backends can boot, with no initramfs', () => {
    expect(kernel.backends).toEqual(['qemu', 'firecracker']);
    expect(kernel.files.map((f) => f.name).sort()).toEqual(['config', 'vmlinux']);
    expect(kernel.kernelVersion).toMatch(/^6\.1\.\d+/);
  });

  it('boots a VM under QEMU from /dev/vda with everything built in', async () => {
    const r = await home.ok([
      'vm',
      'run',
      '--rm',
      '--image',
      IMAGE,
      '--',
      'sh',
      '-c',
      'uname -r; cat /proc/cmdline; if [ -e /proc/modules ]; then echo modules; else echo no-modules; fi',
    ]);
    const [release, cmdline, modules] = r.out.trim().split('\n');
    expect(release).toBe(kernel.kernelVersion);
    expect(cmdline).toContain('root=/dev/vda');
    expect(modules).toBe('no-modules');
  });
});
