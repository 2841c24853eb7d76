import { describe, expect, it } from 'vitest';
import { BangerError } from './errors.js';
import { run } from './process.js';

describe('run', () => {
  it('captures stdout and resolves on exit 0', async () => {
    const result = await run('printf', ['%s', 'hello']);
    expect(result.stdout.toString()).toBe('hello');
    expect(result.code).toBe(0);
  });

  it('rejects with argv, exit status and stderr tail on failure', async () => {
    const err = await run('ls', ['/definitely/not/here']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BangerError);
    const be = err as BangerError;
    expect(be.code).toBe('operation_failed');
    expect(be.message).toContain('ls /definitely/not/here failed with exit status 2');
    expect(be.message).toContain('No such file or directory');
    expect(be.details?.argv).toEqual(['ls', '/definitely/not/here']);
  });

  it('names a missing program', async () => {
    const err = (await run('no-such-program-xyz', []).catch((e: unknown) => e)) as BangerError;
    expect(err.code).toBe('precondition_failed');
    expect(err.message).toBe('program not found: no-such-program-xyz');
  });

  it('refuses a shell command string', () => {
    expect(() => run('/bin/sh', ['-c', 'echo hi'])).toThrow(/refusing to run a shell/);
  });

  it('kills a child that runs past its timeout', async () => {
    const err = (await run('sleep', ['5'], { timeoutMs: 100 }).catch(
      (e: unknown) => e,
    )) as BangerError;
    expect(err.code).toBe('timeout');
  });

  it('pipes input to stdin', async () => {
    const result = await run('cat', [], { input: 'abc' });
    expect(result.stdout.toString()).toBe('abc');
  });
});
