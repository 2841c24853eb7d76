/**
 * The VMM half of an in-process PrivilegedOps (development, tests, and a daemon running as
 * root): validates the spec, builds the argv with the pure launch plan, and spawns or kills.
 * The root helper does the same behind its socket.
 */
import { BangerError } from '../base/index.js';
import type { PrivilegedOps } from '../protocol/index.js';
import { DEFAULT_QEMU_BINARY, hostTscKhz } from './host-info.js';
import { buildQemuLaunchPlan } from './qemu/launch-plan.js';
import { killVmmProcess, spawnVmm } from './spawn-vmm.js';

export type VmmOps = Pick<PrivilegedOps, 'launchVmm' | 'killVmm'>;

export interface InProcessVmmOpsOptions {
  qemuBinary?: string;
  /** Host TSC kHz; read from /proc/cpuinfo when absent. */
  tscKhz?: number;
  ipBinary?: string;
}

export function createInProcessVmmOps(options: InProcessVmmOpsOptions = {}): VmmOps {
  let tsc: Promise<number | undefined> | undefined;
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
        case 'firecracker':
          throw new BangerError(
            'unavailable',
            'launching firecracker in-process is not implemented yet',
          );
      }
    },
    async killVmm(request) {
      await killVmmProcess({ pid: request.pid, startTime: request.startTime, vmId: request.vmId });
    },
  };
}
