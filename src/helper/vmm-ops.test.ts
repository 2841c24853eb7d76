import { describe, expect, it } from 'vitest';
import type { VmLaunchSpec } from '../protocol/index.js';
import { vmmCommand, type HelperVmmOptions } from './vmm-ops.js';

const options: HelperVmmOptions = {
  tree: { roots: ['/var/lib/banger', '/run/banger'], uid: 1000, gid: 1001 },
  netns: 'banger-0123abcd',
  binaries: {
    ip: 'ip',
    setpriv: 'setpriv',
    qemu: 'qemu-system-x86_64',
    firecracker: 'firecracker',
    tapfd: '/usr/local/lib/banger/build/helper/banger-tapfd',
  },
  tscKhz: () => Promise.resolve(2_900_000),
};

const spec: VmLaunchSpec = {
  vmId: '0123456789ab',
  vcpus: 1,
  memoryMib: 256,
  accel: 'tcg',
  boot: { kernelPath: '/var/lib/banger/kernels/debian/vmlinux', args: [] },
  disks: [],
  nics: [{ tap: 'bg-0123456789ab', mac: '02:01:23:45:67:89' }],
  runDir: '/run/banger/vms/0123456789ab',
  consoleLogPath: '/var/lib/banger/vms/0123456789ab/console.log',
  vmmLogPath: '/var/lib/banger/vms/0123456789ab/vmm.log',
  netns: 'banger-0123abcd',
};

describe('the VMM command bangerd-root runs', () => {
  it('enters the namespace, opens the taps as root, then runs QEMU as the owner', async () => {
    const command = await vmmCommand({ backend: 'qemu', spec }, options);
    expect(command.file).toBe('ip');
    const argv = command.argv;
    expect(argv.slice(0, 3)).toEqual(['netns', 'exec', 'banger-0123abcd']);
    const tapfd = argv.indexOf(options.binaries.tapfd);
    const setpriv = argv.indexOf('setpriv');
    const qemu = argv.indexOf('qemu-system-x86_64');
    expect(argv.slice(tapfd, tapfd + 4)).toEqual([
      options.binaries.tapfd,
      '--tap',
      'bg-0123456789ab',
      '--',
    ]);
    expect(argv.slice(setpriv, qemu)).toEqual([
      'setpriv',
      '--reuid=1000',
      '--regid=1001',
      '--init-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs',
      '--',
    ]);
    expect(tapfd).toBeLessThan(setpriv);
    // QEMU gets the tap as fd 3 and never opens /dev/net/tun itself.
    expect(argv).toContain('tap,id=net0,fd=3');
    expect(argv.join(' ')).not.toContain('ifname=');
  });

  it('runs without ip or banger-tapfd when there is no namespace and no NIC', async () => {
    const command = await vmmCommand(
      { backend: 'qemu', spec: { ...spec, netns: undefined, nics: [] } },
      options,
    );
    expect(command.file).toBe('setpriv');
    expect(command.argv).not.toContain(options.binaries.tapfd);
  });
});
