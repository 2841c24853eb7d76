import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { BangerError } from '../../base/index.js';
import type { VmInfo } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { vmTable } from './vm-view.js';

export function registerVmPrune(vm: Command, ctx: CliContext): void {
  vm.command('prune')
    .summary('delete every VM that is not running (asks first)')
    .option('-f, --force', 'do not ask')
    .addHelpText('after', '\nExamples:\n  banger vm prune\n  banger vm prune -f\n')
    .action(async (flags: { force?: boolean }) => {
      const candidates = (await ctx.client.call<VmInfo[]>('vm.list', {})).filter(
        (v) =>
          v.state !== 'running' &&
          v.state !== 'starting' &&
          v.state !== 'stopping' &&
          v.state !== 'paused',
      );
      if (candidates.length === 0) {
        ctx.stdout.write('nothing to prune: every VM is running\n');
        return;
      }
      if (!flags.force) {
        if (!process.stdin.isTTY) {
          throw new BangerError(
            'bad_request',
            `vm prune would delete ${String(candidates.length)} VM(s); confirm with -f`,
            {
              hint: 'banger vm prune -f',
            },
          );
        }
        ctx.stdout.write(vmTable(candidates));
        const rl = createInterface({ input: process.stdin, output: process.stdout });
        const answer = await rl.question(
          `Delete these ${String(candidates.length)} VM(s) and their disks? [y/N] `,
        );
        rl.close();
        if (!/^y(es)?$/i.test(answer.trim())) {
          ctx.stdout.write('nothing deleted\n');
          return;
        }
      }
      const removed = await ctx.client.call<VmInfo[]>('vm.prune', {
        ids: candidates.map((c) => c.id),
      });
      for (const vmInfo of removed) ctx.stdout.write(`deleted ${vmInfo.name}\n`);
    });
}
