/**
 * Resource use of running VMs as the host sees it: CPU of the VMM process (sampled over a
 * short window), its resident memory, and the disk space its files really take.
 */
import { promises as fs } from 'node:fs';
import { sleep } from '../base/index.js';

export interface VmUsage {
  /** Percent of one host core over the sample window. */
  cpuPercent: number;
  /** Proportional set size of the VMM process, bytes (RSS when PSS is unavailable). */
  memoryBytes: number;
  /** Bytes the VM's disks really occupy on the host (allocated blocks). */
  diskBytes: number;
}

const CLOCK_TICKS = 100;

async function cpuTicks(pid: number): Promise<number | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${String(pid)}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

async function memoryOf(pid: number): Promise<number> {
  try {
    const rollup = await fs.readFile(`/proc/${String(pid)}/smaps_rollup`, 'utf8');
    const pss = /^Pss:\s+(\d+) kB/m.exec(rollup) ?? /^Rss:\s+(\d+) kB/m.exec(rollup);
    return pss?.[1] ? Number(pss[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

async function allocatedBytes(files: readonly string[]): Promise<number> {
  let total = 0;
  for (const file of files) {
    try {
      total += (await fs.stat(file)).blocks * 512;
    } catch {
      /* a VM without a work disk */
    }
  }
  return total;
}

/** Samples every pid at once over `windowMs`, so N VMs cost one window, not N. */
export async function sampleUsage(
  vms: readonly { pid: number; disks: readonly string[] }[],
  windowMs = 500,
): Promise<VmUsage[]> {
  const before = await Promise.all(vms.map((vm) => cpuTicks(vm.pid)));
  const started = Date.now();
  await sleep(windowMs);
  const after = await Promise.all(vms.map((vm) => cpuTicks(vm.pid)));
  const seconds = (Date.now() - started) / 1000;
  return Promise.all(
    vms.map(async (vm, i) => {
      const a = before[i];
      const b = after[i];
      const cpuPercent =
        a === undefined || b === undefined ? 0 : ((b - a) / CLOCK_TICKS / seconds) * 100;
      return {
        cpuPercent: Math.round(cpuPercent * 10) / 10,
        memoryBytes: await memoryOf(vm.pid),
        diskBytes: await allocatedBytes(vm.disks),
      };
    }),
  );
}
