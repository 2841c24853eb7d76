/**
 * What this host offers Firecracker: the binary (on PATH, resolved to its real path, which the
 * jailer names the chroot after) and its version, the jailer, /dev/kvm, the cgroup version.
 * `problems` says why Firecracker cannot run here at all; whether KVM really works is the KVM
 * probe's verdict (an openable /dev/kvm proves nothing, HOST-NOTES), decided by the caller.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import type { CheckResult } from '../../protocol/index.js';
import type { CowChoice } from './disk-cow.js';
import { hostCgroupVersion } from './jail.js';
import type { FirecrackerHostInfo } from './launch-plan.js';
import {
  checkFirecrackerVersion,
  firecrackerBinaryVersion,
  firecrackerHasAcpi,
} from './version.js';

export interface FirecrackerHostProbe {
  /** Absolute real path of the firecracker binary, when found. */
  binary?: string | undefined;
  version?: string | undefined;
  /** Set when the version is newer than the tested range. */
  versionWarning?: string | undefined;
  /** Absolute path of the jailer, when found. */
  jailer?: string | undefined;
  /** /dev/kvm opens read-write. */
  kvmDevice: boolean;
  cgroupVersion: 1 | 2;
  /** Why Firecracker cannot run here (empty: it can, if the KVM verdict agrees). */
  problems: string[];
}

export interface ProbeFirecrackerOptions {
  /** Program names or paths (default "firecracker", "jailer"), looked up on `searchPath`. */
  firecrackerBinary?: string;
  jailerBinary?: string;
  searchPath?: string;
  kvmDevice?: string;
  mountsFile?: string;
  signal?: AbortSignal;
}

export async function probeFirecrackerHost(
  options: ProbeFirecrackerOptions = {},
): Promise<FirecrackerHostProbe> {
  const searchPath = options.searchPath ?? process.env.PATH ?? '';
  const problems: string[] = [];
  const probe: FirecrackerHostProbe = {
    kvmDevice: await opensReadWrite(options.kvmDevice ?? '/dev/kvm'),
    cgroupVersion: await hostCgroupVersion(options.mountsFile),
    problems,
  };
  const found = await findProgram(options.firecrackerBinary ?? 'firecracker', searchPath);
  if (found === undefined) {
    problems.push('the firecracker binary is not installed (not on PATH)');
  } else {
    probe.binary = await fs.realpath(found);
    try {
      const check = checkFirecrackerVersion(
        await firecrackerBinaryVersion(
          probe.binary,
          options.signal ? { signal: options.signal } : {},
        ),
      );
      probe.version = check.version;
      probe.versionWarning = check.warning;
    } catch (err) {
      problems.push((err as Error).message);
    }
    if (!path.basename(probe.binary).includes('firecracker'))
      probe.versionWarning ??= `the jailer refuses ${probe.binary}: its file name lacks "firecracker"`;
  }
  const jailer = await findProgram(options.jailerBinary ?? 'jailer', searchPath);
  if (jailer !== undefined) probe.jailer = await fs.realpath(jailer);
  if (!probe.kvmDevice)
    problems.push(`${options.kvmDevice ?? '/dev/kvm'} is missing or cannot be opened read-write`);
  return probe;
}

/**
 * How launches run Firecracker here: through the jailer when we are root and it is installed
 * (chroots under `chrootBaseDir`, which must be on the disks' filesystem), else directly.
 */
export function firecrackerHostInfo(
  probe: FirecrackerHostProbe,
  options: { chrootBaseDir: string; uid: number; gid: number; useJailer: boolean },
): FirecrackerHostInfo | undefined {
  if (probe.binary === undefined) return undefined;
  if (!options.useJailer || probe.jailer === undefined) return { firecrackerBinary: probe.binary };
  return {
    firecrackerBinary: probe.binary,
    jailer: {
      jailerBinary: probe.jailer,
      chrootBaseDir: options.chrootBaseDir,
      uid: options.uid,
      gid: options.gid,
      cgroupVersion: probe.cgroupVersion,
    },
  };
}

/**
 * Rows for `banger doctor`: the binary and version; where it is installed, also the jailer,
 * /dev/kvm as Firecracker needs it, and how its disks would be copied.
 */
export function firecrackerDoctorChecks(
  probe: FirecrackerHostProbe,
  extra: { cow?: CowChoice; kvmVerdict?: { accel: string; reason: string } } = {},
): CheckResult[] {
  if (probe.binary === undefined) {
    return [
      {
        name: 'firecracker',
        status: 'warn',
        detail: 'not installed: VMs use QEMU',
        hint: 'install firecracker >= 1.5 (and jailer) on a host with KVM for the fastest boots',
      },
    ];
  }
  const rows: CheckResult[] = [];
  if (probe.version === undefined) {
    rows.push({
      name: 'firecracker',
      status: 'fail',
      detail: `${probe.binary}: ${probe.problems.join('; ')}`,
    });
  } else {
    const acpi = firecrackerHasAcpi(probe.version);
    rows.push({
      name: 'firecracker',
      status: probe.versionWarning === undefined && acpi ? 'pass' : 'warn',
      detail:
        `${probe.binary} v${probe.version}${probe.versionWarning ? ` (${probe.versionWarning})` : ''}` +
        (acpi
          ? ''
          : '; before 1.8 it finds virtio devices only through the kernel command line, which kernels from `banger kernel build` do not read'),
    });
  }
  rows.push(
    probe.jailer === undefined
      ? { name: 'jailer', status: 'warn', detail: 'not installed: firecracker would run unjailed' }
      : {
          name: 'jailer',
          status: 'pass',
          detail: `${probe.jailer} (cgroup v${String(probe.cgroupVersion)})`,
        },
  );
  if (!probe.kvmDevice) {
    rows.push({
      name: 'firecracker kvm',
      status: 'warn',
      detail: '/dev/kvm is missing or not accessible: firecracker cannot run',
    });
  } else if (extra.kvmVerdict !== undefined) {
    rows.push({
      name: 'firecracker kvm',
      status: extra.kvmVerdict.accel === 'kvm' ? 'pass' : 'warn',
      detail: `probe verdict ${extra.kvmVerdict.accel}: ${extra.kvmVerdict.reason}`,
    });
  }
  if (extra.cow !== undefined) {
    rows.push({
      name: 'firecracker disks',
      status: 'pass',
      detail: `${extra.cow.strategy}: ${extra.cow.reason}`,
    });
  }
  return rows;
}

async function findProgram(name: string, searchPath: string): Promise<string | undefined> {
  const candidates = name.includes('/')
    ? [name]
    : searchPath
        .split(':')
        .filter((d) => d.startsWith('/'))
        .map((d) => path.join(d, name));
  for (const candidate of candidates) {
    try {
      await fs.access(candidate, fsc.X_OK);
      if ((await fs.stat(candidate)).isFile()) return path.resolve(candidate);
    } catch {
      /* next */
    }
  }
  return undefined;
}

async function opensReadWrite(device: string): Promise<boolean> {
  try {
    const handle = await fs.open(device, fsc.O_RDWR);
    await handle.close();
    return true;
  } catch {
    return false;
  }
}
