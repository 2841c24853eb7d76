import path from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { progressOptions } from '../context.js';
import { printImage, type ImageView } from './image-view.js';

export function registerImageRegister(image: Command, ctx: CliContext): void {
  image
    .command('register')
    .summary('add an existing ext4 root filesystem as an image')
    .description(
      "Copy an ext4 root filesystem into the image store and inject banger's guest programs\n" +
        'into the copy (your file is never modified).',
    )
    .argument('<name>', 'name for the image')
    .requiredOption('--rootfs <file>', 'ext4 root filesystem image')
    .requiredOption('--kernel <name>', 'kernel it boots with (see `banger kernel list`)')
    .addHelpText(
      'after',
      '\nExamples:\n  banger image register my-image --rootfs ./rootfs.ext4 --kernel debian\n',
    )
    .action(async (name: string, flags: { rootfs: string; kernel: string }) => {
      const info = await ctx.client.call<ImageView>(
        'image.register',
        { name, rootfs: path.resolve(flags.rootfs), kernel: flags.kernel },
        progressOptions(ctx, { lines: true }),
      );
      ctx.progress.done();
      printImage(ctx, info);
    });
}
