/**
 * Gives a test home the default kernel and image. The fastest honest source is the machine's
 * own banger install (README step 1 prepared it): its kernel is imported and its rootfs
 * registered, which injects the guest programs of the current build. Without one, the test
 * home pulls and builds them itself.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BangerHome } from './banger-home.js';

function userStore(): string {
  const home = os.homedir();
  return path.join(process.env.XDG_STATE_HOME ?? path.join(home, '.local', 'state'), 'banger');
}

export async function provisionDefaultArtifacts(home: BangerHome): Promise<void> {
  const store = userStore();
  const kernelDir = path.join(store, 'kernels', 'debian');
  const rootfs = path.join(store, 'images', 'debian-bookworm', 'rootfs.ext4');
  if (existsSync(path.join(kernelDir, 'manifest.json'))) {
    await home.ok(['kernel', 'import', 'debian', '--from', kernelDir]);
  } else {
    await home.ok(['kernel', 'pull', 'debian'], { timeoutMs: 600_000 });
  }
  if (existsSync(rootfs)) {
    await home.ok([
      'image',
      'register',
      'debian-bookworm',
      '--rootfs',
      rootfs,
      '--kernel',
      'debian',
    ]);
  } else {
    await home.ok(['image', 'build', 'debian-bookworm', '--kernel', 'debian'], {
      timeoutMs: 900_000,
    });
  }
}
