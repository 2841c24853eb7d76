import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { humanBytes, renderTable } from '../render.js';

interface VmStat {
  name: string;
  id: string;
  cpuPercent: number;
  memoryBytes: number;
  diskBytes: number;
}

export function registerVmStats(vm: Command, ctx: CliContext): void {
  vm.command('stats')
    .summary('CPU, memory and disk use of running VMs, as the host sees them')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  banger vm stats\n')
    .action(async (flags: { json?: boolean }) => {
      const stats = await ctx.client.call<VmStat[]>('vm.stats', {});
      if (flags.json) {
        ctx.stdout.write(JSON.stringify(stats, null, 2) + '\n');
        return;
      }
      ctx.stdout.write(
        renderTable(
          ['NAME', 'CPU %', 'MEMORY', 'DISK'],
          stats.map((s) => [
            s.name,
            s.cpuPercent.toFixed(1),
            humanBytes(s.memoryBytes),
            humanBytes(s.diskBytes),
          ]),
        ),
      );
    });
}
