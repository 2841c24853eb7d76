/**
 * Builds a Debian root filesystem image into a scratch directory: mmdebstrap, then banger's
 * guest programs and first-boot setup, then mkfs.ext4 -d (no mount), then the checksum.
 * Publishing the result and removing the scratch directory belong to the store.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { operationFailed, run, sha256File, type ProgressSink } from '../base/index.js';
import { throwIfCanceled } from './abort.js';
import { deterministicUuid } from './deterministic-uuid.js';
import { parseDpkgStatus } from './dpkg-status.js';
import type { GuestProgramFile } from './guest-programs.js';
import { imageSizeFor } from './image-size.js';
import { createLineThrottle } from './line-throttle.js';
import type { DebianSource } from './manifest.js';
import { mkfsExt4 } from './mkfs.js';
import { mmdebstrapPlan } from './mmdebstrap-plan.js';
import type { PackagePin } from './package-lock.js';
import { prepareRootTree } from './rootfs-tree.js';
import { removeScratchDir } from './scratch-dir.js';
import { createTimer, type StepTimings } from './step-timer.js';

export interface DebianBuildInput {
  name: string;
  /** Private scratch directory (removed by the caller). */
  scratchDir: string;
  /** Where rootfs.ext4 goes. */
  image: string;
  suite: string;
  mirror: string;
  securityMirror: string;
  packages: readonly string[];
  lock: readonly PackagePin[];
  sourceDateEpoch: number;
  guestPrograms: readonly GuestProgramFile[];
  guestDir: string;
  onProgress: ProgressSink;
  signal?: AbortSignal;
}

export interface DebianBuildOutput {
  source: DebianSource;
  sizeBytes: number;
  sha256: string;
  removedHostKeys: string[];
  timings: StepTimings;
}

/** Forward at most one mmdebstrap line per this many ms. */
const PROGRESS_INTERVAL_MS = 250;

export async function buildDebianImage(input: DebianBuildInput): Promise<DebianBuildOutput> {
  const { onProgress, signal } = input;
  const opt = signal === undefined ? {} : { signal };
  const timer = createTimer();
  const root = path.join(input.scratchDir, 'root');
  const aptScratch = path.join(input.scratchDir, 'mmdebstrap-tmp');
  await fs.mkdir(root);
  // Becomes the image's / (mke2fs -d copies its mode): 0755 whatever the daemon's umask.
  await fs.chmod(root, 0o755);
  await fs.mkdir(aptScratch, { mode: 0o700 });

  timer.start('bootstrap');
  onProgress({
    step: 'bootstrap',
    message: `mmdebstrap ${input.suite} (minbase + ${String(input.packages.length)} packages)`,
  });
  const plan = mmdebstrapPlan({
    suite: input.suite,
    target: root,
    packages: input.packages,
    lock: input.lock,
    mirror: input.mirror,
    securityMirror: input.securityMirror,
    scratchDir: aptScratch,
    sourceDateEpoch: input.sourceDateEpoch,
  });
  const throttle = createLineThrottle((line) => onProgress({ step: 'bootstrap', message: line }), {
    intervalMs: PROGRESS_INTERVAL_MS,
  });
  try {
    await run(plan.file, plan.argv, {
      env: { ...process.env, ...plan.env },
      onStderr: (c) => throttle.push(c),
      ...opt,
    });
  } finally {
    throttle.flush();
  }
  const packages = parseDpkgStatus(
    await fs.readFile(path.join(root, 'var/lib/dpkg/status'), 'utf8'),
  );
  checkLockHonoured(packages, input.lock);
  throwIfCanceled(signal, `building image ${input.name}`);

  timer.start('inject');
  onProgress({
    step: 'inject',
    message: `installing ${input.guestPrograms.map((p) => p.name).join(', ')} in ${input.guestDir}`,
  });
  const tree = await prepareRootTree(root, {
    guestPrograms: input.guestPrograms,
    guestDir: input.guestDir,
    sourceDateEpoch: input.sourceDateEpoch,
  });
  throwIfCanceled(signal, `building image ${input.name}`);

  timer.start('mkfs');
  const sizeBytes = imageSizeFor(tree.contentBytes);
  onProgress({
    step: 'mkfs',
    message: `mkfs.ext4 -d: ${String(Math.round(tree.contentBytes / 2 ** 20))} MiB of files in a ${String(sizeBytes / 2 ** 20)} MiB filesystem`,
  });
  await mkfsExt4({
    sourceDir: root,
    image: input.image,
    sizeBytes,
    label: 'banger-root',
    uuid: deterministicUuid(`image:${input.name}`),
    hashSeed: deterministicUuid(`image-hash-seed:${input.name}`),
    sourceDateEpoch: input.sourceDateEpoch,
    ...opt,
  });
  await fs.chmod(input.image, 0o600);
  // The tree is in the image now; free its disk space before hashing.
  await removeScratchDir(root);
  throwIfCanceled(signal, `building image ${input.name}`);

  timer.start('checksum');
  onProgress({ step: 'checksum', message: 'sha256 of rootfs.ext4' });
  const sha256 = await sha256File(input.image);
  const timings = timer.finish();

  return {
    source: {
      kind: 'debian',
      suite: input.suite,
      mirror: input.mirror,
      securityMirror: input.securityMirror,
      packages,
      sourceDateEpoch: input.sourceDateEpoch,
      locked: input.lock.length > 0,
    },
    sizeBytes,
    sha256,
    removedHostKeys: tree.removedHostKeys,
    timings,
  };
}

/** apt may resolve differently than asked; a lock that did not hold is a failed build. */
function checkLockHonoured(installed: readonly PackagePin[], lock: readonly PackagePin[]): void {
  const versions = new Map(installed.map((p) => [p.name, p.version]));
  const off = lock.filter((pin) => versions.get(pin.name) !== pin.version);
  if (off.length > 0) {
    throw operationFailed(
      `the build did not honour the lock: ${off
        .slice(0, 5)
        .map((p) => `${p.name} wanted ${p.version}, got ${versions.get(p.name) ?? 'nothing'}`)
        .join('; ')}`,
    );
  }
}
