/**
 * The flags that shape a new VM (name, image, VMM, NAT, size), shared by `vm create`, `vm run` and
 * `vm set`, and their translation into RPC parameters.
 */
import { Option, type Command } from 'commander';
import { LIMITS, type VmmKind, type VmSizeParams } from '../protocol/index.js';
import { parseIntOption, parseSizeOption } from './parse-options.js';

export interface VmShapeFlags {
  name?: string;
  image?: string;
  vmm?: VmmKind;
  vcpu?: number;
  memory?: number;
  diskSize?: number;
  nat?: boolean;
}

/** --vcpu and --memory (and --disk-size unless `disk` is false). */
export function addVmSizeOptions(cmd: Command, options: { disk?: boolean } = {}): Command {
  cmd
    .option(
      '--vcpu <n>',
      'number of vCPUs',
      parseIntOption('--vcpu', LIMITS.vcpu.min, LIMITS.vcpu.max),
    )
    .option(
      '--memory <mib>',
      'memory in MiB',
      parseIntOption('--memory', LIMITS.memoryMib.min, LIMITS.memoryMib.max),
    );
  if (options.disk !== false) {
    cmd.option(
      '--disk-size <size>',
      'size of the work disk at /root, e.g. 8G',
      parseSizeOption('--disk-size'),
    );
  }
  return cmd;
}

/** --name, --image, --vmm, --nat and the size flags. */
export function addVmShapeOptions(cmd: Command): Command {
  cmd
    .option('--name <name>', 'name of the VM (default: a generated one)')
    .option('--image <image>', 'image to boot (default: config default_image)')
    .addOption(
      new Option('--vmm <vmm>', 'VMM backend for this VM (default: config vmm)').choices([
        'qemu',
        'firecracker',
      ]),
    )
    .option('--nat', 'give the VM outbound internet access through NAT (off by default)');
  return addVmSizeOptions(cmd);
}

/** The RPC fields for the flags that were given. */
export function vmShapeParams(
  flags: VmShapeFlags,
): { name?: string; image?: string; vmm?: VmmKind; nat?: boolean } & VmSizeParams {
  const params: { name?: string; image?: string; vmm?: VmmKind; nat?: boolean } & VmSizeParams = {};
  if (flags.nat) params.nat = true;
  if (flags.vmm !== undefined) params.vmm = flags.vmm;
  if (flags.name !== undefined) params.name = flags.name;
  if (flags.image !== undefined) params.image = flags.image;
  if (flags.vcpu !== undefined) params.vcpu = flags.vcpu;
  if (flags.memory !== undefined) params.memoryMib = flags.memory;
  if (flags.diskSize !== undefined) params.diskBytes = flags.diskSize;
  return params;
}
