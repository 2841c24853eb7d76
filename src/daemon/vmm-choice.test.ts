import { describe, expect, it } from 'vitest';
import type { FirecrackerHostProbe } from '../vmm/index.js';
import { decideVmm, RefusingBackend } from './vmm-choice.js';

const installed: FirecrackerHostProbe = {
  binary: '/usr/bin/firecracker',
  version: '1.7.0',
  jailer: '/usr/bin/jailer',
  kvmDevice: true,
  cgroupVersion: 2,
  problems: [],
};
const missing: FirecrackerHostProbe = {
  kvmDevice: true,
  cgroupVersion: 2,
  problems: ['the firecracker binary is not installed (not on PATH)'],
};
const kvm = { accel: 'kvm' as const, reason: 'probe boot reached init in 0.4 s' };
const pvm = { accel: 'tcg' as const, reason: 'the probe boot did not reach init within 10 s' };

describe('decideVmm', () => {
  it('auto picks firecracker only when it is installed and the KVM probe says KVM works', () => {
    expect(decideVmm('auto', installed, kvm)).toEqual({
      use: 'firecracker',
      reason: 'auto: firecracker v1.7.0 is installed and KVM works',
    });
    expect(decideVmm('auto', installed, pvm)).toEqual({
      use: 'qemu',
      reason:
        'auto: QEMU, because KVM does not really work here (probe verdict: the probe boot did not reach init within 10 s)',
    });
    expect(decideVmm('auto', missing, kvm).use).toBe('qemu');
    expect(decideVmm('auto', installed, { accel: undefined, reason: 'no kernel' }).use).toBe(
      'qemu',
    );
  });

  it('qemu is qemu, whatever the host', () => {
    expect(decideVmm('qemu', installed, kvm)).toEqual({
      use: 'qemu',
      reason: 'config vmm = "qemu"',
    });
  });

  it('firecracker where it cannot run is refused with why and what works', () => {
    const noKvm = decideVmm('firecracker', installed, pvm);
    expect(noKvm).toMatchObject({ use: 'refuse', kind: 'firecracker' });
    if (noKvm.use !== 'refuse') throw new Error('expected a refusal');
    expect(noKvm.reason).toContain('KVM does not really work here');
    expect(noKvm.hint).toContain('vmm = "qemu"');
    const notInstalled = decideVmm(
      'firecracker',
      {
        ...missing,
        kvmDevice: false,
        problems: [...missing.problems, '/dev/kvm is missing or cannot be opened read-write'],
      },
      { accel: undefined, reason: 'not probed' },
    );
    if (notInstalled.use !== 'refuse') throw new Error('expected a refusal');
    expect(notInstalled.reason).toBe(
      'vmm = "firecracker" but firecracker cannot run here: the firecracker binary is not installed (not on PATH); /dev/kvm is missing or cannot be opened read-write',
    );
    expect(decideVmm('firecracker', installed, kvm).use).toBe('firecracker');
  });

  it('a refusing backend refuses at once, naming the reason and what works', async () => {
    const backend = new RefusingBackend('firecracker', 'no KVM here', 'use qemu');
    expect(backend.kind).toBe('firecracker');
    await expect(async () => backend.launch()).rejects.toMatchObject({
      code: 'precondition_failed',
      message: 'no KVM here',
      hint: 'use qemu',
    });
    await expect(async () => backend.createRootDisk()).rejects.toThrow('no KVM here');
  });
});
