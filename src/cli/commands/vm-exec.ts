import type { Command } from 'commander';
import { BangerError } from '../../base/index.js';
import type { ExitStatusInfo } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { execSpecFrom, streamExec, type ExecFlags } from '../exec-stream.js';
import { collectEnv } from '../parse-options.js';

export function registerVmExec(vm: Command, ctx: CliContext): void {
  vm.command('exec')
    .summary('run a command in a running VM; its exit status passes through')
    .usage('[options] <vm> -- <command> [args...]')
    .argument('<vm>', 'VM name or id prefix')
    .option('-t, --tty', 'allocate a terminal in the guest')
    .option('-i, --interactive', 'forward stdin even when it is a terminal')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collectEnv)
    .option(
      '-w, --workdir <dir>',
      'working directory in the guest (default /root, or the workspace)',
    )
    .option(
      '--auto-prepare',
      "ship the VM's workspace again first when the host repository's HEAD moved",
    )
    .addHelpText(
      'after',
      '\nExamples:\n  banger vm exec dev -- make test\n  banger vm exec -it dev -- bash\n',
    )
    .action(async (ref: string, flags: ExecFlags & { autoPrepare?: boolean }) => {
      const argv = ctx.guestArgv ?? [];
      if (argv.length === 0) {
        throw new BangerError('bad_request', 'vm exec needs a command after --', {
          hint: `banger vm exec ${ref} -- uname -a`,
        });
      }
      const { exitCode } = await streamExec<{ exit: ExitStatusInfo }>(ctx, 'vm.exec', {
        ref,
        exec: execSpecFrom(argv, flags),
        ...(flags.autoPrepare ? { autoPrepare: true } : {}),
      });
      ctx.exitCode = exitCode;
    });
}
