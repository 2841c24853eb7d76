import { describe, expect, it } from 'vitest';
import { createLineThrottle } from './line-throttle.js';

describe('createLineThrottle', () => {
  it('splits chunks into lines and passes at most one per interval, then the last on flush', () => {
    let t = 0;
    const out: string[] = [];
    const throttle = createLineThrottle((l) => out.push(l), { intervalMs: 100, now: () => t });
    throttle.push('I: one\nI: tw');
    throttle.push('o\nI: three\n');
    expect(out).toEqual(['I: one']);
    t = 150;
    throttle.push('I: four\n');
    expect(out).toEqual(['I: one', 'I: four']);
    throttle.push('I: five\nI: six (no newline)');
    throttle.flush();
    expect(out).toEqual(['I: one', 'I: four', 'I: six (no newline)']);
  });

  it('always passes warnings and errors', () => {
    const out: string[] = [];
    const throttle = createLineThrottle((l) => out.push(l), { intervalMs: 1000, now: () => 0 });
    throttle.push('I: a\nW: careful\nE: broken\nI: b\n');
    expect(out).toEqual(['I: a', 'W: careful', 'E: broken']);
  });

  it('drops blank lines', () => {
    const out: string[] = [];
    const throttle = createLineThrottle((l) => out.push(l), { intervalMs: 0, now: () => 0 });
    throttle.push('\n\r\n  \nx\n');
    throttle.flush();
    expect(out).toEqual(['x']);
  });
});
