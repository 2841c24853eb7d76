import type { Command } from 'commander';
import { LIMITS, type VmCreateParams, type VmInfo } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { progressOptions } from '../context.js';
import { parseIntOption, parseSizeOption } from '../parse-options.js';

interface CreateFlags {
  name?: string;
  image?: string;
  vcpu?: number;
  memory?: number;
  diskSize?: number;
  start: boolean;
  json?: boolean;
}

export function registerVmCreate(vm: Command, ctx: CliContext): void {
  vm.command('create')
    .summary('create a persistent VM (started unless --no-start)')
    .option('--name <name>', 'name of the VM (default: a generated one)')
    .option('--image <image>', 'image to boot (default: config default_image)')
    .option(
      '--vcpu <n>',
      'number of vCPUs',
      parseIntOption('--vcpu', LIMITS.vcpu.min, LIMITS.vcpu.max),
    )
    .option(
      '--memory <mib>',
      'memory in MiB',
      parseIntOption('--memory', LIMITS.memoryMib.min, LIMITS.memoryMib.max),
    )
    .option(
      '--disk-size <size>',
      'size of the work disk at /root, e.g. 8G',
      parseSizeOption('--disk-size'),
    )
    .option('--no-start', 'create it stopped')
    .option('--json', 'print the VM as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  banger vm create --name dev\n  banger vm create --name ci --vcpu 2 --memory 2048 --no-start\n',
    )
    .action(async (flags: CreateFlags) => {
      const params: VmCreateParams = { start: flags.start };
      if (flags.name !== undefined) params.name = flags.name;
      if (flags.image !== undefined) params.image = flags.image;
      if (flags.vcpu !== undefined) params.vcpu = flags.vcpu;
      if (flags.memory !== undefined) params.memoryMib = flags.memory;
      if (flags.diskSize !== undefined) params.diskBytes = flags.diskSize;
      const info = await ctx.client.call<VmInfo>(
        'vm.create',
        params,
        progressOptions(ctx, { lines: true }),
      );
      ctx.progress.done();
      if (flags.json) ctx.stdout.write(JSON.stringify(info, null, 2) + '\n');
      else
        ctx.stdout.write(
          `${info.state === 'running' ? 'created and started' : 'created'} ${info.name}\n`,
        );
    });
}
