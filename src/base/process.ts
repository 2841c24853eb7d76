/**
 * The only user of node:child_process in banger. Every child is `spawn(file, argv)`:
 * no shell, ever. Failures are shaped like results (argv, exit status, stderr tail) so
 * the user sees exactly what ran and why it failed.
 */
import { spawn as nodeSpawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { BangerError } from './errors.js';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Bytes written to the child's stdin, then closed. */
  input?: string | Buffer;
  signal?: AbortSignal;
  /** Kill the child after this long (SIGKILL) and fail with code 'timeout'. */
  timeoutMs?: number;
  /** Keep at most this many bytes of stdout (default 64 MiB); stderr keeps its last 64 KiB. */
  maxStdoutBytes?: number;
  /** Called with each stderr chunk as it arrives (for progress). */
  onStderr?: (chunk: Buffer) => void;
  onStdout?: (chunk: Buffer) => void;
  /** Exit codes that count as success (default [0]). */
  okCodes?: readonly number[];
}

export interface RunResult {
  file: string;
  argv: readonly string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

const STDERR_TAIL = 64 * 1024;

/** Runs a program to completion and resolves with its output; rejects on non-ok exit. */
export function run(
  file: string,
  argv: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  assertNoShell(file, argv);
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new BangerError('canceled', `canceled before running ${file}`));
      return;
    }
    const child = nodeSpawn(file, [...argv], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      shell: false,
    });
    const stdoutChunks: Buffer[] = [];
    let stdoutBytes = 0;
    const maxStdout = options.maxStdoutBytes ?? 64 * 1024 * 1024;
    let stderr = '';
    let timedOut = false;
    let canceled = false;

    child.stdout.on('data', (chunk: Buffer) => {
      options.onStdout?.(chunk);
      if (stdoutBytes < maxStdout) {
        stdoutChunks.push(chunk);
        stdoutBytes += chunk.length;
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      options.onStderr?.(chunk);
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    child.stdin.on('error', () => {
      /* the child may exit without reading its input; its exit status tells the story */
    });
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();

    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    const onAbort = (): void => {
      canceled = true;
      child.kill('SIGKILL');
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.on('error', (err: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      const missing = err.code === 'ENOENT';
      reject(
        new BangerError(
          missing ? 'precondition_failed' : 'operation_failed',
          missing ? `program not found: ${file}` : `could not start ${file}: ${err.message}`,
          {
            cause: err,
            details: { argv: [file, ...argv] },
            hint: missing ? 'run the install step (see README) or `banger doctor`' : undefined,
          },
        ),
      );
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      const result: RunResult = {
        file,
        argv,
        code,
        signal,
        stdout: Buffer.concat(stdoutChunks),
        stderr,
      };
      if (canceled) {
        reject(new BangerError('canceled', `canceled: ${describeArgv(file, argv)}`));
        return;
      }
      if (timedOut) {
        reject(
          new BangerError(
            'timeout',
            `${describeArgv(file, argv)} ran longer than ${String(options.timeoutMs)} ms`,
            {
              details: failureDetails(result),
            },
          ),
        );
        return;
      }
      const okCodes = options.okCodes ?? [0];
      if (code !== null && okCodes.includes(code)) {
        resolve(result);
        return;
      }
      reject(commandFailed(result));
    });
  });
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  stdio?: StdioOptions;
  /** Start the child in its own session so it outlives us (VMMs, the daemon). */
  detached?: boolean;
}

/** Starts a long-running child and hands it back; the caller owns its lifetime. */
export function spawnChild(
  file: string,
  argv: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  assertNoShell(file, argv);
  return nodeSpawn(file, [...argv], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: options.stdio ?? 'ignore',
    detached: options.detached ?? false,
    shell: false,
  });
}

/** Builds the error for a command that ran and failed: argv, status and the tail of stderr. */
export function commandFailed(result: RunResult): BangerError {
  const status =
    result.signal !== null ? `signal ${result.signal}` : `exit status ${String(result.code)}`;
  const tail = lastLines(result.stderr, 8);
  return new BangerError(
    'operation_failed',
    `${describeArgv(result.file, result.argv)} failed with ${status}${tail ? `:\n${tail}` : ''}`,
    { details: failureDetails(result) },
  );
}

function failureDetails(result: RunResult): Record<string, unknown> {
  return {
    argv: [result.file, ...result.argv],
    exitCode: result.code,
    signal: result.signal,
    stderrTail: lastLines(result.stderr, 20),
  };
}

export function describeArgv(file: string, argv: readonly string[]): string {
  const shown = [file, ...argv].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a)));
  const text = shown.join(' ');
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ash', 'ksh', 'busybox']);

/** Defence in depth behind the lint rule: refuse to run a shell with a command string. */
function assertNoShell(file: string, argv: readonly string[]): void {
  const base = file.split('/').pop() ?? file;
  if (SHELLS.has(base) && argv.includes('-c')) {
    throw new BangerError('internal', `refusing to run a shell command string through ${file}`);
  }
}
