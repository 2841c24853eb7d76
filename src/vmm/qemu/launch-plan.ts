/**
 * The pure QEMU argv builder: VmLaunchSpec in, `{ file, argv }` out, no I/O. The root helper
 * imports this file directly, so it depends only on base and protocol. Every value that
 * lands inside a QEMU "key=value,..." option is escaped by QEMU's own rule (a comma is
 * written twice); paths are validated first (absolute, normalised, no control characters).
 */
import { BangerError } from '../../base/index.js';
import type { VmLaunchSpec } from '../../protocol/index.js';
import { checkLaunchSpec, invalid, LAUNCH_LIMITS } from '../launch-spec-rules.js';

export interface QemuHostInfo {
  /** qemu-system-x86_64, or an absolute path to it. */
  qemuBinary: string;
  /** Host TSC frequency (kHz). Required under TCG: without tsc_early_khz boots hang (HOST-NOTES). */
  tscKhz?: number | undefined;
  /** `ip`, for launching inside a network namespace (default "ip"). */
  ipBinary?: string | undefined;
  /**
   * The NICs' taps arrive already open, as fds 3, 4, ... in spec order: bangerd-root opens
   * them (banger-tapfd) so that QEMU, running as the owner, never opens /dev/net/tun.
   */
  tapFds?: boolean | undefined;
}

export interface LaunchPlan {
  file: string;
  argv: string[];
}

/** Sockets QEMU creates in the spec's runDir (the same names as config's VM_FILES). */
export const QEMU_SOCKET_NAMES = {
  qmp: 'qmp.sock',
  agent: 'agent.sock',
  /** Where a saved guest state is streamed in (QEMU listens: migrate-incoming). */
  incoming: 'incoming.sock',
  /** Where QEMU streams a running guest's state out to (banger listens: migrate). */
  outgoing: 'migrate.sock',
} as const;
/** The virtio-serial port name the guest agent looks for in /sys/class/virtio-ports/. */
export const AGENT_PORT_NAME = 'banger.agent';

/**
 * Options of `-M microvm`: no option ROMs (qboot loads the kernel itself, less to run under
 * TCG), no legacy PIT/PIC (the kernel uses the TSC and the LAPIC timer; the TSC needs
 * tsc_early_khz under TCG), the RTC kept so the guest has wall-clock time, the ISA serial
 * port kept as the console. ACPI stays on (default): the kernel finds virtio-mmio through it.
 */
export const MICROVM_MACHINE = 'microvm,x-option-roms=off,pit=off,pic=off,rtc=on,isa-serial=on';

/** Arguments the backend always puts first on the kernel command line. */
export const QEMU_BASE_KERNEL_ARGS = ['console=ttyS0', 'reboot=t', 'panic=-1', 'quiet'] as const;

export function qemuSocketPaths(runDir: string): {
  qmp: string;
  agent: string;
  incoming: string;
  outgoing: string;
} {
  return {
    qmp: `${runDir}/${QEMU_SOCKET_NAMES.qmp}`,
    agent: `${runDir}/${QEMU_SOCKET_NAMES.agent}`,
    incoming: `${runDir}/${QEMU_SOCKET_NAMES.incoming}`,
    outgoing: `${runDir}/${QEMU_SOCKET_NAMES.outgoing}`,
  };
}

/** Escapes a value for a QEMU "key=value,key=value" option: "," becomes ",,". */
export function qemuOptValue(value: string): string {
  return value.replaceAll(',', ',,');
}

/**
 * The full kernel command line: the backend's defaults (console, fail-fast reboot/panic,
 * quiet, tsc_early_khz under TCG, no crypto self-tests: ~400 ms under TCG), then the spec's.
 */
export function kernelArgsFor(
  spec: Pick<VmLaunchSpec, 'accel' | 'boot'>,
  host: Pick<QemuHostInfo, 'tscKhz'>,
): string[] {
  const args: string[] = [...QEMU_BASE_KERNEL_ARGS];
  if (spec.accel === 'tcg') {
    const khz = host.tscKhz;
    if (khz === undefined || !Number.isInteger(khz) || khz < 1000 || khz > 100_000_000) {
      throw new BangerError(
        'precondition_failed',
        `TCG needs the host TSC frequency in kHz (got ${String(khz)})`,
        {
          hint: 'read it with hostTscKhz() from /proc/cpuinfo; boots under TCG hang without tsc_early_khz',
        },
      );
    }
    args.push(`tsc_early_khz=${String(khz)}`);
  }
  args.push('cryptomgr.notests=1', ...spec.boot.args);
  return args;
}

export function buildQemuLaunchPlan(spec: VmLaunchSpec, host: QemuHostInfo): LaunchPlan {
  checkLaunchSpec(spec);
  if (typeof host.qemuBinary !== 'string' || !/^[A-Za-z0-9_./+-]{1,4096}$/.test(host.qemuBinary)) {
    throw new BangerError(
      'bad_request',
      `qemu binary ${JSON.stringify(host.qemuBinary)} is not a plain program name or path`,
    );
  }
  const cmdline = kernelArgsFor(spec, host).join(' ');
  if (Buffer.byteLength(cmdline) > LAUNCH_LIMITS.cmdlineBytes) {
    throw invalid(
      'boot.args',
      `make the kernel command line longer than ${String(LAUNCH_LIMITS.cmdlineBytes)} bytes`,
    );
  }
  const sockets = qemuSocketPaths(spec.runDir);
  const q = qemuOptValue;

  const argv: string[] = [
    '-name',
    `banger-${spec.vmId}`,
    '-M',
    // Guest RAM from a file (warm templates): the machine takes it from the backend object below.
    spec.memoryFile === undefined ? MICROVM_MACHINE : `${MICROVM_MACHINE},memory-backend=mem`,
    ...(spec.accel === 'kvm'
      ? ['-accel', 'kvm', '-cpu', 'host']
      : ['-accel', 'tcg', '-cpu', 'max']),
    '-smp',
    String(spec.vcpus),
    '-m',
    `${String(spec.memoryMib)}M`,
    '-nodefaults',
    '-no-user-config',
    '-nographic',
    '-no-reboot',
    // -kernel/-initrd/-append are plain strings to QEMU (no option parsing): no escaping.
    '-kernel',
    spec.boot.kernelPath,
    ...(spec.boot.initrdPath === undefined ? [] : ['-initrd', spec.boot.initrdPath]),
    '-append',
    cmdline,
    '-chardev',
    `file,id=console,path=${q(spec.consoleLogPath)},append=on`,
    '-serial',
    'chardev:console',
    // Entropy from the host: the guest's RNG is ready at once instead of after seconds.
    '-object',
    'rng-random,id=rng0,filename=/dev/urandom',
    '-device',
    'virtio-rng-device,rng=rng0',
  ];
  if (spec.memoryFile !== undefined) {
    argv.push(
      '-object',
      `memory-backend-file,id=mem,size=${String(spec.memoryMib)}M,` +
        `mem-path=${q(spec.memoryFile.path)},share=${spec.memoryFile.shared ? 'on' : 'off'}`,
    );
  }

  for (const disk of spec.disks) {
    const ro = disk.readOnly ? 'on' : 'off';
    argv.push(
      '-blockdev',
      `driver=file,node-name=disk-${disk.id}-file,filename=${q(disk.path)},read-only=${ro}`,
      '-blockdev',
      `driver=${disk.format},node-name=disk-${disk.id},file=disk-${disk.id}-file,read-only=${ro}` +
        (disk.readOnly ? '' : ',discard=unmap'),
      // Command-line order is virtio-mmio probe order: the first disk is /dev/vda.
      '-device',
      `virtio-blk-device,drive=disk-${disk.id},id=vd-${disk.id}`,
    );
  }

  spec.nics.forEach((nic, i) => {
    argv.push(
      '-netdev',
      host.tapFds === true
        ? `tap,id=net${String(i)},fd=${String(3 + i)}`
        : `tap,id=net${String(i)},ifname=${nic.tap},script=no,downscript=no`,
      '-device',
      `virtio-net-device,netdev=net${String(i)},mac=${nic.mac}`,
    );
  });

  argv.push(
    // The agent channel: virtio-serial stands in for vsock, which this host lacks (HOST-NOTES).
    '-device',
    'virtio-serial-device,id=vser0',
    '-chardev',
    `socket,id=agent,path=${q(sockets.agent)},server=on,wait=off`,
    '-device',
    `virtserialport,chardev=agent,name=${AGENT_PORT_NAME}`,
    '-chardev',
    `socket,id=qmp,path=${q(sockets.qmp)},server=on,wait=off`,
    '-mon',
    'chardev=qmp,mode=control',
  );
  // A saved guest is streamed in over QMP (migrate-incoming) once QEMU is up.
  if (spec.incoming === true) argv.push('-incoming', 'defer');

  if (spec.netns === undefined) return { file: host.qemuBinary, argv };
  // `ip netns exec` execs in place (no fork), so the pid we get is QEMU's own.
  return {
    file: host.ipBinary ?? 'ip',
    argv: ['netns', 'exec', spec.netns, host.qemuBinary, ...argv],
  };
}
