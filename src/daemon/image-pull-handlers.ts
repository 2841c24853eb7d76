/**
 * RPC methods for images and kernels from elsewhere: `image.pull` (a catalog name when the
 * image catalog lists it, an OCI reference otherwise), `image.export`, `image.cache.prune`,
 * `image.promote`, `kernel.export`, and the kernel-catalog half of `kernel.pull`. The stores
 * do the work; this adds the config (catalog URLs, OCI limits), the kernel an image needs,
 * and the VM checks only the daemon can make.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  BangerError,
  badRequest,
  ensurePrivateDir,
  notFound,
  type ProgressSink,
} from '../base/index.js';
import type { BangerConfig } from '../config/index.js';
import {
  fetchCatalog,
  fetchKernelBundle,
  findEntry,
  requireEntry,
  writeKernelBundle,
  type CatalogEntry,
  type ImageStore,
  type WrittenBundle,
} from '../images/index.js';
import type { KernelManifest, KernelStore } from '../kernels/index.js';
import {
  ARTIFACT_NAME_PATTERN,
  ARTIFACT_NAME_RULE,
  asObject,
  bool,
  onlyKeys,
  optStr,
  parseArtifactName,
  str,
} from '../protocol/index.js';
import type { VmRecords } from '../store/index.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { Handler } from './vm-handlers.js';

export interface ImagePullDeps {
  kernels: KernelStore;
  images: ImageStore;
  records: VmRecords;
  config: () => BangerConfig;
  /** Scratch space for unpacking kernel bundles (layout.tmpDir). */
  tmpDir: string;
}

const ABSOLUTE_PATH = /^\/[^\0\n]{0,4095}$/;
/** A reference that can only be a catalog name (no registry, tag or digest). */
const PLAIN_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const DEFAULT_KERNEL = 'debian';

export function imagePullHandlers(deps: ImagePullDeps): Record<string, Handler> {
  const { images, kernels, records } = deps;
  const locks = new KeyedMutex();
  return {
    'image.pull': async (call) => {
      const obj = asObject(call.params, 'params');
      onlyKeys(obj, ['ref', 'name', 'kernel', 'username', 'password', 'from'], 'params');
      const ref = str(
        obj,
        'ref',
        'params',
        /^[^\s\0]{1,512}$/,
        'must be an image reference or a catalog name',
      );
      const name = optStr(obj, 'name', 'params', ARTIFACT_NAME_PATTERN, ARTIFACT_NAME_RULE);
      const kernel = optStr(obj, 'kernel', 'params', ARTIFACT_NAME_PATTERN, ARTIFACT_NAME_RULE);
      const username = optStr(
        obj,
        'username',
        'params',
        /^[^\0]{1,256}$/,
        'must be 1-256 characters',
      );
      const password = optStr(
        obj,
        'password',
        'params',
        /^[^\0]{1,4096}$/,
        'must be 1-4096 characters',
      );
      const from =
        optStr(obj, 'from', 'params', /^(auto|oci|catalog)$/, 'must be auto, oci or catalog') ??
        'auto';
      if ((username === undefined) !== (password === undefined)) {
        throw badRequest(
          'username and password go together (give the password on stdin with --password-stdin)',
        );
      }
      const config = deps.config();
      const opts = { onProgress: call.progress, signal: call.signal };
      const found = await catalogEntry(
        ref,
        from,
        config.catalog.imagesUrl,
        call.progress,
        call.signal,
      );
      if (found !== undefined) {
        const k = kernel ?? found.entry.kernel ?? DEFAULT_KERNEL;
        await ensureKernel(deps, k, call.progress, call.signal);
        const result = await images.pullCatalog({
          entry: found.entry,
          catalogUrl: found.url,
          ...(name === undefined ? {} : { name }),
          kernel: k,
          ...opts,
        });
        return result.image.manifest;
      }
      const k = kernel ?? DEFAULT_KERNEL;
      await kernels.get(k);
      const result = await images.pullOci({
        ref,
        ...(name === undefined ? {} : { name }),
        kernel: k,
        ...(username !== undefined && password !== undefined
          ? { credentials: { username, password } }
          : {}),
        insecureRegistries: config.oci.insecureRegistries,
        limits: {
          maxEntries: config.oci.maxEntries,
          maxBytes: config.oci.maxUnpackedBytes,
          devices: config.oci.deviceNodes,
        },
        ...opts,
      });
      return result.image.manifest;
    },
    'image.export': async (call) => {
      const obj = asObject(call.params, 'params');
      onlyKeys(obj, ['name', 'output'], 'params');
      const name = str(obj, 'name', 'params', ARTIFACT_NAME_PATTERN, ARTIFACT_NAME_RULE);
      const output = str(obj, 'output', 'params', ABSOLUTE_PATH, 'must be an absolute path');
      return images.export(name, { output, onProgress: call.progress, signal: call.signal });
    },
    'image.cache.prune': async (call) => {
      const obj = asObject(call.params ?? {}, 'params');
      onlyKeys(obj, ['dryRun'], 'params');
      return images.pruneCache({ dryRun: bool(obj, 'dryRun', 'params', false) });
    },
    'image.promote': async (call) => {
      const { name } = parseArtifactName(call.params);
      return locks.run(`image:${name}`, async () => {
        await images.get(name);
        const vms = records.usingImage(name);
        if (vms.length > 0) {
          throw new BangerError(
            'conflict',
            `image ${name} is used by VM ${vms.map((v) => v.name).join(', ')}`,
            {
              hint: 'promoting replaces the image file their disks are overlays on: delete those VMs first',
            },
          );
        }
        const result = await images.promote(name, {
          onProgress: call.progress,
          signal: call.signal,
        });
        return result.image.manifest;
      });
    },
    'kernel.export': async (call) => {
      const obj = asObject(call.params, 'params');
      onlyKeys(obj, ['name', 'output'], 'params');
      const name = str(obj, 'name', 'params', ARTIFACT_NAME_PATTERN, ARTIFACT_NAME_RULE);
      const output = str(obj, 'output', 'params', ABSOLUTE_PATH, 'must be an absolute path');
      return exportKernel(kernels, name, output, call.signal);
    },
  };
}

/**
 * `kernel.pull` of a name in the kernel catalog: download the bundle (sha256-checked), unpack
 * exactly its kernel files, and import them into the kernel store as `name`.
 */
export async function pullCatalogKernel(
  deps: Pick<ImagePullDeps, 'kernels' | 'images' | 'config' | 'tmpDir'>,
  request: {
    entry: string;
    name: string;
    progress: ProgressSink;
    signal?: AbortSignal | undefined;
  },
): Promise<KernelManifest> {
  const url = deps.config().catalog.kernelsUrl;
  if (url === '') {
    throw notFound(`kernel ${request.entry}: there is no kernel catalog to pull it from`, {
      hint: 'set [catalog] kernels_url in config.toml, or `banger kernel pull debian`',
    });
  }
  const catalog = await fetchCatalog(url, request.signal ? { signal: request.signal } : {});
  const entry = requireEntry(catalog.kernels, request.entry, url);
  await ensurePrivateDir(deps.tmpDir);
  const dir = await fs.mkdtemp(path.join(deps.tmpDir, 'kernel-bundle-'));
  try {
    const bundle = await fetchKernelBundle(deps.images.bundles, entry, {
      dest: dir,
      onProgress: request.progress,
      ...(request.signal ? { signal: request.signal } : {}),
    });
    request.progress({
      step: 'import',
      message: `importing kernel ${bundle.name} (${bundle.kernelVersion ?? 'unknown version'})`,
    });
    return await deps.kernels.import(request.name, {
      from: dir,
      source: { kind: 'catalog', catalog: url, entry: entry.name, bundleSha256: entry.sha256 },
      progress: request.progress,
      ...(request.signal ? { signal: request.signal } : {}),
    });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The catalog entry `ref` names, when the catalog has one (or is asked for explicitly). */
async function catalogEntry(
  ref: string,
  from: string,
  url: string,
  progress: ProgressSink,
  signal: AbortSignal,
): Promise<{ entry: CatalogEntry; url: string } | undefined> {
  if (from === 'oci') return undefined;
  if (!PLAIN_NAME.test(ref)) {
    if (from === 'catalog') throw badRequest(`${JSON.stringify(ref)} is not a catalog name`);
    return undefined;
  }
  if (url === '') {
    if (from === 'catalog') {
      throw notFound(`there is no image catalog to pull ${ref} from`, {
        hint: 'set [catalog] images_url in config.toml',
      });
    }
    return undefined;
  }
  try {
    const catalog = await fetchCatalog(url, { signal });
    const entry =
      from === 'catalog'
        ? requireEntry(catalog.images, ref, url)
        : findEntry(catalog.images, ref, url);
    return entry === undefined ? undefined : { entry, url };
  } catch (err) {
    if (from === 'catalog' || !(err instanceof BangerError) || err.code !== 'unavailable')
      throw err;
    progress({ step: 'resolve', message: `${err.message}; trying ${ref} as a registry image` });
    return undefined;
  }
}

/** The kernel an image needs: present already, or pulled from the kernel catalog. */
async function ensureKernel(
  deps: Pick<ImagePullDeps, 'kernels' | 'images' | 'config' | 'tmpDir'>,
  name: string,
  progress: ProgressSink,
  signal: AbortSignal,
): Promise<void> {
  try {
    await deps.kernels.get(name);
    return;
  } catch (err) {
    if (
      !(err instanceof BangerError) ||
      err.code !== 'not_found' ||
      deps.config().catalog.kernelsUrl === ''
    )
      throw err;
  }
  progress({
    step: 'kernel',
    message: `kernel ${name} is missing: pulling it from the kernel catalog`,
  });
  await pullCatalogKernel(deps, { entry: name, name, progress, signal });
}

async function exportKernel(
  kernels: KernelStore,
  name: string,
  output: string,
  signal: AbortSignal,
): Promise<WrittenBundle> {
  await kernels.verify(name);
  const manifest = await kernels.get(name);
  const paths = await kernels.paths(name);
  const files: { name: string; path: string; size: number; sha256: string }[] = [];
  const add = (bundleName: string, fileName: string | undefined): void => {
    if (fileName === undefined) return;
    const entry = manifest.files.find((f) => f.name === fileName);
    if (entry === undefined) return;
    files.push({
      name: bundleName,
      path: path.join(paths.dir, fileName),
      size: entry.size,
      sha256: entry.sha256,
    });
  };
  add('vmlinux', manifest.vmlinux);
  add('initrd.img', manifest.initramfs);
  add('config', manifest.config);
  return writeKernelBundle(
    output,
    { name, kernelVersion: manifest.kernelVersion, files },
    { now: new Date(), signal },
  );
}
