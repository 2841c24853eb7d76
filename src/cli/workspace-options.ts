/**
 * The flags of workspace mode, shared by `vm run PATH` and `vm workspace prepare`, their
 * translation into a WorkspaceSpec, and the rendering of a ship plan (`--dry-run`) and of a
 * finished ship.
 */
import path from 'node:path';
import type { Command } from 'commander';
import type {
  WorkspacePlanInfo,
  WorkspacePrepareResult,
  WorkspaceSpec,
} from '../protocol/index.js';
import type { CliContext } from './context.js';
import { humanBytes } from './render.js';

export interface WorkspaceFlags {
  includeUntracked?: boolean;
  guestPath?: string;
  branch?: string;
  from?: string;
  dryRun?: boolean;
  json?: boolean;
}

export function addWorkspaceOptions(cmd: Command): Command {
  return cmd
    .option('--include-untracked', 'also ship untracked files that are not ignored')
    .option('--guest-path <dir>', 'where the repository lands in the guest (default /root/repo)')
    .option('--branch <name>', 'create and check out this branch in the guest only')
    .option('--from <ref>', 'with --branch: start it at this host commit (its files ship)')
    .option('--dry-run', 'list exactly what would ship, and how; make no VM, ship nothing');
}

/** The spec for the daemon: the path made absolute here (the daemon has another cwd). */
export function workspaceSpecFrom(hostPath: string, flags: WorkspaceFlags): WorkspaceSpec {
  const spec: WorkspaceSpec = {
    path: path.resolve(process.cwd(), hostPath),
    includeUntracked: flags.includeUntracked ?? false,
  };
  if (flags.guestPath !== undefined) spec.guestPath = flags.guestPath;
  if (flags.branch !== undefined) spec.branch = flags.branch;
  if (flags.from !== undefined) spec.from = flags.from;
  return spec;
}

const MODE_TEXT: Record<string, string> = {
  tracked: 'tracked files as they are in the work tree',
  'tracked+untracked':
    'tracked files as they are in the work tree, plus untracked ones not ignored',
  commit: 'the files of a commit',
  'commit+untracked': 'the files of a commit, plus untracked ones not ignored',
};

/** `--dry-run`: the file list on stdout (or the plan as JSON), the summary on stderr. */
export function printPlan(ctx: CliContext, plan: WorkspacePlanInfo, json: boolean): void {
  if (json) {
    ctx.stdout.write(JSON.stringify(plan, null, 2) + '\n');
    return;
  }
  for (const file of plan.files) ctx.stdout.write(`${file.path}\n`);
  const lines = [
    `dry run: would ship ${count(plan.files.length, 'file')} (${humanBytes(plan.totalBytes)}) ` +
      `from ${plan.repoRoot} to ${plan.guestPath}`,
    `  mode: ${plan.mode} (${MODE_TEXT[plan.mode] ?? plan.mode})`,
    `  history: ${describeHistory(plan)}`,
  ];
  if (plan.removed.length > 0) {
    lines.push(`  deleted in the work tree (absent in the guest too): ${plan.removed.join(', ')}`);
  }
  const { skipped } = plan;
  const left: string[] = [];
  if (skipped.untracked > 0)
    left.push(`${count(skipped.untracked, 'untracked file')} (--include-untracked ships them)`);
  if (skipped.ignored > 0) left.push(count(skipped.ignored, 'ignored path'));
  if (skipped.nestedRepos.length > 0)
    left.push(`nested repositories: ${skipped.nestedRepos.join(', ')}`);
  if (skipped.special.length > 0) left.push(`special files: ${skipped.special.join(', ')}`);
  if (left.length > 0) lines.push(`  not shipped: ${left.join(', ')}`);
  ctx.stderr.write(lines.join('\n') + '\n');
}

/** One line after a ship (stdout unless told otherwise), or the result as JSON. */
export function printShipped(
  ctx: CliContext,
  vmName: string,
  result: WorkspacePrepareResult,
  options: { json: boolean; out?: NodeJS.WritableStream },
): void {
  const out = options.out ?? ctx.stdout;
  if (options.json) {
    out.write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  const { plan, workspace } = result;
  out.write(
    `shipped ${count(plan.files.length, 'file')} (${humanBytes(plan.totalBytes)}) from ${plan.repoRoot} ` +
      `to ${vmName}:${workspace.guestPath} in ${result.seconds.toFixed(1)} s (${describeHistory(plan)})\n`,
  );
}

function describeHistory(plan: WorkspacePlanInfo): string {
  const head = plan.head === null ? 'no commits yet' : `HEAD ${plan.head.slice(0, 12)}`;
  const branch = plan.guestBranch ?? plan.branch;
  const where = branch === null ? 'detached' : `branch ${branch}`;
  if (plan.from) return `${where} at ${plan.from.ref} (${plan.from.commit.slice(0, 12)})`;
  return `${head}, ${where}`;
}

function count(n: number, one: string): string {
  return `${String(n)} ${one}${n === 1 ? '' : 's'}`;
}
