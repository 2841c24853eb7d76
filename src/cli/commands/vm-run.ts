import type { Command } from 'commander';
import { BangerError } from '../../base/index.js';
import {
  type VmCreateParams,
  type VmInfo,
  type VmRunParams,
  type VmRunResult,
} from '../../protocol/index.js';
import { progressOptions, type CliContext } from '../context.js';
import { execSpecFrom, streamExec, type ExecFlags } from '../exec-stream.js';
import { collectEnv } from '../parse-options.js';
import { addVmShapeOptions, vmShapeParams, type VmShapeFlags } from '../vm-shape-options.js';

interface RunFlags extends ExecFlags, VmShapeFlags {
  rm?: boolean;
  detach?: boolean;
}

export function registerVmRun(vm: Command, ctx: CliContext): void {
  addVmShapeOptions(vm.command('run').summary('boot a fresh VM and run a command in it'))
    .usage('[options] [-- command [args...]]')
    .description(
      'Boot a fresh VM, run a command in it, stream its output and exit with its status.\n' +
        'Without a command, open an interactive shell in the VM.',
    )
    .argument('[path]', 'reserved for workspace mode: a repository to ship into the VM')
    .option('--rm', 'delete the VM when the command ends')
    .option('-d, --detach', 'create and start the VM, then return (no command, no shell)')
    .option('-t, --tty', 'allocate a terminal in the guest')
    .option('-i, --interactive', 'forward stdin even when it is a terminal')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collectEnv)
    .option('-w, --workdir <dir>', 'working directory in the guest (default /root)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  banger vm run --rm -- cat /etc/os-release\n' +
        '  banger vm run --rm --vcpu 2 --memory 1024 -- make -j2\n' +
        '  echo hello | banger vm run --rm -- tr a-z A-Z\n' +
        '  banger vm run --name dev          # a shell in a VM that keeps running\n' +
        '  banger vm run -d --name dev       # start it in the background\n',
    )
    .action(async (path: string | undefined, flags: RunFlags) => {
      if (path !== undefined) {
        throw new BangerError(
          'bad_request',
          `unexpected "${path}": put the guest command after --, e.g. banger vm run --rm -- ${path}`,
        );
      }
      const argv = ctx.guestArgv ?? [];
      if (flags.detach) {
        await detach(ctx, flags, argv);
        return;
      }
      const params: VmRunParams = {
        rm: flags.rm ?? false,
        exec: execSpecFrom(argv, flags),
        ...vmShapeParams(flags),
      };
      const { result, exitCode } = await streamExec<VmRunResult>(ctx, 'vm.run', { ...params });
      if (!result.removed) {
        ctx.stderr.write(
          `banger: VM ${result.vm.name} is still running; stop it with \`banger vm stop ${result.vm.name}\` ` +
            `or remove it with \`banger vm delete ${result.vm.name}\`\n`,
        );
      }
      ctx.exitCode = exitCode;
    });
}

async function detach(ctx: CliContext, flags: RunFlags, argv: string[]): Promise<void> {
  if (flags.rm)
    throw new BangerError(
      'bad_request',
      '--detach and --rm cannot be combined: a detached VM is kept',
    );
  if (argv.length > 0) {
    throw new BangerError(
      'bad_request',
      '--detach takes no command: run it later with `banger vm exec NAME -- CMD`',
    );
  }
  const params: VmCreateParams = { start: true, ...vmShapeParams(flags) };
  const info = await ctx.client.call<VmInfo>('vm.create', params, progressOptions(ctx));
  ctx.progress.done();
  ctx.stdout.write(`${info.name}\n`);
  ctx.stderr.write(
    `banger: VM ${info.name} is running; open a shell with \`banger vm exec -it ${info.name} -- bash\`, ` +
      `stop it with \`banger vm stop ${info.name}\`\n`,
  );
}
