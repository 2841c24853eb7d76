import type { Command } from 'commander';
import type { VmInfo } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { printVm } from './vm-view.js';

export function registerVmShow(vm: Command, ctx: CliContext): void {
  vm.command('show')
    .summary('show one VM')
    .argument('<vm>', 'VM name or id prefix')
    .option('--json', 'print JSON (stable shape, see docs/cli.md)')
    .addHelpText('after', '\nExamples:\n  banger vm show dev\n  banger vm show dev --json\n')
    .action(async (ref: string, flags: { json?: boolean }) => {
      const info = await ctx.client.call<VmInfo>('vm.show', { ref });
      if (flags.json) ctx.stdout.write(JSON.stringify(info, null, 2) + '\n');
      else printVm(ctx, info);
    });
}
