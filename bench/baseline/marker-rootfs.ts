/**
 * The baseline's root filesystem: a sparse copy of the very rootfs banger boots, with
 * banger-marker-init written into it (debugfs, no mount), made once per bench run. Every
 * baseline boot then gets its own qcow2 overlay on it, as banger's VMs do on the image.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError, run } from '../../src/base/index.js';
import { statInExt4 } from '../../src/images/index.js';
import { MARKER_INIT } from './raw-qemu-argv.js';

export async function prepareMarkerRootfs(options: {
  /** The image's rootfs.ext4 (read only). */
  rootfs: string;
  /** The built banger-marker-init on the host. */
  markerInit: string;
  /** Where the copy goes. */
  dest: string;
  signal?: AbortSignal;
}): Promise<void> {
  const signal = options.signal ? { signal: options.signal } : {};
  const marker = await fs.stat(options.markerInit).catch(() => undefined);
  if (!marker?.isFile()) {
    throw new BangerError('precondition_failed', `${options.markerInit} is missing`, {
      hint: 'build the guest programs: npm run build',
    });
  }
  await run('cp', ['--sparse=always', '--', options.rootfs, options.dest], signal);
  if ((await statInExt4(options.dest, MARKER_INIT, signal)) !== undefined) {
    await debugfsWrite(options.dest, `rm ${MARKER_INIT}`, undefined, options.signal);
  }
  // debugfs takes the host file name relative to its cwd: no spaces or quotes to worry about.
  await debugfsWrite(
    options.dest,
    `write ${path.basename(options.markerInit)} ${MARKER_INIT}`,
    path.dirname(options.markerInit),
    options.signal,
  );
  // debugfs exits 0 even when a request fails: check the result.
  const written = await statInExt4(options.dest, MARKER_INIT, signal);
  if (written?.type !== 'regular' || written.size !== marker.size || (written.mode & 0o111) === 0) {
    throw new BangerError(
      'operation_failed',
      `writing ${MARKER_INIT} into ${options.dest} did not give an executable ${String(marker.size)}-byte file`,
    );
  }
}

async function debugfsWrite(
  image: string,
  request: string,
  cwd: string | undefined,
  signal: AbortSignal | undefined,
): Promise<void> {
  const result = await run('debugfs', ['-w', '-R', request, '--', image], {
    ...(cwd === undefined ? {} : { cwd }),
    ...(signal === undefined ? {} : { signal }),
  });
  const errors = result.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^debugfs \d+\.\d+/.test(l));
  if (errors.length > 0) {
    throw new BangerError(
      'operation_failed',
      `debugfs "${request}" on ${image}: ${errors.join('; ')}`,
    );
  }
}
