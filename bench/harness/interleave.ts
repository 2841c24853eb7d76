/**
 * The sampling schedule every comparison uses: warm-up pairs first (discarded), then banger
 * and its baseline alternating run by run (A B A B ...), so a change in the shared machine's
 * load hits both sides alike and the ratio stays honest.
 */
import { BangerError } from '../../src/base/index.js';

export type SideName = 'banger' | 'baseline';

export interface SampleEvent {
  side: SideName;
  /** 1-based within its phase. */
  index: number;
  warmup: boolean;
  value: number;
}

export interface InterleaveOptions {
  runs: number;
  warmups: number;
  /** One banger sample: does its own untimed setup/teardown, returns only the measured value. */
  banger: () => Promise<number>;
  baseline: () => Promise<number>;
  signal?: AbortSignal;
  onSample?: (event: SampleEvent) => void;
}

export interface Samples {
  banger: number[];
  baseline: number[];
}

export async function interleave(options: InterleaveOptions): Promise<Samples> {
  const samples: Samples = { banger: [], baseline: [] };
  const take = async (side: SideName, index: number, warmup: boolean): Promise<void> => {
    if (options.signal?.aborted) throw new BangerError('canceled', 'bench interrupted');
    const value = await options[side]();
    options.onSample?.({ side, index, warmup, value });
    if (!warmup) samples[side].push(value);
  };
  for (let i = 1; i <= options.warmups; i++) {
    await take('banger', i, true);
    await take('baseline', i, true);
  }
  for (let i = 1; i <= options.runs; i++) {
    await take('banger', i, false);
    await take('baseline', i, false);
  }
  return samples;
}
