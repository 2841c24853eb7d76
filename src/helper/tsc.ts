/**
 * The host TSC frequency for QEMU's TCG guests (tsc_early_khz), read by the helper itself:
 * the same rule as vmm/host-info.ts ("cpu MHz" from /proc/cpuinfo, in kHz, rounded), which
 * the helper may not import; a unit test keeps the two in step.
 */
import { promises as fs } from 'node:fs';

export function parseTscKhz(cpuinfo: string): number | undefined {
  const mhz = /^cpu MHz\s*:\s*([0-9]+(?:\.[0-9]+)?)\s*$/m.exec(cpuinfo)?.[1];
  if (mhz === undefined) return undefined;
  const khz = Math.round(Number(mhz) * 1000);
  return Number.isFinite(khz) && khz > 0 ? khz : undefined;
}

let cached: Promise<number | undefined> | undefined;

export function hostTscKhz(): Promise<number | undefined> {
  cached ??= fs
    .readFile('/proc/cpuinfo', 'utf8')
    .then(parseTscKhz)
    .catch(() => undefined);
  return cached;
}
