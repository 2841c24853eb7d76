import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { Command } from 'commander';
import type {
  WorkspaceExportResult,
  WorkspaceInfo,
  WorkspacePlanInfo,
  WorkspacePrepareResult,
} from '../../protocol/index.js';
import { progressOptions, type CliContext } from '../context.js';
import { humanBytes } from '../render.js';
import {
  addWorkspaceOptions,
  printPlan,
  printShipped,
  workspaceSpecFrom,
  type WorkspaceFlags,
} from '../workspace-options.js';

export function registerVmWorkspace(vm: Command, ctx: CliContext): void {
  const workspace = vm
    .command('workspace')
    .summary("ship a repository into a VM, and bring the guest's changes back");
  workspace.addHelpText(
    'after',
    '\nExamples:\n' +
      '  banger vm workspace prepare dev ./repo\n' +
      '  banger vm workspace export dev -o changes.patch && git -C repo apply ../changes.patch\n',
  );

  addWorkspaceOptions(
    workspace
      .command('prepare')
      .summary('ship a git repository into a running VM (replacing its previous copy)')
      .argument('<vm>', 'VM name or id prefix')
      .argument('<path>', 'a directory in a git work tree on this host'),
  )
    .option('--force', 'replace the guest copy even if it has changes of its own')
    .option('--json', 'print the result (or with --dry-run, the plan) as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  banger vm workspace prepare dev .\n' +
        '  banger vm workspace prepare dev ~/src/app --include-untracked --guest-path /root/app\n' +
        '  banger vm workspace prepare dev . --branch agent/fix-42 --from origin/main\n' +
        '  banger vm workspace prepare dev . --dry-run\n',
    )
    .action(async (ref: string, hostPath: string, flags: WorkspaceFlags & { force?: boolean }) => {
      const spec = workspaceSpecFrom(hostPath, flags);
      if (flags.dryRun) {
        const plan = await ctx.client.call<WorkspacePlanInfo>('vm.workspace.plan', {
          workspace: spec,
        });
        printPlan(ctx, plan, flags.json ?? false);
        return;
      }
      const result = await ctx.client.call<WorkspacePrepareResult>(
        'vm.workspace.prepare',
        { ref, workspace: spec, force: flags.force ?? false },
        progressOptions(ctx, { lines: true }),
      );
      ctx.progress.done();
      printShipped(ctx, ref, result, { json: flags.json ?? false });
    });

  workspace
    .command('export')
    .summary("the guest's changes since the ship, as a patch for git apply")
    .argument('<vm>', 'VM name or id prefix')
    .option('--base-commit <ref>', 'diff from this guest commit instead of the tree as shipped')
    .option('-o, --output <file>', 'write the patch to FILE instead of stdout')
    .addHelpText(
      'after',
      '\nEdits, new files (not ignored), deletions and commits made in the guest are all in it;\n' +
        "binary files too. The guest's repository and index are left as they are.\n" +
        '\nExamples:\n' +
        '  banger vm workspace export dev > changes.patch\n' +
        '  banger vm workspace export dev -o changes.patch\n' +
        '  banger vm workspace export dev --base-commit HEAD   # only what is not committed\n',
    )
    .action(async (ref: string, flags: { baseCommit?: string; output?: string }) => {
      const params: Record<string, unknown> = { ref };
      if (flags.baseCommit !== undefined) params.baseCommit = flags.baseCommit;
      const file =
        flags.output === undefined ? undefined : createWriteStream(flags.output, { mode: 0o644 });
      const handle = await ctx.client.start<WorkspaceExportResult>('vm.workspace.export', params, {
        ...progressOptions(ctx),
        stdout: file ?? process.stdout,
      });
      let result: WorkspaceExportResult;
      try {
        result = await handle.result;
      } finally {
        if (file) {
          file.end();
          await finished(file);
        }
      }
      ctx.progress.done();
      if (result.bytes === 0)
        ctx.stderr.write(`banger: no changes in ${ref} since ${result.base.slice(0, 12)}\n`);
      else if (flags.output !== undefined) {
        ctx.stderr.write(`banger: wrote ${humanBytes(result.bytes)} patch to ${flags.output}\n`);
      }
    });

  workspace
    .command('show')
    .summary('what was shipped into a VM: host path, guest path, HEAD, when')
    .argument('<vm>', 'VM name or id prefix')
    .option('--json', 'print it as JSON (null when the VM has no workspace)')
    .action(async (ref: string, flags: { json?: boolean }) => {
      const info = await ctx.client.call<WorkspaceInfo | null>('vm.workspace.show', { ref });
      if (flags.json) {
        ctx.stdout.write(JSON.stringify(info, null, 2) + '\n');
        return;
      }
      if (info === null) {
        ctx.stdout.write(`${ref} has no workspace\n`);
        return;
      }
      const rows: [string, string][] = [
        ['host path', info.hostPath],
        ['guest path', info.guestPath],
        ['workdir', info.workdir],
        ['head', info.head ?? '(no commits)'],
        ['guest branch', info.guestBranch ?? '(as on the host)'],
        ['from', info.from ?? '-'],
        ['untracked', info.includeUntracked ? 'shipped' : 'not shipped'],
        ['files', `${String(info.files)} (${humanBytes(info.bytes)})`],
        ['shipped', info.shippedAt],
        ['ship commit', info.shipCommit],
      ];
      for (const [key, value] of rows) ctx.stdout.write(`${`${key}:`.padEnd(14)}${value}\n`);
    });
}
