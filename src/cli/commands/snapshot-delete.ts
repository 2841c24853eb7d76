/** `banger snapshot delete NAME...` (VMs cloned from a snapshot are not affected). */
import type { Command } from 'commander';
import type { SavedInfo } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { forEachVm } from './for-each-vm.js';

export function registerSnapshotDelete(snapshot: Command, ctx: CliContext): void {
  snapshot
    .command('delete')
    .alias('rm')
    .summary('delete snapshots (VMs cloned from them keep running)')
    .argument('<name...>', 'snapshot names')
    .addHelpText('after', '\nExamples:\n  banger snapshot delete dev-ready\n')
    .action(async (names: string[]) => {
      await forEachVm(
        ctx,
        names,
        (name) => ctx.client.call<SavedInfo>('snapshot.delete', { name }),
        (name) => `deleted snapshot ${name}`,
      );
    });
}
