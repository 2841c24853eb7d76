import { describe, expect, it } from 'vitest';
import type { NetworkOps, VmLaunchSpec } from '../protocol/index.js';
import { createOpTable, dispatcher, type HelperContext } from './op-table.js';

/** A NetworkOps that only records what it was asked: any call is a side effect. */
function recordingContext(): { ctx: HelperContext; calls: string[] } {
  const calls: string[] = [];
  const record = (name: string) => (): Promise<never> => {
    calls.push(name);
    return Promise.resolve(undefined as never);
  };
  const network: NetworkOps = {
    ensureBridge: record('ensureBridge'),
    removeNetwork: record('removeNetwork'),
    createTap: record('createTap'),
    deleteTap: record('deleteTap'),
    listLinks: record('listLinks'),
    syncNat: record('syncNat'),
    startNetProcess: record('startNetProcess'),
    stopNetProcess: record('stopNetProcess'),
    netProcessAlive: record('netProcessAlive'),
  };
  const tree = {
    roots: ['/var/lib/banger', '/var/cache/banger', '/run/banger'],
    uid: 1000,
    gid: 1000,
  };
  const ctx: HelperContext = {
    hello: {
      version: '0.1.0',
      installedVersion: '0.1.0',
      pid: 1,
      owner: 'alice',
      ownerUid: 1000,
      ownerGid: 1000,
    },
    tree,
    netns: 'banger-0123abcd',
    network,
    relayScript: '/usr/local/lib/banger/dist/src/network/dns-relay-main.js',
    vmm: {
      tree,
      netns: 'banger-0123abcd',
      binaries: {
        ip: 'ip',
        setpriv: 'setpriv',
        qemu: 'qemu-system-x86_64',
        firecracker: 'firecracker',
        tapfd: '/x/banger-tapfd',
      },
      // A read of /proc/cpuinfo, not a side effect.
      tscKhz: () => Promise.resolve(2_000_000),
    },
  };
  return { ctx, calls };
}

function spec(overrides: Partial<VmLaunchSpec> = {}): VmLaunchSpec {
  const dir = '/var/lib/banger/vms/0123456789ab';
  return {
    vmId: '0123456789ab',
    vcpus: 1,
    memoryMib: 256,
    accel: 'tcg',
    boot: { kernelPath: '/var/lib/banger/kernels/debian/vmlinux', args: [] },
    disks: [{ id: 'root', path: `${dir}/root.qcow2`, format: 'qcow2', readOnly: false }],
    nics: [{ tap: 'bg-0123456789ab', mac: '02:01:23:45:67:89' }],
    runDir: '/run/banger/vms/0123456789ab',
    consoleLogPath: `${dir}/console.log`,
    vmmLogPath: `${dir}/vmm.log`,
    ...overrides,
  };
}

describe('bangerd-root op table', () => {
  const refused: [string, string, unknown, RegExp][] = [
    ['a bridge named eth0', 'createTap', { bridge: 'eth0', tap: 'bg-0123456789ab' }, /eth0/],
    ['a tap named lo', 'createTap', { bridge: 'bgbr0', tap: 'lo' }, /"lo"/],
    ['a tap that is not a VM tap', 'deleteTap', { tap: 'bgbr0' }, /banger tap name/],
    ['a name with ;', 'ensureBridge', { bridge: 'bg;reboot', gateway: '10.0.0.1/24' }, /bg;reboot/],
    ['a name with $(...)', 'ensureBridge', { bridge: 'bg$(id)', gateway: '10.0.0.1/24' }, /bridge/],
    ['a name with a newline', 'removeNetwork', { bridge: 'bg\nx' }, /bridge/],
    ['a 200-character name', 'removeNetwork', { bridge: `bg${'a'.repeat(198)}` }, /bridge/],
    ['a namespace with ;', 'listLinks', { netns: 'banger-0123abcd;x' }, /netns/],
    ['another install’s namespace', 'listLinks', { netns: 'banger-ffffffff' }, /this install/],
    [
      'an address that is not one',
      'ensureBridge',
      { bridge: 'bgbr0', gateway: '10.0.0.300/24' },
      /gateway/,
    ],
    [
      'an unknown field',
      'deleteTap',
      { tap: 'bg-0123456789ab', force: true },
      /force is not a known field/,
    ],
    ['a pid out of range', 'killVmm', { vmId: '0123456789ab', pid: 1, startTime: 5 }, /pid/],
    ['a VM id with $(...)', 'killVmm', { vmId: '$(reboot)', pid: 100, startTime: 5 }, /vmId/],
    ['an op not in the table', 'reboot', {}, /no operation "reboot": it performs only hello, /],
    ['an inherited property name', 'constructor', {}, /no operation "constructor"/],
    [
      'a log path of /etc/passwd',
      'launchVmm',
      { backend: 'qemu', spec: spec({ vmmLogPath: '/etc/passwd' }) },
      /vmmLogPath must lie under banger's directories/,
    ],
    [
      'a kernel outside banger’s roots',
      'launchVmm',
      { backend: 'qemu', spec: spec({ boot: { kernelPath: '/boot/vmlinuz', args: [] } }) },
      /kernelPath must lie under/,
    ],
    [
      'a disk path with ..',
      'launchVmm',
      {
        backend: 'qemu',
        spec: spec({
          disks: [
            {
              id: 'root',
              path: '/var/lib/banger/../../etc/shadow',
              format: 'raw',
              readOnly: false,
            },
          ],
        }),
      },
      /normalised/,
    ],
    [
      'a tap named lo in a launch',
      'launchVmm',
      { backend: 'qemu', spec: spec({ nics: [{ tap: 'lo', mac: '02:01:23:45:67:89' }] }) },
      /tap/,
    ],
    [
      'a kernel argument with a newline',
      'launchVmm',
      {
        backend: 'qemu',
        spec: spec({
          boot: { kernelPath: '/var/lib/banger/k/vmlinux', args: ['init=/bin/sh\nx'] },
        }),
      },
      /boot.args\[0\]/,
    ],
    [
      'a network process log outside banger’s roots',
      'startNetProcess',
      {
        kind: 'dns-relay',
        listen: '10.213.0.1',
        socketPath: '/run/banger/network/dns.sock',
        logPath: '/etc/passwd',
      },
      /logPath must lie under/,
    ],
  ];

  for (const [what, op, params, message] of refused) {
    it(`refuses ${what} before doing anything`, async () => {
      const { ctx, calls } = recordingContext();
      const dispatch = dispatcher(createOpTable(ctx));
      const err = await dispatch(op, params).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'bad_request' });
      expect((err as Error).message).toMatch(message);
      expect(calls).toEqual([]);
    });
  }

  it('passes a valid request on, normalised by the network rules', async () => {
    const { ctx, calls } = recordingContext();
    const dispatch = dispatcher(createOpTable(ctx));
    await dispatch('createTap', {
      netns: 'banger-0123abcd',
      bridge: 'bgbr0',
      tap: 'bg-0123456789ab',
    });
    expect(calls).toEqual(['createTap']);
    await expect(dispatch('hello', {})).resolves.toMatchObject({ owner: 'alice', ownerUid: 1000 });
  });
});
