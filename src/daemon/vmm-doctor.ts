/**
 * The `banger doctor` rows about VMM choice: which backend config `vmm` gets here and why,
 * Firecracker's binary and version (warned outside the tested range), the jailer, /dev/kvm,
 * and how Firecracker's raw disks would be copied on this host.
 */
import type { BangerConfig, Layout } from '../config/index.js';
import type { KernelStore } from '../kernels/index.js';
import type { CheckResult } from '../protocol/index.js';
import { chooseCowStrategy, firecrackerDoctorChecks, probeFirecrackerHost } from '../vmm/index.js';
import { decideVmm, kvmFact, type KvmFact } from './vmm-choice.js';

export async function vmmDoctorChecks(deps: {
  layout: Layout;
  config: () => BangerConfig;
  kernels: KernelStore;
}): Promise<CheckResult[]> {
  const setting = deps.config().vmm;
  const probe = await probeFirecrackerHost();
  const kvm: KvmFact =
    probe.problems.length === 0
      ? await kvmFact(deps.kernels, deps.layout)
      : { accel: undefined, reason: 'not probed' };
  const decision = decideVmm(setting, probe, kvm);
  const cow =
    probe.binary === undefined
      ? undefined
      : await chooseCowStrategy({ dir: deps.layout.vmsDir }).catch(() => undefined);
  const rows: CheckResult[] = [
    decision.use === 'refuse'
      ? { name: 'vmm', status: 'fail', detail: decision.reason, hint: decision.hint }
      : { name: 'vmm', status: 'pass', detail: `${decision.use}: ${decision.reason}` },
  ];
  rows.push(
    ...firecrackerDoctorChecks(probe, {
      ...(cow === undefined ? {} : { cow }),
      ...(kvm.accel === undefined ? {} : { kvmVerdict: { accel: kvm.accel, reason: kvm.reason } }),
    }),
  );
  return rows;
}
