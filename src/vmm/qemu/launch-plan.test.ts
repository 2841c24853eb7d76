import { describe, expect, it } from 'vitest';
import { BangerError } from '../../base/index.js';
import type { VmLaunchSpec } from '../../protocol/index.js';
import { buildQemuLaunchPlan, kernelArgsFor, qemuOptValue } from './launch-plan.js';

const HOST = { qemuBinary: 'qemu-system-x86_64', tscKhz: 2445406 };

function spec(overrides: Partial<VmLaunchSpec> = {}): VmLaunchSpec {
  return {
    vmId: '0123456789ab',
    vcpus: 2,
    memoryMib: 512,
    accel: 'tcg',
    boot: {
      kernelPath: '/k/vmlinux',
      initrdPath: '/k/initramfs.cpio',
      args: ['root=/dev/vda', 'rw'],
    },
    disks: [
      { id: 'root', path: '/vms/x/root.qcow2', format: 'qcow2', readOnly: false },
      { id: 'work', path: '/vms/x/work.ext4', format: 'raw', readOnly: true },
    ],
    nics: [{ tap: 'bgr0123456789a', mac: '02:00:0a:00:00:02' }],
    runDir: '/run/banger/vms/0123456789ab',
    consoleLogPath: '/vms/x/console.log',
    vmmLogPath: '/vms/x/vmm.log',
    ...overrides,
  };
}

/** The value following `flag` each time it appears. */
function values(argv: string[], flag: string): string[] {
  return argv.flatMap((a, i) => (a === flag ? [argv[i + 1] ?? ''] : []));
}

describe('buildQemuLaunchPlan', () => {
  it('builds the full argv for a TCG microvm with disks, a NIC, the agent channel and QMP', () => {
    const { file, argv } = buildQemuLaunchPlan(spec(), HOST);
    expect(file).toBe('qemu-system-x86_64');
    expect(argv).toEqual([
      '-name', 'banger-0123456789ab',
      '-M', 'microvm,x-option-roms=off,pit=off,pic=off,rtc=on,isa-serial=on',
      '-accel', 'tcg', '-cpu', 'max',
      '-smp', '2',
      '-m', '512M',
      '-nodefaults', '-no-user-config', '-nographic', '-no-reboot',
      '-kernel', '/k/vmlinux',
      '-initrd', '/k/initramfs.cpio',
      '-append', 'console=ttyS0 reboot=t panic=-1 quiet tsc_early_khz=2445406 cryptomgr.notests=1 root=/dev/vda rw',
      '-chardev', 'file,id=console,path=/vms/x/console.log,append=on',
      '-serial', 'chardev:console',
      '-object', 'rng-random,id=rng0,filename=/dev/urandom',
      '-device', 'virtio-rng-device,rng=rng0',
      '-blockdev', 'driver=file,node-name=disk-root-file,filename=/vms/x/root.qcow2,read-only=off',
      '-blockdev', 'driver=qcow2,node-name=disk-root,file=disk-root-file,read-only=off,discard=unmap',
      '-device', 'virtio-blk-device,drive=disk-root,id=vd-root',
      '-blockdev', 'driver=file,node-name=disk-work-file,filename=/vms/x/work.ext4,read-only=on',
      '-blockdev', 'driver=raw,node-name=disk-work,file=disk-work-file,read-only=on',
      '-device', 'virtio-blk-device,drive=disk-work,id=vd-work',
      '-netdev', 'tap,id=net0,ifname=bgr0123456789a,script=no,downscript=no',
      '-device', 'virtio-net-device,netdev=net0,mac=02:00:0a:00:00:02',
      '-device', 'virtio-serial-device,id=vser0',
      '-chardev', 'socket,id=agent,path=/run/banger/vms/0123456789ab/agent.sock,server=on,wait=off',
      '-device', 'virtserialport,chardev=agent,name=banger.agent',
      '-chardev', 'socket,id=qmp,path=/run/banger/vms/0123456789ab/qmp.sock,server=on,wait=off',
      '-mon', 'chardev=qmp,mode=control',
    ]); // prettier-ignore
  });

  it.each<[string, Partial<VmLaunchSpec>, (argv: string[], file: string) => void]>([
    [
      'KVM uses -accel kvm -cpu host and no tsc_early_khz',
      { accel: 'kvm' },
      (argv) => {
        expect(values(argv, '-accel')).toEqual(['kvm']);
        expect(values(argv, '-cpu')).toEqual(['host']);
        expect(values(argv, '-append')[0]).not.toContain('tsc_early_khz');
      },
    ],
    [
      'no initrd means no -initrd',
      { boot: { kernelPath: '/k/vmlinux', args: [] } },
      (argv) => {
        expect(argv).not.toContain('-initrd');
        expect(values(argv, '-append')).toEqual([
          'console=ttyS0 reboot=t panic=-1 quiet tsc_early_khz=2445406 cryptomgr.notests=1',
        ]);
      },
    ],
    [
      'no disks and no NICs',
      { disks: [], nics: [] },
      (argv) => {
        expect(argv).not.toContain('-blockdev');
        expect(argv).not.toContain('-netdev');
      },
    ],
    [
      'commas in paths are doubled inside QEMU options, not in -kernel',
      {
        consoleLogPath: '/a,b/console.log',
        runDir: '/r,un',
        disks: [{ id: 'root', path: '/d,isk', format: 'raw', readOnly: false }],
        boot: { kernelPath: '/k,1/vmlinux', args: [] },
      },
      (argv) => {
        expect(values(argv, '-kernel')).toEqual(['/k,1/vmlinux']);
        expect(values(argv, '-chardev')).toEqual([
          'file,id=console,path=/a,,b/console.log,append=on',
          'socket,id=agent,path=/r,,un/agent.sock,server=on,wait=off',
          'socket,id=qmp,path=/r,,un/qmp.sock,server=on,wait=off',
        ]);
        expect(values(argv, '-blockdev')[0]).toBe(
          'driver=file,node-name=disk-root-file,filename=/d,,isk,read-only=off',
        );
      },
    ],
    [
      'a network namespace wraps the command in ip netns exec',
      { netns: 'banger-ns' },
      (argv, file) => {
        expect(file).toBe('ip');
        expect(argv.slice(0, 5)).toEqual([
          'netns',
          'exec',
          'banger-ns',
          'qemu-system-x86_64',
          '-name',
        ]);
      },
    ],
    [
      'a shared memory file (a warm template boot) backs the RAM with that file',
      { memoryFile: { path: '/w/t,1/memory', shared: true } },
      (argv) => {
        expect(values(argv, '-M')).toEqual([
          'microvm,x-option-roms=off,pit=off,pic=off,rtc=on,isa-serial=on,memory-backend=mem',
        ]);
        expect(values(argv, '-object')).toContain(
          'memory-backend-file,id=mem,size=512M,mem-path=/w/t,,1/memory,share=on',
        );
        expect(values(argv, '-m')).toEqual(['512M']);
        expect(argv).not.toContain('-incoming');
      },
    ],
    [
      'a restore maps the memory file privately and waits for the state (-incoming defer)',
      { memoryFile: { path: '/w/t/memory', shared: false }, incoming: true },
      (argv) => {
        expect(values(argv, '-object')).toContain(
          'memory-backend-file,id=mem,size=512M,mem-path=/w/t/memory,share=off',
        );
        expect(values(argv, '-incoming')).toEqual(['defer']);
        // The devices stay exactly those of a boot: the saved state needs every one of them.
        const boot = buildQemuLaunchPlan(
          spec({ memoryFile: { path: '/w/t/memory', shared: true } }),
          HOST,
        ).argv;
        expect(values(argv, '-device')).toEqual(values(boot, '-device'));
        expect(values(argv, '-kernel')).toEqual(values(boot, '-kernel'));
      },
    ],
    [
      'a restore of a state with its RAM in the stream has no memory file',
      { incoming: true },
      (argv) => {
        expect(values(argv, '-M')[0]).not.toContain('memory-backend');
        expect(values(argv, '-object')).toEqual(['rng-random,id=rng0,filename=/dev/urandom']);
        expect(argv.slice(-2)).toEqual(['-incoming', 'defer']);
      },
    ],
  ])('%s', (_label, overrides, check) => {
    const plan = buildQemuLaunchPlan(spec(overrides), HOST);
    check(plan.argv, plan.file);
  });

  it.each<[string, unknown, RegExp]>([
    ['vmId', { vmId: 'NOT-AN-ID' }, /vmId must be 12 lowercase hex/],
    ['vcpus 0', { vcpus: 0 }, /vcpus must be an integer from 1 to 64/],
    ['vcpus 1.5', { vcpus: 1.5 }, /vcpus must be an integer/],
    ['memory', { memoryMib: 32 }, /memoryMib must be an integer from 64/],
    ['accel', { accel: 'hvf' }, /accel must be "kvm" or "tcg"/],
    [
      'relative kernel',
      { boot: { kernelPath: 'vmlinux', args: [] } },
      /boot.kernelPath must be an absolute/,
    ],
    [
      'dotdot kernel',
      { boot: { kernelPath: '/k/../etc/x', args: [] } },
      /boot.kernelPath must be an absolute, normalised/,
    ],
    [
      'newline in a path',
      { consoleLogPath: '/a\nb' },
      /consoleLogPath must not contain control characters/,
    ],
    [
      'space in a kernel arg',
      { boot: { kernelPath: '/k', args: ['a b'] } },
      /boot.args\[0\] must match/,
    ],
    [
      'quote in a kernel arg',
      { boot: { kernelPath: '/k', args: ['x="y"'] } },
      /boot.args\[0\] must match/,
    ],
    [
      'too many kernel args',
      { boot: { kernelPath: '/k', args: Array(65).fill('x') } },
      /boot.args must be a list of at most 64/,
    ],
    [
      'disk id',
      { disks: [{ id: 'Root!', path: '/d', format: 'raw', readOnly: false }] },
      /disks\[0\].id must match/,
    ],
    [
      'disk format',
      { disks: [{ id: 'a', path: '/d', format: 'vmdk', readOnly: false }] },
      /disks\[0\].format must be raw or qcow2/,
    ],
    [
      'disk readOnly',
      { disks: [{ id: 'a', path: '/d', format: 'raw', readOnly: 'yes' }] },
      /readOnly must be true or false/,
    ],
    [
      'duplicate disk',
      {
        disks: [
          { id: 'a', path: '/d', format: 'raw', readOnly: false },
          { id: 'a', path: '/e', format: 'raw', readOnly: false },
        ],
      },
      /disks\[1\].id must be unique/,
    ],
    [
      'tap with a comma',
      { nics: [{ tap: 'tap0,script=/x', mac: '02:00:00:00:00:01' }] },
      /nics\[0\].tap must match/,
    ],
    [
      'long tap',
      { nics: [{ tap: 'a'.repeat(16), mac: '02:00:00:00:00:01' }] },
      /nics\[0\].tap must match/,
    ],
    [
      'multicast MAC',
      { nics: [{ tap: 't0', mac: '03:00:00:00:00:01' }] },
      /nics\[0\].mac must be a lowercase, locally administered unicast/,
    ],
    ['global MAC', { nics: [{ tap: 't0', mac: '00:16:3e:00:00:01' }] }, /nics\[0\].mac/],
    ['uppercase MAC', { nics: [{ tap: 't0', mac: '02:AA:00:00:00:01' }] }, /nics\[0\].mac/],
    ['long runDir', { runDir: `/${'r'.repeat(100)}` }, /runDir is too long/],
    ['netns', { netns: 'ns;rm' }, /netns must match/],
    [
      'relative memory file',
      { memoryFile: { path: 'memory', shared: true } },
      /memoryFile.path must be an absolute/,
    ],
    [
      'memory file sharing',
      { memoryFile: { path: '/m', shared: 'yes' } },
      /memoryFile.shared must be true or false/,
    ],
    ['memory file', { memoryFile: '/m' }, /memoryFile must be an object/],
    ['incoming', { incoming: 'defer' }, /incoming must be true or false/],
    ['not an object', null, /spec must be an object/],
  ])('refuses a bad %s with bad_request naming the field', (_label, overrides, message) => {
    const bad = overrides === null ? null : { ...spec(), ...(overrides as object) };
    let err: unknown;
    try {
      buildQemuLaunchPlan(bad as VmLaunchSpec, HOST);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BangerError);
    expect((err as BangerError).code).toBe('bad_request');
    expect((err as BangerError).message).toMatch(message);
  });

  it('refuses TCG without a TSC frequency, and a command line over 2047 bytes', () => {
    expect(() => buildQemuLaunchPlan(spec(), { qemuBinary: 'qemu-system-x86_64' })).toThrow(
      /TCG needs the host TSC/,
    );
    const args = Array.from({ length: 10 }, () => `x=${'a'.repeat(250)}`);
    expect(() => buildQemuLaunchPlan(spec({ boot: { kernelPath: '/k', args } }), HOST)).toThrow(
      /longer than 2047 bytes/,
    );
    expect(() => buildQemuLaunchPlan(spec(), { qemuBinary: 'qemu;rm -rf /' })).toThrow(
      /qemu binary/,
    );
  });
});

describe('helpers', () => {
  it('escapes commas the QEMU way', () => {
    expect(qemuOptValue('/a,b,,c')).toBe('/a,,b,,,,c');
  });
  it('puts the backend defaults before the spec arguments', () => {
    expect(
      kernelArgsFor({ accel: 'kvm', boot: { kernelPath: '/k', args: ['init=/x'] } }, {}),
    ).toEqual(['console=ttyS0', 'reboot=t', 'panic=-1', 'quiet', 'cryptomgr.notests=1', 'init=/x']);
  });
});
