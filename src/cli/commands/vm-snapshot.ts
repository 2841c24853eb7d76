/** `vm snapshot VM [--name SNAP]`: save a running VM's memory and disks (docs/warm-start.md). */
import type { Command } from 'commander';
import type { SavedInfo } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { progressOptions } from '../context.js';

export function registerVmSnapshot(vm: Command, ctx: CliContext): void {
  vm.command('snapshot')
    .summary('save a running VM (memory, processes, disks) as a snapshot to clone VMs from')
    .argument('<vm>', 'VM name or id prefix')
    .option('--name <snap>', 'snapshot name (default: VM-N)')
    .option('--json', 'print the snapshot as JSON')
    .addHelpText(
      'after',
      '\nThe VM stops for the save and the copy of its disks, then runs on.\n' +
        '\nExamples:\n  banger vm snapshot dev --name dev-ready\n' +
        '  banger vm create --from-snapshot dev-ready --name dev2\n',
    )
    .action(async (ref: string, flags: { name?: string; json?: boolean }) => {
      const params: Record<string, unknown> = { ref };
      if (flags.name !== undefined) params.name = flags.name;
      const info = await ctx.client.call<SavedInfo>(
        'vm.snapshot',
        params,
        progressOptions(ctx, { lines: true }),
      );
      ctx.progress.done();
      if (flags.json) ctx.stdout.write(JSON.stringify(info, null, 2) + '\n');
      else ctx.stdout.write(`saved snapshot ${info.name ?? info.id} of ${info.sourceVm ?? ref}\n`);
    });
}
