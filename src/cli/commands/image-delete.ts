import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export function registerImageDelete(image: Command, ctx: CliContext): void {
  image
    .command('delete')
    .alias('rm')
    .summary('delete an image (refused while a VM uses it)')
    .argument('<name>', 'image name')
    .addHelpText('after', '\nExamples:\n  banger image delete my-image\n')
    .action(async (name: string) => {
      await ctx.client.call('image.delete', { name });
      ctx.stdout.write(`deleted image ${name}\n`);
    });
}
