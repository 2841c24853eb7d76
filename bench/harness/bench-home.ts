/**
 * The bench's own banger installation: private XDG config/state/cache/runtime dirs under /tmp
 * (short: unix socket paths max out at 107 bytes), the real built CLI (dist/), and a teardown
 * that deletes every VM, stops the daemon it started, kills any process still naming the home
 * (by pid) and removes the files. Nothing touches the user's own banger.
 */
import { existsSync, mkdtempSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BangerError, sleep } from '../../src/base/index.js';
import { packageRoot, resolveLayout, type Layout } from '../../src/config/index.js';
import { processesMentioning } from '../../test/support/leaks.js';
import type { ChildResult, ChildSet } from './children.js';

export function cliPath(): string {
  return path.join(packageRoot(), 'dist', 'src', 'cli', 'banger.mjs');
}

export interface CliOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number;
}

const CLI_TIMEOUT_MS = 300_000;

export class BenchHome {
  readonly env: NodeJS.ProcessEnv;
  readonly layout: Layout;

  private constructor(
    readonly root: string,
    private readonly children: ChildSet,
  ) {
    this.env = {
      ...process.env,
      HOME: path.join(root, 'home'),
      XDG_CONFIG_HOME: path.join(root, 'config'),
      XDG_STATE_HOME: path.join(root, 'state'),
      XDG_CACHE_HOME: path.join(root, 'cache'),
      XDG_RUNTIME_DIR: path.join(root, 'run'),
      NO_COLOR: '1',
      // Never the machine's system install, whatever is installed here.
      BANGER_MODE: 'user',
    };
    this.layout = resolveLayout({ env: this.env });
  }

  static async create(children: ChildSet): Promise<BenchHome> {
    if (!existsSync(cliPath())) {
      throw new BangerError('precondition_failed', `${cliPath()} is missing`, {
        hint: 'build first: npm run build',
      });
    }
    const root = mkdtempSync(path.join(os.tmpdir(), 'bgb-'));
    for (const dir of ['home', 'config', 'state', 'cache', 'run']) {
      await fs.mkdir(path.join(root, dir), { recursive: true, mode: 0o700 });
    }
    return new BenchHome(root, children);
  }

  /** Runs the real CLI (timed from spawn to exit); never throws on its exit status. */
  cli(args: readonly string[], options: CliOptions = {}): Promise<ChildResult> {
    return this.children.run(process.execPath, [cliPath(), ...args], {
      env: this.env,
      timeoutMs: options.timeoutMs ?? CLI_TIMEOUT_MS,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /** Runs another program (ssh, curl) with this home's environment, timed like cli(). */
  program(file: string, args: readonly string[], options: CliOptions = {}): Promise<ChildResult> {
    return this.children.run(file, args, {
      env: this.env,
      timeoutMs: options.timeoutMs ?? CLI_TIMEOUT_MS,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /** Runs the CLI and fails with its stderr unless it exits 0. */
  async ok(args: readonly string[], options: CliOptions = {}): Promise<ChildResult> {
    const result = await this.cli(args, options);
    if (result.code !== 0) {
      throw new BangerError(
        'operation_failed',
        `banger ${args.join(' ')} exited ${String(result.code ?? result.signal)}: ${result.stderr.trim()}`,
      );
    }
    return result;
  }

  async daemonPid(): Promise<number | undefined> {
    const text = await fs.readFile(this.layout.daemonPidFile, 'utf8').catch(() => '');
    const pid = Number(text.trim());
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
  }

  /** Stops the daemon (SIGTERM, then SIGKILL after 5 s) and waits until it is gone. */
  async stopDaemon(): Promise<void> {
    const pid = await this.daemonPid();
    if (pid === undefined) return;
    signal(pid, 'SIGTERM');
    for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(50);
    if (isAlive(pid)) signal(pid, 'SIGKILL');
  }

  /** Deletes every VM, stops the daemon, kills leftovers naming this home, removes the files. */
  async destroy(): Promise<string[]> {
    const notes: string[] = [];
    if ((await this.daemonPid()) !== undefined) {
      const list = await this.cli(['vm', 'list', '--json'], { timeoutMs: 30_000 }).catch(
        () => undefined,
      );
      if (list?.code === 0) {
        for (const vm of JSON.parse(list.stdout) as { name: string }[]) {
          const del = await this.cli(['vm', 'delete', vm.name], { timeoutMs: 60_000 }).catch(
            () => undefined,
          );
          if (del?.code !== 0) notes.push(`could not delete VM ${vm.name}`);
        }
      }
    }
    await this.stopDaemon();
    // A VMM whose VM could not be deleted names this home in its argv: ours, killed by pid.
    for (const leftover of processesMentioning(this.root)) {
      signal(leftover.pid, 'SIGKILL');
      notes.push(
        `killed leftover process ${String(leftover.pid)}: ${leftover.cmdline.slice(0, 80)}`,
      );
    }
    await fs.rm(this.root, { recursive: true, force: true });
    return notes;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}
