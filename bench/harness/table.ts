/**
 * The table `npm run bench` prints: one row per metric, banger and its baseline side by side
 * as "median (IQR q1-q3)", then the ratio. Pure: returns the text.
 */
import { machineLine } from './machine.js';
import type { BenchReport, MetricRow, Side, Unit } from './report.js';

const DECIMALS: Record<Unit, number> = { s: 2, MiB: 1 };

export function formatValue(value: number, unit: Unit): string {
  return `${value.toFixed(DECIMALS[unit])} ${unit}`;
}

export function formatSide(side: Side | undefined, unit: Unit): string {
  if (side === undefined) return '-';
  const s = side.summary;
  const d = DECIMALS[unit];
  return `${formatValue(s.median, unit)} (${s.q1.toFixed(d)}-${s.q3.toFixed(d)})`;
}

export function formatRatio(row: MetricRow): string {
  return row.ratio === undefined ? '-' : `${row.ratio.toFixed(2)}x`;
}

const HEADER = ['metric', 'banger median (IQR)', 'baseline median (IQR)', 'ratio', 'runs'];

export function renderTable(report: BenchReport): string {
  const cells = report.rows.map((row) => [
    row.name,
    formatSide(row.banger, row.unit),
    formatSide(row.baseline, row.unit),
    formatRatio(row),
    String(row.runs),
  ]);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string =>
    c
      .map((text, i) => (i === 0 ? text.padEnd(widths[i]!) : text.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [
    `banger bench, ${report.machine.date}`,
    machineLine(report.machine),
    `VM ${String(report.settings.vm.vcpus)} vCPU, ${String(report.settings.vm.memoryMib)} MiB; ` +
      `${String(report.settings.warmups)} warm-up + ${String(report.settings.runs)} runs per side, interleaved`,
    '',
    line(HEADER),
    line(widths.map((w) => '-'.repeat(w))),
    ...cells.map(line),
  ];
  for (const failure of report.failures) {
    out.push(`${failure.metric}: FAILED: ${failure.error.split('\n')[0] ?? ''}`);
  }
  return out.join('\n') + '\n';
}
