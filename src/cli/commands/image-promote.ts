import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { progressOptions } from '../context.js';
import { printImage, userlandText, type ImageView } from './image-view.js';

export function registerImagePromote(image: Command, ctx: CliContext): void {
  image
    .command('promote')
    .summary('make a registered image a managed one')
    .description(
      'A registered image is your ext4 file as given. Promoting it checks its bytes against\n' +
        'the manifest, removes baked-in ssh host keys (each VM makes its own) and records what\n' +
        'its userland offers. Refused while a VM uses the image.',
    )
    .argument('<name>', 'registered image')
    .addHelpText('after', '\nExamples:\n  banger image promote my-image\n')
    .action(async (name: string) => {
      const info = await ctx.client.call<ImageView>(
        'image.promote',
        { name },
        progressOptions(ctx, { lines: true }),
      );
      ctx.progress.done();
      printImage(ctx, info);
      const userland = userlandText(info);
      if (userland !== undefined) ctx.stdout.write(`${userland}\n`);
    });
}
