import type { Command } from 'commander';
import type { VmCreateParams, VmInfo } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { progressOptions } from '../context.js';
import { addVmShapeOptions, vmShapeParams, type VmShapeFlags } from '../vm-shape-options.js';

interface CreateFlags extends VmShapeFlags {
  start: boolean;
  json?: boolean;
}

export function registerVmCreate(vm: Command, ctx: CliContext): void {
  addVmShapeOptions(
    vm.command('create').summary('create a persistent VM (started unless --no-start)'),
  )
    .option('--no-start', 'create it stopped')
    .option('--json', 'print the VM as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  banger vm create --name dev\n  banger vm create --name ci --vcpu 2 --memory 2048 --no-start\n',
    )
    .action(async (flags: CreateFlags) => {
      const params: VmCreateParams = { start: flags.start, ...vmShapeParams(flags) };
      const info = await ctx.client.call<VmInfo>(
        'vm.create',
        params,
        progressOptions(ctx, { lines: true }),
      );
      ctx.progress.done();
      if (flags.json) ctx.stdout.write(JSON.stringify(info, null, 2) + '\n');
      else
        ctx.stdout.write(
          `${info.state === 'running' ? 'created and started' : 'created'} ${info.name}\n`,
        );
    });
}
