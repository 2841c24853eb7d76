/**
 * Host memory of a process from /proc: PSS (proportional set size: private pages plus a fair
 * share of shared ones, so QEMU's shared libraries are not counted once per VM) from
 * smaps_rollup, and RSS from status.
 */
import { promises as fs } from 'node:fs';
import { BangerError } from '../../src/base/index.js';

function kibField(text: string, field: string): number | undefined {
  const match = new RegExp(`^${field}:\\s+([0-9]+) kB$`, 'm').exec(text);
  return match === null ? undefined : Number(match[1]);
}

/** The `Pss:` line of /proc/PID/smaps_rollup, in KiB. */
export function parsePssKiB(smapsRollup: string): number | undefined {
  return kibField(smapsRollup, 'Pss');
}

/** The `VmRSS:` line of /proc/PID/status, in KiB. */
export function parseRssKiB(status: string): number | undefined {
  return kibField(status, 'VmRSS');
}

async function readField(
  pid: number,
  file: 'smaps_rollup' | 'status',
  parse: (text: string) => number | undefined,
): Promise<number> {
  const where = `/proc/${String(pid)}/${file}`;
  const text = await fs.readFile(where, 'utf8').catch((err: unknown) => {
    throw new BangerError('not_found', `cannot read ${where}: the process is gone?`, {
      cause: err,
    });
  });
  const kib = parse(text);
  if (kib === undefined)
    throw new BangerError('operation_failed', `${where} has no memory figure we know`);
  return kib / 1024;
}

export function readPssMiB(pid: number): Promise<number> {
  return readField(pid, 'smaps_rollup', parsePssKiB);
}

export function readRssMiB(pid: number): Promise<number> {
  return readField(pid, 'status', parseRssKiB);
}
