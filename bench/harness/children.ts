/**
 * Every process the bench starts goes through here (spawnChild from base: argv, no shell), is
 * timed from just before spawn to its exit, and is remembered until it exits, so an interrupted
 * or failed bench can SIGKILL whatever it still has running, by pid.
 */
import type { ChildProcess } from 'node:child_process';
import { BangerError, spawnChild } from '../../src/base/index.js';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from just before spawn to the process's exit (all its output read). */
  seconds: number;
}

export interface ChildRunOptions {
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** SIGKILL the child after this long and fail with code 'timeout'. */
  timeoutMs?: number;
}

/** Seconds since it was made, from the monotonic clock. */
export function stopwatch(): () => number {
  const start = performance.now();
  return () => (performance.now() - start) / 1000;
}

export class ChildSet {
  private readonly live = new Set<ChildProcess>();

  /** Starts a long-running child with output ignored (stderr kept); the caller waits or kills. */
  start(file: string, argv: readonly string[], options: { env?: NodeJS.ProcessEnv } = {}) {
    const child = spawnChild(file, argv, {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(options.env ? { env: options.env } : {}),
    });
    this.track(child);
    return child;
  }

  /** Runs a child to its exit and returns its status, output and wall time; never throws on status. */
  run(file: string, argv: readonly string[], options: ChildRunOptions = {}): Promise<ChildResult> {
    if (options.signal?.aborted)
      return Promise.reject(new BangerError('canceled', 'bench interrupted'));
    return new Promise((resolve, reject) => {
      const elapsed = stopwatch();
      const child = spawnChild(file, argv, {
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(options.env ? { env: options.env } : {}),
      });
      this.track(child);
      let stdout = '';
      let stderr = '';
      let why: 'timeout' | 'canceled' | undefined;
      child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-65536)));
      const kill = (reason: 'timeout' | 'canceled') => {
        why = reason;
        child.kill('SIGKILL');
      };
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => kill('timeout'), options.timeoutMs);
      const onAbort = () => kill('canceled');
      options.signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', (err) => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        reject(new BangerError('operation_failed', `could not start ${file}: ${err.message}`));
      });
      child.on('close', (code, signal) => {
        const seconds = elapsed();
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (why === 'canceled') reject(new BangerError('canceled', 'bench interrupted'));
        else if (why === 'timeout') {
          reject(
            new BangerError(
              'timeout',
              `${file} ${argv.join(' ')} ran longer than ${String(options.timeoutMs)} ms`,
              { hint: stderr.trim().split('\n').slice(-5).join('\n') || undefined },
            ),
          );
        } else resolve({ code, signal, stdout, stderr, seconds });
      });
    });
  }

  /**
   * Runs `first | second` without a shell: first's stdout feeds second's stdin. Timed from
   * just before the first spawn until both have exited; the result is second's, and a failure
   * of first is reported as an error.
   */
  async pipe(
    first: { file: string; argv: readonly string[] },
    second: { file: string; argv: readonly string[] },
    options: ChildRunOptions = {},
  ): Promise<ChildResult> {
    if (options.signal?.aborted) throw new BangerError('canceled', 'bench interrupted');
    const elapsed = stopwatch();
    const env = options.env ? { env: options.env } : {};
    const producer = spawnChild(first.file, first.argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...env,
    });
    const consumer = spawnChild(second.file, second.argv, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...env,
    });
    this.track(producer);
    this.track(consumer);
    if (producer.stdout && consumer.stdin) producer.stdout.pipe(consumer.stdin);
    consumer.stdin?.on('error', () => undefined);
    let stdout = '';
    let stderr = '';
    consumer.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    consumer.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-65536)));
    let producerErr = '';
    producer.stderr?.on(
      'data',
      (c: Buffer) => (producerErr = (producerErr + c.toString()).slice(-4096)),
    );
    const kill = (): void => {
      producer.kill('SIGKILL');
      consumer.kill('SIGKILL');
    };
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(kill, options.timeoutMs);
    options.signal?.addEventListener('abort', kill, { once: true });
    const closed = (child: ChildProcess) =>
      new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('close', (code, signal) => resolve({ code, signal })),
      );
    const [a, b] = await Promise.all([closed(producer), closed(consumer)]);
    const seconds = elapsed();
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', kill);
    if (options.signal?.aborted) throw new BangerError('canceled', 'bench interrupted');
    if (a.code !== 0) {
      throw new BangerError(
        'operation_failed',
        `${first.file} exited ${String(a.code ?? a.signal)}: ${producerErr.trim()}`,
      );
    }
    return { code: b.code, signal: b.signal, stdout, stderr, seconds };
  }

  /** SIGKILLs every child still running. */
  killAll(): number {
    let killed = 0;
    for (const child of this.live) {
      if (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')) killed++;
    }
    return killed;
  }

  get running(): number {
    return this.live.size;
  }

  private track(child: ChildProcess): void {
    this.live.add(child);
    child.once('exit', () => this.live.delete(child));
    child.once('error', () => this.live.delete(child));
  }
}

/** Resolves when a started child exits (at once if it already has). */
export function exited(
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}
