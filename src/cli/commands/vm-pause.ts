/** `vm pause` and `vm resume`: freeze a running VM's vCPUs, and let them run again. */
import type { Command } from 'commander';
import type { VmInfo } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { forEachVm } from './for-each-vm.js';

export function registerVmPause(vm: Command, ctx: CliContext): void {
  const verbs = [
    {
      name: 'pause',
      summary: 'freeze VMs (memory, processes and connections kept; no guest CPU used)',
      done: 'paused',
    },
    {
      name: 'resume',
      summary: 'let paused VMs run again (their clock set to the host time)',
      done: 'resumed',
    },
  ] as const;
  for (const verb of verbs) {
    vm.command(verb.name)
      .summary(verb.summary)
      .argument('<vm...>', 'VM names or id prefixes')
      .addHelpText('after', `\nExamples:\n  banger vm ${verb.name} dev\n`)
      .action(async (refs: string[]) => {
        await forEachVm(
          ctx,
          refs,
          (ref) => ctx.client.call<VmInfo>(`vm.${verb.name}`, { ref }),
          (_ref, info) => `${verb.done} ${info.name}`,
        );
      });
  }
}
