/**
 * The `.git` a guest gets, built on the host in a scratch directory: a shallow fetch of the
 * commit(s) the guest needs (no remote, no hooks), the guest's HEAD or branch, and a commit
 * `refs/banger/shipped` whose tree is the work tree exactly as shipped (edits and included
 * untracked files too). The guest checks that commit out, then moves its index to HEAD, so
 * `git status` and `git diff` there show the host's uncommitted changes as changes, and
 * `workspace export` diffs against what was shipped. The host repository is only read:
 * the ship tree is built with a scratch index and a scratch object directory.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError } from '../base/index.js';
import type { ShipFile } from './file-selection.js';
import { git, gitText } from './git-cli.js';
import type { WorkspacePlan } from './workspace-plan.js';

export interface StagedHistory {
  /** The scratch repository's git directory: ships as the guest repository's `.git`. */
  gitDir: string;
  shipCommit: string;
  /** The branch the guest is on (null: detached). */
  guestBranch: string | null;
  /** Files that ship as files after the checkout (the files of checked-out submodules). */
  extras: ShipFile[];
  /** Files whose host mode git cannot represent (it knows 0644 and 0755): mode -> paths. */
  modeFixes: Map<number, string[]>;
}

/** Author and committer of banger's own bookkeeping commit. */
const BANGER_IDENTITY = {
  GIT_AUTHOR_NAME: 'banger',
  GIT_AUTHOR_EMAIL: 'banger@localhost',
  GIT_COMMITTER_NAME: 'banger',
  GIT_COMMITTER_EMAIL: 'banger@localhost',
};

/** Config that would make git write next to the host's index or start helpers, switched off. */
const QUIET_INDEX: Record<string, string> = {
  GIT_CONFIG_COUNT: '3',
  GIT_CONFIG_KEY_0: 'core.splitIndex',
  GIT_CONFIG_VALUE_0: 'false',
  GIT_CONFIG_KEY_1: 'core.untrackedCache',
  GIT_CONFIG_VALUE_1: 'false',
  GIT_CONFIG_KEY_2: 'core.fsmonitor',
  GIT_CONFIG_VALUE_2: 'false',
};

export async function stageHistory(
  plan: WorkspacePlan,
  scratch: string,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<StagedHistory> {
  const { signal } = options;
  const { repo } = plan;
  const target = path.join(scratch, 'repo');
  const gitDir = path.join(target, '.git');
  const isolated = { signal, isolated: true } as const;
  await git(
    scratch,
    ['init', '-q', '--template=', `--object-format=${repo.objectFormat}`, target],
    isolated,
  );

  const wanted = [
    ...new Set(
      [repo.head, plan.from?.commit].filter((c): c is string => c !== null && c !== undefined),
    ),
  ];
  if (wanted.length > 0) {
    await git(
      target,
      [
        'fetch',
        '-q',
        '--depth=1',
        '--no-tags',
        '--no-write-fetch-head',
        '--end-of-options',
        repo.root,
        ...wanted,
      ],
      isolated,
    );
  }

  // The work tree as shipped, as a tree object: built with a scratch index whose new blobs
  // land in the scratch object directory (never in the host repository).
  const index = path.join(scratch, 'ship.index');
  const shipEnv = {
    GIT_INDEX_FILE: index,
    GIT_OBJECT_DIRECTORY: path.join(gitDir, 'objects'),
    ...QUIET_INDEX,
  };
  const inRepo = (args: string[], input?: string) =>
    git(repo.root, args, {
      ...isolated,
      env: shipEnv,
      ...(input === undefined ? {} : { input }),
    });
  const base = plan.from?.commit ?? repo.head;
  await inRepo(base === null ? ['read-tree', '--empty'] : ['read-tree', base]);
  const removed = plan.from ? [] : plan.selection.removed;
  if (removed.length > 0)
    await inRepo(['update-index', '-z', '--force-remove', '--stdin'], nulList(removed));
  const added = plan.selection.files.filter(
    (f) => f.origin === 'tracked' || f.origin === 'untracked',
  );
  if (added.length > 0) {
    await inRepo(['update-index', '-z', '--add', '--stdin'], nulList(added.map((f) => f.path)));
  }
  const tree = await gitText(repo.root, ['write-tree'], {
    ...isolated,
    env: shipEnv,
  });

  const commitArgs = [
    'commit-tree',
    tree,
    ...(base === null ? [] : ['-p', base]),
    '-m',
    shipMessage(plan),
  ];
  const shipCommit = await gitText(target, commitArgs, { ...isolated, env: BANGER_IDENTITY });
  await git(target, ['update-ref', 'refs/banger/shipped', shipCommit], isolated);

  const guestBranch = plan.guestBranch ?? repo.branch;
  if (guestBranch !== null) {
    if (base !== null)
      await git(target, ['update-ref', `refs/heads/${guestBranch}`, base], isolated);
    await git(target, ['symbolic-ref', 'HEAD', `refs/heads/${guestBranch}`], isolated);
  } else if (base !== null) {
    await git(target, ['update-ref', '--no-deref', 'HEAD', base], isolated);
  } else {
    throw new BangerError('internal', `${repo.root}: HEAD is neither a commit nor a branch`);
  }
  await copyIdentity(repo.root, gitDir, signal);
  await fs.rm(path.join(gitDir, 'FETCH_HEAD'), { force: true });

  return {
    gitDir,
    shipCommit,
    guestBranch,
    extras: plan.selection.files.filter((f) => f.origin === 'submodule'),
    modeFixes: modeFixes(plan.selection.files),
  };
}

function shipMessage(plan: WorkspacePlan): string {
  return (
    `banger: the work tree of ${plan.repo.root} as shipped\n\n` +
    'Base of `banger vm workspace export`; not a commit of the repository itself.\n'
  );
}

function nulList(names: readonly string[]): string {
  return names.map((n) => `${n}\0`).join('');
}

/** The user's name and email for commits made in the guest, when the host repo has them. */
async function copyIdentity(
  root: string,
  gitDir: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  for (const key of ['user.name', 'user.email']) {
    const value = await git(root, ['config', '--get', key], { signal, okCodes: [0, 1] });
    const text = value.stdout.toString('utf8').trim();
    if (value.code !== 0 || text === '') continue;
    await git(gitDir, ['config', '--file', path.join(gitDir, 'config'), key, text], {
      signal,
      isolated: true,
    });
  }
}

/** A checkout gives 0644 or 0755 (umask 022): files with any other mode need a chmod. */
function modeFixes(files: readonly ShipFile[]): Map<number, string[]> {
  const fixes = new Map<number, string[]>();
  for (const file of files) {
    if (file.kind !== 'file' || file.origin === 'submodule') continue;
    const checkedOut = file.mode & 0o100 ? 0o755 : 0o644;
    if (file.mode === checkedOut) continue;
    const list = fixes.get(file.mode) ?? [];
    list.push(file.path);
    fixes.set(file.mode, list);
  }
  return fixes;
}
