/**
 * vmm: the VMM contract (backend.ts) and its QEMU microvm backend: pure launch plans, the QMP
 * client, detached VMM processes known by pid + start time, and the KVM-vs-TCG probe.
 * Must never run a VMM through a shell, never build argv from unvalidated input, and never
 * leave a VMM or its sockets behind after a failed launch or a kill.
 */
export type { VmmBackend, VmmCapabilities, VmmExit, VmmInstance } from './backend.js';
export { QemuBackend, type QemuBackendOptions } from './qemu/qemu-backend.js';
export { QemuInstance, type QemuStatus } from './qemu/qemu-instance.js';
export {
  buildQemuLaunchPlan,
  kernelArgsFor,
  qemuSocketPaths,
  qemuOptValue,
  AGENT_PORT_NAME,
  QEMU_SOCKET_NAMES,
  type LaunchPlan,
  type QemuHostInfo,
} from './qemu/launch-plan.js';
export { QmpClient, type QmpEvent, type QmpGreeting } from './qemu/qmp-client.js';
export { checkLaunchSpec, LAUNCH_LIMITS } from './launch-spec-rules.js';
export { spawnVmm, killVmmProcess, VMM_LOG_MARKER, type KillVmmOptions } from './spawn-vmm.js';
export {
  createInProcessVmmOps,
  type VmmOps,
  type InProcessVmmOpsOptions,
} from './in-process-vmm-ops.js';
export { isProcessAlive, readProcStat } from './proc-stat.js';
export { hostTscKhz, qemuVersion, DEFAULT_QEMU_BINARY } from './host-info.js';
export { probeKvm, PROBE_MARKER, type ProbeKvmOptions } from './kvm-probe.js';
export type { KvmVerdict } from './kvm-verdict.js';
