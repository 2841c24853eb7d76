/**
 * The baseline VM: "the same VM started by hand". The argv a person would type to boot banger's
 * kernel, initramfs and rootfs with QEMU: the same machine type and options, accelerator, CPU
 * model, vCPUs, memory, -no-reboot, disk stack (qcow2 overlay on virtio-blk), console (serial
 * to a file) and the same kernel command line (the backend's defaults with tsc_early_khz, then
 * root=/dev/vda rw rootfstype=ext4 init=...), minus what only banger adds: no agent channel
 * (virtio-serial), no QMP socket, no virtio-rng, no banger.* kernel arguments. Pure.
 */
import { kernelArgsFor, qemuOptValue } from '../../src/vmm/index.js';
import { MICROVM_MACHINE } from '../../src/vmm/qemu/launch-plan.js';

/** Written into the baseline rootfs once per bench run; prints MARKER and powers off. */
export const MARKER_INIT = '/usr/sbin/banger-marker-init';
export const MARKER = 'BANGER-MARKER';

/**
 * The idle baseline's PID 1: Debian's /bin/sh prints IDLE_MARKER on the console and becomes
 * `sleep infinity`, a guest that is up and does nothing (banger's idle guest runs banger-init
 * and banger-agent instead). The words after `--` on the kernel command line are init's argv;
 * the kernel keeps the double-quoted one whole and banger's initramfs passes them on.
 */
export const IDLE_MARKER = 'BANGER-IDLE';
export const IDLE_INIT = {
  init: '/bin/sh',
  args: ['-c', `echo ${IDLE_MARKER}; exec sleep infinity`],
};

export interface RawBootSpec {
  qemuBinary: string;
  kernel: string;
  initrd?: string | undefined;
  /** The root disk: a qcow2 overlay made for this boot. */
  rootDisk: string;
  consoleLog: string;
  vcpus: number;
  memoryMib: number;
  /** Host TSC frequency in kHz: TCG boots hang without tsc_early_khz (HOST-NOTES). */
  tscKhz: number;
  init: string;
  initArgs?: readonly string[];
}

/** Root filesystem arguments, as banger's guestKernelArgs gives them minus banger.* ones. */
export const ROOT_ARGS = ['root=/dev/vda', 'rw', 'rootfstype=ext4'] as const;

function initArgWords(args: readonly string[]): string[] {
  return args.map((a) => {
    if (a.includes('"')) throw new RangeError(`init argument ${JSON.stringify(a)} has a quote`);
    return /\s/.test(a) ? `"${a}"` : a;
  });
}

export function rawKernelCmdline(spec: Pick<RawBootSpec, 'tscKhz' | 'init' | 'initArgs'>): string {
  const args = kernelArgsFor(
    { accel: 'tcg', boot: { kernelPath: '/unused', args: [...ROOT_ARGS, `init=${spec.init}`] } },
    { tscKhz: spec.tscKhz },
  );
  if (spec.initArgs !== undefined && spec.initArgs.length > 0) {
    args.push('--', ...initArgWords(spec.initArgs));
  }
  return args.join(' ');
}

export function rawQemuArgv(spec: RawBootSpec): string[] {
  const q = qemuOptValue;
  return [
    '-M',
    MICROVM_MACHINE,
    '-accel',
    'tcg',
    '-cpu',
    'max',
    '-smp',
    String(spec.vcpus),
    '-m',
    `${String(spec.memoryMib)}M`,
    '-nodefaults',
    '-no-user-config',
    '-nographic',
    '-no-reboot',
    '-kernel',
    spec.kernel,
    ...(spec.initrd === undefined ? [] : ['-initrd', spec.initrd]),
    '-append',
    rawKernelCmdline(spec),
    '-chardev',
    `file,id=console,path=${q(spec.consoleLog)},append=on`,
    '-serial',
    'chardev:console',
    '-blockdev',
    `driver=file,node-name=root-file,filename=${q(spec.rootDisk)},read-only=off`,
    '-blockdev',
    'driver=qcow2,node-name=root,file=root-file,read-only=off,discard=unmap',
    '-device',
    'virtio-blk-device,drive=root,id=vd-root',
  ];
}
