/**
 * The plan of a ship: the preflight, the guest-side names (branch, commit to start from) and
 * the exact file list. `--dry-run` prints this plan; a real ship executes the same plan, so
 * the two cannot disagree.
 */
import path from 'node:path';
import { BangerError } from '../base/index.js';
import {
  DEFAULT_GUEST_PATH,
  type WorkspacePlanInfo,
  type WorkspaceSpec,
} from '../protocol/index.js';
import { git } from './git-cli.js';
import { inspectRepo, type RepoFacts } from './repo-facts.js';
import { selectFiles, type Selection } from './file-selection.js';

export interface WorkspacePlan {
  spec: WorkspaceSpec;
  repo: RepoFacts;
  guestPath: string;
  workdir: string;
  guestBranch: string | null;
  from: { ref: string; commit: string } | null;
  selection: Selection;
  totalBytes: number;
}

export async function planWorkspace(
  spec: WorkspaceSpec,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<WorkspacePlan> {
  const { signal } = options;
  const repo = await inspectRepo(spec.path, { signal });
  if (spec.branch !== undefined) {
    const check = await git(repo.root, ['check-ref-format', '--branch', spec.branch], {
      signal,
      okCodes: [0, 1, 128],
    });
    if (check.code !== 0) {
      throw new BangerError(
        'bad_request',
        `--branch ${JSON.stringify(spec.branch)} is not a valid git branch name (see git check-ref-format)`,
      );
    }
  }
  let from: WorkspacePlan['from'] = null;
  if (spec.from !== undefined) {
    const resolved = await git(
      repo.root,
      ['rev-parse', '-q', '--verify', '--end-of-options', `${spec.from}^{commit}`],
      { signal, okCodes: [0, 1, 128] },
    );
    if (resolved.code !== 0) {
      throw new BangerError(
        'bad_request',
        `--from ${JSON.stringify(spec.from)} does not name a commit in ${repo.root}`,
        { hint: `check it with \`git -C ${repo.root} rev-parse ${spec.from}\`` },
      );
    }
    from = { ref: spec.from, commit: resolved.stdout.toString('utf8').trim() };
  }
  const selection = await selectFiles(repo, {
    includeUntracked: spec.includeUntracked,
    fromCommit: from?.commit,
    signal,
  });
  const guestPath = spec.guestPath ?? DEFAULT_GUEST_PATH;
  return {
    spec,
    repo,
    guestPath,
    workdir: repo.prefix === '' ? guestPath : path.posix.join(guestPath, repo.prefix),
    guestBranch: spec.branch ?? null,
    from,
    selection,
    totalBytes: selection.files.reduce((sum, f) => sum + f.size, 0),
  };
}

/** The plan as the CLI shows it (`--dry-run`, and the summary of a real ship). */
export function planInfo(plan: WorkspacePlan): WorkspacePlanInfo {
  const base = plan.from ? 'commit' : 'tracked';
  return {
    mode: plan.spec.includeUntracked ? `${base}+untracked` : base,
    hostPath: plan.spec.path,
    repoRoot: plan.repo.root,
    guestPath: plan.guestPath,
    workdir: plan.workdir,
    head: plan.repo.head,
    branch: plan.repo.branch,
    guestBranch: plan.guestBranch,
    from: plan.from,
    files: plan.selection.files.map((f) => ({
      path: f.path,
      kind: f.kind,
      size: f.size,
      origin: f.origin,
    })),
    totalBytes: plan.totalBytes,
    removed: plan.selection.removed,
    skipped: plan.selection.skipped,
  };
}

/** One line saying what stays behind, or undefined when nothing does. */
export function skippedNotice(plan: WorkspacePlan): string | undefined {
  const { skipped } = plan.selection;
  const parts: string[] = [];
  if (skipped.untracked > 0) {
    parts.push(
      `${plural(skipped.untracked, 'untracked file')} (add --include-untracked to ship them)`,
    );
  }
  if (skipped.ignored > 0) parts.push(plural(skipped.ignored, 'ignored path'));
  if (skipped.nestedRepos.length > 0) {
    parts.push(plural(skipped.nestedRepos.length, 'nested repository', 'nested repositories'));
  }
  if (skipped.special.length > 0) parts.push(plural(skipped.special.length, 'special file'));
  if (parts.length === 0) return undefined;
  return `banger: workspace: not shipped from ${plan.repo.root}: ${parts.join(', ')}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${String(n)} ${n === 1 ? one : many}`;
}
