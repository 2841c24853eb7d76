/**
 * Turns a downloaded, sha256-verified image bundle into an image in a scratch directory: unpack
 * exactly manifest.json and rootfs.ext4, check the rootfs against the bundle manifest and as
 * ext4, then inject this banger's guest programs (the bundle's may be older) and hash.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { badRequest, sha256File, type ProgressSink } from '../../base/index.js';
import { injectGuestProgramsIntoExt4 } from '../ext4-inject.js';
import { listDirInExt4, statInExt4 } from '../ext4.js';
import { readExt4Superblock } from '../ext4-superblock.js';
import type { GuestProgramFile } from '../guest-programs.js';
import { createTimer, type StepTimings } from '../step-timer.js';
import type { Userland } from '../userland.js';
import {
  BUNDLE_MANIFEST,
  BUNDLE_ROOTFS,
  parseBundleManifest,
  type BundleManifest,
} from './bundle-manifest.js';
import { extractBundle } from './bundle-reader.js';

export interface CatalogImageInput {
  bundle: string;
  where: string;
  scratchDir: string;
  image: string;
  guestPrograms: readonly GuestProgramFile[];
  guestDir: string;
  onProgress: ProgressSink;
  signal?: AbortSignal;
}

export interface CatalogImageOutput {
  manifest: BundleManifest;
  sizeBytes: number;
  sha256: string;
  guestDir: string;
  sshHostKeys: 'absent' | 'present';
  userland?: Userland;
  timings: StepTimings;
}

const MAX_ROOTFS_BYTES = 2 * 1024 ** 4;

export async function installImageBundle(input: CatalogImageInput): Promise<CatalogImageOutput> {
  const timer = createTimer();
  const opt = input.signal ? { signal: input.signal } : {};
  timer.start('unpack');
  input.onProgress({ step: 'unpack', message: `unpacking ${input.where}` });
  const dir = path.join(input.scratchDir, 'bundle');
  await fs.mkdir(dir, { mode: 0o700 });
  const files = await extractBundle(input.bundle, dir, {
    where: input.where,
    entries: {
      [BUNDLE_MANIFEST]: { maxBytes: 1024 * 1024, required: true },
      [BUNDLE_ROOTFS]: { maxBytes: MAX_ROOTFS_BYTES, required: true },
    },
    ...opt,
  });
  const manifest = parseBundleManifest(
    await fs.readFile(path.join(dir, BUNDLE_MANIFEST), 'utf8'),
    'image',
    input.where,
  );
  const rootfs = files[BUNDLE_ROOTFS];
  const listed = manifest.files.find((f) => f.name === BUNDLE_ROOTFS);
  if (
    rootfs === undefined ||
    listed === undefined ||
    rootfs.size !== listed.size ||
    rootfs.sha256 !== listed.sha256
  ) {
    throw badRequest(
      `${input.where}: rootfs.ext4 does not match the size and sha256 in its manifest.json`,
    );
  }
  await readExt4Superblock(rootfs.path).catch((err: unknown) => {
    throw badRequest(`${input.where}: rootfs.ext4 is not an ext4 filesystem`, { cause: err });
  });
  await fs.rename(rootfs.path, input.image);

  timer.start('inject');
  input.onProgress({
    step: 'inject',
    message: `writing ${input.guestPrograms.map((p) => p.name).join(', ')} into the image`,
  });
  const guestDir = await injectGuestProgramsIntoExt4(input.image, input.guestPrograms, {
    guestDir: input.guestDir,
    ...opt,
  });
  const sshHostKeys = (await hasSshHostKeys(input.image, opt)) ? 'present' : 'absent';

  timer.start('checksum');
  input.onProgress({ step: 'checksum', message: 'sha256 of rootfs.ext4' });
  const sha256 = await sha256File(input.image);
  const out: CatalogImageOutput = {
    manifest,
    sizeBytes: (await fs.stat(input.image)).size,
    sha256,
    guestDir,
    sshHostKeys,
    timings: timer.finish(),
  };
  if (manifest.userland !== undefined) out.userland = manifest.userland;
  return out;
}

export async function hasSshHostKeys(
  image: string,
  opt: { signal?: AbortSignal },
): Promise<boolean> {
  const st = await statInExt4(image, '/etc/ssh', opt);
  if (st?.type !== 'directory') return false;
  const entries = await listDirInExt4(image, '/etc/ssh', opt);
  return entries.some((e) => e.name.startsWith('ssh_host_') && e.name.endsWith('_key'));
}
