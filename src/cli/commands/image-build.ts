import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { progressOptions } from '../context.js';
import { printImage, type ImageView } from './image-view.js';

export function registerImageBuild(image: Command, ctx: CliContext): void {
  image
    .command('build')
    .summary('build an image from Debian packages')
    .description(
      'Build the Debian bookworm image from a pinned package list with mmdebstrap, inject\n' +
        "banger's guest programs and write it as ext4 (no mounts).",
    )
    .argument('[name]', 'image to build: debian-bookworm', 'debian-bookworm')
    .option('--kernel <name>', 'kernel the image boots with', 'debian')
    .addHelpText('after', '\nExamples:\n  banger image build debian-bookworm\n')
    .action(async (name: string, flags: { kernel: string }) => {
      const info = await ctx.client.call<ImageView>(
        'image.build',
        { name, kernel: flags.kernel },
        progressOptions(ctx, { lines: true }),
      );
      ctx.progress.done();
      printImage(ctx, info);
    });
}
