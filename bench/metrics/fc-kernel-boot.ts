/**
 * The Firecracker-config kernel (`banger kernel build`, no initramfs) against the Debian cloud
 * kernel with its initramfs: the same `banger vm run --rm -- true` of the same image under
 * QEMU, only the kernel differs. The built kernel comes from the machine's banger store or
 * kernel build cache (building it takes ~10 minutes: `banger kernel build firecracker-6.1`).
 */
import { existsSync, promises as fs, readdirSync } from 'node:fs';
import path from 'node:path';
import { BangerError } from '../../src/base/index.js';
import { resolveLayout } from '../../src/config/index.js';
import { compare } from '../harness/compare.js';
import { IMAGE } from '../harness/provision.js';
import { sizeFlags, type Metric } from './metric.js';

const FC_KERNEL = 'bench-firecracker';
const FC_IMAGE = 'bench-fc-bookworm';

/** A directory with a built vmlinux + config that `kernel import` takes, from this machine. */
async function builtKernelDir(): Promise<string | undefined> {
  const machine = resolveLayout({ env: process.env });
  if (existsSync(machine.kernelsDir)) {
    for (const name of readdirSync(machine.kernelsDir)) {
      const manifest = path.join(machine.kernelsDir, name, 'manifest.json');
      if (!existsSync(manifest)) continue;
      const m = JSON.parse(await fs.readFile(manifest, 'utf8')) as {
        source?: { kind?: string };
        backends?: string[];
      };
      if (m.source?.kind === 'build' && m.backends?.includes('firecracker'))
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

export const fcKernelBoot: Metric = {
  name: 'fc-kernel-boot',
  banger:
    '`banger vm run --rm -- true` with the Firecracker-config kernel (built from linux-source-6.1, everything built in, no initramfs) under QEMU',
  baseline:
    'the same command and image with the Debian cloud kernel and its initramfs (the default kernel)',
  async run(ctx) {
    const dir = await builtKernelDir();
    if (dir === undefined) {
      throw new BangerError('precondition_failed', 'no built Firecracker kernel on this machine', {
        hint: 'run `banger kernel build firecracker-6.1` once (about 10 minutes on 2 cores)',
      });
    }
    ctx.log(`fc-kernel-boot: importing the built kernel from ${dir}`);
    await ctx.home.ok(['kernel', 'import', FC_KERNEL, '--from', dir], { signal: ctx.signal });
    const rootfs = path.join(ctx.home.layout.imagesDir, IMAGE, 'rootfs.ext4');
    await ctx.home.ok(['image', 'register', FC_IMAGE, '--rootfs', rootfs, '--kernel', FC_KERNEL], {
      signal: ctx.signal,
    });
    const runWith = async (image: string): Promise<number> => {
      const r = await ctx.home.ok(
        ['vm', 'run', '--rm', '--image', image, ...sizeFlags(ctx.vm), '--', 'true'],
        { signal: ctx.signal },
      );
      return r.seconds;
    };
    return [
      await compare(ctx, {
        name: 'fc-kernel-boot',
        unit: 's',
        banger: () => runWith(FC_IMAGE),
        baseline: () => runWith(IMAGE),
      }),
    ];
  },
};
