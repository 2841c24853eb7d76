import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyedMutex } from './keyed-mutex.js';

describe('KeyedMutex', () => {
  it('serialises the same key and runs different keys in parallel', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    const job = (key: string, label: string, ms: number) =>
      mutex.run(key, async () => {
        events.push(`start ${label}`);
        await sleep(ms);
        events.push(`end ${label}`);
      });
    await Promise.all([job('a', 'a1', 30), job('a', 'a2', 1), job('b', 'b1', 5)]);
    expect(events.indexOf('end a1')).toBeLessThan(events.indexOf('start a2'));
    expect(events.indexOf('start b1')).toBeLessThan(events.indexOf('end a1'));
  });

  it('releases the key when work throws', async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.run('k', () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(await mutex.run('k', () => Promise.resolve(5))).toBe(5);
  });
});
