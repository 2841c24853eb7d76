/**
 * RPC methods of warm starts (docs/warm-start.md): `image.warm`, `image.templates`,
 * `image.unwarm`, `vm.pause`, `vm.resume`, `vm.snapshot`, `snapshot.list`, `snapshot.delete`;
 * and `image.delete` made to refuse an image that snapshots still need and to take its
 * templates along.
 */
import { BangerError } from '../base/index.js';
import type { BangerConfig } from '../config/index.js';
import type { RpcCall } from '../ipc/index.js';
import {
  parseArtifactName,
  parseImageTemplatesParams,
  parseImageWarmParams,
  parseNoParams,
  parseSnapshotRefParams,
  parseVmRefParams,
  parseVmSnapshotParams,
  type ImageWarmResult,
} from '../protocol/index.js';
import type { Handler } from './vm-handlers.js';
import type { VmService } from './vm-service.js';
import type { WarmService } from './warm-service.js';

export function warmHandlers(deps: {
  vms: VmService;
  warm: WarmService;
  config: () => BangerConfig;
  /** The plain `image.delete` (artifact handlers'), wrapped here. */
  imageDelete?: Handler | undefined;
}): Record<string, Handler> {
  const { vms, warm } = deps;
  const ctx = (call: RpcCall) => ({
    progress: call.progress,
    notice: call.notice,
    signal: call.signal,
  });
  const handlers: Record<string, Handler> = {
    'image.warm': async (call): Promise<ImageWarmResult> => {
      const params = parseImageWarmParams(call.params);
      const defaults = deps.config().vmDefaults;
      return warm.warm(
        {
          image: params.name,
          vcpus: params.vcpu ?? defaults.vcpu,
          memoryMib: params.memoryMib ?? defaults.memoryMib,
          workDiskBytes: params.noDisk ? 0 : (params.diskBytes ?? defaults.diskSizeBytes),
          force: params.force ?? false,
        },
        ctx(call),
      );
    },
    'image.templates': async (call) => warm.templates(parseImageTemplatesParams(call.params).name),
    'image.unwarm': async (call) => warm.removeTemplates(parseArtifactName(call.params).name),
    'vm.pause': async (call) => vms.info(await vms.pause(parseVmRefParams(call.params).ref)),
    'vm.resume': async (call) => vms.info(await vms.resume(parseVmRefParams(call.params).ref)),
    'vm.snapshot': async (call) => {
      const { ref, name } = parseVmSnapshotParams(call.params);
      return vms.snapshot(ref, name, ctx(call));
    },
    'snapshot.list': async (call) => {
      parseNoParams(call.params);
      return warm.snapshotList();
    },
    'snapshot.delete': async (call) =>
      warm.deleteSnapshot(parseSnapshotRefParams(call.params).name),
  };
  const imageDelete = deps.imageDelete;
  if (imageDelete) {
    handlers['image.delete'] = async (call) => {
      const { name } = parseArtifactName(call.params);
      const users = (await warm.snapshotList()).filter((s) => s.image === name);
      if (users.length > 0) {
        throw new BangerError(
          'conflict',
          `image ${name} is used by snapshot ${users.map((s) => s.name ?? s.id).join(', ')}`,
          { hint: 'delete those snapshots first (their disks are overlays on this image)' },
        );
      }
      const result = await imageDelete(call);
      await warm.removeTemplates(name);
      return result;
    };
  }
  return handlers;
}
