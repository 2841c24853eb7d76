/** `banger snapshot list`: snapshots taken with `vm snapshot`. */
import type { Command } from 'commander';
import type { SavedInfo } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { ago, humanBytes, renderTable } from '../render.js';

export function registerSnapshotList(snapshot: Command, ctx: CliContext): void {
  snapshot
    .command('list')
    .alias('ls')
    .summary('list snapshots')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  banger snapshot list\n')
    .action(async (flags: { json?: boolean }) => {
      const snapshots = await ctx.client.call<SavedInfo[]>('snapshot.list', {});
      if (flags.json) {
        ctx.stdout.write(JSON.stringify(snapshots, null, 2) + '\n');
        return;
      }
      ctx.stdout.write(
        renderTable(
          ['NAME', 'VM', 'IMAGE', 'VCPU', 'MEMORY', 'WORK DISK', 'TAKEN'],
          snapshots.map((s) => [
            s.name ?? s.id,
            s.sourceVm ?? '-',
            s.image,
            String(s.vcpu),
            `${String(s.memoryMib)} MiB`,
            s.diskBytes > 0 ? humanBytes(s.diskBytes) : '-',
            ago(s.createdAt),
          ]),
        ),
      );
    });
}
