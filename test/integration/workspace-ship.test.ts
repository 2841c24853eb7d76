/**
 * Workspace ship and export against real git and tar, with a "guest" that is a directory on
 * this host: the guest shell runs each argv here. The e2e suite does the same through a VM.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  planWorkspace,
  shipToGuest,
  stageHistory,
  writeGuestPatch,
  type GuestCommand,
  type GuestResult,
  type GuestShell,
} from '../../src/workspace/index.js';

let dir: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ws-ship-'));
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

/** Runs argv on this host, as the agent would in a guest. */
class LocalShell implements GuestShell {
  readonly commands: string[][] = [];

  run(command: GuestCommand): Promise<GuestResult> {
    this.commands.push(command.argv);
    return new Promise((resolve, reject) => {
      const [file = '', ...args] = command.argv;
      const child = spawn(file, args, {
        cwd: command.cwd ?? dir,
        env: { ...process.env, HOME: dir, ...command.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      let err = '';
      if (command.stdout) child.stdout.pipe(command.stdout, { end: false });
      else child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.stdin.on('error', () => undefined);
      if (command.stdin instanceof Readable) command.stdin.pipe(child.stdin);
      else child.stdin.end(command.stdin ?? Buffer.alloc(0));
      child.on('error', (e: NodeJS.ErrnoException) =>
        e.code === 'ENOENT'
          ? resolve({ code: 127, stdout: Buffer.alloc(0), stderr: '' })
          : reject(e),
      );
      child.on('close', (code) =>
        resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: err }),
      );
    });
  }
}

async function sh(cwd: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['-C', cwd, ...args], {
      env: { ...process.env, ...IDENTITY, GIT_CONFIG_GLOBAL: '/dev/null' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`git ${args.join(' ')}: ${err}`)),
    );
  });
}

async function write(file: string, content: string | Buffer, mode = 0o644): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, content);
  await fs.chmod(file, mode);
}

/** sha256 over every file and symlink below root (path, mode, content), .git excluded. */
async function treeDigest(root: string): Promise<string> {
  const lines: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const name of (await fs.readdir(path.join(root, rel))).sort()) {
      if (rel === '' && name === '.git') continue;
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = await fs.lstat(path.join(root, r));
      if (st.isDirectory()) await walk(r);
      else if (st.isSymbolicLink())
        lines.push(`l ${r} -> ${await fs.readlink(path.join(root, r))}`);
      else {
        const sum = createHash('sha256')
          .update(await fs.readFile(path.join(root, r)))
          .digest('hex');
        lines.push(`f ${r} ${(st.mode & 0o7777).toString(8)} ${sum}`);
      }
    }
  }
  await walk('');
  return lines.join('\n');
}

async function fixtureRepo(): Promise<string> {
  const repo = path.join(dir, 'host repo');
  await fs.mkdir(repo);
  await sh(repo, 'init', '-q', '-b', 'main');
  await write(path.join(repo, 'README.md'), 'hello\n');
  await write(path.join(repo, 'run.sh'), '#!/bin/sh\necho run\n', 0o755);
  await write(path.join(repo, 'gone.txt'), 'to be deleted\n');
  await write(path.join(repo, 'empty'), '');
  await write(path.join(repo, 'dir with space/naïve café.txt'), 'unicode\n');
  await write(
    path.join(repo, 'bin.dat'),
    Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 256)),
  );
  await write(path.join(repo, '.gitignore'), 'build/\n');
  await fs.symlink('README.md', path.join(repo, 'link'));
  await sh(repo, 'add', '-A');
  await sh(repo, 'commit', '-q', '-m', 'one');
  await write(path.join(repo, 'README.md'), 'hello, edited on the host\n');
  await fs.rm(path.join(repo, 'gone.txt'));
  await write(path.join(repo, 'private.txt'), 'untracked and private\n', 0o600);
  await write(path.join(repo, 'build/out.o'), 'ignored');
  return repo;
}

describe('workspace ship into a local "guest" directory', () => {
  it('reproduces the work tree exactly, with git status showing the host changes', async () => {
    const repo = await fixtureRepo();
    const guestPath = path.join(dir, 'guest', 'repo');
    const plan = await planWorkspace({ path: repo, includeUntracked: true, guestPath });
    const scratch = await fs.mkdtemp(path.join(dir, 'scratch-'));
    const staged = await stageHistory(plan, scratch);
    const shell = new LocalShell();
    await shipToGuest(shell, plan, staged, { force: false });

    // The guest work tree is byte-for-byte (and mode-for-mode) the shipped files.
    await fs.rm(path.join(repo, 'build'), { recursive: true });
    expect(await treeDigest(guestPath)).toBe(await treeDigest(repo));
    expect(await sh(guestPath, 'status', '--porcelain')).toBe(
      ' M README.md\n D gone.txt\n?? private.txt\n',
    );
    expect(await sh(guestPath, 'log', '--format=%s')).toBe('one\n');
    expect((await sh(guestPath, 'symbolic-ref', '--short', 'HEAD')).trim()).toBe('main');
    expect(await sh(guestPath, 'remote')).toBe('');
    // Nothing left next to it, and the host repository untouched.
    expect((await fs.readdir(path.dirname(guestPath))).sort()).toEqual(['repo']);
    expect(await sh(repo, 'status', '--porcelain')).toBe(
      ' M README.md\n D gone.txt\n?? private.txt\n',
    );
    expect(shell.commands.every((argv) => !argv.includes('-c'))).toBe(true);
  });

  it('exports edits, new files, deletions and guest commits as a patch git apply takes', async () => {
    const repo = await fixtureRepo();
    const guestPath = path.join(dir, 'guest', 'repo');
    const plan = await planWorkspace({ path: repo, includeUntracked: false, guestPath });
    const staged = await stageHistory(plan, await fs.mkdtemp(path.join(dir, 'scratch-')));
    const shell = new LocalShell();
    await shipToGuest(shell, plan, staged, { force: false });

    await write(path.join(guestPath, 'run.sh'), '#!/bin/sh\necho changed\n', 0o755);
    await sh(guestPath, 'commit', '-q', '-am', 'guest commit');
    await write(path.join(guestPath, 'new dir/new file.txt'), 'brand new\n');
    await write(path.join(guestPath, 'bin.dat'), Buffer.from([0, 1, 2, 255, 0, 9]));
    await fs.rm(path.join(guestPath, 'empty'));
    await write(path.join(guestPath, 'build/ignored.o'), 'not exported');
    const statusBefore = await sh(guestPath, 'status', '--porcelain');
    const indexBefore = await fs.readFile(path.join(guestPath, '.git', 'index'));

    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const result = await writeGuestPatch(shell, guestPath, { out });
    const patch = Buffer.concat(chunks);
    expect(result.bytes).toBe(patch.length);
    expect(patch.toString('latin1')).toContain('GIT binary patch');
    expect(patch.toString('utf8')).not.toContain('README.md'); // the host's own edit is not the guest's

    // The guest's repository and index are as they were.
    expect(await sh(guestPath, 'status', '--porcelain')).toBe(statusBefore);
    expect(await fs.readFile(path.join(guestPath, '.git', 'index'))).toEqual(indexBefore);
    expect((await fs.readdir(path.dirname(guestPath))).sort()).toEqual(['repo']);

    // Applied on a copy of the host repository, it gives the guest's work tree.
    const copy = path.join(dir, 'copy');
    await fs.cp(repo, copy, { recursive: true, verbatimSymlinks: true });
    await fs.rm(path.join(copy, 'build'), { recursive: true });
    await fs.rm(path.join(copy, 'private.txt')); // untracked on the host: it never shipped
    await fs.writeFile(path.join(dir, 'p.patch'), patch);
    await sh(copy, 'apply', '--check', path.join(dir, 'p.patch'));
    await sh(copy, 'apply', path.join(dir, 'p.patch'));
    await fs.rm(path.join(guestPath, 'build'), { recursive: true });
    expect(await treeDigest(copy)).toBe(await treeDigest(guestPath));
  });

  it('refuses to replace a guest copy with changes unless forced, and never a foreign directory', async () => {
    const repo = await fixtureRepo();
    const guestPath = path.join(dir, 'guest', 'repo');
    const plan = await planWorkspace({ path: repo, includeUntracked: false, guestPath });
    const shell = new LocalShell();
    await shipToGuest(
      shell,
      plan,
      await stageHistory(plan, await fs.mkdtemp(path.join(dir, 's-'))),
      {
        force: false,
      },
    );
    // No changes in the guest: shipping again just replaces it.
    await write(path.join(repo, 'README.md'), 'second edit\n');
    const again = await planWorkspace({ path: repo, includeUntracked: false, guestPath });
    await shipToGuest(
      shell,
      again,
      await stageHistory(again, await fs.mkdtemp(path.join(dir, 's-'))),
      {
        force: false,
      },
    );
    expect(await fs.readFile(path.join(guestPath, 'README.md'), 'utf8')).toBe('second edit\n');

    await write(path.join(guestPath, 'guest-work.txt'), 'precious\n');
    const staged = await stageHistory(again, await fs.mkdtemp(path.join(dir, 's-')));
    await expect(shipToGuest(shell, again, staged, { force: false })).rejects.toThrow(
      'has changes since it was shipped',
    );
    expect(await fs.readFile(path.join(guestPath, 'guest-work.txt'), 'utf8')).toBe('precious\n');
    await shipToGuest(shell, again, staged, { force: true });
    await expect(fs.access(path.join(guestPath, 'guest-work.txt'))).rejects.toThrow();

    const foreign = path.join(dir, 'guest', 'foreign');
    await write(path.join(foreign, 'keep.txt'), 'mine');
    const there = await planWorkspace({ path: repo, includeUntracked: false, guestPath: foreign });
    await expect(
      shipToGuest(shell, there, await stageHistory(there, await fs.mkdtemp(path.join(dir, 's-'))), {
        force: true,
      }),
    ).rejects.toThrow('is not a banger workspace');
    expect(await fs.readFile(path.join(foreign, 'keep.txt'), 'utf8')).toBe('mine');
  });

  it('creates a guest-only branch, from another commit when asked', async () => {
    const repo = await fixtureRepo();
    const first = (await sh(repo, 'rev-parse', 'HEAD')).trim();
    await sh(repo, 'add', '-u');
    await sh(repo, 'commit', '-q', '-m', 'two');
    const guestPath = path.join(dir, 'guest', 'repo');
    const plan = await planWorkspace({
      path: repo,
      includeUntracked: false,
      guestPath,
      branch: 'agent/task-1',
      from: 'HEAD~1',
    });
    const shell = new LocalShell();
    await shipToGuest(
      shell,
      plan,
      await stageHistory(plan, await fs.mkdtemp(path.join(dir, 's-'))),
      {
        force: false,
      },
    );
    expect((await sh(guestPath, 'symbolic-ref', '--short', 'HEAD')).trim()).toBe('agent/task-1');
    expect((await sh(guestPath, 'rev-parse', 'HEAD')).trim()).toBe(first);
    expect(await sh(guestPath, 'status', '--porcelain')).toBe('');
    expect(await fs.readFile(path.join(guestPath, 'README.md'), 'utf8')).toBe('hello\n');
    expect(await sh(repo, 'branch', '--list', 'agent/task-1')).toBe('');
  });
});
