/** start, stop, restart, kill and delete: the same shape, several VMs at once. */
import type { Command } from 'commander';
import type { VmInfo } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { progressOptions } from '../context.js';
import { forEachVm } from './for-each-vm.js';

interface Verb {
  name: string;
  method: string;
  summary: string;
  done: string;
  example: string;
}

const VERBS: readonly Verb[] = [
  {
    name: 'start',
    method: 'vm.start',
    summary: 'start stopped VMs',
    done: 'started',
    example: 'banger vm start dev',
  },
  {
    name: 'stop',
    method: 'vm.stop',
    summary: 'stop VMs gracefully (the guest syncs and powers off; forced after a timeout)',
    done: 'stopped',
    example: 'banger vm stop dev',
  },
  {
    name: 'restart',
    method: 'vm.restart',
    summary: 'stop then start VMs',
    done: 'restarted',
    example: 'banger vm restart dev',
  },
  {
    name: 'kill',
    method: 'vm.kill',
    summary: "force-kill VMs (use when 'vm stop' hangs)",
    done: 'killed',
    example: 'banger vm kill dev',
  },
  {
    name: 'delete',
    method: 'vm.delete',
    summary: 'stop VMs and remove everything they own (irreversible)',
    done: 'deleted',
    example: 'banger vm delete dev other',
  },
];

export function registerVmLifecycle(vm: Command, ctx: CliContext): void {
  for (const verb of VERBS) {
    const cmd = vm
      .command(verb.name)
      .summary(verb.summary)
      .argument('<vm...>', 'VM names or id prefixes')
      .addHelpText('after', `\nExamples:\n  ${verb.example}\n`)
      .action(async (refs: string[]) => {
        await forEachVm(
          ctx,
          refs,
          (ref) =>
            ctx.client.call<VmInfo>(verb.method, { ref }, progressOptions(ctx, { lines: true })),
          (_ref, info) => {
            ctx.progress.done();
            return `${verb.done} ${info.name}`;
          },
        );
      });
    if (verb.name === 'delete') cmd.alias('rm');
  }
}
