/**
 * The pure Firecracker launch plan: VmLaunchSpec + host facts in, the argv for `firecracker`
 * (or for `jailer`, which execs Firecracker in a per-VM chroot as an unprivileged uid/gid in
 * its own cgroup) and the VM's file layout out. No I/O. The root helper imports this file
 * directly, so it depends only on base, protocol and the launch-spec rules.
 *
 * The layout is the one contract between the privileged side (which prepares the chroot and
 * starts the process) and the backend (which configures the VM over the API): both compute
 * it from the same spec and host facts. Inside a chroot every file has a fixed short name, so
 * a snapshot taken in one jail restores in another.
 */
import path from 'node:path';
import { BangerError } from '../../base/index.js';
import { VM_ID_PATTERN, type VmLaunchSpec } from '../../protocol/index.js';
import { checkLaunchSpec, checkPath, invalid, LAUNCH_LIMITS } from '../launch-spec-rules.js';

/** Firecracker refuses more vCPUs than this (MachineConfiguration.vcpu_count maximum). */
export const FIRECRACKER_MAX_VCPUS = 32;
/** The guest-side vsock port banger-agent listens on (docs/agent-protocol.md). */
export const AGENT_VSOCK_PORT = 1024;
/** The guest's vsock context id; 0-2 are reserved, and each VM has its own device. */
export const GUEST_CID = 3;

/** File names in the VM's run directory, or at the root of its chroot. */
export const FIRECRACKER_FILES = {
  apiSocket: 'api.sock',
  vsockSocket: 'v.sock',
  log: 'firecracker.log',
  metrics: 'metrics.json',
  kernel: 'vmlinux',
  initrd: 'initrd',
  snapshotState: 'snapshot.vmstate',
  snapshotMemory: 'snapshot.mem',
} as const;

/**
 * Arguments the backend always puts first on the kernel command line: serial console,
 * reboot through the i8042 reset line (Firecracker exits when the guest reboots), reboot at
 * once on panic, no PCI scan (Firecracker's devices are virtio-mmio), no crypto self-tests,
 * and banger-init's settings for this VMM.
 */
export const FIRECRACKER_BASE_KERNEL_ARGS = [
  'console=ttyS0',
  'reboot=k',
  'panic=-1',
  'pci=off',
  'quiet',
  'cryptomgr.notests=1',
  // banger-init: the agent channel is vsock (no second spent looking for a virtio port), and
  // power-off is a reboot, the only guest exit Firecracker ends on.
  'banger.transport=vsock',
  'banger.poweroff=reboot',
] as const;

export interface JailerHostInfo {
  /** The jailer binary (absolute path or a name on PATH). */
  jailerBinary: string;
  /** Chroots are built in <chrootBaseDir>/<firecracker file name>/<id>/root. Same filesystem as the disks. */
  chrootBaseDir: string;
  /** The unprivileged user and group Firecracker runs as. */
  uid: number;
  gid: number;
  cgroupVersion: 1 | 2;
  /** Cgroup under which each VM gets its own (default "banger"). */
  parentCgroup?: string | undefined;
  /** Cap the VMM's memory at guest memory + this many MiB (default 128; 0 = no limit). */
  memoryHeadroomMib?: number | undefined;
}

export interface FirecrackerHostInfo {
  /** Absolute path of the firecracker binary (the jailer needs it; its file name must contain "firecracker"). */
  firecrackerBinary: string;
  /** Launch through the jailer (root only); absent = run firecracker directly. */
  jailer?: JailerHostInfo | undefined;
  /** `ip`, for a network namespace without the jailer (default "ip"). */
  ipBinary?: string | undefined;
}

/** A file placed into the chroot before Firecracker starts. */
export interface JailLink {
  /** The host file. */
  from: string;
  /** Its hard link inside the chroot. */
  to: string;
  /** Firecracker writes to it: it must belong to the jail's uid/gid. */
  writable: boolean;
}

export interface FirecrackerVmLayout {
  /** Firecracker's --id (the jailer's too): `banger-<vmId>`. */
  fcId: string;
  /** Host paths. */
  apiSocket: string;
  vsockSocket: string;
  logFile: string;
  metricsFile: string;
  /** The per-VM jail directory (<base>/<exec name>/<id>), removed after the VMM is gone. */
  jailDir?: string | undefined;
  /** The chroot (jailDir/root). */
  chrootDir?: string | undefined;
  /** Paths as Firecracker sees them: inside the chroot when jailed, else the host paths. */
  inVmm: {
    apiSocket: string;
    vsockSocket: string;
    logFile: string;
    metricsFile: string;
    kernel: string;
    initrd?: string | undefined;
    /** By disk id, in spec order. */
    drives: { id: string; path: string; readOnly: boolean }[];
  };
  /** Host files hard-linked into the chroot (jailer only). */
  links: JailLink[];
  /** Empty files Firecracker writes (log, metrics), owned by its uid/gid. */
  creates: string[];
  /** Cgroup directories (relative to a controller's root) the jailer creates, removed at the end. */
  cgroupDir?: string | undefined;
}

export interface FirecrackerLaunchPlan {
  file: string;
  argv: string[];
  /** Firecracker writes the guest's serial console to its stdout: this file (append). */
  stdoutPath: string;
  layout: FirecrackerVmLayout;
}

const BINARY_PATTERN = /^[A-Za-z0-9_./+-]{1,4096}$/;
const CGROUP_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function firecrackerVmId(vmId: string): string {
  return `banger-${vmId}`;
}

/** The full kernel command line: the backend's defaults, then the spec's. */
export function firecrackerKernelArgs(spec: Pick<VmLaunchSpec, 'boot'>): string[] {
  return [...FIRECRACKER_BASE_KERNEL_ARGS, ...spec.boot.args];
}

export function firecrackerVmLayout(
  spec: VmLaunchSpec,
  host: FirecrackerHostInfo,
): FirecrackerVmLayout {
  checkLaunchSpec(spec);
  checkHost(host);
  const fcId = firecrackerVmId(spec.vmId);
  const jail = host.jailer;
  if (jail === undefined) {
    const inRun = (name: string): string => `${spec.runDir}/${name}`;
    const layout: FirecrackerVmLayout = {
      fcId,
      apiSocket: inRun(FIRECRACKER_FILES.apiSocket),
      vsockSocket: inRun(FIRECRACKER_FILES.vsockSocket),
      logFile: inRun(FIRECRACKER_FILES.log),
      metricsFile: inRun(FIRECRACKER_FILES.metrics),
      inVmm: {
        apiSocket: inRun(FIRECRACKER_FILES.apiSocket),
        vsockSocket: inRun(FIRECRACKER_FILES.vsockSocket),
        logFile: inRun(FIRECRACKER_FILES.log),
        metricsFile: inRun(FIRECRACKER_FILES.metrics),
        kernel: spec.boot.kernelPath,
        initrd: spec.boot.initrdPath,
        drives: spec.disks.map((d) => ({ id: d.id, path: d.path, readOnly: d.readOnly })),
      },
      links: [],
      creates: [inRun(FIRECRACKER_FILES.log), inRun(FIRECRACKER_FILES.metrics)],
    };
    checkSockets(layout);
    return layout;
  }

  const { jailDir, cgroupDir } = firecrackerJailPaths(spec.vmId, host);
  const chrootDir = `${String(jailDir)}/root`;
  const inJail = (name: string): string => `/${name}`;
  const onHost = (name: string): string => `${chrootDir}/${name}`;
  const links: JailLink[] = [
    { from: spec.boot.kernelPath, to: onHost(FIRECRACKER_FILES.kernel), writable: false },
  ];
  if (spec.boot.initrdPath !== undefined) {
    links.push({
      from: spec.boot.initrdPath,
      to: onHost(FIRECRACKER_FILES.initrd),
      writable: false,
    });
  }
  const drives = spec.disks.map((d) => {
    const name = `${d.id}.img`;
    links.push({ from: d.path, to: onHost(name), writable: !d.readOnly });
    return { id: d.id, path: inJail(name), readOnly: d.readOnly };
  });
  const layout: FirecrackerVmLayout = {
    fcId,
    apiSocket: onHost(FIRECRACKER_FILES.apiSocket),
    vsockSocket: onHost(FIRECRACKER_FILES.vsockSocket),
    logFile: onHost(FIRECRACKER_FILES.log),
    metricsFile: onHost(FIRECRACKER_FILES.metrics),
    jailDir,
    chrootDir,
    inVmm: {
      apiSocket: inJail(FIRECRACKER_FILES.apiSocket),
      vsockSocket: inJail(FIRECRACKER_FILES.vsockSocket),
      logFile: inJail(FIRECRACKER_FILES.log),
      metricsFile: inJail(FIRECRACKER_FILES.metrics),
      kernel: inJail(FIRECRACKER_FILES.kernel),
      initrd: spec.boot.initrdPath === undefined ? undefined : inJail(FIRECRACKER_FILES.initrd),
      drives,
    },
    links,
    creates: [onHost(FIRECRACKER_FILES.log), onHost(FIRECRACKER_FILES.metrics)],
    cgroupDir,
  };
  checkSockets(layout);
  return layout;
}

/** The argv that starts Firecracker for `spec` (through the jailer when the host says so). */
export function buildFirecrackerLaunchPlan(
  spec: VmLaunchSpec,
  host: FirecrackerHostInfo,
): FirecrackerLaunchPlan {
  const layout = firecrackerVmLayout(spec, host);
  if (spec.vcpus > FIRECRACKER_MAX_VCPUS) {
    throw invalid(
      'vcpus',
      `must be at most ${String(FIRECRACKER_MAX_VCPUS)} for firecracker`,
      spec.vcpus,
    );
  }
  if (spec.accel !== 'kvm') {
    throw new BangerError('precondition_failed', 'firecracker runs only with KVM (accel "kvm")', {
      hint: 'use the qemu backend (vmm = "qemu" or "auto"), which also runs without KVM',
    });
  }
  if (spec.memoryFile !== undefined || spec.incoming === true) {
    // Firecracker restores through its API (snapshot load, which maps the memory file itself).
    throw invalid(
      'memoryFile',
      'and incoming are QEMU launch options; firecracker restores through its API',
    );
  }
  for (const disk of spec.disks) {
    if (disk.format !== 'raw') {
      throw invalid(
        `disks[${disk.id}].format`,
        'must be raw for firecracker (no qcow2)',
        disk.format,
      );
    }
  }
  const cmdline = firecrackerKernelArgs(spec).join(' ');
  if (Buffer.byteLength(cmdline) > LAUNCH_LIMITS.cmdlineBytes) {
    throw invalid(
      'boot.args',
      `make the kernel command line longer than ${String(LAUNCH_LIMITS.cmdlineBytes)} bytes`,
    );
  }
  const jail = host.jailer;
  if (jail === undefined) {
    const argv = ['--api-sock', layout.apiSocket, '--id', layout.fcId];
    if (spec.netns === undefined) {
      return { file: host.firecrackerBinary, argv, stdoutPath: spec.consoleLogPath, layout };
    }
    // `ip netns exec` execs in place (no fork), so the pid we get is Firecracker's own.
    return {
      file: host.ipBinary ?? 'ip',
      argv: ['netns', 'exec', spec.netns, host.firecrackerBinary, ...argv],
      stdoutPath: spec.consoleLogPath,
      layout,
    };
  }
  const argv = [
    '--id',
    layout.fcId,
    '--exec-file',
    host.firecrackerBinary,
    '--uid',
    String(jail.uid),
    '--gid',
    String(jail.gid),
    '--chroot-base-dir',
    jail.chrootBaseDir,
    '--cgroup-version',
    String(jail.cgroupVersion),
    '--parent-cgroup',
    jail.parentCgroup ?? 'banger',
  ];
  const headroom = jail.memoryHeadroomMib ?? 128;
  if (headroom > 0) {
    const bytes = (spec.memoryMib + headroom) * 1024 * 1024;
    argv.push(
      '--cgroup',
      jail.cgroupVersion === 2
        ? `memory.max=${String(bytes)}`
        : `memory.limit_in_bytes=${String(bytes)}`,
    );
  }
  if (spec.netns !== undefined) argv.push('--netns', `/run/netns/${spec.netns}`);
  // The jailer passes --id itself; no --daemonize: we already start it in its own session
  // (and the jailer refuses --daemonize as a process group leader).
  argv.push('--', '--api-sock', layout.inVmm.apiSocket);
  return { file: jail.jailerBinary, argv, stdoutPath: spec.consoleLogPath, layout };
}

function checkHost(host: FirecrackerHostInfo): void {
  if (typeof host.firecrackerBinary !== 'string' || !BINARY_PATTERN.test(host.firecrackerBinary)) {
    throw new BangerError(
      'bad_request',
      `firecracker binary ${JSON.stringify(host.firecrackerBinary)} is not a plain program name or path`,
    );
  }
  const jail = host.jailer;
  if (jail === undefined) return;
  checkPath(host.firecrackerBinary, 'firecracker binary (the jailer needs an absolute path)');
  if (!path.posix.basename(host.firecrackerBinary).includes('firecracker')) {
    throw new BangerError(
      'bad_request',
      `the jailer runs only a binary whose file name contains "firecracker" (got ${host.firecrackerBinary})`,
    );
  }
  if (!BINARY_PATTERN.test(jail.jailerBinary)) {
    throw new BangerError(
      'bad_request',
      `jailer binary ${JSON.stringify(jail.jailerBinary)} is not a plain program name or path`,
    );
  }
  checkPath(jail.chrootBaseDir, 'jailer chroot base directory');
  for (const [name, id] of [
    ['uid', jail.uid],
    ['gid', jail.gid],
  ] as const) {
    if (!Number.isSafeInteger(id) || id < 0 || id > 0xfffffffe)
      throw new BangerError('bad_request', `jailer ${name} ${String(id)} is not a valid id`);
  }
  if (jail.cgroupVersion !== 1 && jail.cgroupVersion !== 2)
    throw new BangerError('bad_request', `jailer cgroup version must be 1 or 2`);
  if (jail.parentCgroup !== undefined && !CGROUP_NAME_PATTERN.test(jail.parentCgroup))
    throw new BangerError(
      'bad_request',
      `jailer parent cgroup must match ${String(CGROUP_NAME_PATTERN)}`,
    );
  const headroom = jail.memoryHeadroomMib;
  if (
    headroom !== undefined &&
    (!Number.isSafeInteger(headroom) || headroom < 0 || headroom > 65536)
  )
    throw new BangerError('bad_request', `jailer memory headroom must be 0 to 65536 MiB`);
}

function checkSockets(layout: FirecrackerVmLayout): void {
  for (const socket of [layout.apiSocket, layout.vsockSocket]) {
    if (Buffer.byteLength(socket) > LAUNCH_LIMITS.socketPathBytes) {
      throw new BangerError(
        'precondition_failed',
        `firecracker socket ${socket} is longer than ${String(LAUNCH_LIMITS.socketPathBytes)} bytes (unix socket limit)`,
        { hint: 'use a shorter state or runtime directory (XDG_STATE_HOME, XDG_RUNTIME_DIR)' },
      );
    }
  }
}

/** The jail directory and cgroup of a VM, from its id alone (for cleanup after the VMM is gone). */
export function firecrackerJailPaths(
  vmId: string,
  host: FirecrackerHostInfo,
): Pick<FirecrackerVmLayout, 'jailDir' | 'cgroupDir'> {
  const jail = host.jailer;
  if (!VM_ID_PATTERN.test(vmId)) throw invalid('vmId', 'must be 12 lowercase hex characters', vmId);
  if (jail === undefined) return {};
  checkHost(host);
  const fcId = firecrackerVmId(vmId);
  return {
    jailDir: `${jail.chrootBaseDir}/${path.posix.basename(host.firecrackerBinary)}/${fcId}`,
    cgroupDir: `${jail.parentCgroup ?? 'banger'}/${fcId}`,
  };
}
