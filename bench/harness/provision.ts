/**
 * Gives the bench home the default kernel and image, the same way the e2e tests do
 * (test/support/artifacts.ts): imported from the machine's own banger store when it has them
 * (fast, and registering the rootfs injects the guest programs of the current build), pulled
 * and built otherwise (minutes). Returns the files banger will boot, for the baseline to use.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BangerError } from '../../src/base/index.js';
import { resolveLayout } from '../../src/config/index.js';
import type { BenchHome } from './bench-home.js';

export const KERNEL = 'debian';
export const IMAGE = 'debian-bookworm';

export interface BootArtifacts {
  vmlinux: string;
  initrd?: string | undefined;
  /** The image's rootfs (raw ext4) inside the bench home. */
  rootfs: string;
  /** The host's built banger-marker-init. */
  markerInit: string;
}

export async function provisionArtifacts(
  home: BenchHome,
  options: { signal?: AbortSignal; log?: (line: string) => void } = {},
): Promise<BootArtifacts> {
  const source = resolveLayout({ env: process.env }).stateDir;
  const kernelDir = path.join(source, 'kernels', KERNEL);
  const rootfs = path.join(source, 'images', IMAGE, 'rootfs.ext4');
  const cli = { ...(options.signal ? { signal: options.signal } : {}) };
  if (existsSync(path.join(kernelDir, 'manifest.json'))) {
    options.log?.(`importing kernel ${KERNEL} from ${kernelDir}`);
    await home.ok(['kernel', 'import', KERNEL, '--from', kernelDir], cli);
  } else {
    options.log?.(`no kernel in ${source}: pulling ${KERNEL} (minutes)`);
    await home.ok(['kernel', 'pull', KERNEL], { ...cli, timeoutMs: 900_000 });
  }
  if (existsSync(rootfs)) {
    options.log?.(`registering image ${IMAGE} from ${rootfs}`);
    await home.ok(['image', 'register', IMAGE, '--rootfs', rootfs, '--kernel', KERNEL], cli);
  } else {
    options.log?.(`no image in ${source}: building ${IMAGE} (minutes)`);
    await home.ok(['image', 'build', IMAGE, '--kernel', KERNEL], { ...cli, timeoutMs: 1_800_000 });
  }
  const kernel = JSON.parse((await home.ok(['kernel', 'show', KERNEL, '--json'], cli)).stdout) as {
    vmlinux: string;
    initramfs?: string;
  };
  const image = JSON.parse((await home.ok(['image', 'show', IMAGE, '--json'], cli)).stdout) as {
    rootfs: string;
    format: string;
  };
  if (image.format !== 'raw') {
    throw new BangerError('precondition_failed', `image ${IMAGE} is ${image.format}, not raw ext4`);
  }
  const kdir = path.join(home.layout.kernelsDir, KERNEL);
  return {
    vmlinux: path.join(kdir, path.basename(kernel.vmlinux)),
    initrd:
      kernel.initramfs === undefined ? undefined : path.join(kdir, path.basename(kernel.initramfs)),
    rootfs: path.join(home.layout.imagesDir, IMAGE, path.basename(image.rootfs)),
    markerInit: path.join(home.layout.guestBinDir, 'banger-marker-init'),
  };
}
