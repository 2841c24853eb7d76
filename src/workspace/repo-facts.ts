/**
 * Preflight: what the host repository is, checked before any VM exists. Each refusal names
 * the path and the rule: the path must exist, be a directory inside a git work tree (not a
 * bare repository, not a .git directory), and every submodule must be checked out.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError } from '../base/index.js';
import { git, gitText } from './git-cli.js';

export interface RepoFacts {
  /** Absolute path of the work tree's top level. */
  root: string;
  /** The given path relative to `root` ('' at the top, else 'sub/dir'). */
  prefix: string;
  /** Absolute path of the repository's git directory. */
  gitDir: string;
  objectFormat: 'sha1' | 'sha256';
  /** The commit HEAD names; null on a branch with no commits yet. */
  head: string | null;
  /** The branch HEAD is on (short name); null when detached. */
  branch: string | null;
}

export async function inspectRepo(
  hostPath: string,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<RepoFacts> {
  const { signal } = options;
  if (!path.isAbsolute(hostPath)) {
    throw new BangerError('bad_request', `workspace path ${hostPath} must be absolute`);
  }
  const st = await fs.stat(hostPath).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BangerError(
      'bad_request',
      code === 'ENOENT'
        ? `workspace path ${hostPath} does not exist (rule: the path must be an existing git work tree)`
        : `cannot read workspace path ${hostPath}: ${String(err)}`,
    );
  });
  if (!st.isDirectory()) {
    throw new BangerError(
      'bad_request',
      `workspace path ${hostPath} is not a directory (rule: the path must be a directory in a git work tree)`,
    );
  }
  const probe = await git(
    hostPath,
    ['rev-parse', '--is-bare-repository', '--is-inside-git-dir', '--is-inside-work-tree'],
    { signal, okCodes: [0, 128] },
  );
  if (probe.code !== 0) {
    throw new BangerError(
      'bad_request',
      `workspace path ${hostPath} is not in a git repository (rule: the path must be a git work tree)`,
      { hint: `make it one with \`git -C ${hostPath} init\`, or pass the repository's path` },
    );
  }
  const [bare, insideGitDir, insideWorkTree] = probe.stdout.toString('utf8').trim().split('\n');
  if (bare === 'true') {
    throw new BangerError(
      'bad_request',
      `workspace path ${hostPath} is a bare repository (rule: a workspace needs a work tree with checked-out files)`,
      { hint: `clone it first: git clone ${hostPath} DIR, then pass DIR` },
    );
  }
  if (insideGitDir === 'true' || insideWorkTree !== 'true') {
    throw new BangerError(
      'bad_request',
      `workspace path ${hostPath} is inside a .git directory, not a work tree (rule: the path must be a git work tree)`,
    );
  }
  const [root, prefix, gitDir, objectFormat] = (
    await gitText(
      hostPath,
      [
        'rev-parse',
        '--show-toplevel',
        '--show-prefix',
        '--absolute-git-dir',
        '--show-object-format',
      ],
      { signal },
    )
  ).split('\n');
  if (root === undefined || gitDir === undefined) {
    throw new BangerError('internal', `git rev-parse gave no top level for ${hostPath}`);
  }
  const headResult = await git(root, ['rev-parse', '-q', '--verify', 'HEAD^{commit}'], {
    signal,
    okCodes: [0, 1],
  });
  const branchResult = await git(root, ['symbolic-ref', '-q', '--short', 'HEAD'], {
    signal,
    okCodes: [0, 1],
  });
  const facts: RepoFacts = {
    root,
    prefix: (prefix ?? '').replace(/\/$/, ''),
    gitDir,
    objectFormat: objectFormat === 'sha256' ? 'sha256' : 'sha1',
    head: headResult.code === 0 ? headResult.stdout.toString('utf8').trim() : null,
    branch: branchResult.code === 0 ? branchResult.stdout.toString('utf8').trim() : null,
  };
  await checkSubmodules(facts, signal);
  return facts;
}

/** Refuses submodules that are registered but not checked out (`git submodule status` '-'). */
async function checkSubmodules(facts: RepoFacts, signal: AbortSignal | undefined): Promise<void> {
  const stage = await git(facts.root, ['ls-files', '-z', '--stage'], { signal });
  if (!stage.stdout.includes('160000 ')) return;
  const status = await gitText(facts.root, ['submodule', 'status', '--recursive'], { signal });
  const missing = status
    .split('\n')
    .filter((line) => line.startsWith('-'))
    .map((line) => line.slice(1).split(' ')[1] ?? line);
  if (missing.length > 0) {
    throw new BangerError(
      'precondition_failed',
      `${facts.root} has submodules that are not checked out: ${missing.join(', ')} ` +
        '(rule: every submodule must be checked out, or its files would silently be missing)',
      { hint: `git -C ${facts.root} submodule update --init --recursive` },
    );
  }
}
