/**
 * What a metric is: a name, one line each on what banger does and what the baseline is, and a
 * run that returns table rows. A new metric is one file in bench/metrics/ added to the list in
 * bench/metrics/index.ts; it gets everything it needs through BenchContext.
 */
import type { RawQemu, VmSize } from '../baseline/raw-qemu.js';
import type { BenchHome } from '../harness/bench-home.js';
import type { ChildSet } from '../harness/children.js';
import type { MetricRow } from '../harness/report.js';

export interface BenchContext {
  /** The bench's own banger home, kernel and image in place, daemon running. */
  home: BenchHome;
  /** The baseline VM, started by hand. */
  raw: RawQemu;
  /** Every process the bench starts (for metrics that run their own baseline commands). */
  children: ChildSet;
  /** The VM size both sides use. */
  vm: VmSize;
  runs: number;
  warmups: number;
  signal: AbortSignal;
  /** A progress line on stderr. */
  log: (line: string) => void;
}

export interface Metric {
  name: string;
  /** What is measured on banger's side. */
  banger: string;
  /** What it is compared with. */
  baseline: string;
  run(ctx: BenchContext): Promise<MetricRow[]>;
}

/** `--vcpu N --memory M` for the bench's VM size. */
export function sizeFlags(vm: VmSize): string[] {
  return ['--vcpu', String(vm.vcpus), '--memory', String(vm.memoryMib)];
}
