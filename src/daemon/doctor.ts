/**
 * `banger doctor`: host readiness as PASS/WARN/FAIL rows, each with a hint. Only a failed
 * check makes the command fail; a host without KVM is a warning (TCG works, slower).
 */
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import { run } from '../base/index.js';
import { GUEST_PROGRAMS, type BangerConfig, type Layout } from '../config/index.js';
import type { ImageStore } from '../images/index.js';
import type { KernelStore } from '../kernels/index.js';
import type { CheckResult } from '../protocol/index.js';
import { probeKvm, qemuVersion } from '../vmm/index.js';
import { vmmDoctorChecks } from './vmm-doctor.js';

export interface DoctorDeps {
  layout: Layout;
  config: () => BangerConfig;
  kernels: KernelStore;
  images: ImageStore;
}

const GiB = 1024 ** 3;

export async function runDoctor(deps: DoctorDeps): Promise<CheckResult[]> {
  const checks: (() => Promise<CheckResult | CheckResult[]>)[] = [
    () => checkQemu(),
    () => checkTools(),
    () => checkGuestPrograms(deps.layout),
    () => checkKernelAndProbe(deps),
    () => checkImage(deps),
    () => checkDiskSpace(deps.layout),
    () => checkPermissions(deps.layout),
    () => vmmDoctorChecks(deps),
  ];
  const results: CheckResult[] = [];
  for (const check of checks) {
    try {
      const result = await check();
      results.push(...(Array.isArray(result) ? result : [result]));
    } catch (err) {
      results.push({ name: 'doctor', status: 'fail', detail: `a check crashed: ${String(err)}` });
    }
  }
  return results;
}

async function checkQemu(): Promise<CheckResult> {
  try {
    const version = await qemuVersion();
    return { name: 'qemu', status: 'pass', detail: `qemu-system-x86_64 ${version}` };
  } catch {
    return {
      name: 'qemu',
      status: 'fail',
      detail: 'qemu-system-x86_64 not found',
      hint: 'apt-get install qemu-system-x86 qemu-utils (or run ./install.sh)',
    };
  }
}

async function hasProgram(file: string): Promise<boolean> {
  try {
    await run('which', [file]);
    return true;
  } catch {
    return false;
  }
}

async function checkTools(): Promise<CheckResult[]> {
  const tools: { file: string; pkg: string; forWhat: string; required: boolean }[] = [
    { file: 'qemu-img', pkg: 'qemu-utils', forWhat: 'VM disks', required: true },
    { file: 'mkfs.ext4', pkg: 'e2fsprogs', forWhat: 'work disks and images', required: true },
    { file: 'debugfs', pkg: 'e2fsprogs', forWhat: 'images', required: true },
    { file: 'mmdebstrap', pkg: 'mmdebstrap', forWhat: 'banger image build', required: false },
    { file: 'apt-get', pkg: 'apt', forWhat: 'banger kernel pull', required: false },
  ];
  const results: CheckResult[] = [];
  for (const tool of tools) {
    if (await hasProgram(tool.file)) {
      results.push({
        name: `tool ${tool.file}`,
        status: 'pass',
        detail: `found (for ${tool.forWhat})`,
      });
    } else {
      results.push({
        name: `tool ${tool.file}`,
        status: tool.required ? 'fail' : 'warn',
        detail: `not found (needed for ${tool.forWhat})`,
        hint: `apt-get install ${tool.pkg}`,
      });
    }
  }
  return results;
}

async function checkGuestPrograms(layout: Layout): Promise<CheckResult> {
  const missing: string[] = [];
  for (const program of [GUEST_PROGRAMS.init, GUEST_PROGRAMS.agent]) {
    try {
      await fs.access(path.join(layout.guestBinDir, program), fsc.X_OK);
    } catch {
      missing.push(program);
    }
  }
  if (missing.length === 0) {
    return { name: 'guest programs', status: 'pass', detail: `built in ${layout.guestBinDir}` };
  }
  return {
    name: 'guest programs',
    status: 'fail',
    detail: `${missing.join(', ')} missing from ${layout.guestBinDir}`,
    hint: 'npm run build:guest (needs musl-tools)',
  };
}

async function checkKernelAndProbe(deps: DoctorDeps): Promise<CheckResult[]> {
  const imageName = deps.config().defaultImage;
  let kernelName = 'debian';
  try {
    kernelName = (await deps.images.get(imageName)).manifest.kernel;
  } catch {
    /* the image check reports a missing image */
  }
  let vmlinux: string;
  try {
    vmlinux = (await deps.kernels.paths(kernelName)).vmlinux;
  } catch {
    return [
      {
        name: 'kernel',
        status: 'fail',
        detail: `kernel ${kernelName} (used by image ${imageName}) is not in the store`,
        hint: 'banger kernel pull debian',
      },
      {
        name: 'kvm',
        status: 'warn',
        detail: 'not probed: no kernel to boot',
        hint: 'banger kernel pull debian',
      },
    ];
  }
  const kernel: CheckResult = { name: 'kernel', status: 'pass', detail: `${kernelName} present` };
  try {
    const verdict = await probeKvm({ kernel: vmlinux, cacheFile: deps.layout.probeCacheFile });
    const cached = verdict.cached ? ` (cached ${verdict.probedAt})` : '';
    return [
      kernel,
      verdict.accel === 'kvm'
        ? { name: 'kvm', status: 'pass', detail: `KVM works: ${verdict.reason}${cached}` }
        : {
            name: 'kvm',
            status: 'warn',
            detail: `VMs run under TCG emulation (slower): ${verdict.reason}${cached}`,
            hint: 'use a host with hardware virtualisation for KVM speed; TCG is fully supported',
          },
    ];
  } catch (err) {
    return [
      kernel,
      { name: 'kvm', status: 'warn', detail: `probe failed: ${String(err)}; using TCG` },
    ];
  }
}

async function checkImage(deps: DoctorDeps): Promise<CheckResult> {
  const name = deps.config().defaultImage;
  try {
    const image = await deps.images.get(name);
    return {
      name: 'image',
      status: 'pass',
      detail: `${name} present (kernel ${image.manifest.kernel})`,
    };
  } catch {
    return {
      name: 'image',
      status: 'fail',
      detail: `default image ${name} is not in the store`,
      hint: `banger image build ${name}`,
    };
  }
}

async function checkDiskSpace(layout: Layout): Promise<CheckResult> {
  const stats = await fs.statfs(layout.stateDir);
  const free = stats.bavail * stats.bsize;
  const text = `${(free / GiB).toFixed(1)} GiB free in ${layout.stateDir}`;
  if (free < GiB)
    return { name: 'disk space', status: 'fail', detail: text, hint: 'free space or delete VMs' };
  if (free < 5 * GiB)
    return {
      name: 'disk space',
      status: 'warn',
      detail: text,
      hint: 'VMs and images need a few GiB',
    };
  return { name: 'disk space', status: 'pass', detail: text };
}

async function checkPermissions(layout: Layout): Promise<CheckResult[]> {
  const uid = process.getuid?.() ?? 0;
  const expect: { path: string; mode: number; what: string }[] = [
    { path: layout.stateDir, mode: 0o700, what: 'state directory' },
    { path: layout.runtimeDir, mode: 0o700, what: 'runtime directory' },
    { path: layout.daemonSocket, mode: 0o600, what: 'daemon socket' },
    { path: layout.dbFile, mode: 0o600, what: 'database' },
  ];
  const results: CheckResult[] = [];
  for (const item of expect) {
    try {
      const st = await fs.lstat(item.path);
      const mode = st.mode & 0o777;
      const problems: string[] = [];
      if (st.isSymbolicLink()) problems.push('is a symlink');
      if (st.uid !== uid) problems.push(`owned by uid ${String(st.uid)}`);
      if ((mode & 0o077) !== 0) problems.push(`mode ${mode.toString(8)} lets others in`);
      results.push(
        problems.length === 0
          ? { name: item.what, status: 'pass', detail: `${item.path} mode ${mode.toString(8)}` }
          : {
              name: item.what,
              status: 'fail',
              detail: `${item.path} ${problems.join(', ')}`,
              hint: `chmod ${item.mode.toString(8)} ${item.path} (and check who made it)`,
            },
      );
    } catch {
      results.push({ name: item.what, status: 'warn', detail: `${item.path} does not exist yet` });
    }
  }
  return results;
}
