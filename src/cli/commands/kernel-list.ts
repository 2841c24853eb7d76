import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { renderTable } from '../render.js';
import { kernelSourceText, type KernelView } from './kernel-view.js';

export function registerKernelList(kernel: Command, ctx: CliContext): void {
  kernel
    .command('list')
    .alias('ls')
    .summary('list kernels')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  banger kernel list\n')
    .action(async (flags: { json?: boolean }) => {
      const kernels = await ctx.client.call<KernelView[]>('kernel.list', {});
      if (flags.json) {
        ctx.stdout.write(JSON.stringify(kernels, null, 2) + '\n');
        return;
      }
      ctx.stdout.write(
        renderTable(
          ['NAME', 'VERSION', 'BACKENDS', 'SOURCE'],
          kernels.map((k) => [
            k.name,
            k.kernelVersion,
            k.backends.join(','),
            kernelSourceText(k.source),
          ]),
        ),
      );
    });
}
