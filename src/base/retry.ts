/** Polling helpers with deadlines and cancellation. */
import { setTimeout as sleepTimer } from 'node:timers/promises';
import { BangerError } from './errors.js';

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  signal?: AbortSignal | undefined;
  /** What we were waiting for, for the timeout message. */
  what: string;
  hint?: string;
}

/** Polls `probe` until it returns a value other than undefined, or fails with 'timeout'. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  options: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 50;
  for (;;) {
    if (options.signal?.aborted)
      throw new BangerError('canceled', `canceled while waiting for ${options.what}`);
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) {
      throw new BangerError(
        'timeout',
        `timed out after ${String(options.timeoutMs)} ms waiting for ${options.what}`,
        {
          hint: options.hint,
        },
      );
    }
    await sleep(interval, options.signal);
  }
}

export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await sleepTimer(ms, undefined, signal ? { signal } : undefined);
  } catch {
    throw new BangerError('canceled', 'canceled while sleeping');
  }
}
