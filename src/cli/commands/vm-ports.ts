import type { Command } from 'commander';
import type { VmPortsResult } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { renderTable } from '../render.js';

export function registerVmPorts(vm: Command, ctx: CliContext): void {
  vm.command('ports')
    .summary('list the TCP ports running VMs listen on, and where the host reaches them')
    .argument('<vm...>', 'VM names or id prefixes')
    .option('--json', 'print JSON (an array, one entry per VM)')
    .addHelpText('after', '\nExamples:\n  banger vm ports dev\n  banger vm ports dev api --json\n')
    .action(async (refs: string[], flags: { json?: boolean }) => {
      const results: VmPortsResult[] = [];
      for (const ref of refs)
        results.push(await ctx.client.call<VmPortsResult>('vm.ports', { ref }));
      if (flags.json) {
        ctx.stdout.write(JSON.stringify(results, null, 2) + '\n');
        return;
      }
      const rows: string[][] = [];
      for (const result of results) {
        for (const port of result.ports) {
          rows.push([
            result.vm,
            port.family === 'ipv6' ? `[${port.address}]` : port.address,
            String(port.port),
            port.process ?? '-',
            port.endpoints.join(', ') || '-',
          ]);
        }
        // Forwards whose guest port nobody listens on (yet): still worth seeing.
        const listening = new Set(result.ports.map((p) => p.port));
        for (const forward of result.forwards) {
          if (listening.has(forward.guestPort)) continue;
          rows.push([
            result.vm,
            '-',
            String(forward.guestPort),
            '(not listening)',
            forward.endpoint,
          ]);
        }
      }
      ctx.stdout.write(renderTable(['VM', 'ADDRESS', 'PORT', 'PROCESS', 'HOST ENDPOINTS'], rows));
    });
}
