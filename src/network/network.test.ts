import { describe, expect, it } from 'vitest';
import {
  checkGuestSubnet,
  checkLoopbackRange,
  checkSubnetAgainstRoutes,
  gatewayOf,
  nextFreeAddress,
} from './addressing.js';
import { dnsLabelProblem, macFor, netnsNameFor, tapName, checkIfname } from './interface-names.js';
import { formatIpv4, parseCidr, parseIpv4, requireCidr } from './ipv4.js';
import { renderNatRemoval, renderNatScript } from './nat-rules.js';
import { checkCreateTap, checkNetProcessSpec, checkSyncNat } from './network-op-rules.js';
import { upstreamNameservers } from './upstream-nameservers.js';

describe('ipv4', () => {
  it('parses strictly', () => {
    expect(parseIpv4('10.0.0.1')).toBe(0x0a000001);
    for (const bad of ['10.0.0', '10.0.0.256', '010.0.0.1', '1.2.3.4.5', ' 1.2.3.4', '', '1..2.3'])
      expect(parseIpv4(bad)).toBeUndefined();
    expect(parseCidr('10.213.0.0/24')).toEqual({ network: 0x0ad50000, prefix: 24 });
    expect(parseCidr('10.213.0.1/24')).toBeUndefined();
    expect(parseCidr('10.213.0.1/24', { strict: false })?.prefix).toBe(24);
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(() => requireCidr('nope', 'network.subnet')).toThrow('network.subnet "nope" is not');
  });
});

describe('addressing', () => {
  const subnet = requireCidr('10.213.0.0/28', 'x');
  it('gives the gateway .1 and VMs the lowest free address, never network/broadcast', () => {
    expect(formatIpv4(gatewayOf(subnet))).toBe('10.213.0.1');
    const used = new Set<number>();
    const got: string[] = [];
    for (;;) {
      const next = nextFreeAddress(subnet, used, { skipFirst: true });
      if (next === undefined) break;
      used.add(next);
      got.push(formatIpv4(next));
    }
    expect(got[0]).toBe('10.213.0.2');
    expect(got.at(-1)).toBe('10.213.0.14');
    expect(got).toHaveLength(13);
    used.delete(parseIpv4('10.213.0.7') ?? 0);
    expect(formatIpv4(nextFreeAddress(subnet, used, { skipFirst: true }) ?? 0)).toBe('10.213.0.7');
  });

  it('refuses subnets too small or too large, and loopback ranges that touch 127.0.0.0/24', () => {
    expect(() => checkGuestSubnet(requireCidr('10.0.0.0/29', 'x'), 'network.subnet')).toThrow(
      '/8 to /28',
    );
    expect(() => checkGuestSubnet(requireCidr('10.0.0.0/7', 'x'), 'network.subnet')).toThrow(
      '/8 to /28',
    );
    expect(() => checkGuestSubnet(requireCidr('127.1.0.0/16', 'x'), 's')).toThrow('loopback');
    expect(() => checkLoopbackRange(requireCidr('127.0.0.0/16', 'x'), 'r')).toThrow('127.0.0.0/24');
    expect(() => checkLoopbackRange(requireCidr('10.0.0.0/16', 'x'), 'r')).toThrow(
      'inside 127.0.0.0/8',
    );
    expect(checkLoopbackRange(requireCidr('127.64.0.0/16', 'x'), 'r').prefix).toBe(16);
  });

  it('refuses a subnet overlapping a host route, ignoring default and its own bridge', () => {
    const routes = [
      { dst: 'default', dev: 'eth0' },
      { dst: '192.168.1.0/24', dev: 'eth0' },
      { dst: '10.213.0.0/24', dev: 'bgbr0' },
      { dst: '172.17.0.1', dev: 'docker0' },
    ];
    const ok = requireCidr('10.213.0.0/24', 'x');
    expect(() => checkSubnetAgainstRoutes(ok, routes, 'bgbr0')).not.toThrow();
    expect(() =>
      checkSubnetAgainstRoutes(requireCidr('192.168.0.0/16', 'x'), routes, 'bgbr0'),
    ).toThrow('overlaps the host route 192.168.1.0/24 (dev eth0)');
    expect(() =>
      checkSubnetAgainstRoutes(requireCidr('172.17.0.0/24', 'x'), routes, 'bgbr0'),
    ).toThrow('docker0');
  });
});

describe('names', () => {
  it('makes 15-byte taps, stable local unicast MACs and per-install namespaces', () => {
    expect(tapName('0123456789ab')).toBe('bg-0123456789ab');
    expect(tapName('0123456789ab')).toHaveLength(15);
    expect(() => tapName('../eth0')).toThrow();
    expect(macFor('0123456789ab')).toBe('02:01:23:45:67:89');
    expect(netnsNameFor('/a')).toMatch(/^banger-[0-9a-f]{8}$/);
    expect(netnsNameFor('/a')).not.toBe(netnsNameFor('/b'));
  });

  it('refuses interface names that are not banger-shaped', () => {
    for (const bad of ['eth0', 'docker0', 'lo', 'bg', 'bg-0123456789abc', 'bg x', 'BGBR0', 'bg;rm'])
      expect(() => checkIfname(bad, 'tap')).toThrow('banger interface name');
    expect(checkIfname('bgbr0', 'bridge')).toBe('bgbr0');
  });

  it('says what is wrong with a DNS label', () => {
    expect(dnsLabelProblem('dev-1')).toBeUndefined();
    expect(dnsLabelProblem('dev-')).toContain('start or end');
    expect(dnsLabelProblem('a'.repeat(64))).toContain('63');
    expect(dnsLabelProblem('Dev')).toContain('lowercase');
  });
});

describe('privileged request checks', () => {
  it('refuses foreign interfaces, namespaces, addresses and paths', () => {
    expect(() => checkCreateTap({ bridge: 'docker0', tap: 'bg-0123456789ab' })).toThrow('bridge');
    expect(() =>
      checkCreateTap({ netns: 'other', bridge: 'bgbr0', tap: 'bg-0123456789ab' }),
    ).toThrow('banger network namespace');
    expect(() =>
      checkSyncNat({
        bridge: 'bgbr0',
        sources: [{ vmId: '0123456789ab', address: '10.0.0.1; drop' }],
      }),
    ).toThrow('IPv4 address');
    const roots = ['/run/banger'];
    expect(() =>
      checkNetProcessSpec(
        {
          kind: 'dns-relay',
          listen: '10.0.0.1',
          socketPath: '/etc/x.sock',
          logPath: '/run/banger/l',
        },
        roots,
      ),
    ).toThrow("under banger's directories");
    expect(() =>
      checkNetProcessSpec(
        {
          kind: 'dns-relay',
          listen: '10.0.0.1',
          socketPath: '/run/banger/../etc/x',
          logPath: '/run/banger/l',
        },
        roots,
      ),
    ).toThrow('normalised');
  });
});

describe('renderNatScript', () => {
  it('replaces the table atomically with one commented rule set per VM', () => {
    const script = renderNatScript({
      bridge: 'bgbr0',
      uplink: 'bgup0',
      sources: [{ vmId: '0123456789ab', address: '10.213.0.2' }],
    });
    expect(script.split('\n').slice(0, 3)).toEqual([
      'table ip banger',
      'delete table ip banger',
      'table ip banger {',
    ]);
    expect(script).toContain(
      'iifname "bgbr0" oifname "bgup0" ip saddr 10.213.0.2 accept comment "banger vm 0123456789ab"',
    );
    expect(script).toContain(
      'oifname "bgup0" ip saddr 10.213.0.2 masquerade comment "banger vm 0123456789ab"',
    );
    expect(script).toContain('priority filter - 10');
  });

  it('keeps the no-NAT drop rule with no NAT VM, and masquerades out of anything but the bridge when bridged', () => {
    const none = renderNatScript({ bridge: 'bgbr0', sources: [] });
    expect(none).toContain('iifname "bgbr0" oifname != "bgbr0" drop');
    expect(none).not.toContain('masquerade');
    expect(renderNatRemoval()).toBe('table ip banger\ndelete table ip banger\n');
    const bridged = renderNatScript({
      bridge: 'bgbr0',
      sources: [{ vmId: '0123456789ab', address: '10.213.0.2' }],
    });
    expect(bridged).toContain('oifname != "bgbr0" ip saddr 10.213.0.2 masquerade');
  });
});

describe('upstreamNameservers', () => {
  it('keeps IPv4 servers that are not loopback, in order, once', () => {
    const text =
      '# comment\nnameserver 127.0.0.53\nnameserver 10.255.255.53\n  nameserver\t192.0.2.1 \n' +
      'nameserver 10.255.255.53\nnameserver fe80::1\nsearch example\n;nameserver 9.9.9.9\n';
    expect(upstreamNameservers(text)).toEqual(['10.255.255.53', '192.0.2.1']);
    expect(upstreamNameservers('nameserver 127.0.0.53\noptions edns0\n')).toEqual([]);
  });
});
