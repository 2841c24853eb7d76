import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { progressOptions } from '../context.js';
import { printKernel, type KernelView } from './kernel-view.js';

export function registerKernelPull(kernel: Command, ctx: CliContext): void {
  kernel
    .command('pull')
    .summary('download and prepare a kernel')
    .description(
      "Download Debian's cloud kernel (never installed on the host), extract its vmlinux and build\n" +
        'its initramfs; or pull NAME from the kernel catalog ([catalog] kernels_url), sha256-checked.',
    )
    .argument('[name]', 'debian, or a name in the kernel catalog', 'debian')
    .option('--as <name>', 'store it under another name')
    .addHelpText(
      'after',
      '\nExamples:\n  banger kernel pull debian\n  banger kernel pull generic-6.1     from the kernel catalog\n',
    )
    .action(async (name: string, flags: { as?: string }) => {
      const info = await ctx.client.call<KernelView>(
        'kernel.pull',
        { source: name, name: flags.as ?? name },
        progressOptions(ctx, { lines: true }),
      );
      ctx.progress.done();
      printKernel(ctx, info);
    });
}
