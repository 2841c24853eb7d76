import path from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { printKernel, type KernelView } from './kernel-view.js';

export function registerKernelImport(kernel: Command, ctx: CliContext): void {
  kernel
    .command('import')
    .summary('import a kernel from a directory')
    .description(
      'Import a kernel from DIR: a vmlinux (ELF) or vmlinuz/bzImage, an optional initrd\n' +
        '(initrd, initrd.img, initramfs, initramfs.cpio) and an optional kernel config (config).',
    )
    .argument('<name>', 'name to store it under')
    .requiredOption('--from <dir>', 'directory holding the kernel files')
    .addHelpText('after', '\nExamples:\n  banger kernel import my-kernel --from ./out\n')
    .action(async (name: string, flags: { from: string }) => {
      const info = await ctx.client.call<KernelView>('kernel.import', {
        name,
        from: path.resolve(flags.from),
      });
      printKernel(ctx, info);
    });
}
