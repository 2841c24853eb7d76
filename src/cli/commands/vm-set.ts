import type { Command } from 'commander';
import type { VmInfo, VmSetParams } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { addVmSizeOptions } from '../vm-shape-options.js';

export function registerVmSet(vm: Command, ctx: CliContext): void {
  addVmSizeOptions(
    vm
      .command('set')
      .summary('change the size of a stopped VM (applies at its next start)')
      .argument('<vm>', 'VM name or id prefix'),
    { disk: false },
  )
    .addHelpText(
      'after',
      '\nExamples:\n  banger vm stop dev && banger vm set dev --vcpu 2 --memory 2048 && banger vm start dev\n',
    )
    .action(async (ref: string, flags: { vcpu?: number; memory?: number }) => {
      const params: VmSetParams = { ref };
      if (flags.vcpu !== undefined) params.vcpu = flags.vcpu;
      if (flags.memory !== undefined) params.memoryMib = flags.memory;
      const info = await ctx.client.call<VmInfo>('vm.set', params);
      ctx.stdout.write(`${info.name}: ${String(info.vcpu)} vcpu, ${String(info.memoryMib)} MiB\n`);
    });
}
