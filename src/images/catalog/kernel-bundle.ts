/**
 * Kernel bundles: the same idea as image bundles (a .tar.zst with manifest.json, content
 * addressed and sha256-checked), holding vmlinux and optionally initrd.img and config. Reading
 * one yields a directory the kernel store can import; writing one publishes a local kernel.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { badRequest, BangerError, type ProgressSink } from '../../base/index.js';
import type { BlobCache } from '../oci/blob-cache.js';
import {
  BUNDLE_MANIFEST,
  KERNEL_BUNDLE_FILES,
  parseBundleManifest,
  type BundleManifest,
} from './bundle-manifest.js';
import { extractBundle } from './bundle-reader.js';
import { writeBundle, type WrittenBundle } from './bundle-writer.js';
import type { CatalogEntry } from './catalog-index.js';
import { httpSource } from './http-source.js';

const MAX_KERNEL_FILE = 1024 ** 3;

/** Downloads (resumably, sha256-checked) and unpacks a kernel bundle into `dest` (an empty dir). */
export async function fetchKernelBundle(
  cache: BlobCache,
  entry: CatalogEntry,
  options: { dest: string; onProgress: ProgressSink; signal?: AbortSignal },
): Promise<BundleManifest> {
  const digest = `sha256:${entry.sha256}`;
  const release = cache.pin([digest]);
  try {
    options.onProgress({
      step: 'download',
      message: `downloading kernel ${entry.name} from ${entry.url}`,
    });
    const file = await cache.ensure(digest, entry.size, httpSource(entry.url), {
      what: entry.url,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const where = `kernel bundle ${entry.url}`;
    const entries = Object.fromEntries([
      [BUNDLE_MANIFEST, { maxBytes: 1024 * 1024, required: true }],
      ...KERNEL_BUNDLE_FILES.map((n) => [
        n,
        { maxBytes: MAX_KERNEL_FILE, required: n === 'vmlinux' },
      ]),
    ]) as Record<string, { maxBytes: number; required: boolean }>;
    options.onProgress({ step: 'unpack', message: `unpacking ${where}` });
    const files = await extractBundle(file, options.dest, {
      where,
      entries,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const manifest = parseBundleManifest(
      await fs.readFile(path.join(options.dest, BUNDLE_MANIFEST), 'utf8'),
      'kernel',
      where,
    );
    for (const [name, got] of Object.entries(files)) {
      if (name === BUNDLE_MANIFEST) continue;
      const listed = manifest.files.find((f) => f.name === name);
      if (listed === undefined || listed.size !== got.size || listed.sha256 !== got.sha256) {
        throw badRequest(
          `${where}: ${name} does not match the size and sha256 in its manifest.json`,
        );
      }
    }
    for (const listed of manifest.files) {
      if (files[listed.name] === undefined)
        throw badRequest(`${where}: manifest.json lists ${listed.name}, the bundle lacks it`);
    }
    await fs.rm(path.join(options.dest, BUNDLE_MANIFEST));
    return manifest;
  } finally {
    release();
  }
}

/** Writes a kernel's files as a bundle at `output`. */
export async function writeKernelBundle(
  output: string,
  kernel: {
    name: string;
    kernelVersion: string;
    files: { name: string; path: string; size: number; sha256: string }[];
  },
  options: { now: Date; signal?: AbortSignal },
): Promise<WrittenBundle> {
  if (!path.isAbsolute(output) || /[\0\n]/.test(output))
    throw badRequest(`output ${JSON.stringify(output)} must be an absolute path`);
  if (await fs.lstat(output).catch(() => undefined))
    throw new BangerError('already_exists', `${output} already exists`);
  const manifest: BundleManifest = {
    schema: 1,
    kind: 'kernel',
    name: kernel.name,
    arch: 'amd64',
    kernelVersion: kernel.kernelVersion,
    files: kernel.files.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256 })),
    createdAt: options.now.toISOString(),
  };
  return writeBundle(
    output,
    { manifest, files: kernel.files },
    options.signal ? { signal: options.signal } : {},
  );
}
