import { describe, expect, it } from 'vitest';
import { buildQemuLaunchPlan } from '../../src/vmm/index.js';
import {
  IDLE_INIT,
  MARKER_INIT,
  rawKernelCmdline,
  rawQemuArgv,
  type RawBootSpec,
} from './raw-qemu-argv.js';

const spec: RawBootSpec = {
  qemuBinary: 'qemu-system-x86_64',
  kernel: '/k/vmlinux',
  initrd: '/k/initrd',
  rootDisk: '/s/raw-1/root.qcow2',
  consoleLog: '/s/raw-1/console.log',
  vcpus: 1,
  memoryMib: 512,
  tscKhz: 2445406,
  init: MARKER_INIT,
};

function option(argv: string[], name: string): string[] {
  return argv.flatMap((a, i) => (a === name ? [argv[i + 1]!] : []));
}

describe('rawQemuArgv', () => {
  const raw = rawQemuArgv(spec);
  // banger's own argv for the same VM, to compare against.
  const banger = buildQemuLaunchPlan(
    {
      vmId: 'abcdef123456',
      vcpus: 1,
      memoryMib: 512,
      accel: 'tcg',
      boot: {
        kernelPath: '/k/vmlinux',
        initrdPath: '/k/initrd',
        args: [
          'root=/dev/vda',
          'rw',
          'rootfstype=ext4',
          'init=/sbin/banger-init',
          'banger.hostname=x',
        ],
      },
      disks: [{ id: 'root', path: '/v/root.qcow2', format: 'qcow2', readOnly: false }],
      nics: [],
      runDir: '/r',
      consoleLogPath: '/v/console.log',
      vmmLogPath: '/v/vmm.log',
    },
    { qemuBinary: 'qemu-system-x86_64', tscKhz: 2445406 },
  ).argv;

  it("uses banger's machine, accelerator, CPU, size, kernel, initramfs and flags", () => {
    for (const name of ['-M', '-accel', '-cpu', '-smp', '-m', '-kernel', '-initrd', '-serial']) {
      expect(option(raw, name), name).toEqual(option(banger, name));
    }
    for (const flag of ['-nodefaults', '-no-user-config', '-nographic', '-no-reboot']) {
      expect(raw, flag).toContain(flag);
    }
  });

  it("has banger's kernel command line minus banger's own arguments, with the marker init", () => {
    const [rawCmdline] = option(raw, '-append');
    const [bangerCmdline] = option(banger, '-append');
    expect(rawCmdline).toBe(
      'console=ttyS0 reboot=t panic=-1 quiet tsc_early_khz=2445406 cryptomgr.notests=1 ' +
        'root=/dev/vda rw rootfstype=ext4 init=/usr/sbin/banger-marker-init',
    );
    expect(bangerCmdline).toBe(
      rawCmdline!.replace('init=/usr/sbin/banger-marker-init', 'init=/sbin/banger-init') +
        ' banger.hostname=x',
    );
  });

  it('boots the overlay on virtio-blk and logs the console to a file, without banger channels', () => {
    expect(option(raw, '-blockdev')[0]).toBe(
      'driver=file,node-name=root-file,filename=/s/raw-1/root.qcow2,read-only=off',
    );
    expect(option(raw, '-device')).toEqual(['virtio-blk-device,drive=root,id=vd-root']);
    expect(option(raw, '-chardev')).toEqual([
      'file,id=console,path=/s/raw-1/console.log,append=on',
    ]);
    expect(raw.join(' ')).not.toMatch(/virtio-serial|qmp|rng|banger\./);
  });

  it('leaves out -initrd when the kernel has none and escapes commas in paths', () => {
    const argv = rawQemuArgv({ ...spec, initrd: undefined, rootDisk: '/s/a,b.qcow2' });
    expect(argv).not.toContain('-initrd');
    expect(option(argv, '-blockdev')[0]).toContain('filename=/s/a,,b.qcow2');
  });
});

describe('rawKernelCmdline', () => {
  it("passes init's arguments after --, quoting the one with spaces", () => {
    expect(rawKernelCmdline({ tscKhz: 1000, ...IDLE_INIT, initArgs: IDLE_INIT.args })).toMatch(
      / init=\/bin\/sh -- -c "echo BANGER-IDLE; exec sleep infinity"$/,
    );
  });

  it('refuses an init argument with a double quote', () => {
    expect(() => rawKernelCmdline({ tscKhz: 1000, init: '/bin/sh', initArgs: ['a"b'] })).toThrow(
      /has a quote/,
    );
  });
});
