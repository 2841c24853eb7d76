/**
 * What a bench run produces: rows of banger-vs-baseline summaries, failures, the machine,
 * and the JSON shape written to bench/results/latest.json. Pure: no I/O here.
 */
import type { MachineInfo } from './machine.js';
import { ratio, summarize, type Summary } from './stats.js';

/** Seconds of wall time or MiB of host memory; samples are stored in this unit. */
export type Unit = 's' | 'MiB';

export interface Side {
  summary: Summary;
  samples: number[];
}

export interface MetricRow {
  /** The row's name: the metric's own name, or an extra row such as daemon-rss-0vm. */
  name: string;
  /** The metric (file in bench/metrics/) that produced it. */
  metric: string;
  unit: Unit;
  banger: Side;
  baseline?: Side;
  /** banger median / baseline median, when there is a baseline. */
  ratio?: number;
  /** Samples per side. */
  runs: number;
}

export interface MetricFailure {
  metric: string;
  error: string;
}

export interface BenchSettings {
  runs: number;
  warmups: number;
  vm: { vcpus: number; memoryMib: number };
}

export interface BenchReport {
  machine: MachineInfo;
  settings: BenchSettings;
  rows: MetricRow[];
  failures: MetricFailure[];
}

export function buildRow(input: {
  name: string;
  metric: string;
  unit: Unit;
  banger: readonly number[];
  baseline?: readonly number[];
}): MetricRow {
  const banger: Side = { summary: summarize(input.banger), samples: [...input.banger] };
  const row: MetricRow = {
    name: input.name,
    metric: input.metric,
    unit: input.unit,
    banger,
    runs: input.banger.length,
  };
  if (input.baseline !== undefined) {
    const baseline: Side = { summary: summarize(input.baseline), samples: [...input.baseline] };
    row.baseline = baseline;
    row.ratio = ratio(banger.summary, baseline.summary);
    row.runs = Math.min(input.banger.length, input.baseline.length);
  }
  return row;
}

/** The spread we report, named so a reader of the JSON knows which one it is. */
export const SPREAD_KIND = 'iqr';

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

function sideJson(side: Side | undefined): Record<string, unknown> | null {
  if (side === undefined) return null;
  const s = side.summary;
  return {
    median: round(s.median),
    spread: { kind: SPREAD_KIND, low: round(s.q1), high: round(s.q3) },
    min: round(s.min),
    max: round(s.max),
    samples: side.samples.map(round),
  };
}

/** The document written to bench/results/latest.json. */
export function reportJson(report: BenchReport): Record<string, unknown> {
  return {
    schema: 1,
    machine: report.machine,
    settings: report.settings,
    metrics: report.rows.map((row) => ({
      name: row.name,
      metric: row.metric,
      unit: row.unit,
      banger: sideJson(row.banger),
      baseline: sideJson(row.baseline),
      ratio: row.ratio === undefined ? null : round(row.ratio),
      runs: row.runs,
    })),
    failures: report.failures,
  };
}
