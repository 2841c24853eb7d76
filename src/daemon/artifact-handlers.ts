/**
 * RPC methods of the `kernel` and `image` nouns. The stores do the work; the daemon adds
 * what only it knows: whether a VM or an image still uses what is being removed, and that
 * two builds of one name never race.
 */
import { BangerError } from '../base/index.js';
import type { ImageStore } from '../images/index.js';
import type { KernelStore } from '../kernels/index.js';
import {
  ARTIFACT_NAME_PATTERN,
  ARTIFACT_NAME_RULE,
  asObject,
  onlyKeys,
  optInt,
  optStr,
  parseArtifactName,
  parseNoParams,
  str,
} from '../protocol/index.js';
import type { VmRecords } from '../store/index.js';
import { pullCatalogKernel, type ImagePullDeps } from './image-pull-handlers.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { Handler } from './vm-handlers.js';

const ABSOLUTE_PATH = /^\/[^\0]*$/;

export interface ArtifactDeps {
  kernels: KernelStore;
  images: ImageStore;
  records: VmRecords;
  /** Where `kernel pull NAME` finds its kernel catalog (config [catalog] kernels_url). */
  catalog: Pick<ImagePullDeps, 'config' | 'tmpDir'>;
}

export function kernelHandlers({
  kernels,
  images,
  records,
  catalog,
}: ArtifactDeps): Record<string, Handler> {
  const locks = new KeyedMutex();
  return {
    'kernel.pull': async (call) => {
      const obj = asObject(call.params, 'params');
      onlyKeys(obj, ['source', 'name'], 'params');
      const source = str(
        obj,
        'source',
        'params',
        ARTIFACT_NAME_PATTERN,
        'must be "debian" or a name in the kernel catalog',
      );
      const name =
        optStr(obj, 'name', 'params', ARTIFACT_NAME_PATTERN, ARTIFACT_NAME_RULE) ?? source;
      return locks.run(`kernel:${name}`, () =>
        source === 'debian'
          ? kernels.pullDebian(name, { progress: call.progress, signal: call.signal })
          : pullCatalogKernel(
              { kernels, images, ...catalog },
              { entry: source, name, progress: call.progress, signal: call.signal },
            ),
      );
    },
    'kernel.import': async (call) => {
      const obj = asObject(call.params, 'params');
      onlyKeys(obj, ['name', 'from'], 'params');
      const name = str(obj, 'name', 'params', ARTIFACT_NAME_PATTERN, ARTIFACT_NAME_RULE);
      const from = str(obj, 'from', 'params', ABSOLUTE_PATH, 'must be an absolute path');
      return locks.run(`kernel:${name}`, () =>
        kernels.import(name, { from, progress: call.progress, signal: call.signal }),
      );
    },
    'kernel.build': async (call) => {
      const obj = asObject(call.params, 'params');
      onlyKeys(obj, ['name', 'jobs'], 'params');
      const name = str(obj, 'name', 'params', ARTIFACT_NAME_PATTERN, ARTIFACT_NAME_RULE);
      const jobs = optInt(obj, 'jobs', 'params', 1, 256);
      return locks.run(`kernel:${name}`, () =>
        kernels.build(name, { jobs, progress: call.progress, signal: call.signal }),
      );
    },
    'kernel.list': async (call) => {
      parseNoParams(call.params);
      return kernels.list();
    },
    'kernel.show': async (call) => kernels.get(parseArtifactName(call.params).name),
    'kernel.rm': async (call) => {
      const { name } = parseArtifactName(call.params);
      return locks.run(`kernel:${name}`, async () => {
        await kernels.get(name);
        const vms = records.usingKernel(name);
        if (vms.length > 0) {
          throw new BangerError(
            'conflict',
            `kernel ${name} is used by VM ${vms.map((v) => v.name).join(', ')}`,
            {
              hint: 'delete those VMs first',
            },
          );
        }
        const users = (await images.list()).images.filter((i) => i.manifest.kernel === name);
        if (users.length > 0) {
          throw new BangerError(
            'conflict',
            `kernel ${name} is the kernel of image ${users.map((i) => i.name).join(', ')}`,
            { hint: 'delete those images first' },
          );
        }
        await kernels.remove(name);
        return { name };
      });
    },
  };
}

export function imageHandlers({ kernels, images, records }: ArtifactDeps): Record<string, Handler> {
  const locks = new KeyedMutex();
  const kernelMustExist = async (kernel: string): Promise<void> => {
    await kernels.get(kernel);
  };
  return {
    'image.build': async (call) => {
      const obj = asObject(call.params, 'params');
      onlyKeys(obj, ['name', 'kernel'], 'params');
      const name = str(obj, 'name', 'params', ARTIFACT_NAME_PATTERN, ARTIFACT_NAME_RULE);
      const kernel =
        optStr(obj, 'kernel', 'params', ARTIFACT_NAME_PATTERN, ARTIFACT_NAME_RULE) ?? 'debian';
      return locks.run(`image:${name}`, async () => {
        const result = await images.build(name, {
          kernel,
          onProgress: call.progress,
          signal: call.signal,
        });
        return result.image.manifest;
      });
    },
    'image.register': async (call) => {
      const obj = asObject(call.params, 'params');
      onlyKeys(obj, ['name', 'rootfs', 'kernel'], 'params');
      const name = str(obj, 'name', 'params', ARTIFACT_NAME_PATTERN, ARTIFACT_NAME_RULE);
      const rootfs = str(obj, 'rootfs', 'params', ABSOLUTE_PATH, 'must be an absolute path');
      const kernel = str(obj, 'kernel', 'params', ARTIFACT_NAME_PATTERN, ARTIFACT_NAME_RULE);
      await kernelMustExist(kernel);
      return locks.run(`image:${name}`, async () => {
        const result = await images.register(name, {
          rootfs,
          kernel,
          onProgress: call.progress,
          signal: call.signal,
        });
        return result.image.manifest;
      });
    },
    'image.list': async (call) => {
      parseNoParams(call.params);
      return (await images.list()).images.map((i) => i.manifest);
    },
    'image.show': async (call) => (await images.get(parseArtifactName(call.params).name)).manifest,
    'image.delete': async (call) => {
      const { name } = parseArtifactName(call.params);
      return locks.run(`image:${name}`, async () => {
        await images.get(name);
        const vms = records.usingImage(name);
        if (vms.length > 0) {
          throw new BangerError(
            'conflict',
            `image ${name} is used by VM ${vms.map((v) => v.name).join(', ')}`,
            {
              hint: 'delete those VMs first (their disks are overlays on this image)',
            },
          );
        }
        await images.remove(name);
        return { name };
      });
    },
  };
}
