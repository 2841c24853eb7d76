import path from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { humanBytes } from '../render.js';

export function registerKernelExport(kernel: Command, ctx: CliContext): void {
  kernel
    .command('export')
    .summary('write a kernel as a catalog bundle (.tar.zst)')
    .description(
      "Write kernel NAME's files (vmlinux, initrd.img, config) and a manifest.json as a\n" +
        'zstd-compressed tar, for a kernel catalog (`banger kernel pull NAME`).',
    )
    .argument('<name>', 'kernel name')
    .requiredOption('-o, --output <file>', 'bundle file to write (must not exist)')
    .addHelpText('after', '\nExamples:\n  banger kernel export debian -o debian-kernel.tar.zst\n')
    .action(async (name: string, flags: { output: string }) => {
      const result = await ctx.client.call<{ file: string; sha256: string; size: number }>(
        'kernel.export',
        { name, output: path.resolve(flags.output) },
      );
      ctx.stdout.write(
        `wrote ${result.file} (${humanBytes(result.size)})\nsha256: ${result.sha256}\n`,
      );
    });
}
