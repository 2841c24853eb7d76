import { describe, expect, it } from 'vitest';
import { parsePssKiB, parseRssKiB, readPssMiB, readRssMiB } from './proc-memory.js';
import { isSettled, waitSettled } from './settle.js';

const ROLLUP = `55d4c0a00000-7ffc3b5f7000 ---p 00000000 00:00 0                          [rollup]
Rss:              241340 kB
Pss:              229222 kB
Pss_Anon:         220000 kB
Shared_Clean:      12000 kB
`;

describe('parsePssKiB / parseRssKiB', () => {
  it('read the Pss line of smaps_rollup, not Pss_Anon', () => {
    expect(parsePssKiB(ROLLUP)).toBe(229222);
  });

  it('read VmRSS from status', () => {
    expect(parseRssKiB('Name:\tnode\nVmHWM:\t   70000 kB\nVmRSS:\t   61992 kB\n')).toBe(61992);
  });

  it('give undefined when the line is missing', () => {
    expect(parsePssKiB('Rss: 1 kB\n')).toBeUndefined();
    expect(parseRssKiB('Name:\tkthreadd\n')).toBeUndefined();
  });
});

describe('readPssMiB / readRssMiB', () => {
  it('measure a live process (this one) in MiB', async () => {
    expect(await readPssMiB(process.pid)).toBeGreaterThan(1);
    expect(await readRssMiB(process.pid)).toBeGreaterThan(1);
  });

  it('fail with not_found for a process that is gone', async () => {
    await expect(readRssMiB(2 ** 22 + 1)).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe('isSettled', () => {
  it('accepts readings within the tolerance of the largest and rejects a spread beyond it', () => {
    expect(isSettled([100, 101, 100.5], 0.02)).toBe(true);
    expect(isSettled([100, 110], 0.02)).toBe(false);
    expect(isSettled([], 0.02)).toBe(false);
  });
});

describe('waitSettled', () => {
  it('waits for a full window of agreeing readings and reports their median', async () => {
    const readings = [10, 50, 90, 100, 101, 100, 99];
    let i = 0;
    const result = await waitSettled(() => Promise.resolve(readings[Math.min(i++, 6)]!), {
      intervalMs: 1,
      window: 4,
      tolerance: 0.02,
    });
    expect(result.settled).toBe(true);
    expect(result.value).toBe(100);
    expect(i).toBe(7);
  });

  it('gives up at the timeout with the last window, marked unsettled', async () => {
    let i = 0;
    const result = await waitSettled(() => Promise.resolve((i++ % 2) * 100 + 100), {
      intervalMs: 1,
      window: 2,
      timeoutMs: 20,
    });
    expect(result.settled).toBe(false);
    expect(result.value).toBe(150);
  });
});
