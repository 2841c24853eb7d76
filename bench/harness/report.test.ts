import { describe, expect, it } from 'vitest';
import type { MachineInfo } from './machine.js';
import { buildRow, reportJson, type BenchReport } from './report.js';
import { formatSide, renderTable } from './table.js';

const machine: MachineInfo = {
  cpuModel: 'Test CPU @ 2.4GHz',
  cores: 2,
  memoryGiB: 23.4,
  kernel: 'Linux 6.1.0',
  qemu: '7.2.22',
  node: 'v20.20.2',
  date: '2026-11-29T08:00:00.000Z',
};

function report(): BenchReport {
  return {
    machine,
    settings: { runs: 5, warmups: 1, vm: { vcpus: 1, memoryMib: 512 } },
    rows: [
      buildRow({
        name: 'run-true',
        metric: 'run-true',
        unit: 's',
        banger: [2.5, 2.4, 2.6, 2.45, 2.55],
        baseline: [2.0, 1.9, 2.1, 1.95, 2.05],
      }),
      buildRow({
        name: 'daemon-rss-0vm',
        metric: 'idle-memory',
        unit: 'MiB',
        banger: [61.5, 62, 62.5],
      }),
    ],
    failures: [{ metric: 'parallel-4', error: 'banger vm run exited 1:\nmore detail' }],
  };
}

describe('buildRow', () => {
  it('summarises both sides and takes the ratio of the medians', () => {
    const row = buildRow({
      name: 'x',
      metric: 'x',
      unit: 's',
      banger: [3, 3, 3],
      baseline: [2, 2, 2],
    });
    expect(row.ratio).toBe(1.5);
    expect(row.runs).toBe(3);
    expect(row.baseline?.summary.median).toBe(2);
  });

  it('has no ratio and no baseline for an extra row', () => {
    const row = buildRow({ name: 'y', metric: 'x', unit: 'MiB', banger: [1, 2] });
    expect(row.ratio).toBeUndefined();
    expect(row.baseline).toBeUndefined();
    expect(row.runs).toBe(2);
  });
});

describe('reportJson', () => {
  it('names the spread, keeps samples, gives null where there is no baseline', () => {
    const json = reportJson(report()) as {
      schema: number;
      machine: MachineInfo;
      metrics: {
        name: string;
        unit: string;
        banger: { median: number; spread: { kind: string; low: number; high: number } };
        baseline: { median: number; samples: number[] } | null;
        ratio: number | null;
        runs: number;
      }[];
      failures: unknown[];
    };
    expect(json.schema).toBe(1);
    expect(json.machine.cpuModel).toBe('Test CPU @ 2.4GHz');
    const [runTrue, daemon] = json.metrics;
    expect(runTrue).toMatchObject({
      name: 'run-true',
      unit: 's',
      banger: { median: 2.5, spread: { kind: 'iqr', low: 2.45, high: 2.55 } },
      baseline: { median: 2, samples: [2, 1.9, 2.1, 1.95, 2.05] },
      ratio: 1.25,
      runs: 5,
    });
    expect(daemon).toMatchObject({ name: 'daemon-rss-0vm', baseline: null, ratio: null });
    expect(json.failures).toEqual([
      { metric: 'parallel-4', error: 'banger vm run exited 1:\nmore detail' },
    ]);
  });

  it('round-trips through JSON.stringify', () => {
    const text = JSON.stringify(reportJson(report()));
    expect(JSON.parse(text)).toEqual(reportJson(report()));
  });
});

describe('renderTable', () => {
  it('prints the machine, a header and one aligned row per metric', () => {
    const text = renderTable(report());
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('banger bench, 2026-11-29T08:00:00.000Z');
    expect(lines[1]).toBe(
      'Test CPU @ 2.4GHz, 2 cores, 23.4 GiB, Linux 6.1.0, QEMU 7.2.22, Node v20.20.2',
    );
    expect(lines[2]).toBe('VM 1 vCPU, 512 MiB; 1 warm-up + 5 runs per side, interleaved');
    const header = lines[4]!;
    const runTrue = lines[6]!;
    const daemon = lines[7]!;
    expect(header).toMatch(
      /^metric\s+banger median \(IQR\)\s+baseline median \(IQR\)\s+ratio\s+runs$/,
    );
    expect(runTrue).toMatch(
      /^run-true\s+2\.50 s \(2\.45-2\.55\)\s+2\.00 s \(1\.95-2\.05\)\s+1\.25x\s+5$/,
    );
    expect(daemon).toMatch(/^daemon-rss-0vm\s+62\.0 MiB \(61\.8-62\.3\)\s+-\s+-\s+3$/);
    // Right-aligned columns end at the same place in every row.
    expect(runTrue.length).toBe(header.length);
    expect(daemon.length).toBe(header.length);
  });

  it('lists failed metrics with the first line of their error', () => {
    expect(renderTable(report())).toContain('parallel-4: FAILED: banger vm run exited 1:\n');
  });

  it('formats a side as median and quartiles in its unit', () => {
    const row = buildRow({ name: 'm', metric: 'm', unit: 'MiB', banger: [100, 200, 300] });
    expect(formatSide(row.banger, 'MiB')).toBe('200.0 MiB (150.0-250.0)');
    expect(formatSide(undefined, 's')).toBe('-');
  });
});
