/**
 * The VMM half of an in-process PrivilegedOps (development, tests, and a daemon running as
 * root): validates the spec, builds the argv with the pure launch plan, and spawns or kills.
 * The root helper does the same behind its socket.
 */
import { BangerError, silentLogger, type Logger } from '../base/index.js';
import type { PrivilegedOps } from '../protocol/index.js';
import { prepareFirecrackerFiles, releaseFirecrackerJail } from './firecracker/jail.js';
import {
  buildFirecrackerLaunchPlan,
  firecrackerJailPaths,
  type FirecrackerHostInfo,
} from './firecracker/launch-plan.js';
import { DEFAULT_QEMU_BINARY, hostTscKhz } from './host-info.js';
import { buildQemuLaunchPlan } from './qemu/launch-plan.js';
import { killVmmProcess, spawnVmm } from './spawn-vmm.js';

export type VmmOps = Pick<PrivilegedOps, 'launchVmm' | 'killVmm' | 'releaseVmm'>;

export interface InProcessVmmOpsOptions {
  qemuBinary?: string;
  /** Host TSC kHz; read from /proc/cpuinfo when absent. */
  tscKhz?: number;
  ipBinary?: string;
  /** How Firecracker is started here (resolved binary, jailer or not); absent = not available. */
  firecracker?: FirecrackerHostInfo | undefined;
  /** Where cgroup hierarchies are mounted (default: from /proc/mounts); tests point elsewhere. */
  cgroupMounts?: string[];
  logger?: Logger;
}

export function createInProcessVmmOps(options: InProcessVmmOpsOptions = {}): VmmOps {
  let tsc: Promise<number | undefined> | undefined;
  const logger = options.logger ?? silentLogger;
  return {
    async launchVmm(request) {
      switch (request.backend) {
        case 'qemu': {
          tsc ??= options.tscKhz === undefined ? hostTscKhz() : Promise.resolve(options.tscKhz);
          const plan = buildQemuLaunchPlan(request.spec, {
            qemuBinary: options.qemuBinary ?? DEFAULT_QEMU_BINARY,
            tscKhz: await tsc,
            ipBinary: options.ipBinary,
          });
          return spawnVmm({ plan, logPath: request.spec.vmmLogPath });
        }
        case 'firecracker': {
          const host = options.firecracker;
          if (host === undefined) {
            throw new BangerError('unavailable', 'firecracker is not available on this host', {
              hint: 'install firecracker (>= 1.5) on a host with KVM, or use vmm = "qemu"; see `banger doctor`',
            });
          }
          const plan = buildFirecrackerLaunchPlan(request.spec, host);
          await prepareFirecrackerFiles(plan.layout, host.jailer);
          try {
            return await spawnVmm({
              plan,
              logPath: request.spec.vmmLogPath,
              stdoutPath: plan.stdoutPath,
            });
          } catch (err) {
            await releaseFirecrackerJail(plan.layout);
            throw err;
          }
        }
      }
    },
    async killVmm(request) {
      await killVmmProcess({ pid: request.pid, startTime: request.startTime, vmId: request.vmId });
    },
    async releaseVmm(request) {
      if (request.backend !== 'firecracker' || options.firecracker?.jailer === undefined) return;
      await releaseFirecrackerJail(firecrackerJailPaths(request.vmId, options.firecracker), {
        ...(options.cgroupMounts ? { cgroupMounts: options.cgroupMounts } : {}),
        onWarning: (message) => logger.warn(message, { vmId: request.vmId }),
      });
    },
  };
}
