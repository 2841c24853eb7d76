/**
 * `image promote`: a registered image is the user's ext4 file as given, unexamined. Promoting
 * it makes it a managed image like a built or pulled one: its bytes are checked against the
 * manifest, ssh host keys baked into it are removed (so each VM makes its own), and what its
 * userland offers is recorded. Works on a copy; the store swaps it in.
 */
import { promises as fs } from 'node:fs';
import { badRequest, operationFailed, run, sha256File, type ProgressSink } from '../base/index.js';
import { debugfs } from './debugfs.js';
import { listDirInExt4, statInExt4 } from './ext4.js';
import type { ImageManifest } from './manifest.js';

/** The image being worked on (the store's ImageRecord). */
interface ImageRecord {
  name: string;
  rootfsPath: string;
  manifest: ImageManifest;
}
import { quote } from './oci/layer-tree.js';
import { createTimer, type StepTimings } from './step-timer.js';
import { detectUserland, type PathLookup } from './userland.js';

export async function promoteImage(
  record: ImageRecord,
  options: {
    scratchDir: string;
    image: string;
    onProgress: ProgressSink;
    now: Date;
    signal?: AbortSignal;
  },
): Promise<{ manifest: ImageManifest; timings: StepTimings }> {
  const source = record.manifest.source;
  if (source.kind !== 'register') {
    throw badRequest(`image ${record.name} is already managed (it was made by ${source.kind})`);
  }
  if (source.promotedAt !== undefined) {
    throw badRequest(`image ${record.name} was promoted already (${source.promotedAt})`);
  }
  const opt = options.signal ? { signal: options.signal } : {};
  const timer = createTimer();
  timer.start('verify');
  options.onProgress({
    step: 'verify',
    message: `checking ${record.name}'s rootfs against its manifest`,
  });
  if ((await sha256File(record.rootfsPath)) !== record.manifest.sha256) {
    throw operationFailed(
      `image ${record.name}: rootfs.ext4 no longer matches its manifest's sha256`,
      {
        hint: `remove the image (banger image rm ${record.name}) and register it again`,
      },
    );
  }
  timer.start('copy');
  await run(
    'cp',
    ['--sparse=always', '--reflink=auto', '--', record.rootfsPath, options.image],
    opt,
  );
  await fs.chmod(options.image, 0o600);

  timer.start('host-keys');
  const keys = await hostKeys(options.image, opt);
  if (keys.length > 0) {
    options.onProgress({
      step: 'host-keys',
      message: `removing ${String(keys.length)} baked-in ssh host key files`,
    });
    await debugfs(
      options.image,
      { script: keys.map((k) => `rm ${quote(k)}`) },
      { write: true, ...opt },
    );
  }
  timer.start('userland');
  const userland = await detectUserland(ext4Lookup(options.image, opt));
  timer.start('checksum');
  const sha256 = await sha256File(options.image);
  const manifest: ImageManifest = {
    ...record.manifest,
    sha256,
    sizeBytes: (await fs.stat(options.image)).size,
    source: { ...source, promotedAt: options.now.toISOString() },
    sshHostKeys: 'absent',
    userland,
  };
  return { manifest, timings: timer.finish() };
}

async function hostKeys(image: string, opt: { signal?: AbortSignal }): Promise<string[]> {
  const st = await statInExt4(image, '/etc/ssh', opt);
  if (st?.type !== 'directory') return [];
  const entries = await listDirInExt4(image, '/etc/ssh', opt);
  return entries
    .filter((e) => e.name.startsWith('ssh_host_') && e.type !== 'directory')
    .map((e) => `/etc/ssh/${e.name}`);
}

function ext4Lookup(image: string, opt: { signal?: AbortSignal }): PathLookup {
  return async (p) => {
    let st;
    try {
      st = await statInExt4(image, p, opt);
    } catch {
      return undefined; // a path debugfs cannot be asked about is not one the probes care for
    }
    if (st === undefined) return undefined;
    if (st.type === 'regular') return { type: 'file' };
    if (st.type === 'directory') return { type: 'dir' };
    if (st.type === 'symlink')
      return { type: 'symlink', ...(st.linkTarget ? { linkTarget: st.linkTarget } : {}) };
    return { type: 'other' };
  };
}
