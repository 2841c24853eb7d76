import { describe, expect, it } from 'vitest';
import { median, quantile, ratio, summarize } from './stats.js';

describe('quantile', () => {
  it('interpolates linearly between order statistics (type 7)', () => {
    expect(quantile([1, 2, 3, 4], 0.25)).toBeCloseTo(1.75);
    expect(quantile([1, 2, 3, 4], 0.5)).toBeCloseTo(2.5);
    expect(quantile([1, 2, 3, 4], 0.75)).toBeCloseTo(3.25);
  });

  it('does not depend on the order of the samples', () => {
    expect(quantile([5, 1, 4, 2, 3], 0.25)).toBe(2);
    expect(quantile([5, 1, 4, 2, 3], 0)).toBe(1);
    expect(quantile([5, 1, 4, 2, 3], 1)).toBe(5);
  });

  it('rejects no samples and p outside 0..1', () => {
    expect(() => quantile([], 0.5)).toThrow(RangeError);
    expect(() => quantile([1], 1.5)).toThrow(/not within 0..1/);
    expect(() => quantile([1], Number.NaN)).toThrow(RangeError);
  });
});

describe('median', () => {
  it('is the middle sample for an odd count and the mean of the two middle ones for an even count', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });
});

describe('summarize', () => {
  it('gives count, median, quartiles and min/max', () => {
    expect(summarize([2.5, 2.1, 2.3, 9.0, 2.2])).toEqual({
      n: 5,
      median: 2.3,
      q1: 2.2,
      q3: 2.5,
      min: 2.1,
      max: 9,
    });
  });

  it('keeps a single outlier out of the median and the IQR', () => {
    const s = summarize([10, 10, 10, 10, 1000]);
    expect(s.median).toBe(10);
    expect(s.q3).toBe(10);
    expect(s.max).toBe(1000);
  });

  it('rejects empty and non-finite samples', () => {
    expect(() => summarize([])).toThrow(RangeError);
    expect(() => summarize([1, Number.POSITIVE_INFINITY])).toThrow(/not a finite number/);
  });
});

describe('ratio', () => {
  it("is banger's median over the baseline's", () => {
    expect(ratio(summarize([3, 3, 3]), summarize([2, 2, 2]))).toBe(1.5);
  });

  it('refuses a zero baseline', () => {
    expect(() => ratio(summarize([1]), summarize([0]))).toThrow(/baseline median is 0/);
  });
});
