/**
 * PrivilegedOps: the closed set of operations that need root. The daemon reaches privileged
 * work only through this interface. Implementations: an RPC client to bangerd-root (system
 * install) and an in-process one (development and tests running as root). Requests are typed;
 * the implementation validates every field and builds every argv itself.
 */
import type { NetworkOps } from './network-ops.js';
import type { VmLaunchSpec, VmmKind } from './vm-launch.js';

export interface LaunchVmmRequest {
  backend: VmmKind;
  spec: VmLaunchSpec;
}

export interface LaunchVmmResult {
  pid: number;
  startTime: number;
}

export interface KillVmmRequest {
  vmId: string;
  pid: number;
  startTime: number;
}

export interface ReleaseVmmRequest {
  backend: VmmKind;
  vmId: string;
}

/** The network half (bridge, taps, namespace, NAT, network processes) is in network-ops.ts. */
export interface PrivilegedOps extends NetworkOps {
  /** Starts the VMM for a banger VM, detached from the caller so it outlives daemon restarts. */
  launchVmm(request: LaunchVmmRequest): Promise<LaunchVmmResult>;
  /** SIGKILLs a VMM that banger launched (pid and start time must still match). */
  killVmm(request: KillVmmRequest): Promise<void>;
  /**
   * Removes what a launch left on the host besides the process (Firecracker's chroot and
   * cgroup), once the VMM is gone. Optional: backends that leave nothing need no release.
   */
  releaseVmm?(request: ReleaseVmmRequest): Promise<void>;
}
