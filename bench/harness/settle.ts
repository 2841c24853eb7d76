/**
 * Waiting for a reading (a VM's memory) to settle: sample at an interval until the last few
 * readings agree within a tolerance, then report their median. A booting guest keeps touching
 * memory for a while; a settled one moves only by noise (PSS also shifts when other processes
 * sharing QEMU's pages come and go, hence a window and a median rather than one reading).
 */
import { sleep } from '../../src/base/index.js';
import { median } from './stats.js';
import { stopwatch } from './children.js';

export interface SettleOptions {
  intervalMs?: number;
  /** How many consecutive readings must agree. */
  window?: number;
  /** Max spread within the window as a fraction of its largest reading. */
  tolerance?: number;
  /** Never settle before this long (the guest may still be booting). */
  minMs?: number;
  /** Give up waiting and report the last window's median. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface Settled {
  value: number;
  /** False when timeoutMs passed first: the value is the last window's median. */
  settled: boolean;
  seconds: number;
}

export function isSettled(readings: readonly number[], tolerance: number): boolean {
  if (readings.length === 0) return false;
  const max = Math.max(...readings);
  return max - Math.min(...readings) <= tolerance * max;
}

export async function waitSettled(
  read: () => Promise<number>,
  options: SettleOptions = {},
): Promise<Settled> {
  const interval = options.intervalMs ?? 500;
  const size = options.window ?? 6;
  const tolerance = options.tolerance ?? 0.02;
  const elapsed = stopwatch();
  const readings: number[] = [];
  for (;;) {
    readings.push(await read());
    if (readings.length > size) readings.shift();
    const seconds = elapsed();
    const full = readings.length === size;
    if (full && seconds * 1000 >= (options.minMs ?? 0) && isSettled(readings, tolerance)) {
      return { value: median(readings), settled: true, seconds };
    }
    if (seconds * 1000 >= (options.timeoutMs ?? 60_000)) {
      return { value: median(readings), settled: false, seconds };
    }
    await sleep(interval, options.signal);
  }
}
