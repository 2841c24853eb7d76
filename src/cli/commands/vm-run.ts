import type { Command } from 'commander';
import { BangerError } from '../../base/index.js';
import {
  type VmCreateParams,
  type VmInfo,
  type VmRunParams,
  type VmRunResult,
  type WorkspacePlanInfo,
  type WorkspacePrepareResult,
  type WorkspaceSpec,
} from '../../protocol/index.js';
import { progressOptions, type CliContext } from '../context.js';
import { execSpecFrom, streamExec, type ExecFlags } from '../exec-stream.js';
import { collectEnv } from '../parse-options.js';
import { addVmShapeOptions, vmShapeParams, type VmShapeFlags } from '../vm-shape-options.js';
import {
  addWorkspaceOptions,
  printPlan,
  printShipped,
  workspaceSpecFrom,
  type WorkspaceFlags,
} from '../workspace-options.js';

interface RunFlags extends ExecFlags, VmShapeFlags, WorkspaceFlags {
  rm?: boolean;
  detach?: boolean;
  cold?: boolean;
}

export function registerVmRun(vm: Command, ctx: CliContext): void {
  const run = addVmShapeOptions(
    vm.command('run').summary('boot a fresh VM and run a command in it'),
  )
    .usage('[options] [path] [-- command [args...]]')
    .description(
      'Boot a fresh VM, run a command in it, stream its output and exit with its status.\n' +
        'Without a command, open an interactive shell in the VM.\n' +
        'With a path (workspace mode), the git repository there is shipped to /root/repo first\n' +
        '(tracked files as they are in the work tree, with enough history for git status, diff\n' +
        'and log) and the command runs in it.',
    )
    .argument('[path]', 'a git repository to ship into the VM; the command runs in it')
    .option('--rm', 'delete the VM when the command ends')
    .option('--cold', 'boot the kernel even when a warm template of the image matches')
    .option('-d, --detach', 'create and start the VM, then return (no command, no shell)')
    .option('-t, --tty', 'allocate a terminal in the guest')
    .option('-i, --interactive', 'forward stdin even when it is a terminal')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collectEnv)
    .option(
      '-w, --workdir <dir>',
      'working directory in the guest (default /root, or the workspace)',
    );
  addWorkspaceOptions(run)
    .option('--json', 'with --dry-run: print the plan as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  banger vm run --rm ./repo -- make test   # ship a repository, run its tests\n' +
        '  banger vm run --rm . --dry-run           # what would ship, without a VM\n' +
        '  banger vm run --name dev --include-untracked .   # a shell in the repository\n' +
        '  banger vm run --rm -- cat /etc/os-release\n' +
        '  banger vm run --rm --vcpu 2 --memory 1024 -- make -j2\n' +
        '  echo hello | banger vm run --rm -- tr a-z A-Z\n' +
        '  banger vm run --name dev          # a shell in a VM that keeps running\n' +
        '  banger vm run -d --name dev       # start it in the background\n',
    )
    .action(async (path: string | undefined, flags: RunFlags) => {
      const workspace = path === undefined ? undefined : workspaceSpecFrom(path, flags);
      if (!workspace) refuseWorkspaceFlags(flags);
      if (flags.json && !flags.dryRun) {
        throw new BangerError('bad_request', '--json goes with --dry-run (it prints the plan)');
      }
      const argv = ctx.guestArgv ?? [];
      if (workspace && flags.dryRun) {
        const plan = await ctx.client.call<WorkspacePlanInfo>('vm.workspace.plan', { workspace });
        printPlan(ctx, plan, flags.json ?? false);
        return;
      }
      if (flags.detach) {
        await detach(ctx, flags, argv, workspace);
        return;
      }
      const params: VmRunParams = {
        rm: flags.rm ?? false,
        exec: execSpecFrom(argv, flags),
        ...vmShapeParams(flags),
      };
      if (flags.cold) params.cold = true;
      if (workspace) params.workspace = workspace;
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

/** The workspace flags mean nothing without a path: say so rather than ignore them. */
function refuseWorkspaceFlags(flags: RunFlags): void {
  const given = (
    [
      ['--include-untracked', flags.includeUntracked],
      ['--guest-path', flags.guestPath],
      ['--branch', flags.branch],
      ['--from', flags.from],
      ['--dry-run', flags.dryRun],
      ['--json', flags.json],
    ] as const
  )
    .filter(([, value]) => value !== undefined)
    .map(([flag]) => flag);
  if (given.length > 0) {
    throw new BangerError(
      'bad_request',
      `${given.join(', ')} need a repository path (workspace mode)`,
      { hint: 'banger vm run --rm ./repo --dry-run' },
    );
  }
}

async function detach(
  ctx: CliContext,
  flags: RunFlags,
  argv: string[],
  workspace: WorkspaceSpec | undefined,
): Promise<void> {
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
  // Workspace preflight first: a repository that cannot ship makes no VM.
  if (workspace) await ctx.client.call('vm.workspace.plan', { workspace });
  const params: VmCreateParams = { start: true, ...vmShapeParams(flags) };
  if (flags.cold) params.cold = true;
  const info = await ctx.client.call<VmInfo>('vm.create', params, progressOptions(ctx));
  ctx.progress.done();
  if (workspace) {
    try {
      const shipped = await ctx.client.call<WorkspacePrepareResult>(
        'vm.workspace.prepare',
        { ref: info.name, workspace },
        progressOptions(ctx),
      );
      ctx.progress.done();
      printShipped(ctx, info.name, shipped, { json: false, out: ctx.stderr });
    } catch (err) {
      // The VM was made for this workspace: do not leave it half-prepared.
      await ctx.client.call('vm.delete', { ref: info.name }).catch(() => undefined);
      throw err;
    }
  }
  ctx.stdout.write(`${info.name}\n`);
  ctx.stderr.write(
    `banger: VM ${info.name} is running; open a shell with \`banger vm exec -it ${info.name} -- bash\`, ` +
      `stop it with \`banger vm stop ${info.name}\`\n`,
  );
}
