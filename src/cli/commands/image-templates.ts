/** `banger image templates [NAME]`: the warm templates there are (docs/warm-start.md). */
import type { Command } from 'commander';
import type { SavedInfo } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { ago, humanBytes, renderTable } from '../render.js';

export function registerImageTemplates(image: Command, ctx: CliContext): void {
  image
    .command('templates')
    .summary('list warm templates (of one image, or all)')
    .argument('[name]', 'image name')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  banger image templates\n  banger image templates debian-bookworm --json\n',
    )
    .action(async (name: string | undefined, flags: { json?: boolean }) => {
      const templates = await ctx.client.call<SavedInfo[]>(
        'image.templates',
        name === undefined ? {} : { name },
      );
      if (flags.json) {
        ctx.stdout.write(JSON.stringify(templates, null, 2) + '\n');
        return;
      }
      ctx.stdout.write(
        renderTable(
          ['ID', 'IMAGE', 'VCPU', 'MEMORY', 'WORK DISK', 'BACKEND', 'SAVED'],
          templates.map((t) => [
            t.id,
            t.image,
            String(t.vcpu),
            `${String(t.memoryMib)} MiB`,
            t.diskBytes > 0 ? humanBytes(t.diskBytes) : '-',
            t.backend,
            ago(t.createdAt),
          ]),
        ),
      );
    });
}
