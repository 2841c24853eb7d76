import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export function registerKernelRm(kernel: Command, ctx: CliContext): void {
  kernel
    .command('rm')
    .summary('remove a kernel (refused while a VM or image uses it)')
    .argument('<name>', 'kernel name')
    .addHelpText('after', '\nExamples:\n  banger kernel rm my-kernel\n')
    .action(async (name: string) => {
      await ctx.client.call('kernel.rm', { name });
      ctx.stdout.write(`removed kernel ${name}\n`);
    });
}
