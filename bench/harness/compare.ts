/**
 * The common shape of a metric: interleave banger and its baseline (warm-ups first), log each
 * sample, and make the table row.
 */
import type { BenchContext } from '../metrics/metric.js';
import { interleave } from './interleave.js';
import { buildRow, type MetricRow, type Unit } from './report.js';

export async function compare(
  ctx: BenchContext,
  spec: {
    name: string;
    unit: Unit;
    banger: () => Promise<number>;
    baseline: () => Promise<number>;
  },
): Promise<MetricRow> {
  const samples = await interleave({
    runs: ctx.runs,
    warmups: ctx.warmups,
    banger: spec.banger,
    baseline: spec.baseline,
    signal: ctx.signal,
    onSample: (e) =>
      ctx.log(
        `${spec.name}: ${e.side.padEnd(8)} ${e.warmup ? 'warm-up' : 'run'} ${String(e.index)}: ${e.value.toFixed(spec.unit === 's' ? 3 : 1)} ${spec.unit}`,
      ),
  });
  return buildRow({ name: spec.name, metric: spec.name, unit: spec.unit, ...samples });
}
