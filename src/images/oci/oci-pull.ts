/**
 * Pulls an OCI image into a scratch directory as an ext4 root filesystem: resolve the
 * reference (index -> linux/amd64 manifest), fetch the config and the layers (in parallel,
 * cached by digest, resumable), apply the layers in order to a host tree, `mkfs.ext4 -d`, then
 * debugfs fix-ups (owners, set-id bits, device nodes) and banger's guest programs. Every blob is
 * checked against its digest, every layer's tar stream against the config's diff_id.
 * Publishing the result belongs to the store.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  BangerError,
  badRequest,
  operationFailed,
  sha256File,
  type ProgressSink,
} from '../../base/index.js';
import { throwIfCanceled } from '../abort.js';
import { debugfs } from '../debugfs.js';
import { deterministicUuid } from '../deterministic-uuid.js';
import { injectGuestProgramsIntoExt4 } from '../ext4-inject.js';
import type { GuestProgramFile } from '../guest-programs.js';
import { imageSizeFor } from '../image-size.js';
import type { OciRuntimeConfig, OciSource } from '../manifest.js';
import { mkfsExt4 } from '../mkfs.js';
import { removeScratchDir } from '../scratch-dir.js';
import { createTimer, type StepTimings } from '../step-timer.js';
import { readTar } from '../tar/tar-reader.js';
import { detectUserland, type PathLookup, type Userland } from '../userland.js';
import type { BlobCache } from './blob-cache.js';
import type { Credentials } from './credentials.js';
import { LayerTree } from './layer-tree.js';
import type { LayerLimits } from './layer-policy.js';
import { openLayer } from './layer-stream.js';
import {
  MAX_DOCUMENT_BYTES,
  parseImageConfig,
  parseManifestDocument,
  selectLinuxAmd64,
  type Descriptor,
  type ImageConfigInfo,
} from './oci-manifest.js';
import type { ImageReference } from './reference.js';
import { RegistryClient } from './registry-client.js';

export interface OciPullInput {
  name: string;
  ref: ImageReference;
  /** Private scratch directory (removed by the caller). */
  scratchDir: string;
  /** Where rootfs.ext4 goes. */
  image: string;
  cache: BlobCache;
  credentials?: Credentials;
  plainHttp: boolean;
  limits: LayerLimits;
  guestPrograms: readonly GuestProgramFile[];
  /** Where the programs go in the image (/sbin: the kernel command line runs /sbin/banger-init). */
  guestDir: string;
  /** Layers downloaded at once (default 4). */
  concurrency?: number;
  /** Seconds; timestamps mke2fs writes itself. */
  sourceDateEpoch: number;
  onProgress: ProgressSink;
  signal?: AbortSignal;
}

export interface OciPullOutput {
  source: OciSource;
  userland: Userland;
  sizeBytes: number;
  sha256: string;
  guestDir: string;
  timings: StepTimings;
}

/** Resolved manifest and config of the image, before any layer is fetched. */
export interface ResolvedImage {
  manifestDigest: string;
  config: Descriptor;
  layers: Descriptor[];
  info: ImageConfigInfo;
}

const PROGRESS_INTERVAL_MS = 250;
const MiB = 1024 * 1024;

export async function pullOciImage(input: OciPullInput): Promise<OciPullOutput> {
  const { ref, onProgress, signal } = input;
  const opt = signal === undefined ? {} : { signal };
  const timer = createTimer();
  const client = new RegistryClient({
    registry: ref.registry,
    repository: ref.repository,
    plainHttp: input.plainHttp,
    ...(input.credentials === undefined ? {} : { credentials: input.credentials }),
  });

  timer.start('resolve');
  onProgress({ step: 'resolve', message: `resolving ${ref.canonical}` });
  const resolved = await resolveImage(client, input);
  const release = input.cache.pin([
    resolved.config.digest,
    ...resolved.layers.map((l) => l.digest),
  ]);
  try {
    timer.start('layers');
    const root = path.join(input.scratchDir, 'root');
    const tree = new LayerTree(root, input.limits);
    await tree.init();
    await fetchAndApply(client, tree, resolved, input);
    await tree.finish();
    const userland = await detectUserland(treeLookup(tree));
    if (tree.stats.xattrs > 0) {
      onProgress({
        step: 'layers',
        message: `note: ${String(tree.stats.xattrs)} extended attributes (e.g. file capabilities) were not applied`,
      });
    }
    throwIfCanceled(signal, `pulling ${ref.canonical}`);

    timer.start('mkfs');
    const contentBytes = tree.contentBytes();
    const sizeBytes = imageSizeFor(contentBytes);
    const inodes = tree.inodeCount() * 2 + 16_384;
    onProgress({
      step: 'mkfs',
      message: `mkfs.ext4 -d: ${String(Math.round(contentBytes / MiB))} MiB of files (${String(tree.stats.entries)} entries) in a ${String(sizeBytes / MiB)} MiB filesystem`,
    });
    await mkfsExt4({
      sourceDir: root,
      image: input.image,
      sizeBytes,
      label: 'banger-root',
      uuid: deterministicUuid(`image:${input.name}:${resolved.manifestDigest}`),
      hashSeed: deterministicUuid(`image-hash-seed:${input.name}`),
      sourceDateEpoch: input.sourceDateEpoch,
      ...(inodes > sizeBytes / 16_384 ? { inodes } : {}),
      ...opt,
    });
    await removeScratchDir(root);
    throwIfCanceled(signal, `pulling ${ref.canonical}`);

    timer.start('fixup');
    const script = tree.fixupScript({ uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });
    onProgress({
      step: 'fixup',
      message: `debugfs: ${String(script.length)} owner/mode/device fix-ups`,
    });
    if (script.length > 0) await debugfs(input.image, { script }, { write: true, ...opt });

    timer.start('inject');
    onProgress({
      step: 'inject',
      message: `writing ${input.guestPrograms.map((p) => p.name).join(', ')} into the image (debugfs)`,
    });
    const guestDir = await injectGuestProgramsIntoExt4(input.image, input.guestPrograms, {
      guestDir: input.guestDir,
      ...opt,
    });
    await fs.chmod(input.image, 0o600);

    timer.start('checksum');
    onProgress({ step: 'checksum', message: 'sha256 of rootfs.ext4' });
    const sha256 = await sha256File(input.image);
    return {
      source: {
        kind: 'oci',
        ref: ref.canonical,
        registry: ref.registry,
        repository: ref.repository,
        manifestDigest: resolved.manifestDigest,
        configDigest: resolved.config.digest,
        layers: resolved.layers.map((l) => ({ digest: l.digest, size: l.size })),
        config: runtimeConfig(resolved.info),
      },
      userland,
      sizeBytes,
      sha256,
      guestDir,
      timings: timer.finish(),
    };
  } finally {
    release();
  }
}

/** Manifest (through an index when there is one) and config of the linux/amd64 image. */
export async function resolveImage(
  client: RegistryClient,
  input: Pick<OciPullInput, 'ref' | 'cache' | 'signal'>,
): Promise<ResolvedImage> {
  const { ref, signal } = input;
  const where = ref.canonical;
  const fetchDoc = async (reference: string, expected: string | undefined) => {
    const res = await client.manifest(reference, {
      maxBytes: MAX_DOCUMENT_BYTES,
      ...(signal ? { signal } : {}),
    });
    const digest = `sha256:${createHash('sha256').update(res.body).digest('hex')}`;
    if (expected !== undefined && digest !== expected) {
      throw operationFailed(
        `${where}: the manifest's digest is ${digest}, expected ${expected}; refused`,
        {
          hint: 'the registry served a different manifest than the one asked for',
        },
      );
    }
    return { digest, doc: parseManifestDocument(res.body, res.contentType, where) };
  };
  let { digest, doc } = await fetchDoc(ref.digest ?? ref.tag ?? 'latest', ref.digest);
  if (doc.kind === 'index') {
    const chosen = selectLinuxAmd64(doc.manifests, where);
    ({ digest, doc } = await fetchDoc(chosen.digest, chosen.digest));
    if (doc.kind === 'index')
      throw badRequest(`${where}: an index inside an index is not supported`);
  }
  const { config, layers } = doc;
  // Pinned while fetched and read: a prune running meanwhile must not take it away.
  const release = input.cache.pin([config.digest]);
  let configBytes: Buffer;
  try {
    await input.cache.ensure(config.digest, config.size, blobSource(client, config.digest), {
      what: where,
      ...(signal ? { signal } : {}),
    });
    configBytes = await input.cache.read(config.digest, MAX_DOCUMENT_BYTES);
  } finally {
    release();
  }
  const info = parseImageConfig(configBytes, `${where}: config`);
  if (info.diffIds.length !== layers.length) {
    throw badRequest(
      `${where}: the config lists ${String(info.diffIds.length)} layers, the manifest ${String(layers.length)}`,
    );
  }
  return { manifestDigest: digest, config, layers, info };
}

function blobSource(client: RegistryClient, digest: string) {
  return (offset: number, signal: AbortSignal | undefined) =>
    client.blob(digest, { offset, ...(signal ? { signal } : {}) });
}

/** Downloads every layer (a few at a time) and applies each, in order, as soon as it is there. */
async function fetchAndApply(
  client: RegistryClient,
  tree: LayerTree,
  resolved: ResolvedImage,
  input: OciPullInput,
): Promise<void> {
  const { layers } = resolved;
  const where = input.ref.canonical;
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(input.signal?.reason);
  input.signal?.addEventListener('abort', onAbort, { once: true });
  const total = layers.reduce((sum, l) => sum + l.size, 0);
  let got = 0;
  let last = 0;
  const report = (force: boolean): void => {
    const now = Date.now();
    if (!force && now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    input.onProgress({
      step: 'download',
      message: `downloading ${String(layers.length)} layer${layers.length === 1 ? '' : 's'}: ${(got / MiB).toFixed(1)} / ${(total / MiB).toFixed(1)} MiB`,
      fraction: total === 0 ? 1 : Math.min(1, got / total),
    });
  };
  const limit = createLimiter(input.concurrency ?? 4);
  const downloads = layers.map((layer) =>
    limit(() =>
      input.cache.ensure(layer.digest, layer.size, blobSource(client, layer.digest), {
        what: where,
        signal: stop.signal,
        onBytes: (n) => {
          got += n;
          report(false);
        },
      }),
    ),
  );
  for (const d of downloads) d.catch(() => undefined);
  try {
    for (const [i, layer] of layers.entries()) {
      const file = await (downloads[i] ?? Promise.reject(new Error('missing download')));
      const label = `layer ${String(i + 1)}/${String(layers.length)} (${layer.digest.slice(0, 19)})`;
      input.onProgress({
        step: 'unpack',
        message: `unpacking ${label}, ${(layer.size / MiB).toFixed(1)} MiB`,
      });
      await applyLayer(tree, file, {
        index: i,
        label: `${where}: ${label}`,
        digest: layer.digest,
        diffId: resolved.info.diffIds[i] ?? '',
        ...(input.signal ? { signal: input.signal } : {}),
      });
    }
    report(true);
  } catch (err) {
    stop.abort(err);
    await Promise.allSettled(downloads);
    throw err;
  } finally {
    input.signal?.removeEventListener('abort', onAbort);
  }
}

async function applyLayer(
  tree: LayerTree,
  file: string,
  layer: { index: number; label: string; digest: string; diffId: string; signal?: AbortSignal },
): Promise<void> {
  const stream = await openLayer(file, layer.label);
  try {
    await tree.applyLayer(readTar(stream.tar, { where: layer.label }), {
      layer: layer.index,
      where: layer.label,
      ...(layer.signal ? { signal: layer.signal } : {}),
    });
    const digests = await stream.finish();
    if (digests.compressed !== layer.digest)
      throw await badCachedBlob(file, layer, digests.compressed);
    if (digests.uncompressed !== layer.diffId) {
      throw operationFailed(
        `${layer.label}: the uncompressed layer is ${digests.uncompressed}, the image config says ${layer.diffId}; refused`,
      );
    }
  } catch (err) {
    stream.destroy();
    // A layer that failed to apply may be a cached copy gone bad on disk rather than a bad
    // image: check, and if so say that instead (and drop it so the next pull fetches it).
    if (!(err instanceof BangerError && err.message.includes('cached blob'))) {
      const actual = `sha256:${await sha256File(file).catch(() => 'unreadable')}`;
      if (actual !== layer.digest) throw await badCachedBlob(file, layer, actual);
    }
    throw err;
  }
}

async function badCachedBlob(
  file: string,
  layer: { label: string },
  actual: string,
): Promise<BangerError> {
  await fs.rm(file, { force: true });
  return operationFailed(
    `${layer.label}: the cached blob does not match its digest (got ${actual})`,
    {
      hint: 'the bad copy was removed from the cache: pull again',
    },
  );
}

/** Runs at most `n` tasks at once, in the order they were asked for. */
function createLimiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((resolve) => queue.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

function treeLookup(tree: LayerTree): PathLookup {
  return (abs) => {
    const node = tree.lookup(abs.replace(/^\/+/, ''));
    if (node === undefined) return Promise.resolve(undefined);
    switch (node.kind) {
      case 'file':
        return Promise.resolve({ type: 'file' });
      case 'dir':
        return Promise.resolve({ type: 'dir' });
      case 'symlink':
        return Promise.resolve({
          type: 'symlink',
          ...(node.linkTarget ? { linkTarget: node.linkTarget } : {}),
        });
      default:
        return Promise.resolve({ type: 'other' });
    }
  };
}

/** The parts of the image config worth recording, bounded so the manifest stays small. */
function runtimeConfig(info: ImageConfigInfo): OciRuntimeConfig {
  const out: OciRuntimeConfig = {};
  if (info.entrypoint !== undefined) out.entrypoint = info.entrypoint;
  if (info.cmd !== undefined) out.cmd = info.cmd;
  if (info.env !== undefined) out.env = info.env;
  if (info.workingDir !== undefined) out.workingDir = info.workingDir;
  if (info.user !== undefined) out.user = info.user;
  return JSON.stringify(out).length > 64 * 1024 ? {} : out;
}
