/** The machine a bench ran on: printed above the table and stored in the JSON. */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import { qemuVersion } from '../../src/vmm/index.js';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  qemu: string;
  node: string;
  /** When the run started (ISO 8601, UTC). */
  date: string;
}

export function parseCpuModel(cpuinfo: string): string | undefined {
  return /^model name\s*:\s*(.+?)\s*$/m.exec(cpuinfo)?.[1];
}

export async function machineInfo(options: { signal?: AbortSignal } = {}): Promise<MachineInfo> {
  const cpuinfo = await fs.readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const qemu = await qemuVersion(options).catch((err: unknown) => `unknown (${String(err)})`);
  return {
    cpuModel: parseCpuModel(cpuinfo) ?? os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    qemu,
    node: process.version,
    date: new Date().toISOString(),
  };
}

/** One line: "Intel(R) Xeon(R) ..., 2 cores, 23.4 GiB, Linux 6.1.0, QEMU 7.2.22, Node v20.20.2". */
export function machineLine(m: MachineInfo): string {
  return `${m.cpuModel}, ${String(m.cores)} cores, ${String(m.memoryGiB)} GiB, ${m.kernel}, QEMU ${m.qemu}, Node ${m.node}`;
}
