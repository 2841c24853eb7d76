import { describe, expect, it } from 'vitest';
import type { VmLaunchSpec } from '../../protocol/index.js';
import {
  buildFirecrackerLaunchPlan,
  firecrackerJailPaths,
  firecrackerVmLayout,
  type FirecrackerHostInfo,
} from './launch-plan.js';

const spec = (over: Partial<VmLaunchSpec> = {}): VmLaunchSpec => ({
  vmId: '0123456789ab',
  vcpus: 2,
  memoryMib: 512,
  accel: 'kvm',
  boot: { kernelPath: '/k/vmlinux', args: ['root=/dev/vda', 'rw'] },
  disks: [
    { id: 'root', path: '/vms/a/root.img', format: 'raw', readOnly: false },
    { id: 'seed', path: '/img/seed.img', format: 'raw', readOnly: true },
  ],
  nics: [{ tap: 'bgtap0', mac: '02:00:00:00:00:01' }],
  runDir: '/run/banger/vms/0123456789ab',
  consoleLogPath: '/vms/a/console.log',
  vmmLogPath: '/vms/a/vmm.log',
  ...over,
});

const plain: FirecrackerHostInfo = { firecrackerBinary: '/usr/bin/firecracker' };
const jailed: FirecrackerHostInfo = {
  firecrackerBinary: '/usr/bin/firecracker',
  jailer: {
    jailerBinary: '/usr/bin/jailer',
    chrootBaseDir: '/var/lib/banger/jailer',
    uid: 1000,
    gid: 1000,
    cgroupVersion: 2,
  },
};

describe('buildFirecrackerLaunchPlan without the jailer', () => {
  it('starts firecracker on an API socket in the run dir, console on stdout', () => {
    const plan = buildFirecrackerLaunchPlan(spec(), plain);
    expect(plan.file).toBe('/usr/bin/firecracker');
    expect(plan.argv).toEqual([
      '--api-sock',
      '/run/banger/vms/0123456789ab/api.sock',
      '--id',
      'banger-0123456789ab',
    ]);
    expect(plan.stdoutPath).toBe('/vms/a/console.log');
    expect(plan.layout.inVmm.drives).toEqual([
      { id: 'root', path: '/vms/a/root.img', readOnly: false },
      { id: 'seed', path: '/img/seed.img', readOnly: true },
    ]);
    expect(plan.layout.links).toEqual([]);
    expect(plan.layout.jailDir).toBeUndefined();
  });

  it('enters a network namespace through `ip netns exec` (which execs in place)', () => {
    const plan = buildFirecrackerLaunchPlan(spec({ netns: 'bgns1' }), {
      ...plain,
      ipBinary: '/sbin/ip',
    });
    expect(plan.file).toBe('/sbin/ip');
    expect(plan.argv.slice(0, 4)).toEqual(['netns', 'exec', 'bgns1', '/usr/bin/firecracker']);
  });
});

describe('buildFirecrackerLaunchPlan with the jailer', () => {
  it('jails firecracker per VM with a uid/gid drop, a cgroup and chroot-relative paths', () => {
    const plan = buildFirecrackerLaunchPlan(spec({ netns: 'bgns1' }), jailed);
    expect(plan.file).toBe('/usr/bin/jailer');
    expect(plan.argv).toEqual([
      '--id',
      'banger-0123456789ab',
      '--exec-file',
      '/usr/bin/firecracker',
      '--uid',
      '1000',
      '--gid',
      '1000',
      '--chroot-base-dir',
      '/var/lib/banger/jailer',
      '--cgroup-version',
      '2',
      '--parent-cgroup',
      'banger',
      '--cgroup',
      `memory.max=${String((512 + 128) * 1024 * 1024)}`,
      '--netns',
      '/run/netns/bgns1',
      '--',
      '--api-sock',
      '/api.sock',
    ]);
    const root = '/var/lib/banger/jailer/firecracker/banger-0123456789ab/root';
    expect(plan.layout.chrootDir).toBe(root);
    expect(plan.layout.apiSocket).toBe(`${root}/api.sock`);
    expect(plan.layout.vsockSocket).toBe(`${root}/v.sock`);
    expect(plan.layout.inVmm).toMatchObject({
      apiSocket: '/api.sock',
      vsockSocket: '/v.sock',
      kernel: '/vmlinux',
      logFile: '/firecracker.log',
      drives: [
        { id: 'root', path: '/root.img', readOnly: false },
        { id: 'seed', path: '/seed.img', readOnly: true },
      ],
    });
    expect(plan.layout.links).toEqual([
      { from: '/k/vmlinux', to: `${root}/vmlinux`, writable: false },
      { from: '/vms/a/root.img', to: `${root}/root.img`, writable: true },
      { from: '/img/seed.img', to: `${root}/seed.img`, writable: false },
    ]);
    expect(plan.layout.creates).toEqual([`${root}/firecracker.log`, `${root}/metrics.json`]);
    expect(plan.layout.cgroupDir).toBe('banger/banger-0123456789ab');
    expect(firecrackerJailPaths('0123456789ab', jailed)).toEqual({
      jailDir: '/var/lib/banger/jailer/firecracker/banger-0123456789ab',
      cgroupDir: 'banger/banger-0123456789ab',
    });
  });

  it('writes a cgroup v1 memory limit, or none when the headroom is 0', () => {
    const v1 = buildFirecrackerLaunchPlan(spec(), {
      ...jailed,
      jailer: { ...jailed.jailer!, cgroupVersion: 1 },
    });
    expect(v1.argv).toContain(`memory.limit_in_bytes=${String(640 * 1024 * 1024)}`);
    const none = buildFirecrackerLaunchPlan(spec(), {
      ...jailed,
      jailer: { ...jailed.jailer!, memoryHeadroomMib: 0 },
    });
    expect(none.argv).not.toContain('--cgroup');
  });

  it('links an initrd into the jail when the kernel has one', () => {
    const layout = firecrackerVmLayout(
      spec({ boot: { kernelPath: '/k/vmlinux', initrdPath: '/k/initrd', args: [] } }),
      jailed,
    );
    expect(layout.inVmm.initrd).toBe('/initrd');
    expect(layout.links[1]).toMatchObject({ from: '/k/initrd', writable: false });
  });
});

describe('buildFirecrackerLaunchPlan refuses', () => {
  it('what Firecracker cannot run, saying what works instead', () => {
    expect(() => buildFirecrackerLaunchPlan(spec({ accel: 'tcg' }), plain)).toThrow(
      /only with KVM/,
    );
    expect(() =>
      buildFirecrackerLaunchPlan(
        spec({ disks: [{ id: 'root', path: '/r.qcow2', format: 'qcow2', readOnly: false }] }),
        plain,
      ),
    ).toThrow(/must be raw for firecracker/);
    expect(() => buildFirecrackerLaunchPlan(spec({ vcpus: 33 }), plain)).toThrow(/at most 32/);
  });

  it('a jailer exec file that is relative or not named firecracker', () => {
    expect(() =>
      buildFirecrackerLaunchPlan(spec(), { ...jailed, firecrackerBinary: 'firecracker' }),
    ).toThrow(/absolute/);
    expect(() =>
      buildFirecrackerLaunchPlan(spec(), { ...jailed, firecrackerBinary: '/usr/bin/fc' }),
    ).toThrow(/contains "firecracker"/);
  });

  it('sockets that would not fit in sun_path', () => {
    const deep = `/${'d'.repeat(70)}`;
    expect(() =>
      buildFirecrackerLaunchPlan(spec(), {
        ...jailed,
        jailer: { ...jailed.jailer!, chrootBaseDir: deep },
      }),
    ).toThrow(/longer than 107 bytes/);
  });

  it('bad jailer ids and cgroup names', () => {
    expect(() =>
      buildFirecrackerLaunchPlan(spec(), { ...jailed, jailer: { ...jailed.jailer!, uid: -1 } }),
    ).toThrow(/uid/);
    expect(() =>
      buildFirecrackerLaunchPlan(spec(), {
        ...jailed,
        jailer: { ...jailed.jailer!, parentCgroup: '../x' },
      }),
    ).toThrow(/parent cgroup/);
  });
});
