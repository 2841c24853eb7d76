import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { printImage, type ImageView } from './image-view.js';

export function registerImageShow(image: Command, ctx: CliContext): void {
  image
    .command('show')
    .summary('show an image and its manifest')
    .argument('<name>', 'image name')
    .option('--json', 'print the manifest as JSON')
    .addHelpText('after', '\nExamples:\n  banger image show debian-bookworm --json\n')
    .action(async (name: string, flags: { json?: boolean }) => {
      const info = await ctx.client.call<ImageView>('image.show', { name });
      if (flags.json) ctx.stdout.write(JSON.stringify(info, null, 2) + '\n');
      else printImage(ctx, info);
    });
}
