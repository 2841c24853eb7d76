import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BangerError } from '../base/index.js';
import { git } from './git-cli.js';
import { planInfo, planWorkspace, skippedNotice } from './workspace-plan.js';

let dir: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ws-plan-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const IDENTITY = {
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@t',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@t',
};

async function sh(cwd: string, ...args: string[]): Promise<string> {
  return (await git(cwd, args, { env: IDENTITY, isolated: true })).stdout.toString('utf8');
}

async function write(file: string, content: string | Buffer, mode = 0o644): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, content);
  await fs.chmod(file, mode);
}

/** A repository with one commit of every kind of tracked file, then uncommitted changes. */
async function fixtureRepo(): Promise<string> {
  const repo = path.join(dir, 'repo');
  await fs.mkdir(repo);
  await sh(repo, 'init', '-q', '-b', 'main');
  await write(path.join(repo, 'README.md'), 'hello\n');
  await write(path.join(repo, 'run.sh'), '#!/bin/sh\n', 0o755);
  await write(path.join(repo, 'gone.txt'), 'to be deleted\n');
  await write(path.join(repo, 'empty'), '');
  await write(path.join(repo, 'dir with space/naïve café.txt'), 'unicode\n');
  await write(path.join(repo, 'src/lib/a.c'), 'int a;\n');
  await write(path.join(repo, '.gitignore'), 'build/\n*.log\n');
  await fs.symlink('README.md', path.join(repo, 'link'));
  await sh(repo, 'add', '-A');
  await sh(repo, 'commit', '-q', '-m', 'one');
  // Uncommitted: an edit, a deletion, an untracked file, ignored files, a nested repository.
  await write(path.join(repo, 'README.md'), 'hello, edited\n');
  await fs.rm(path.join(repo, 'gone.txt'));
  await write(path.join(repo, 'notes.txt'), 'untracked\n', 0o600);
  await write(path.join(repo, 'build/out.o'), 'object');
  await write(path.join(repo, 'debug.log'), 'log');
  await fs.mkdir(path.join(repo, 'vendor-repo'));
  await sh(path.join(repo, 'vendor-repo'), 'init', '-q');
  await write(path.join(repo, 'vendor-repo/x'), 'x');
  return repo;
}

function refusal(promise: Promise<unknown>): Promise<BangerError> {
  return promise.then(
    () => {
      throw new Error('expected a refusal');
    },
    (err: unknown) => {
      expect(err).toBeInstanceOf(BangerError);
      return err as BangerError;
    },
  );
}

describe('planWorkspace preflight', () => {
  it('refuses a missing path, a file, and a directory outside git, naming the rule', async () => {
    const missing = await refusal(
      planWorkspace({ path: path.join(dir, 'nope'), includeUntracked: false }),
    );
    expect(missing.code).toBe('bad_request');
    expect(missing.message).toMatch(/does not exist \(rule: .*git work tree\)/);
    await write(path.join(dir, 'file'), 'x');
    const file = await refusal(
      planWorkspace({ path: path.join(dir, 'file'), includeUntracked: false }),
    );
    expect(file.message).toContain('is not a directory (rule:');
    await fs.mkdir(path.join(dir, 'plain'));
    const plain = await refusal(
      planWorkspace({ path: path.join(dir, 'plain'), includeUntracked: false }),
    );
    expect(plain.message).toContain(
      'is not in a git repository (rule: the path must be a git work tree)',
    );
  });

  it('refuses a bare repository and a .git directory', async () => {
    const repo = await fixtureRepo();
    await sh(dir, 'clone', '-q', '--bare', repo, path.join(dir, 'bare.git'));
    const bare = await refusal(
      planWorkspace({ path: path.join(dir, 'bare.git'), includeUntracked: false }),
    );
    expect(bare.message).toContain('is a bare repository (rule:');
    const gitDir = await refusal(
      planWorkspace({ path: path.join(repo, '.git'), includeUntracked: false }),
    );
    expect(gitDir.message).toContain('inside a .git directory');
  });

  it('refuses submodules that are not checked out, and takes them once they are', async () => {
    const lib = path.join(dir, 'lib');
    await fs.mkdir(lib);
    await sh(lib, 'init', '-q');
    await write(path.join(lib, 'lib.c'), 'int lib;\n');
    await sh(lib, 'add', '-A');
    await sh(lib, 'commit', '-q', '-m', 'lib');
    const top = path.join(dir, 'top');
    await fs.mkdir(top);
    await sh(top, 'init', '-q');
    await sh(top, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', lib, 'deps/lib');
    await sh(top, 'commit', '-q', '-m', 'with a submodule');
    const clone = path.join(dir, 'clone');
    await sh(dir, 'clone', '-q', top, clone);
    const err = await refusal(planWorkspace({ path: clone, includeUntracked: false }));
    expect(err.code).toBe('precondition_failed');
    expect(err.message).toContain('submodules that are not checked out: deps/lib');
    expect(err.hint).toContain('submodule update --init --recursive');
    await sh(clone, '-c', 'protocol.file.allow=always', 'submodule', 'update', '-q', '--init');
    const plan = await planWorkspace({ path: clone, includeUntracked: false });
    expect(plan.selection.files.find((f) => f.path === 'deps/lib/lib.c')?.origin).toBe('submodule');
  });

  it('refuses file names that are not UTF-8', async () => {
    const repo = await fixtureRepo();
    await fs.writeFile(Buffer.from(`${repo}/bad-\xff.txt`, 'latin1'), 'x');
    await fs.rm(path.join(repo, 'vendor-repo'), { recursive: true });
    await sh(repo, 'add', '-A');
    const err = await refusal(planWorkspace({ path: repo, includeUntracked: false }));
    expect(err.message).toContain('not valid UTF-8');
  });

  it('refuses a --branch git would not accept and a --from that names no commit', async () => {
    const repo = await fixtureRepo();
    const branch = await refusal(
      planWorkspace({ path: repo, includeUntracked: false, branch: 'a..b' }),
    );
    expect(branch.message).toContain('is not a valid git branch name');
    const from = await refusal(
      planWorkspace({ path: repo, includeUntracked: false, branch: 'x', from: 'no-such-ref' }),
    );
    expect(from.message).toContain('does not name a commit');
  });
});

describe('planWorkspace file selection', () => {
  it('ships tracked files as they are in the work tree; untracked only when asked; ignored never', async () => {
    const repo = await fixtureRepo();
    const plan = await planWorkspace({ path: repo, includeUntracked: false });
    const info = planInfo(plan);
    expect(info.mode).toBe('tracked');
    expect(info.files.map((f) => f.path)).toEqual([
      '.gitignore',
      'README.md',
      'dir with space/naïve café.txt',
      'empty',
      'link',
      'run.sh',
      'src/lib/a.c',
    ]);
    expect(info.files.find((f) => f.path === 'README.md')?.size).toBe('hello, edited\n'.length);
    expect(info.files.find((f) => f.path === 'link')?.kind).toBe('symlink');
    expect(info.removed).toEqual(['gone.txt']);
    expect(info.skipped).toEqual({
      untracked: 1,
      ignored: 2,
      nestedRepos: ['vendor-repo'],
      special: [],
    });
    expect(info.guestPath).toBe('/root/repo');
    expect(info.branch).toBe('main');
    expect(info.head).toMatch(/^[0-9a-f]{40}$/);
    expect(skippedNotice(plan)).toBe(
      `banger: workspace: not shipped from ${repo}: 1 untracked file (add --include-untracked to ship them), ` +
        '2 ignored paths, 1 nested repository',
    );

    const withUntracked = planInfo(await planWorkspace({ path: repo, includeUntracked: true }));
    expect(withUntracked.mode).toBe('tracked+untracked');
    const notes = withUntracked.files.find((f) => f.path === 'notes.txt');
    expect(notes).toMatchObject({ origin: 'untracked', size: 10 });
    expect(
      withUntracked.files.some((f) => f.path.startsWith('build/') || f.path.endsWith('.log')),
    ).toBe(false);
    expect(withUntracked.skipped.untracked).toBe(0);
  });

  it('runs commands where the given path sits in the repository', async () => {
    const repo = await fixtureRepo();
    const plan = await planWorkspace({
      path: path.join(repo, 'src', 'lib'),
      includeUntracked: false,
      guestPath: '/srv/work',
    });
    expect(plan.repo.root).toBe(repo);
    expect(plan.workdir).toBe('/srv/work/src/lib');
  });

  it('takes the files of --from instead of the work tree', async () => {
    const repo = await fixtureRepo();
    const first = (await sh(repo, 'rev-parse', 'HEAD')).trim();
    await sh(repo, 'add', '-u');
    await sh(repo, 'commit', '-q', '-m', 'two');
    const plan = await planWorkspace({
      path: repo,
      includeUntracked: false,
      branch: 'feature',
      from: 'HEAD~1',
    });
    const info = planInfo(plan);
    expect(info.mode).toBe('commit');
    expect(info.from).toEqual({ ref: 'HEAD~1', commit: first });
    expect(info.files.map((f) => f.path)).toContain('gone.txt');
    expect(info.files.find((f) => f.path === 'run.sh')).toMatchObject({ origin: 'commit' });
  });

  it('does not read through a directory that became a symlink', async () => {
    const repo = await fixtureRepo();
    await fs.rm(path.join(repo, 'src'), { recursive: true });
    const outside = path.join(dir, 'outside');
    await write(path.join(outside, 'lib', 'a.c'), 'secret\n');
    await fs.symlink(outside, path.join(repo, 'src'));
    const info = planInfo(await planWorkspace({ path: repo, includeUntracked: false }));
    expect(info.files.some((f) => f.path === 'src/lib/a.c')).toBe(false);
    expect(info.removed).toContain('src/lib/a.c');
  });
});
