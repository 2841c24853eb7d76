/**
 * The typed description of one VMM launch. The daemon builds it; the privileged side (the
 * root helper, or in-process in development) validates it and turns it into argv through a
 * pure launch-plan builder. Nothing here is ever interpolated into a shell.
 */
export type VmmKind = 'qemu' | 'firecracker';
export type Accel = 'kvm' | 'tcg';

export interface BootSource {
  /** ELF vmlinux (PVH) or bzImage. */
  kernelPath: string;
  initrdPath?: string | undefined;
  /** Kernel command line arguments added by banger on top of the backend's own defaults. */
  args: string[];
}

export interface DiskSpec {
  /** Short id ([a-z0-9]{1,16}); the first disk is the root filesystem (/dev/vda). */
  id: string;
  path: string;
  format: 'raw' | 'qcow2';
  readOnly: boolean;
}

export interface NicSpec {
  /** Host tap device the NIC is attached to. */
  tap: string;
  /** Locally administered unicast MAC, lowercase, colon separated. */
  mac: string;
}

export interface VmLaunchSpec {
  /** banger's VM id: 12 lowercase hex characters. */
  vmId: string;
  vcpus: number;
  memoryMib: number;
  accel: Accel;
  boot: BootSource;
  disks: DiskSpec[];
  nics: NicSpec[];
  /** Per-VM runtime directory (short path): the VMM's control and agent sockets live here. */
  runDir: string;
  /** Guest serial console is appended here. */
  consoleLogPath: string;
  /** The VMM's own stdout/stderr go here. */
  vmmLogPath: string;
  /** Network namespace to launch the VMM in (isolated networking); absent = the caller's. */
  netns?: string | undefined;
  /**
   * Guest RAM in a file instead of anonymous memory (warm templates, docs/warm-start.md):
   * `shared` while a template boots, so the file holds the guest's memory when it is saved;
   * not shared (a private copy-on-write mapping) for a VM restored from that template.
   */
  memoryFile?: MemoryFileSpec | undefined;
  /**
   * Start paused, waiting for a saved guest state to be streamed in (QEMU `-incoming defer`,
   * then QMP migrate-incoming) instead of booting the kernel.
   */
  incoming?: boolean | undefined;
}

export interface MemoryFileSpec {
  path: string;
  shared: boolean;
}

/** What a launched VMM leaves behind to find it again (persisted per VM, verified on adopt). */
export interface VmmHandles {
  kind: VmmKind;
  /** The VM these handles belong to (lets a restarted daemon ask for a guarded kill). */
  vmId?: string | undefined;
  pid: number;
  /** Process start time (clock ticks since boot, /proc/PID/stat field 22): guards against pid reuse. */
  startTime: number;
  /** VMM control socket (QMP for qemu, the API socket for firecracker). */
  controlSocket: string;
  /** Byte stream to the guest agent (virtio-serial chardev or vsock UDS). */
  agentSocket: string;
}

export const VM_ID_PATTERN = /^[0-9a-f]{12}$/;
