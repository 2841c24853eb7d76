/**
 * `banger doctor` rows for networking: the mode and its plumbing (namespace, bridge, pasta for
 * NAT), in bridged mode whether the host's firewall drops the bridge's traffic, the `.vm` DNS
 * listener, and whether the host resolver sends `.vm` queries there, with
 * the wiring for systemd-resolved, dnsmasq or a plain resolv.conf.
 */
import { promises as fs } from 'node:fs';
import { run } from '../base/index.js';
import type { BangerConfig } from '../config/index.js';
import {
  checkGuestSubnet,
  checkSubnetAgainstRoutes,
  forwardPolicyCheck,
  NAT_TABLE,
  readForwardFirewall,
  readHostRoutes,
  requireCidr,
} from '../network/index.js';
import type { CheckResult, NetworkOps } from '../protocol/index.js';
import type { VmNetwork } from './vm-network.js';

export async function networkDoctor(deps: {
  config: BangerConfig;
  network: VmNetwork;
  ops: NetworkOps;
  dns: { listening: string | undefined; error: string | undefined };
}): Promise<CheckResult[]> {
  const net = deps.config.network;
  const rows: CheckResult[] = [];
  const listen = `${net.dnsListen.address}:${String(net.dnsListen.port)}`;

  // Mode and subnet.
  try {
    const subnet = checkGuestSubnet(requireCidr(net.subnet, 'network.subnet'), 'network.subnet');
    checkSubnetAgainstRoutes(
      subnet,
      await readHostRoutes(),
      net.mode === 'bridged' ? net.bridge : 'bgbr0',
    );
    rows.push({
      name: 'network mode',
      status: 'pass',
      detail:
        net.mode === 'isolated'
          ? `isolated: guests on ${net.subnet} inside banger's own namespace, reached at ${net.loopbackRange}`
          : `bridged: host bridge ${net.bridge} with guests on ${net.subnet}`,
    });
  } catch (err) {
    rows.push({
      name: 'network mode',
      status: 'fail',
      detail: err instanceof Error ? err.message : String(err),
      hint: 'set network.subnet in config.toml to a range no host route uses',
    });
  }

  const tools: { file: string; pkg: string; what: string; status: 'fail' | 'warn' }[] = [
    { file: 'ip', pkg: 'iproute2', what: 'bridges and taps', status: 'fail' },
    { file: 'nft', pkg: 'nftables', what: 'NAT rules', status: 'warn' },
  ];
  if (net.mode === 'isolated')
    tools.push({
      file: 'pasta',
      pkg: 'passt',
      what: 'NAT out of the isolated namespace',
      status: 'warn',
    });
  for (const tool of tools) {
    const found = await run('which', [tool.file]).then(
      () => true,
      () => false,
    );
    rows.push(
      found
        ? { name: `tool ${tool.file}`, status: 'pass', detail: `found (for ${tool.what})` }
        : {
            name: `tool ${tool.file}`,
            status: tool.status,
            detail: `not found (needed for ${tool.what})`,
            hint: `apt-get install ${tool.pkg}`,
          },
    );
  }

  const up = deps.network.describeState();
  rows.push({
    name: 'network state',
    status: 'pass',
    detail: up
      ? `up: ${up.netns ? `namespace ${up.netns}, ` : ''}bridge ${up.bridge} ${up.gateway}, ${String(up.vms)} VM(s), DNS relay ${up.relay ? 'running' : 'not running'}${up.uplink ? ', NAT uplink running' : ''}`
      : 'down (no VM running: nothing of banger is in the kernel)',
  });

  if (net.mode === 'bridged') rows.push(await bridgeFirewall(net.bridge));

  rows.push(
    deps.dns.listening
      ? {
          name: 'dns server',
          status: 'pass',
          detail: `answers <name>.vm on ${deps.dns.listening} (UDP, TCP)`,
        }
      : {
          name: 'dns server',
          status: 'fail',
          detail: deps.dns.error ?? `not listening on ${listen}`,
          hint: 'set network.dns_listen to a free address:port in config.toml and restart the daemon',
        },
  );
  rows.push(await resolverRouting(net.dnsListen));
  return rows;
}

/**
 * Bridged mode: whether the host's firewall drops what banger's bridge forwards (Docker's
 * FORWARD policy DROP, with br_netfilter also between guests). Reading the ruleset needs
 * CAP_NET_ADMIN: a daemon without it says what to look for instead.
 */
async function bridgeFirewall(bridge: string): Promise<CheckResult> {
  const brNetfilter =
    (
      await fs.readFile('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').catch(() => '0')
    ).trim() === '1';
  let ruleset: unknown;
  try {
    ruleset = JSON.parse((await run('nft', ['-j', 'list', 'ruleset'])).stdout.toString() || '{}');
  } catch (err) {
    return {
      name: 'bridge firewall',
      status: 'warn',
      detail: `could not read the host firewall (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`,
      hint: `run banger doctor where nft works (as root); if the host's FORWARD policy is DROP (Docker), allow ${bridge}: iptables -I DOCKER-USER -i ${bridge} -j ACCEPT (docs/networking.md)`,
    };
  }
  const firewall = readForwardFirewall(ruleset, { bridge, ownTable: NAT_TABLE });
  return forwardPolicyCheck({ ...firewall, bridge, brNetfilter });
}

/** Whether the host's resolver sends `.vm` to banger, and how to make it if not. */
async function resolverRouting(listen: { address: string; port: number }): Promise<CheckResult> {
  const target = `${listen.address}:${String(listen.port)}`;
  const wiring =
    `systemd-resolved: resolvectl dns lo ${target} && resolvectl domain lo '~vm' (or a drop-in with DNS=${target} Domains=~vm); ` +
    `dnsmasq: server=/vm/${listen.address}#${String(listen.port)}; ` +
    'plain resolv.conf cannot name a port: see docs/networking.md';
  const resolvConf = await fs.readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  const nameservers = [...resolvConf.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1] ?? '');
  if (nameservers.includes('127.0.0.53')) {
    const status = await run('resolvectl', ['status']).catch(() => undefined);
    const text = status?.stdout.toString() ?? '';
    if (text.includes(target) && /~vm\b/.test(text)) {
      return {
        name: 'dns routing',
        status: 'pass',
        detail: `systemd-resolved sends .vm to ${target}`,
      };
    }
    return {
      name: 'dns routing',
      status: 'warn',
      detail:
        'systemd-resolved does not send .vm to banger (NAME.vm resolves only with dig @server)',
      hint: wiring,
    };
  }
  const dnsmasq = await fs
    .readdir('/etc/dnsmasq.d')
    .then(async (files) =>
      (
        await Promise.all(
          files.map((f) => fs.readFile(`/etc/dnsmasq.d/${f}`, 'utf8').catch(() => '')),
        )
      ).join('\n'),
    )
    .catch(() => '');
  const mainConf = await fs.readFile('/etc/dnsmasq.conf', 'utf8').catch(() => '');
  if (`${dnsmasq}\n${mainConf}`.includes(`server=/vm/${listen.address}#${String(listen.port)}`)) {
    return { name: 'dns routing', status: 'pass', detail: `dnsmasq sends .vm to ${target}` };
  }
  if (listen.port === 53 && nameservers.includes(listen.address)) {
    return {
      name: 'dns routing',
      status: 'pass',
      detail: `resolv.conf names ${listen.address} (banger on port 53)`,
    };
  }
  return {
    name: 'dns routing',
    status: 'warn',
    detail: `the host resolver (${nameservers.join(', ') || 'no nameserver'}) does not send .vm to ${target}`,
    hint: wiring,
  };
}
