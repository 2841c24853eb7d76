import type { Command } from 'commander';
import type { VmInfo, VmSetParams } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { addVmSizeOptions } from '../vm-shape-options.js';

export function registerVmSet(vm: Command, ctx: CliContext): void {
  addVmSizeOptions(
    vm
      .command('set')
      .summary('change a VM: size (stopped VMs, at the next start) or NAT (at once)')
      .argument('<vm>', 'VM name or id prefix'),
    { disk: false },
  )
    .option('--nat', 'turn outbound NAT on (applies at once, also to a running VM)')
    .option('--no-nat', 'turn outbound NAT off')
    .addHelpText(
      'after',
      '\nExamples:\n  banger vm stop dev && banger vm set dev --vcpu 2 --memory 2048 && banger vm start dev\n' +
        '  banger vm set dev --nat\n',
    )
    .action(async (ref: string, flags: { vcpu?: number; memory?: number; nat?: boolean }) => {
      const params: VmSetParams = { ref };
      if (flags.vcpu !== undefined) params.vcpu = flags.vcpu;
      if (flags.memory !== undefined) params.memoryMib = flags.memory;
      if (flags.nat !== undefined) params.nat = flags.nat;
      const info = await ctx.client.call<VmInfo>('vm.set', params);
      const nat = info.network ? `, NAT ${info.network.nat ? 'on' : 'off'}` : '';
      ctx.stdout.write(
        `${info.name}: ${String(info.vcpu)} vcpu, ${String(info.memoryMib)} MiB${nat}\n`,
      );
    });
}
