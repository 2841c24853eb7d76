/**
 * `image export`: any image as a catalog bundle. The rootfs is re-hashed first (a bundle must
 * carry the bytes its manifest claims), then written as manifest.json + rootfs.ext4 in a
 * .tar.zst; the result names the catalog entry that would publish it.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  BangerError,
  badRequest,
  operationFailed,
  sha256File,
  type ProgressSink,
} from '../base/index.js';
import { BUNDLE_ROOTFS, type BundleManifest } from './catalog/bundle-manifest.js';
import { writeBundle } from './catalog/bundle-writer.js';
import type { ImageManifest, ImageSource } from './manifest.js';

/** The image being exported (the store's ImageRecord). */
interface ImageRecord {
  name: string;
  rootfsPath: string;
  manifest: ImageManifest;
}

export interface ExportResult {
  file: string;
  sha256: string;
  size: number;
  /** A catalog entry for the bundle (its url is the content-addressed file name to publish it as). */
  entry: { name: string; arch: 'amd64'; kernel: string; url: string; sha256: string; size: number };
}

export async function exportImage(
  image: ImageRecord,
  options: { output: string; now: Date; onProgress: ProgressSink; signal?: AbortSignal },
): Promise<ExportResult> {
  const output = options.output;
  if (typeof output !== 'string' || !path.isAbsolute(output) || /[\0\n]/.test(output)) {
    throw badRequest(`output ${JSON.stringify(output)} must be an absolute path`);
  }
  if (await fs.lstat(output).catch(() => undefined)) {
    throw new BangerError('already_exists', `${output} already exists`, {
      hint: 'remove it or pick another file',
    });
  }
  const parent = await fs.stat(path.dirname(output)).catch(() => undefined);
  if (parent?.isDirectory() !== true)
    throw badRequest(`${path.dirname(output)} is not a directory`);

  options.onProgress({
    step: 'verify',
    message: `checking ${image.name}'s rootfs against its manifest`,
  });
  if ((await sha256File(image.rootfsPath)) !== image.manifest.sha256) {
    throw operationFailed(
      `image ${image.name}: rootfs.ext4 no longer matches its manifest's sha256`,
      {
        hint: `remove the image (banger image rm ${image.name}) and pull or build it again`,
      },
    );
  }
  const manifest: BundleManifest = {
    schema: 1,
    kind: 'image',
    name: image.name,
    arch: 'amd64',
    kernel: image.manifest.kernel,
    files: [{ name: BUNDLE_ROOTFS, size: image.manifest.sizeBytes, sha256: image.manifest.sha256 }],
    origin: describeOrigin(image.manifest.source),
    createdAt: options.now.toISOString(),
  };
  if (image.manifest.userland !== undefined) manifest.userland = image.manifest.userland;
  options.onProgress({ step: 'compress', message: `writing ${output} (zstd)` });
  const written = await writeBundle(
    output,
    { manifest, files: [{ name: BUNDLE_ROOTFS, path: image.rootfsPath }] },
    options.signal ? { signal: options.signal } : {},
  );
  return {
    ...written,
    entry: {
      name: image.name,
      arch: 'amd64',
      kernel: image.manifest.kernel,
      url: `${image.name}-amd64-${written.sha256.slice(0, 12)}.tar.zst`,
      sha256: written.sha256,
      size: written.size,
    },
  };
}

function describeOrigin(source: ImageSource): string {
  switch (source.kind) {
    case 'debian':
      return `debian ${source.suite} (${String(source.packages.length)} packages)`;
    case 'register':
      return 'registered ext4';
    case 'oci':
      return `oci ${source.ref}@${source.manifestDigest}`;
    case 'catalog':
      return `catalog ${source.entry} (${source.bundleSha256})`;
  }
}
