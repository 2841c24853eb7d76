/**
 * Finding (or starting) the daemon. With no daemon listening, the CLI starts one in the
 * background, says so on stderr, and waits until its socket answers.
 */
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { BangerError, ensurePrivateDir, sleep, spawnChild } from '../base/index.js';
import { loadConfig, packageRoot, type Layout } from '../config/index.js';
import { connectUnix, startCall, type CallHandle, type CallOptions } from '../ipc/index.js';

const START_TIMEOUT_MS = 20_000;

function daemonEntry(): string {
  return path.join(packageRoot(), 'dist', 'src', 'daemon', 'main.js');
}

async function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export class DaemonClient {
  private ensured = false;

  constructor(
    private readonly layout: Layout,
    private readonly notice: (message: string) => void,
  ) {}

  async call<T>(method: string, params: unknown, options: CallOptions = {}): Promise<T> {
    return (await this.start<T>(method, params, options)).result;
  }

  async start<T>(
    method: string,
    params: unknown,
    options: CallOptions = {},
  ): Promise<CallHandle<T>> {
    return startCall<T>(await this.connect(), { method, params }, options);
  }

  /**
   * A connection to the daemon, starting one first when none listens. The connection that
   * finds the daemon is the one the call goes over (one connect per CLI run, not two).
   */
  private async connect(): Promise<net.Socket> {
    if (this.ensured) return connectUnix(this.layout.daemonSocket);
    // A config file that does not parse or has unknown keys is refused here, by name, before
    // the daemon (which would only log it) is asked to do anything.
    loadConfig(this.layout.configFile);
    const found = await connectUnix(this.layout.daemonSocket).catch(() => undefined);
    if (!found) {
      // A system install's daemon is a service: it is never started from here.
      if (this.layout.mode === 'system') throw await systemDaemonDown(this.layout);
      await this.startDaemon();
    }
    this.ensured = true;
    return found ?? connectUnix(this.layout.daemonSocket);
  }

  private async startDaemon(): Promise<void> {
    await ensurePrivateDir(this.layout.stateDir);
    const log = openSync(this.layout.daemonLog, 'a', 0o600);
    let exitedEarly: string | undefined;
    try {
      const child = spawnChild(process.execPath, [daemonEntry()], {
        detached: true,
        stdio: ['ignore', log, log],
      });
      child.once('exit', (code, signal) => {
        exitedEarly = `exit code ${String(code)}, signal ${String(signal)}`;
      });
      child.unref();
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (Date.now() < deadline) {
        if (await socketAnswers(this.layout.daemonSocket)) {
          this.notice(
            `started the banger daemon in the background (pid ${String(child.pid)}, log ${this.layout.daemonLog})`,
          );
          return;
        }
        if (exitedEarly !== undefined && !(await socketAnswers(this.layout.daemonSocket))) {
          // Another CLI may have started one at the same moment; ours then exits on purpose.
          await sleep(200);
          if (await socketAnswers(this.layout.daemonSocket)) return;
          throw new BangerError(
            'unavailable',
            `the banger daemon exited while starting (${exitedEarly})`,
            {
              hint: `read its log: ${this.layout.daemonLog}`,
            },
          );
        }
        await sleep(50);
      }
      throw new BangerError(
        'timeout',
        `the banger daemon did not answer on ${this.layout.daemonSocket} within 20 s`,
        {
          hint: `read its log: ${this.layout.daemonLog}`,
        },
      );
    } finally {
      closeSync(log);
    }
  }
}

/** Why a system install's daemon cannot be reached, and what to do. */
async function systemDaemonDown(layout: Layout): Promise<BangerError> {
  const socket = layout.daemonSocket;
  const code = await new Promise<string | undefined>((resolve) => {
    const probe = net.connect(socket);
    probe.once('connect', () => {
      probe.destroy();
      resolve(undefined);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
  });
  if (code === 'EACCES') {
    const owner = /^owner = "([^"]+)"$/m.exec(
      await readFile(layout.installFile, 'utf8').catch(() => ''),
    )?.[1];
    return new BangerError(
      'unauthorized',
      `this banger is installed for ${owner ?? 'another user'}; you cannot reach its daemon (${socket})`,
      { hint: 'run banger as the install owner, or use your own: BANGER_MODE=user banger ...' },
    );
  }
  return new BangerError('unavailable', `the banger service does not answer on ${socket}`, {
    hint: 'see `banger system status`; start it with `sudo banger system restart`',
  });
}
