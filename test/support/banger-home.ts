/**
 * An isolated banger installation for tests: its own XDG config/state/cache/runtime dirs,
 * the real built CLI (dist/), and a teardown that stops the daemon it started and removes
 * every VM, process and file it made.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, promises as fs, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
export const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'banger.mjs');
export const DAEMON = path.join(REPO_ROOT, 'dist', 'src', 'daemon', 'main.js');

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
  /** stdout as text. */
  out: string;
}

export interface RunOptions {
  input?: string | Buffer;
  /** Leave stdin open (the command must not need EOF). */
  keepStdinOpen?: boolean;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export class BangerHome {
  readonly env: NodeJS.ProcessEnv;
  /**
   * The network namespace (a test's, under /run/netns) that every CLI call and the daemon of
   * this home run in; undefined = the test's own.
   */
  netns: string | undefined;

  private constructor(readonly root: string) {
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
  }

  /** A fresh home under /tmp (short paths: unix sockets allow 107 bytes). */
  static async create(prefix = 'bgr-'): Promise<BangerHome> {
    const root = mkdtempSync(path.join(os.tmpdir(), prefix));
    const home = new BangerHome(root);
    for (const dir of ['home', 'config', 'state', 'cache', 'run']) {
      await fs.mkdir(path.join(root, dir), { recursive: true, mode: 0o700 });
    }
    return home;
  }

  /** Re-opens a home made by another process (e2e global setup). */
  static open(root: string): BangerHome {
    return new BangerHome(root);
  }

  get stateDir(): string {
    return path.join(this.root, 'state', 'banger');
  }

  get runtimeDir(): string {
    return path.join(this.root, 'run', 'banger');
  }

  /** Runs the real CLI binary. */
  run(args: string[], options: RunOptions = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      // Inside a test's namespace, the CLI (and so any daemon it starts) runs there too.
      const argv = [CLI, ...args];
      const child = spawn(
        this.netns === undefined ? process.execPath : 'nsenter',
        this.netns === undefined
          ? argv
          : [`--net=/run/netns/${this.netns}`, process.execPath, ...argv],
        {
          env: { ...this.env, ...options.env },
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      const out: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.stdin.on('error', () => undefined);
      if (options.input !== undefined) child.stdin.end(options.input);
      else if (!options.keepStdinOpen) child.stdin.end();
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`banger ${args.join(' ')} timed out; stderr: ${err}`));
      }, options.timeoutMs ?? 240_000);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const stdout = Buffer.concat(out);
        resolve({
          code: code ?? 128 + (signal === 'SIGKILL' ? 9 : 15),
          stdout,
          stderr: err,
          out: stdout.toString(),
        });
      });
    });
  }

  /** Runs the CLI and fails with its stderr unless it exits 0. */
  async ok(args: string[], options: RunOptions = {}): Promise<RunResult> {
    const result = await this.run(args, options);
    if (result.code !== 0) {
      throw new Error(`banger ${args.join(' ')} exited ${String(result.code)}:\n${result.stderr}`);
    }
    return result;
  }

  /** Writes config.toml (replacing it). */
  async writeConfig(text: string): Promise<void> {
    const dir = path.join(this.root, 'config', 'banger');
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await fs.writeFile(path.join(dir, 'config.toml'), text);
  }

  /**
   * Starts this home's daemon inside a network namespace the test made (`nsenter --net`), so
   * its bridge, taps and rules live there, and from then on runs every CLI call there too
   * (a CLI that finds no daemon starts one in its own namespace). Refuses when a daemon
   * already answers for this home, waits until the new one has written its pid and answers,
   * and checks that it really runs in `netns`. Returns its pid.
   */
  async startDaemonIn(netns: string): Promise<number> {
    this.netns = netns;
    const socket = path.join(this.runtimeDir, 'bangerd.sock');
    if (await socketAnswers(socket)) {
      const holders = await new Promise<string>((resolve) => {
        const ss = spawn('nsenter', [`--net=/run/netns/${netns}`, 'ss', '-xlpn'], {
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        let out = '';
        ss.stdout.on('data', (c: Buffer) => (out += c.toString()));
        ss.on('close', () =>
          resolve(
            out
              .split('\n')
              .filter((l) => l.includes(socket))
              .join('\n'),
          ),
        );
        ss.on('error', () => resolve(''));
      });
      const log = await fs
        .readFile(path.join(this.stateDir, 'bangerd.log'), 'utf8')
        .catch(() => '');
      throw new Error(
        `a daemon already serves ${this.root}: stop it before starting one in ${netns}\n${holders}\n` +
          log.split('\n').slice(-15).join('\n'),
      );
    }
    const child = spawn('nsenter', [`--net=/run/netns/${netns}`, process.execPath, DAEMON], {
      env: this.env,
      stdio: 'ignore',
      detached: true,
    });
    child.unref();
    const pid = child.pid ?? -1;
    // nsenter execs the daemon in place (no --pid): the child's pid is the daemon's.
    for (let i = 0; i < 600; i++) {
      if ((await this.daemonPid()) === pid && (await socketAnswers(socket))) {
        const inode = (p: string): number | undefined => {
          try {
            return statSync(p).ino;
          } catch {
            return undefined;
          }
        };
        if (inode(`/proc/${String(pid)}/ns/net`) !== inode(`/run/netns/${netns}`)) {
          process.kill(pid, 'SIGKILL');
          throw new Error(`the daemon (pid ${String(pid)}) is not in namespace ${netns}`);
        }
        return pid;
      }
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the daemon did not start in ${netns}; see ${this.stateDir}/bangerd.log`);
  }

  async daemonPid(): Promise<number | undefined> {
    try {
      const pid = Number(
        (await fs.readFile(path.join(this.runtimeDir, 'bangerd.pid'), 'utf8')).trim(),
      );
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Deletes every VM, stops the daemon this home started, removes the files. */
  async destroy(options: { keepFiles?: boolean } = {}): Promise<void> {
    if (existsSync(CLI) && (await this.daemonPid()) !== undefined) {
      const list = await this.run(['vm', 'list', '--json']).catch(() => undefined);
      if (list?.code === 0) {
        const vms = JSON.parse(list.out) as { name: string }[];
        for (const vm of vms) await this.run(['vm', 'delete', vm.name]).catch(() => undefined);
      }
    }
    await this.stopDaemon();
    if (!options.keepFiles) await fs.rm(this.root, { recursive: true, force: true });
  }

  async stopDaemon(): Promise<void> {
    const pid = await this.daemonPid();
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Fails under CI=true, skips otherwise: for prerequisites a developer machine may lack. */
export function requirePrerequisite(ok: boolean, what: string): boolean {
  if (!ok && process.env.CI === 'true')
    throw new Error(`missing prerequisite under CI=true: ${what}`);
  return ok;
}

function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
