/**
 * Running one command in a guest and wiring its streams to an RPC call: stdin in, stdout and
 * stderr out with backpressure, resize and signals forwarded, the exit status back.
 */
import type { Readable, Writable } from 'node:stream';
import { BangerError } from '../base/index.js';
import type { ControlMessage } from '../ipc/index.js';
import type { ExecSpec, ExitStatusInfo } from '../protocol/index.js';
import type { AgentExec, AgentSession } from './ports.js';

export interface ExecIo {
  /** Present when the client forwards stdin. */
  stdin?: Readable | undefined;
  stdout: Writable;
  stderr: Writable;
  onControl(listener: (message: ControlMessage) => void): void;
  /** Aborted when the client goes away: the command gets SIGHUP, like a closed terminal. */
  signal: AbortSignal;
}

const LOGIN_SHELLS: readonly string[][] = [
  ['/bin/bash', '-l'],
  ['/bin/sh', '-l'],
];

export async function runExec(
  agent: AgentSession,
  spec: ExecSpec,
  io: ExecIo,
): Promise<ExitStatusInfo> {
  const exec = await startExec(agent, spec);
  const drained = Promise.all([forward(exec.stdout, io.stdout), forward(exec.stderr, io.stderr)]);

  if (spec.stdin && io.stdin) {
    io.stdin.pipe(exec.stdin);
  } else {
    exec.stdin.end();
  }
  io.onControl((message) => {
    if (message.kind === 'resize') exec.resize(message.rows, message.cols);
    else if (isSignalName(message.signal)) exec.kill(message.signal);
  });
  const onAbort = (): void => exec.kill('SIGHUP');
  io.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const status = await exec.exit;
    await drained;
    return status;
  } finally {
    io.signal.removeEventListener('abort', onAbort);
    io.stdin?.unpipe(exec.stdin);
  }
}

/** An empty argv means an interactive login shell: bash when the image has it, else sh. */
async function startExec(agent: AgentSession, spec: ExecSpec): Promise<AgentExec> {
  const base = {
    ...(spec.env ? { env: spec.env } : {}),
    ...(spec.cwd ? { cwd: spec.cwd } : {}),
    ...(spec.tty ? { tty: spec.tty } : {}),
  };
  if (spec.argv.length > 0) return agent.exec({ argv: spec.argv, ...base });
  let lastError: unknown;
  for (const argv of LOGIN_SHELLS) {
    try {
      return await agent.exec({ argv, ...base });
    } catch (err) {
      lastError = err;
      if (!(err instanceof BangerError && err.code === 'not_found')) throw err;
    }
  }
  throw lastError;
}

function forward(from: Readable, to: Writable): Promise<void> {
  return new Promise((resolve) => {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    from.once('end', () => resolve());
    from.once('error', () => resolve());
    from.once('close', () => resolve());
  });
}

const SIGNALS = new Set([
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGTERM',
  'SIGKILL',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
  'SIGCONT',
  'SIGSTOP',
  'SIGTSTP',
]);

function isSignalName(value: string): value is NodeJS.Signals {
  return SIGNALS.has(value);
}
