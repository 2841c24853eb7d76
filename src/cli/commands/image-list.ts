import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { humanBytes, renderTable } from '../render.js';
import { imageSourceText, type ImageView } from './image-view.js';

export function registerImageList(image: Command, ctx: CliContext): void {
  image
    .command('list')
    .alias('ls')
    .summary('list images')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  banger image list\n')
    .action(async (flags: { json?: boolean }) => {
      const images = await ctx.client.call<ImageView[]>('image.list', {});
      if (flags.json) {
        ctx.stdout.write(JSON.stringify(images, null, 2) + '\n');
        return;
      }
      ctx.stdout.write(
        renderTable(
          ['NAME', 'KERNEL', 'SIZE', 'SOURCE'],
          images.map((i) => [i.name, i.kernel, humanBytes(i.sizeBytes), imageSourceText(i.source)]),
        ),
      );
    });
}
