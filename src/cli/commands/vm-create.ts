import type { Command } from 'commander';
import type { VmCreateParams, VmInfo } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { progressOptions } from '../context.js';
import { addVmShapeOptions, vmShapeParams, type VmShapeFlags } from '../vm-shape-options.js';

interface CreateFlags extends VmShapeFlags {
  start: boolean;
  json?: boolean;
  cold?: boolean;
  fromSnapshot?: string;
}

export function registerVmCreate(vm: Command, ctx: CliContext): void {
  addVmShapeOptions(
    vm.command('create').summary('create a persistent VM (started unless --no-start)'),
  )
    .option('--no-start', 'create it stopped')
    .option('--cold', 'boot the kernel even when a warm template of the image matches')
    .option(
      '--from-snapshot <snap>',
      "start from a snapshot's memory and disks (`vm snapshot`; its image and size)",
    )
    .option('--json', 'print the VM as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  banger vm create --name dev\n  banger vm create --name ci --vcpu 2 --memory 2048 --no-start\n' +
        '  banger vm create --from-snapshot dev-ready --name dev2\n',
    )
    .action(async (flags: CreateFlags) => {
      const params: VmCreateParams = { start: flags.start, ...vmShapeParams(flags) };
      if (flags.cold) params.cold = true;
      if (flags.fromSnapshot !== undefined) params.fromSnapshot = flags.fromSnapshot;
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
