import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../base/index.js';
import { buildCounter, EXPECTED_BUILD_STEPS } from './build-kernel.js';

describe('kernel build progress', () => {
  it('counts kbuild steps across chunk boundaries, at most one event a second', () => {
    const events: ProgressEvent[] = [];
    let now = 10_000;
    const feed = buildCounter(
      (e) => events.push(e),
      () => now,
    );
    feed(Buffer.from('  CC      init/main.o\n  CC      init/vers'));
    feed(Buffer.from('ion.o\nmake[1]: Entering directory\n'));
    expect(events).toEqual([
      {
        step: 'compile',
        message: 'compiling: 1 step done (init/main.o)',
        fraction: 1 / EXPECTED_BUILD_STEPS,
      },
    ]);
    feed(Buffer.from('  AR      init/built-in.a\n'));
    expect(events).toHaveLength(1);
    now += 1000;
    feed(Buffer.from('  LD      vmlinux.o\n'));
    expect(events[1]?.message).toBe('compiling: 4 steps done (vmlinux.o)');
  });

  it('never reports 100% before make has finished', () => {
    const events: ProgressEvent[] = [];
    let now = 0;
    const feed = buildCounter(
      (e) => events.push(e),
      () => (now += 2000),
    );
    feed(Buffer.from('  CC      x.o\n'.repeat(EXPECTED_BUILD_STEPS * 2)));
    expect(events.at(-1)?.fraction).toBe(0.99);
  });
});
