import type { Command } from 'commander';
import type { VmInfo } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { vmTable } from './vm-view.js';

export function registerVmList(vm: Command, program: Command, ctx: CliContext): void {
  const action = async (flags: { json?: boolean; quiet?: boolean }): Promise<void> => {
    const vms = await ctx.client.call<VmInfo[]>('vm.list', {});
    if (flags.json) ctx.stdout.write(JSON.stringify(vms, null, 2) + '\n');
    else if (flags.quiet) ctx.stdout.write(vms.map((v) => `${v.name}\n`).join(''));
    else ctx.stdout.write(vmTable(vms));
  };
  for (const [parent, name] of [
    [vm, 'list'],
    [program, 'ps'],
  ] as const) {
    const cmd = parent
      .command(name)
      .summary('list VMs')
      .option('--json', 'print JSON (stable shape, see docs/cli.md)')
      .option('-q, --quiet', 'print names only')
      .addHelpText(
        'after',
        `\nExamples:\n  banger ${parent === vm ? 'vm list' : 'ps'}\n  banger vm list --json\n`,
      )
      .action(action);
    if (name === 'list') cmd.alias('ls');
  }
}
