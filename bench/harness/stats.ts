/**
 * The statistics of a set of samples: median, interquartile range (the spread we report,
 * robust to the odd slow run on a shared machine) and min/max. Quantiles interpolate
 * linearly between order statistics (R's type 7, numpy's default).
 */

export interface Summary {
  /** How many samples. */
  n: number;
  median: number;
  /** First and third quartile: the spread shown in the table ("IQR q1-q3"). */
  q1: number;
  q3: number;
  min: number;
  max: number;
}

/** The p-quantile (0 <= p <= 1) of samples, interpolating linearly between order statistics. */
export function quantile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new RangeError('quantile of no samples');
  if (!(p >= 0 && p <= 1)) throw new RangeError(`quantile ${String(p)} is not within 0..1`);
  const sorted = [...samples].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

export function median(samples: readonly number[]): number {
  return quantile(samples, 0.5);
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new RangeError('summary of no samples');
  for (const s of samples) {
    if (!Number.isFinite(s)) throw new RangeError(`sample ${String(s)} is not a finite number`);
  }
  return {
    n: samples.length,
    median: median(samples),
    q1: quantile(samples, 0.25),
    q3: quantile(samples, 0.75),
    min: Math.min(...samples),
    max: Math.max(...samples),
  };
}

/** banger's median over the baseline's: 1.25 means banger takes 25% longer (or uses 25% more). */
export function ratio(banger: Summary, baseline: Summary): number {
  if (baseline.median === 0) throw new RangeError('baseline median is 0: no ratio');
  return banger.median / baseline.median;
}
