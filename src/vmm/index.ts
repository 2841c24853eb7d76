/**
 * vmm: the VMM contract (backend.ts) and its backends: QEMU microvm (pure launch plans, the
 * QMP client) and Firecracker (+ jailer; the API client typed from the vendored spec, vsock
 * agent channel, raw copy-on-write disks), detached VMM processes known by pid + start time,
 * and the KVM-vs-TCG probe.
 * Must never run a VMM through a shell, never build argv from unvalidated input, and never
 * leave a VMM or its sockets behind after a failed launch or a kill.
 */
export type {
  SavedVmState,
  SaveStateOptions,
  VmmBackend,
  VmmCapabilities,
  VmmExit,
  VmmInstance,
} from './backend.js';
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
export { compressQemuState as compressSavedState, QEMU_STATE_FILE } from './qemu/qemu-migration.js';
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
export {
  FirecrackerBackend,
  type FirecrackerBackendOptions,
} from './firecracker/firecracker-backend.js';
export { FirecrackerInstance, type SnapshotTarget } from './firecracker/firecracker-instance.js';
export {
  buildFirecrackerLaunchPlan,
  firecrackerVmLayout,
  AGENT_VSOCK_PORT,
  FIRECRACKER_FILES,
  type FirecrackerHostInfo,
  type JailerHostInfo,
  type FirecrackerVmLayout,
  type FirecrackerLaunchPlan,
} from './firecracker/launch-plan.js';
export { FirecrackerApiClient } from './firecracker/api-client.js';
export { connectVsock } from './firecracker/vsock-connect.js';
export {
  chooseCowStrategy,
  createCowDisk,
  type CowChoice,
  type CowStrategy,
} from './firecracker/disk-cow.js';
export {
  checkFirecrackerVersion,
  firecrackerBinaryVersion,
  FIRECRACKER_MIN_VERSION,
  FIRECRACKER_TESTED_MAX,
} from './firecracker/version.js';
export { hostCgroupVersion } from './firecracker/jail.js';
export {
  probeFirecrackerHost,
  firecrackerHostInfo,
  firecrackerDoctorChecks,
  type FirecrackerHostProbe,
  type ProbeFirecrackerOptions,
} from './firecracker/host-probe.js';
