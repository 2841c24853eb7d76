import path from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { progressOptions } from '../context.js';
import { humanBytes } from '../render.js';

interface ExportView {
  file: string;
  sha256: string;
  size: number;
  entry: Record<string, unknown>;
}

export function registerImageExport(image: Command, ctx: CliContext): void {
  image
    .command('export')
    .summary('write an image as a catalog bundle (.tar.zst)')
    .description(
      'Write image NAME as a bundle: a zstd-compressed tar of manifest.json and rootfs.ext4.\n' +
        'Publish it under the printed content-addressed name and add the printed entry to a\n' +
        'catalog index; `banger image pull NAME` then fetches and verifies it.',
    )
    .argument('<name>', 'image name')
    .requiredOption('-o, --output <file>', 'bundle file to write (must not exist)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  banger image export my-image -o my-image.tar.zst\n')
    .action(async (name: string, flags: { output: string; json?: boolean }) => {
      const result = await ctx.client.call<ExportView>(
        'image.export',
        { name, output: path.resolve(flags.output) },
        progressOptions(ctx, { lines: true }),
      );
      ctx.progress.done();
      if (flags.json === true) {
        ctx.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return;
      }
      ctx.stdout.write(
        `wrote ${result.file} (${humanBytes(result.size)})\nsha256: ${result.sha256}\n` +
          `catalog entry:\n${JSON.stringify(result.entry, null, 2)}\n`,
      );
    });
}
