import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { printKernel, type KernelView } from './kernel-view.js';

export function registerKernelShow(kernel: Command, ctx: CliContext): void {
  kernel
    .command('show')
    .summary('show a kernel and its manifest')
    .argument('<name>', 'kernel name')
    .option('--json', 'print the manifest as JSON')
    .addHelpText('after', '\nExamples:\n  banger kernel show debian\n')
    .action(async (name: string, flags: { json?: boolean }) => {
      const info = await ctx.client.call<KernelView>('kernel.show', { name });
      if (flags.json) ctx.stdout.write(JSON.stringify(info, null, 2) + '\n');
      else printKernel(ctx, info);
    });
}
