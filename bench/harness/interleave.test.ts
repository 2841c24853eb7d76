import { describe, expect, it } from 'vitest';
import { interleave, type SampleEvent } from './interleave.js';

describe('interleave', () => {
  it('runs warm-ups first, then banger and baseline alternately, keeping only real samples', async () => {
    const order: string[] = [];
    let b = 0;
    let r = 0;
    const samples = await interleave({
      runs: 3,
      warmups: 1,
      banger: () => {
        order.push('A');
        return Promise.resolve(++b * 10);
      },
      baseline: () => {
        order.push('B');
        return Promise.resolve(++r);
      },
    });
    expect(order.join('')).toBe('ABABABAB');
    expect(samples).toEqual({ banger: [20, 30, 40], baseline: [2, 3, 4] });
  });

  it('reports every sample, warm-ups marked', async () => {
    const events: SampleEvent[] = [];
    await interleave({
      runs: 1,
      warmups: 1,
      banger: () => Promise.resolve(5),
      baseline: () => Promise.resolve(4),
      onSample: (e) => events.push(e),
    });
    expect(events).toEqual([
      { side: 'banger', index: 1, warmup: true, value: 5 },
      { side: 'baseline', index: 1, warmup: true, value: 4 },
      { side: 'banger', index: 1, warmup: false, value: 5 },
      { side: 'baseline', index: 1, warmup: false, value: 4 },
    ]);
  });

  it('stops before the next sample once aborted', async () => {
    const abort = new AbortController();
    let calls = 0;
    const run = interleave({
      runs: 5,
      warmups: 0,
      signal: abort.signal,
      banger: () => {
        calls++;
        abort.abort();
        return Promise.resolve(1);
      },
      baseline: () => {
        calls++;
        return Promise.resolve(1);
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'canceled' });
    expect(calls).toBe(1);
  });

  it('fails with the first failing sample', async () => {
    const run = interleave({
      runs: 2,
      warmups: 0,
      banger: () => Promise.resolve(1),
      baseline: () => Promise.reject(new Error('raw boot missed the marker')),
    });
    await expect(run).rejects.toThrow('raw boot missed the marker');
  });
});
