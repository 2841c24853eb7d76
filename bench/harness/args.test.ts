import { describe, expect, it } from 'vitest';
import { DEFAULT_RUNS, DEFAULT_WARMUPS, parseBenchArgs } from './args.js';

const known = ['run-true', 'create-ready', 'parallel-4', 'idle-memory'];

describe('parseBenchArgs', () => {
  it('runs every metric in registry order with the defaults when given nothing', () => {
    expect(parseBenchArgs([], known)).toEqual({
      metrics: known,
      runs: DEFAULT_RUNS,
      warmups: DEFAULT_WARMUPS,
      help: false,
    });
    expect(DEFAULT_RUNS).toBeGreaterThanOrEqual(5);
  });

  it('runs only the named metrics, in the order named, once each', () => {
    expect(parseBenchArgs(['idle-memory', 'run-true', 'idle-memory'], known).metrics).toEqual([
      'idle-memory',
      'run-true',
    ]);
  });

  it('takes --runs and --warmup as separate or inline values', () => {
    expect(parseBenchArgs(['run-true', '--runs', '7'], known)).toMatchObject({ runs: 7 });
    expect(parseBenchArgs(['--runs=3', '--warmup=0'], known)).toMatchObject({
      runs: 3,
      warmups: 0,
    });
  });

  it('rejects an unknown metric, naming it and the known ones', () => {
    expect(() => parseBenchArgs(['exec-true'], known)).toThrow(
      /unknown metric "exec-true": known metrics are run-true, create-ready, parallel-4, idle-memory/,
    );
  });

  it('rejects bad counts and unknown options', () => {
    expect(() => parseBenchArgs(['--runs', '0'], known)).toThrow(
      /--runs "0" must be a whole number from 1/,
    );
    expect(() => parseBenchArgs(['--runs'], known)).toThrow(/--runs \(missing\)/);
    expect(() => parseBenchArgs(['--runs', '2.5'], known)).toThrow(/whole number/);
    expect(() => parseBenchArgs(['--fast'], known)).toThrow(/unknown option "--fast"/);
  });

  it('notices --help', () => {
    expect(parseBenchArgs(['--help'], known).help).toBe(true);
  });
});
