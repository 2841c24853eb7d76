/**
 * A real system install for tests: two throwaway users (the owner and a stranger), a network
 * namespace the test made, and `banger system install --root DIR` run inside it (with
 * `nsenter --net`, so the namespaces banger registers stay visible for cleanup). The services
 * run under banger's supervisor, as they do on any host where systemd is not PID 1.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../src/base/index.js';
import { CLI, REPO_ROOT } from './banger-home.js';
import { TestNetns } from './net-namespace.js';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
}

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

const ALL_CODES = Array.from({ length: 256 }, (_, i) => i);

export async function createUser(prefix: string): Promise<TestUser> {
  const name = `${prefix}${randomBytes(3).toString('hex')}`;
  await run('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', '--user-group', name]);
  const id = (flag: string): Promise<number> =>
    run('id', [flag, name]).then((r) => Number(r.stdout.toString().trim()));
  return { name, uid: await id('-u'), gid: await id('-g') };
}

export async function removeUser(user: TestUser | undefined): Promise<void> {
  if (user) await run('userdel', [user.name], { okCodes: ALL_CODES });
}

/** Runs argv as `user` (its uid, gid and groups; no capabilities). */
export function runAs(
  user: TestUser | 'root',
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const prefix =
    user === 'root'
      ? []
      : [
          'setpriv',
          `--reuid=${String(user.uid)}`,
          `--regid=${String(user.gid)}`,
          '--init-groups',
          '--',
        ];
  const [file, ...args] = [...prefix, ...argv];
  return new Promise((resolve, reject) => {
    const child = spawn(file ?? 'false', args, {
      cwd: '/',
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, out, err });
    });
  });
}

export class SystemInstall {
  private constructor(
    readonly root: string,
    readonly netns: TestNetns,
    readonly owner: TestUser,
    readonly stranger: TestUser,
  ) {}

  static async create(): Promise<SystemInstall> {
    const root = mkdtempSync(path.join(os.tmpdir(), 'bgsys-'));
    await fs.chmod(root, 0o755);
    const netns = await TestNetns.create('bgs');
    const owner = await createUser('bgo');
    const stranger = await createUser('bgx');
    return new SystemInstall(root, netns, owner, stranger);
  }

  get env(): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: '/',
      BANGER_SYSTEM_ROOT: this.root,
      NO_COLOR: '1',
    };
  }

  get installedCli(): string {
    return path.join(this.root, 'usr/local/bin/banger');
  }

  /** `banger ARGS` inside the test namespace, as root, from the checkout's build. */
  rootCli(args: string[], options: { timeoutMs?: number } = {}): Promise<CliResult> {
    return runAs(
      'root',
      ['nsenter', `--net=/run/netns/${this.netns.name}`, process.execPath, CLI, ...args],
      { env: this.env, ...options },
    );
  }

  /** The installed `banger ARGS` as `user` (the owner by default). */
  cli(args: string[], options: { user?: TestUser; timeoutMs?: number } = {}): Promise<CliResult> {
    return runAs(options.user ?? this.owner, [process.execPath, this.installedCli, ...args], {
      env: this.env,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    });
  }

  async ok(
    args: string[],
    options: { user?: TestUser; timeoutMs?: number } = {},
  ): Promise<CliResult> {
    const result = await this.cli(args, options);
    if (result.code !== 0)
      throw new Error(`banger ${args.join(' ')} exited ${String(result.code)}:\n${result.err}`);
    return result;
  }

  async supervisorState(): Promise<{
    pid: number;
    services: Record<string, { pid?: number }>;
  }> {
    return JSON.parse(
      await fs.readFile(path.join(this.root, 'run/banger-supervisor/state.json'), 'utf8'),
    ) as { pid: number; services: Record<string, { pid?: number }> };
  }

  /**
   * Gives the owner the machine's default kernel and image (README step 1 made them), copied
   * where the owner can read them, then imported through the installed daemon.
   */
  async provisionArtifacts(): Promise<boolean> {
    const store = path.join(os.homedir(), '.local', 'state', 'banger');
    const kernel = path.join(store, 'kernels', 'debian');
    const rootfs = path.join(store, 'images', 'debian-bookworm', 'rootfs.ext4');
    if (!existsSync(path.join(kernel, 'manifest.json')) || !existsSync(rootfs)) return false;
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'bgsa-'));
    try {
      await run('cp', ['-r', kernel, path.join(scratch, 'kernel')]);
      await run('cp', ['--sparse=always', rootfs, path.join(scratch, 'rootfs.ext4')]);
      await run('chown', ['-R', `${this.owner.name}:${String(this.owner.gid)}`, scratch]);
      await this.ok(['kernel', 'import', 'debian', '--from', path.join(scratch, 'kernel')]);
      await this.ok([
        'image',
        'register',
        'debian-bookworm',
        '--rootfs',
        path.join(scratch, 'rootfs.ext4'),
        '--kernel',
        'debian',
      ]);
    } finally {
      await fs.rm(scratch, { recursive: true, force: true });
    }
    return true;
  }

  async destroy(): Promise<void> {
    if (existsSync(path.join(this.root, 'etc/banger/install.toml'))) {
      await this.rootCli(['system', 'uninstall', '--purge', '--root', this.root]).catch(
        () => undefined,
      );
    }
    await this.netns.destroy().catch(() => undefined);
    await removeUser(this.owner);
    await removeUser(this.stranger);
    await fs.rm(this.root, { recursive: true, force: true });
  }
}

export const BUILT =
  existsSync(CLI) &&
  existsSync(path.join(REPO_ROOT, 'dist/src/supervisor/main.js')) &&
  existsSync(path.join(REPO_ROOT, 'build/helper/banger-peercred')) &&
  existsSync(path.join(REPO_ROOT, 'build/helper/banger-tapfd'));
