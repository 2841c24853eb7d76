/**
 * Workspace mode through the real CLI, daemon and microVMs: `vm run PATH -- CMD`, the
 * preflight, --dry-run against what really lands in the guest, vm exec in the workspace,
 * export applied on the host, file_sync, and a 5,000-file repository with a 50 MiB binary.
 * Three boots in all: two `vm run --rm` for `make test`, one kept VM for everything else.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BangerHome } from '../support/banger-home.js';

const home = BangerHome.open(inject('e2eHome'));
const configFile = path.join(home.root, 'config', 'banger', 'config.toml');

let dir: string;
let savedConfig: string | undefined;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bge-ws-'));
  savedConfig = existsSync(configFile) ? await fs.readFile(configFile, 'utf8') : undefined;
});

afterAll(async () => {
  if (savedConfig === undefined) await fs.rm(configFile, { force: true });
  else await fs.writeFile(configFile, savedConfig);
  await fs.rm(dir, { recursive: true, force: true });
});

const IDENTITY = {
  GIT_AUTHOR_NAME: 'host',
  GIT_AUTHOR_EMAIL: 'host@example.com',
  GIT_COMMITTER_NAME: 'host',
  GIT_COMMITTER_EMAIL: 'host@example.com',
};

/** git on the host, in `cwd`. */
function git(cwd: string, ...args: string[]): Promise<string> {
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

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/**
 * One line per file or symlink: kind, mode, path, then the content's sha256 or the link's
 * target. The guest computes the same lines with find and sha256sum (see GUEST_MANIFEST).
 */
async function hostManifest(root: string, names: readonly string[]): Promise<string> {
  const lines: string[] = [];
  for (const name of [...names].sort(byteOrder)) {
    const full = path.join(root, name);
    const st = await fs.lstat(full);
    if (st.isSymbolicLink()) lines.push(`l 777 ${name} -> ${await fs.readlink(full)}`);
    else
      lines.push(`f ${(st.mode & 0o7777).toString(8)} ${name} ${sha256(await fs.readFile(full))}`);
  }
  return lines.join('\n') + '\n';
}

/** The guest side of hostManifest, for every file and symlink outside .git (no newlines in names). */
const GUEST_MANIFEST =
  "find . -path ./.git -prune -o \\( -type f -o -type l \\) -printf '%P\\n' | LC_ALL=C sort | " +
  'while IFS= read -r f; do ' +
  'if [ -L "$f" ]; then printf "l 777 %s -> %s\\n" "$f" "$(readlink "$f")"; ' +
  'else printf "f %s %s %s\\n" "$(stat -c %a "$f")" "$f" "$(sha256sum < "$f" | cut -d" " -f1)"; fi; done';

async function guest(vm: string, script: string): Promise<string> {
  return (await home.ok(['vm', 'exec', vm, '--', 'sh', '-c', script])).out;
}

interface PlanJson {
  mode: string;
  files: { path: string; kind: string; size: number; origin: string }[];
  skipped: { untracked: number; ignored: number };
}

describe('vm run PATH -- make test', () => {
  it("returns the command's failing status, and 0 once the work tree is fixed", async () => {
    const repo = path.join(dir, 'make-repo');
    await fs.mkdir(repo);
    await git(repo, 'init', '-q', '-b', 'main');
    await write(
      path.join(repo, 'Makefile'),
      'test:\n\t@grep -q pass status.txt || { echo "tests fail in $$(pwd)" >&2; exit 3; }\n' +
        '\t@echo "tests pass in $$(pwd)"\n',
    );
    await write(path.join(repo, 'status.txt'), 'fail\n');
    await git(repo, 'add', '-A');
    await git(repo, 'commit', '-q', '-m', 'failing tests');

    const failing = await home.run(['vm', 'run', '--rm', repo, '--', 'make', 'test']);
    expect(failing.stderr).toContain('tests fail in /root/repo');
    expect(failing.code).toBe(2); // make's own status when a recipe fails

    await write(path.join(repo, 'status.txt'), 'pass\n'); // an uncommitted fix ships too
    const passing = await home.run(['vm', 'run', '--rm', repo, '--', 'make', 'test']);
    expect(passing.code).toBe(0);
    expect(passing.out).toBe('tests pass in /root/repo\n');
    expect(JSON.parse((await home.ok(['vm', 'list', '--json'])).out)).toEqual([]);
  });
});

describe('workspace preflight', () => {
  it('refuses, before any VM exists and naming the rule: a missing path, no work tree, a bare repository, submodules not checked out', async () => {
    const missing = await home.run(['vm', 'run', '--rm', path.join(dir, 'nope'), '--', 'true']);
    expect(missing.code).toBe(64);
    expect(missing.stderr).toContain(
      'does not exist (rule: the path must be an existing git work tree)',
    );

    const plain = path.join(dir, 'plain');
    await fs.mkdir(plain);
    const notRepo = await home.run(['vm', 'run', '--rm', plain, '--', 'true']);
    expect(notRepo.code).toBe(64);
    expect(notRepo.stderr).toContain(
      'is not in a git repository (rule: the path must be a git work tree)',
    );

    const lib = path.join(dir, 'lib');
    await fs.mkdir(lib);
    await git(lib, 'init', '-q');
    await write(path.join(lib, 'lib.c'), 'int lib;\n');
    await git(lib, 'add', '-A');
    await git(lib, 'commit', '-q', '-m', 'lib');
    const bare = path.join(dir, 'bare.git');
    await git(dir, 'clone', '-q', '--bare', lib, bare);
    const bareRun = await home.run(['vm', 'run', '--rm', bare, '--', 'true']);
    expect(bareRun.code).toBe(64);
    expect(bareRun.stderr).toContain('is a bare repository (rule:');

    const top = path.join(dir, 'top');
    await fs.mkdir(top);
    await git(top, 'init', '-q');
    await git(top, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', lib, 'deps/lib');
    await git(top, 'commit', '-q', '-m', 'with a submodule');
    const clone = path.join(dir, 'clone');
    await git(dir, 'clone', '-q', top, clone);
    const sub = await home.run(['vm', 'run', '--rm', clone, '--', 'true']);
    expect(sub.code).toBe(68);
    expect(sub.stderr).toContain('submodules that are not checked out: deps/lib');
    expect(sub.stderr).toContain('git -C');

    const flags = await home.run(['vm', 'run', '--rm', '--include-untracked', '--', 'true']);
    expect(flags.code).toBe(64);
    expect(flags.stderr).toContain('--include-untracked need a repository path');
    expect(JSON.parse((await home.ok(['vm', 'list', '--json'])).out)).toEqual([]);
  });
});

describe('a kept VM with a workspace', () => {
  const vm = 'ws-dev';
  let repo: string;
  let shellRun: { code: number; out: string; stderr: string };

  beforeAll(async () => {
    repo = path.join(dir, 'app repo');
    await fs.mkdir(repo);
    await git(repo, 'init', '-q', '-b', 'main');
    await write(path.join(repo, 'README.md'), 'hello\n');
    await write(path.join(repo, 'run.sh'), '#!/bin/sh\necho run\n', 0o755);
    await write(path.join(repo, 'private.conf'), 'secret=1\n', 0o600);
    await write(path.join(repo, 'empty'), '');
    await write(path.join(repo, 'dir with space/naïve café ünïcode.txt'), 'unicode\n');
    await write(path.join(repo, `${'deep/'.repeat(12)}${'long-name-'.repeat(12)}.txt`), 'long\n');
    await write(path.join(repo, 'data.bin'), randomBytes(200_000));
    await write(path.join(repo, 'gone.txt'), 'to be deleted on the host\n');
    await write(path.join(repo, '.gitignore'), 'build/\n*.log\n');
    await fs.symlink('README.md', path.join(repo, 'link'));
    await fs.symlink('dir with space', path.join(repo, 'dirlink'));
    await git(repo, 'add', '-A');
    await git(repo, 'commit', '-q', '-m', 'first');
    await write(path.join(repo, 'README.md'), 'hello, edited\n');
    await git(repo, 'commit', '-q', '-am', 'second');
    // Uncommitted: an edit, a deletion, an untracked file, ignored files.
    await write(path.join(repo, 'run.sh'), '#!/bin/sh\necho edited run\n', 0o755);
    await fs.rm(path.join(repo, 'gone.txt'));
    await write(path.join(repo, 'notes.txt'), 'untracked\n');
    await write(path.join(repo, 'build/out.o'), 'ignored');
    await write(path.join(repo, 'debug.log'), 'ignored');

    const synced = path.join(dir, 'synced');
    await write(path.join(synced, 'gitconfig'), '[user]\n\tname = synced\n');
    await write(path.join(synced, 'tools/bin/tool'), '#!/bin/sh\n', 0o700);
    await fs.mkdir(path.dirname(configFile), { recursive: true });
    await fs.writeFile(
      configFile,
      (savedConfig ?? '') +
        `\n[[file_sync]]\nhost = "${synced}/gitconfig"\nguest = "/root/.gitconfig"\n` +
        `\n[[file_sync]]\nhost = "${synced}/tools"\nguest = "/root/.local/tools"\n` +
        `\n[[file_sync]]\nhost = "${dir}/does-not-exist"\nguest = "/root/missing"\n`,
    );
    // No command: a login shell in the repository (stdin is its script); the VM is kept.
    shellRun = await home.run(['vm', 'run', '--name', vm, '--include-untracked', repo], {
      input: 'pwd\nexit 0\n',
    });
  });

  afterAll(async () => {
    await home.run(['vm', 'delete', vm]);
  });

  it('opens the shell in the repository and copies file_sync entries, warning about a missing one', async () => {
    expect(shellRun.code).toBe(0);
    expect(shellRun.out).toBe('/root/repo\n');
    expect(shellRun.stderr).toContain(`file_sync: ${dir}/does-not-exist does not exist`);
    expect(shellRun.stderr).toContain('not shipped from');
    expect(shellRun.stderr).toContain('2 ignored paths');
    expect(await guest(vm, 'cat /root/.gitconfig; stat -c %a /root/.local/tools/bin/tool')).toBe(
      '[user]\n\tname = synced\n700\n',
    );
  });

  it('ships exactly what --dry-run lists: tracked and untracked, never ignored; modes, symlinks, empty files and odd names intact', async () => {
    const dry = await home.ok(['vm', 'run', repo, '--include-untracked', '--dry-run', '--json']);
    const plan = JSON.parse(dry.out) as PlanJson;
    expect(plan.mode).toBe('tracked+untracked');
    expect(plan.skipped).toMatchObject({ untracked: 0, ignored: 2 });
    const planned = plan.files.map((f) => f.path).sort(byteOrder);
    expect(planned).toContain('notes.txt');
    expect(planned).not.toContain('gone.txt');
    expect(planned.some((p) => p.endsWith('.log') || p.startsWith('build/'))).toBe(false);

    const inGuest = await guest(
      vm,
      "find . -path ./.git -prune -o \\( -type f -o -type l \\) -printf '%P\\n' | LC_ALL=C sort",
    );
    expect(inGuest.trimEnd().split('\n')).toEqual(planned);
    expect(await guest(vm, GUEST_MANIFEST)).toBe(await hostManifest(repo, planned));

    // git in the guest sees what the host sees, with the history shipped.
    expect(await guest(vm, 'git status --porcelain')).toBe(
      await git(repo, 'status', '--porcelain'),
    );
    expect(await guest(vm, 'git log -1 --format=%s; git branch --show-current')).toBe(
      'second\nmain\n',
    );
    expect(await guest(vm, 'git diff --stat | tail -1')).toBe(
      `${(await git(repo, 'diff', '--stat')).trimEnd().split('\n').at(-1) ?? ''}\n`,
    );
    const dryText = await home.ok(['vm', 'run', repo, '--dry-run']);
    expect(dryText.out.trimEnd().split('\n').sort(byteOrder)).toEqual(
      plan.files
        .filter((f) => f.origin !== 'untracked')
        .map((f) => f.path)
        .sort(byteOrder),
    );
    expect(dryText.stderr).toContain('mode: tracked (');
    expect(dryText.stderr).toContain('1 untracked file (--include-untracked ships them)');
  });

  it('runs vm exec in the workspace, warns when the host HEAD moved, and --auto-prepare ships again', async () => {
    expect((await home.ok(['vm', 'exec', vm, '--', 'pwd'])).out).toBe('/root/repo\n');
    expect((await home.ok(['vm', 'exec', '-w', '/tmp', vm, '--', 'pwd'])).out).toBe('/tmp\n');
    await git(repo, 'add', '-A');
    await git(repo, 'commit', '-q', '-m', 'third');
    const stale = await home.ok(['vm', 'exec', vm, '--', 'git', 'log', '-1', '--format=%s']);
    expect(stale.out).toBe('second\n');
    expect(stale.stderr).toContain(`HEAD of ${repo} moved since it was shipped`);
    expect(stale.stderr).toContain('--auto-prepare');
    const fresh = await home.ok([
      'vm',
      'exec',
      '--auto-prepare',
      vm,
      '--',
      'git',
      'log',
      '-1',
      '--format=%s',
    ]);
    expect(fresh.out).toBe('third\n');
    expect(fresh.stderr).toContain('shipped it again');
    const quiet = await home.ok(['vm', 'exec', vm, '--', 'true']);
    expect(quiet.stderr).toBe('');
    const show = JSON.parse((await home.ok(['vm', 'workspace', 'show', vm, '--json'])).out) as {
      head: string;
      guestPath: string;
    };
    expect(show.head).toBe((await git(repo, 'rev-parse', 'HEAD')).trim());
    expect(show.guestPath).toBe('/root/repo');
  });

  it('exports edits, new files, deletions and guest commits as a patch that applies on a copy of the host repo', async () => {
    await guest(
      vm,
      'set -e; printf "#!/bin/sh\\necho from the guest\\n" > run.sh; ' +
        'git -c user.name=agent -c user.email=agent@vm commit -q -am "guest commit"; ' +
        'mkdir -p "new dir"; echo "new in the guest" > "new dir/new file.txt"; ' +
        'printf "\\000\\001\\377binary" > data.bin; rm empty; echo edit >> "dir with space/naïve café ünïcode.txt"; ' +
        'mkdir -p build; echo junk > build/ignored.o',
    );
    const before = await guest(
      vm,
      'git status --porcelain; git rev-parse HEAD; sha256sum .git/index',
    );
    const patchFile = path.join(dir, 'guest.patch');
    const exported = await home.ok(['vm', 'workspace', 'export', vm, '-o', patchFile]);
    expect(exported.stderr).toContain(`patch to ${patchFile}`);
    expect(
      await guest(vm, 'git status --porcelain; git rev-parse HEAD; sha256sum .git/index'),
    ).toBe(before);
    const patch = await fs.readFile(patchFile, 'utf8');
    expect(patch).toContain('GIT binary patch');
    expect(patch).not.toContain('build/ignored.o');

    const copy = path.join(dir, 'copy');
    await fs.cp(repo, copy, { recursive: true, verbatimSymlinks: true });
    await git(copy, 'apply', '--check', patchFile);
    await git(copy, 'apply', patchFile);
    const files = (await git(copy, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'))
      .split('\0')
      .filter((name) => name !== '' && existsSync(path.join(copy, name)));
    expect(await guest(vm, GUEST_MANIFEST.replace('find .', 'rm -rf build; find .'))).toBe(
      await hostManifest(copy, files),
    );

    // The guest has work of its own now: shipping again refuses, unless forced.
    const refused = await home.run(['vm', 'workspace', 'prepare', vm, repo]);
    expect(refused.code).toBe(68);
    expect(refused.stderr).toContain('has changes since it was shipped');
    expect(refused.stderr).toContain(`banger vm workspace export ${vm}`);
    await home.ok(['vm', 'workspace', 'prepare', vm, repo, '--force']);
    expect(await guest(vm, 'git status --porcelain; cat run.sh')).toBe(
      '#!/bin/sh\necho edited run\n',
    );
  });

  it('ships a repository of 5,000 files and a 50 MiB binary intact', async () => {
    const big = path.join(dir, 'big');
    for (let d = 0; d < 50; d++) {
      await fs.mkdir(path.join(big, `dir-${String(d)}`), { recursive: true });
      await Promise.all(
        Array.from({ length: 100 }, (_, f) =>
          fs.writeFile(
            path.join(big, `dir-${String(d)}`, `file-${String(f)}.txt`),
            `${String(d)}/${String(f)}\n`.repeat(1 + ((d * 100 + f) % 40)),
          ),
        ),
      );
    }
    await fs.writeFile(path.join(big, 'blob.bin'), randomBytes(50 * 1024 * 1024));
    await git(big, 'init', '-q');
    await git(big, 'add', '-A');
    await git(big, 'commit', '-q', '-m', 'big');

    const result = await home.ok(
      ['vm', 'workspace', 'prepare', vm, big, '--guest-path', '/root/big', '--json'],
      { timeoutMs: 290_000 },
    );
    const shipped = JSON.parse(result.out) as { plan: { files: unknown[] }; seconds: number };
    expect(shipped.plan.files).toHaveLength(5001);

    const names = (await git(big, 'ls-files', '-z')).split('\0').filter(Boolean).sort(byteOrder);
    let lines = '';
    for (const name of names) {
      lines += `${sha256(await fs.readFile(path.join(big, name)))}  ./${name}\n`;
    }
    const guestSum = await home.ok([
      'vm',
      'exec',
      '-w',
      '/root/big',
      vm,
      '--',
      'sh',
      '-c',
      'find . -path ./.git -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum',
    ]);
    expect(guestSum.out).toBe(`${sha256(lines)}  -\n`);
  });
});
