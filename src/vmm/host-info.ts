/** Facts about the host that VMM launches depend on: TSC frequency and the QEMU version. */
import { promises as fs } from 'node:fs';
import { BangerError, run } from '../base/index.js';

export const DEFAULT_QEMU_BINARY = 'qemu-system-x86_64';

/**
 * The host TSC frequency in kHz from /proc/cpuinfo's "cpu MHz" (rounded): under TCG the guest
 * needs it as tsc_early_khz or ~10-60% of boots hang in TSC calibration (HOST-NOTES).
 */
export async function hostTscKhz(cpuinfoPath = '/proc/cpuinfo'): Promise<number | undefined> {
  const text = await fs.readFile(cpuinfoPath, 'utf8').catch(() => '');
  return parseCpuMhzKhz(text);
}

export function parseCpuMhzKhz(cpuinfo: string): number | undefined {
  const mhz = /^cpu MHz\s*:\s*([0-9]+(?:\.[0-9]+)?)\s*$/m.exec(cpuinfo)?.[1];
  if (mhz === undefined) return undefined;
  const khz = Math.round(Number(mhz) * 1000);
  return Number.isFinite(khz) && khz > 0 ? khz : undefined;
}

/** "7.2.22" from `qemu-system-x86_64 --version`. */
export async function qemuVersion(
  options: { qemuBinary?: string; signal?: AbortSignal } = {},
): Promise<string> {
  const file = options.qemuBinary ?? DEFAULT_QEMU_BINARY;
  const out = await run(file, ['--version'], {
    timeoutMs: 10_000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const version = /QEMU emulator version ([0-9][0-9A-Za-z.+~-]*)/.exec(
    out.stdout.toString('utf8'),
  )?.[1];
  if (version === undefined) {
    throw new BangerError(
      'operation_failed',
      `${file} --version printed no "QEMU emulator version X"`,
    );
  }
  return version;
}
