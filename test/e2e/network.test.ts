/**
 * Networking end to end, in both modes, inside network namespaces this test makes
 * (HOST-NOTES "Network"): a "host" namespace where the daemon and every CLI call run, and an
 * "outside" namespace behind it that NAT traffic reaches. Nothing here touches the real host's
 * network: the daemon's namespace is checked before anything is created, and teardown kills
 * what is left inside the namespaces by pid before deleting them.
 *
 * The host resolves `.vm` the way docs/networking.md tells users to wire it: a dnsmasq with
 * `server=/vm/127.0.0.1#42069`, named in the namespace's own resolv.conf, so curl and getent
 * go through the system resolver with no --resolve.
 *
 * Isolated mode runs on a Docker-like host from the start (FORWARD policy DROP, br_netfilter
 * on): it needs no host rule. Bridged mode starts on a plain host; one test then turns it into
 * a Docker host and shows that doctor names the rules that fix it, and that they do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerHome, requirePrerequisite } from '../support/banger-home.js';
import { provisionDefaultArtifacts } from '../support/artifacts.js';
import { processesMentioning } from '../support/leaks.js';
import {
  deleteNetns,
  linkNamespaces,
  netnsNames,
  netnsPids,
  TestNetns,
} from '../support/net-namespace.js';
import { netnsNameFor, upstreamNameservers } from '../../src/network/index.js';
import { run } from '../../src/base/index.js';
import type { CheckResult } from '../../src/protocol/index.js';

const isRoot = process.getuid?.() === 0;
const TOOLS = ['dig', 'nft', 'pasta', 'nsenter', 'iptables', 'dnsmasq', 'curl', 'ss'];
const hasTools = (
  await Promise.all(
    TOOLS.map((t) =>
      run('which', [t]).then(
        () => true,
        () => false,
      ),
    ),
  )
).every(Boolean);
const ready = requirePrerequisite(isRoot && hasTools, `root and ${TOOLS.join(', ')}`);

const OUTSIDE_IP = '198.51.100.2';
const DNSMASQ = [
  'dnsmasq',
  '--keep-in-foreground',
  '--conf-file=/dev/null',
  '--no-resolv',
  '--no-hosts',
  '--bind-interfaces',
  '--cache-size=0',
  '--user=root',
];
/**
 * The first server of the host's resolv.conf, which pasta relays to and bridged NAT guests are
 * given, when it is an IPv4 address off loopback; with a loopback resolver (systemd-resolved)
 * the NAT DNS check is left out.
 */
const hostResolver = upstreamNameservers(
  (await fs.readFile('/etc/resolv.conf', 'utf8').catch(() => '')).match(
    /^[ \t]*nameserver[ \t]+\S+/m,
  )?.[0] ?? '',
)[0];
const CHURN_VMS = 20;
const CHURN_BATCH = 4;

/**
 * A tiny HTTP/1.0 server (perl, in every Debian image). It reads the request head before it
 * answers: closing a socket with unread input sends a reset, and the client may then lose
 * the answer (curl exit 56).
 */
function httpServerPerl(listen: string, text: string): string {
  return (
    `$s=IO::Socket::INET->new(${listen},Listen=>16,ReuseAddr=>1) or die; ` +
    `while($c=$s->accept){while(<$c>){last if /^\\r?\\n$/} ` +
    `print $c "HTTP/1.0 200 OK\\r\\n\\r\\n${text}\\n"; close $c}`
  );
}

/** The server on :PORT in a guest, detached. */
function serveHttp(port: number, text: string): string[] {
  const perl = httpServerPerl(`LocalPort=>${String(port)}`, text);
  return [
    'bash',
    '-c',
    `setsid -f perl -MIO::Socket::INET -e '${perl}' </dev/null >/dev/null 2>&1`,
  ];
}

interface VmNet {
  guestAddress: string;
  hostAddress: string;
  nat: boolean;
}

describe.each(['isolated', 'bridged'] as const)('%s networking', (mode) => {
  let ns: TestNetns;
  let outside: TestNetns;
  let home: BangerHome;
  const net: Record<string, VmNet> = {};

  const dig = async (name: string, extra: string[] = []): Promise<string> =>
    (await ns.exec(['dig', '@127.0.0.1', '-p', '42069', ...extra, name])).stdout;
  const show = async (name: string): Promise<VmNet> =>
    (JSON.parse((await home.ok(['vm', 'show', name, '--json'])).out) as { network: VmNet }).network;
  /** banger's own namespace (isolated), where its bridge, taps and NAT table live. */
  const bangerNetns = (): string | undefined =>
    mode === 'isolated' ? netnsNameFor(home.stateDir) : undefined;
  /** Runs argv where banger's bridge lives: banger's namespace, or the test's "host". */
  const inBangerNet = async (argv: string[]): Promise<string> => {
    const own = bangerNetns();
    if (own === undefined) return ns.ok(argv);
    if (!netnsNames().includes(own)) return '';
    return (await run('ip', ['netns', 'exec', own, ...argv])).stdout.toString();
  };
  const natTable = async (): Promise<string> =>
    (await inBangerNet(['nft', 'list', 'ruleset']))
      .split('\n')
      .filter((l) => l.trim() !== '')
      .join('\n');
  const bridgeLinks = async (): Promise<string[]> =>
    (await inBangerNet(['ip', '-br', 'link']))
      .split('\n')
      .map((l) => l.split(/\s+/)[0]?.split('@')[0] ?? '')
      .filter((n) => n.startsWith('bg'))
      .sort();
  /** banger's network processes: the guests' DNS relay and (isolated, with NAT) pasta. */
  const netProcesses = (): { relay: number[]; pasta: number[] } => ({
    relay: processesMentioning(path.join(home.runtimeDir, 'network', 'dns.sock')).map((p) => p.pid),
    pasta: processesMentioning(`/run/netns/${bangerNetns() ?? 'none'}`)
      .filter((p) => p.cmdline.startsWith('pasta'))
      .map((p) => p.pid),
  });
  /** Processes that mention this home, the resolver the test started aside. */
  const ownProcesses = (): { pid: number; cmdline: string }[] =>
    processesMentioning(home.root).filter((p) => !p.cmdline.startsWith('dnsmasq '));
  const curlVm = async (name: string): Promise<string> =>
    (await ns.exec(['curl', '-s', '-m', '3', `http://${name}.vm:3000/`])).stdout;
  const doctorRow = async (name: string): Promise<CheckResult | undefined> =>
    (JSON.parse((await home.run(['doctor', '--json'])).out) as CheckResult[]).find(
      (row) => row.name === name,
    );
  const poll = { timeout: 90_000, interval: 500 };

  beforeAll(async () => {
    if (!ready) return;
    ns = await TestNetns.create('bgt');
    outside = await TestNetns.create('bgo');
    await linkNamespaces(
      { ns, ifname: 'tup0', address: '198.51.100.1/24' },
      { ns: outside, ifname: 'tdown0', address: `${OUTSIDE_IP}/24` },
    );
    await ns.ok(['ip', 'route', 'add', 'default', 'via', OUTSIDE_IP]);
    if (mode === 'isolated') await makeDockerHost(ns);
    home = await BangerHome.create(mode === 'isolated' ? 'bgni-' : 'bgnb-');
    outside.spawn([
      'perl',
      '-MIO::Socket::INET',
      '-e',
      httpServerPerl(`LocalAddr=>"${OUTSIDE_IP}",LocalPort=>8080`, 'from outside'),
    ]);
    // The host's resolver, as NAT guests reach it (pasta's relay when isolated, the server
    // itself when bridged), is played by the outside: it takes the address the host's
    // resolv.conf names, inside the outside namespace only.
    if (hostResolver !== undefined) {
      await outside.ok(['ip', 'addr', 'add', `${hostResolver}/32`, 'dev', 'tdown0']);
      outside.spawn([
        ...DNSMASQ,
        `--listen-address=${hostResolver}`,
        `--pid-file=${path.join(home.root, 'dnsmasq-outside.pid')}`,
        `--address=/outside.test/${OUTSIDE_IP}`,
      ]);
    }
    // The documented dnsmasq wiring, as the namespace's resolver.
    await ns.writeEtc('resolv.conf', 'nameserver 127.0.0.1\n');
    ns.spawn([
      ...DNSMASQ,
      '--listen-address=127.0.0.1',
      `--pid-file=${path.join(home.root, 'dnsmasq.pid')}`,
      '--server=/vm/127.0.0.1#42069',
    ]);
    // A short linger: the churn test sees the network outlive its last VM, then go.
    await home.writeConfig(`[network]\nmode = "${mode}"\nidle_teardown_seconds = 5\n`);
    // The daemon first, inside the namespace: every CLI call below then runs there too.
    await home.startDaemonIn(ns.name);
    await provisionDefaultArtifacts(home);
    // Booted side by side, but beta (no NAT) is recorded first so that a restarted daemon
    // adopts it first: the case where NAT synced per adopted VM would stop alpha's uplink.
    const beta = home.ok(['vm', 'create', '--name', 'beta']);
    beta.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    for (let i = 0; i < 600; i++) {
      if ((await home.ok(['vm', 'list', '--json'])).out.includes('"beta"')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all([beta, home.ok(['vm', 'create', '--name', 'alpha', '--nat'])]);
    for (const name of ['alpha', 'beta']) net[name] = await show(name);
  });

  afterAll(async () => {
    if (!ready) return;
    const own = home ? bangerNetns() : undefined;
    await home?.destroy({ keepFiles: true }).catch(() => undefined);
    // Whatever is still inside (daemon, relay, pasta, QEMU, dnsmasq, the outside's server)
    // was started by this test: killed by pid, then the namespaces go.
    if (own) await deleteNetns(own).catch(() => undefined);
    await outside?.destroy().catch(() => undefined);
    await ns?.destroy().catch(() => undefined);
    const leaked = home ? processesMentioning(home.root) : [];
    for (const p of leaked) process.kill(p.pid, 'SIGKILL');
    if (home) await home.destroy();
    expect(leaked).toEqual([]);
  });

  it.runIf(ready)('gives each VM its addresses: loopback on the host when isolated', () => {
    expect(net.alpha?.guestAddress).toMatch(/^10\.213\.0\.\d+$/);
    expect(net.alpha?.guestAddress).not.toBe(net.beta?.guestAddress);
    if (mode === 'isolated') {
      expect(net.alpha?.hostAddress).toMatch(/^127\.64\.\d+\.\d+$/);
      expect(net.alpha?.hostAddress).not.toBe(net.beta?.hostAddress);
    } else expect(net.alpha?.hostAddress).toBe(net.alpha?.guestAddress);
  });

  it.runIf(ready)(
    'answers NAME.vm with the VM address and NXDOMAIN for unknown names, also through the host resolver',
    async () => {
      expect((await dig('alpha.vm', ['+short'])).trim()).toBe(net.alpha?.hostAddress);
      expect((await dig('beta.vm', ['+short', '+tcp'])).trim()).toBe(net.beta?.hostAddress);
      const missing = await dig('nosuchvm.vm');
      expect(missing).toContain('status: NXDOMAIN');
      expect(missing).toMatch(/vm\.\s+0\s+IN\s+SOA\s+ns\.vm\. hostmaster\.vm\./);
      expect(await dig('alpha.vm', ['AAAA'])).toContain('status: NOERROR');
      // glibc, resolv.conf, dnsmasq's server=/vm/127.0.0.1#42069, banger.
      const hosts = await ns.ok(['getent', 'hosts', 'alpha.vm', 'beta.vm']);
      expect(hosts).toContain(`${net.alpha?.hostAddress ?? '?'} `);
      expect(hosts).toContain(`${net.beta?.hostAddress ?? '?'} `);
      expect((await ns.exec(['getent', 'hosts', 'nosuchvm.vm'])).code).toBe(2);
    },
  );

  it.runIf(ready)('lets two VMs reach each other by address and by .vm name', async () => {
    const byName = await home.ok(['vm', 'exec', 'alpha', '--', 'getent', 'hosts', 'beta.vm']);
    expect(byName.out).toContain(net.beta?.guestAddress);
    await home.ok(['vm', 'exec', 'alpha', '--', 'ping', '-c1', '-W3', 'beta.vm']);
    await home.ok([
      'vm',
      'exec',
      'beta',
      '--',
      'ping',
      '-c1',
      '-W3',
      net.alpha?.guestAddress ?? '',
    ]);
  });

  it.runIf(ready)(
    'serves :3000 of two VMs at NAME.vm:3000 with no manual forward; vm ssh works; a used port is refused',
    async () => {
      await home.ok(['vm', 'exec', 'alpha', '--', ...serveHttp(3000, 'hello from alpha')]);
      await home.ok(['vm', 'exec', 'beta', '--', ...serveHttp(3000, 'hello from beta')]);
      // curl resolves NAME.vm through the host resolver; the guest's port shows up on the host
      // within a poll or two of the agent (perl starts slowly under TCG).
      for (const name of ['alpha', 'beta'])
        await expect.poll(() => curlVm(name), poll).toBe(`hello from ${name}\n`);
      expect((await home.ok(['vm', 'ssh', 'alpha', '--', 'hostname'])).out).toBe('alpha\n');
      // The daemon's own DNS port is taken on the host: an explicit forward from it is refused.
      const taken = await home.run(['vm', 'forward', 'alpha', '127.0.0.1:42069:3000']);
      expect(taken.code).not.toBe(0);
      expect(taken.stderr).toContain('127.0.0.1:42069 is already in use');
    },
  );

  it.runIf(ready)(
    "gives NAT only to the VM that asked, with rules in banger's table while it runs",
    async () => {
      const rules = await natTable();
      expect(rules).toContain('table ip banger');
      expect(rules).toContain(`ip saddr ${net.alpha?.guestAddress ?? ''} masquerade`);
      expect(rules).not.toContain(`ip saddr ${net.beta?.guestAddress ?? ''} masquerade`);
      const curl = ['curl', '-s', '-m', '5', `http://${OUTSIDE_IP}:8080/`];
      const blocked = await home.run(['vm', 'exec', 'beta', '--', ...curl]);
      expect(blocked.code).not.toBe(0);
      const allowed = await home.ok(['vm', 'exec', 'alpha', '--', ...curl]);
      expect(allowed.out).toBe('from outside\n');
      // Names outside .vm: the gateway refuses them, the host's resolver answers NAT guests.
      const lookup = ['getent', 'hosts', 'outside.test'];
      if (hostResolver === undefined)
        console.warn('host resolver on loopback: NAT DNS not checked');
      else
        expect((await home.ok(['vm', 'exec', 'alpha', '--', ...lookup])).out).toContain(OUTSIDE_IP);
      expect((await home.run(['vm', 'exec', 'beta', '--', ...lookup])).code).not.toBe(0);
      if (mode === 'isolated') {
        // Nothing of banger's in the host's own tables or links; one pasta for the NAT VMs.
        expect((await ns.ok(['nft', 'list', 'ruleset'])).includes('banger')).toBe(false);
        expect((await ns.ok(['ip', '-br', 'link'])).match(/^bg/m)).toBeNull();
        expect(netProcesses().pasta).toHaveLength(1);
      }
      await home.ok(['vm', 'set', 'alpha', '--no-nat']);
      expect(await natTable()).not.toContain(net.alpha?.guestAddress ?? '?');
      if (mode === 'isolated') await expect.poll(() => netProcesses().pasta, poll).toEqual([]);
      expect((await home.run(['vm', 'exec', 'alpha', '--', ...curl])).code).not.toBe(0);
      await home.ok(['vm', 'set', 'alpha', '--nat']);
      expect(await natTable()).toContain(`ip saddr ${net.alpha?.guestAddress ?? ''} masquerade`);
      expect((await home.ok(['vm', 'exec', 'alpha', '--', ...curl])).out).toBe('from outside\n');
    },
  );

  it.runIf(ready)(
    'takes the network back after the daemon is killed: VMs, records, forwards and NAT, nothing twice',
    async () => {
      const before = {
        rules: await natTable(),
        links: await bridgeLinks(),
        procs: netProcesses(),
      };
      expect(before.procs.relay).toHaveLength(1);
      const pid = await home.daemonPid();
      expect(pid !== undefined && ns.holds(pid)).toBe(true);
      process.kill(pid as number, 'SIGKILL');
      // Gone means reaped: a multithreaded process leaves its namespace before its last
      // thread has closed its files (its socket would still take connections).
      await expect.poll(() => existsSync(`/proc/${String(pid)}`), poll).toBe(false);
      await home.startDaemonIn(ns.name);

      const list = JSON.parse((await home.ok(['vm', 'list', '--json'])).out) as {
        name: string;
        state: string;
      }[];
      expect(list.filter((vm) => vm.state === 'running').map((vm) => vm.name)).toEqual(
        expect.arrayContaining(['alpha', 'beta']),
      );
      expect((await dig('alpha.vm', ['+short'])).trim()).toBe(net.alpha?.hostAddress);
      for (const name of ['alpha', 'beta'])
        await expect.poll(() => curlVm(name), poll).toBe(`hello from ${name}\n`);
      await home.ok(['vm', 'exec', 'alpha', '--', 'ping', '-c1', '-W3', 'beta.vm']);
      const curl = ['curl', '-s', '-m', '5', `http://${OUTSIDE_IP}:8080/`];
      expect((await home.ok(['vm', 'exec', 'alpha', '--', ...curl])).out).toBe('from outside\n');
      // Adopted, not made again: the same relay and uplink processes, rules and interfaces.
      expect({
        rules: await natTable(),
        links: await bridgeLinks(),
        procs: netProcesses(),
      }).toEqual(before);
    },
  );

  it.runIf(ready && mode === 'bridged')(
    'on a Docker host (FORWARD DROP, br_netfilter) doctor names the rules that let guests through, and they do',
    async () => {
      const ping = ['ping', '-c1', '-W3', net.beta?.guestAddress ?? ''];
      const curl = ['curl', '-s', '-m', '5', `http://${OUTSIDE_IP}:8080/`];
      expect((await doctorRow('bridge firewall'))?.status).toBe('pass');
      expect(await ns.ok(['sysctl', '-n', 'net.bridge.bridge-nf-call-iptables'])).toBe('1\n');
      await makeDockerHost(ns);
      try {
        const row = await doctorRow('bridge firewall');
        expect(row?.status).toBe('fail');
        expect(row?.detail).toContain('guests cannot reach each other');
        // The drop is real: between guests on the bridge, and for NAT.
        expect((await home.run(['vm', 'exec', 'alpha', '--', ...ping])).code).not.toBe(0);
        expect((await home.run(['vm', 'exec', 'alpha', '--', ...curl])).code).not.toBe(0);
        // The user runs exactly what doctor says.
        const commands = [...(row?.hint ?? '').matchAll(/iptables [^;]+/g)].map((m) =>
          m[0].trim().split(' '),
        );
        expect(commands.map((c) => c.slice(0, 3).join(' '))).toEqual([
          'iptables -I DOCKER-USER',
          'iptables -I DOCKER-USER',
        ]);
        for (const argv of commands) await ns.ok(argv);
        expect((await doctorRow('bridge firewall'))?.status).toBe('pass');
        await home.ok(['vm', 'exec', 'alpha', '--', ...ping]);
        await home.ok(['vm', 'exec', 'beta', '--', 'ping', '-c1', '-W3', 'alpha.vm']);
        expect((await home.ok(['vm', 'exec', 'alpha', '--', ...curl])).out).toBe('from outside\n');
        // banger's own drop still holds a guest without NAT on the bridge.
        expect((await home.run(['vm', 'exec', 'beta', '--', ...curl])).code).not.toBe(0);
      } finally {
        for (const argv of [
          ['iptables', '-P', 'FORWARD', 'ACCEPT'],
          ['iptables', '-F', 'FORWARD'],
          ['iptables', '-F', 'DOCKER-USER'],
          ['iptables', '-X', 'DOCKER-USER'],
        ])
          await ns.ok(argv);
      }
    },
  );

  it.runIf(ready)(
    "drops a VM's NAT rules, uplink and record when it stops, and its lease when it is deleted",
    async () => {
      const address = net.alpha?.guestAddress ?? '?';
      await home.ok(['vm', 'stop', 'alpha']);
      expect(await natTable()).not.toContain(address);
      expect(await natTable()).toContain('table ip banger'); // beta runs: the drop rule stays
      if (mode === 'isolated') expect(netProcesses().pasta).toEqual([]);
      expect(await dig('alpha.vm')).toContain('status: NXDOMAIN');
      expect(await curlVm('alpha')).toBe('');
      await home.ok(['vm', 'delete', 'alpha']);
      expect(leases()).not.toContain(address);
      expect(await natTable()).not.toContain(address);
    },
  );

  it.runIf(ready)(
    `leaves no tap, rule, lease, forwarder, relay or record after ${String(CHURN_VMS)} VMs come and go`,
    async () => {
      for (let first = 0; first < CHURN_VMS; first += CHURN_BATCH) {
        const names = Array.from({ length: CHURN_BATCH }, (_, i) => `churn-${String(first + i)}`);
        // Real boots (tap, lease, record, forwards, NAT on every other one), a few at a time.
        await Promise.all(
          names.map((name, i) =>
            home.ok([
              'vm',
              'create',
              '--name',
              name,
              '--memory',
              '256',
              ...(i % 2 ? [] : ['--nat']),
            ]),
          ),
        );
        for (const name of names) {
          const { hostAddress } = await show(name);
          expect((await dig(`${name}.vm`, ['+short'])).trim()).toBe(hostAddress);
        }
        expect((await bridgeLinks()).filter((l) => l.startsWith('bg-'))).toHaveLength(
          CHURN_BATCH + 1,
        );
        await Promise.all(names.map((name) => home.ok(['vm', 'delete', name])));
        for (const name of names) expect(await dig(`${name}.vm`)).toContain('NXDOMAIN');
      }
      // beta is the last VM: the network lingers for idle_teardown_seconds, then goes.
      expect(await bridgeLinks()).toEqual([`bg-${(await vmId('beta')) ?? '?'}`, 'bgbr0']);
      await home.ok(['vm', 'delete', 'beta']);
      expect(await bridgeLinks()).toEqual(['bgbr0']);
      const own = bangerNetns();
      if (own) await expect.poll(() => netnsNames().includes(own), poll).toBe(false);
      await expect.poll(() => bridgeLinks(), poll).toEqual([]);
      if (own) expect(await netnsPids(own)).toEqual([]);
      expect((await ns.ok(['ip', '-br', 'link'])).match(/^bg/m)).toBeNull();
      expect(await ns.ok(['nft', 'list', 'ruleset'])).not.toContain('banger');
      expect(await ns.ok(['ss', '-Htln'])).not.toMatch(/127\.64\./);
      expect(netProcesses()).toEqual({ relay: [], pasta: [] });
      expect(ownProcesses()).toEqual([]);
      expect(leases()).toEqual([]);
      for (const name of ['alpha', 'beta', 'churn-3'])
        expect(await dig(`${name}.vm`)).toContain('NXDOMAIN');
    },
  );

  it.runIf(ready)('makes its bridge again when it went away behind banger`s back', async () => {
    await home.ok(['vm', 'create', '--name', 'gamma', '--memory', '256', '--nat']);
    const gammaTap = `bg-${(await vmId('gamma')) ?? '?'}`;
    const own = bangerNetns();
    const delBridge = ['ip', 'link', 'del', 'bgbr0'];
    if (own) await run('ip', ['netns', 'exec', own, ...delBridge]);
    else await ns.ok(delBridge);
    expect(await bridgeLinks()).not.toContain('bgbr0');
    // The next boot finds its tap cannot join the bridge, makes the bridge again, and runs.
    const result = await home.ok(['vm', 'run', '--rm', '--memory', '256', '--', 'echo', 'ok']);
    expect(result.out).toBe('ok\n');
    expect(await bridgeLinks()).toContain('bgbr0');
    const log = await fs.readFile(path.join(home.stateDir, 'bangerd.log'), 'utf8');
    expect(log).toContain('tap failed on a checked bridge: making the network again');
    const gammaAddress = (await show('gamma')).guestAddress;
    expect(await natTable()).toContain(`ip saddr ${gammaAddress} masquerade`);
    await home.ok(['vm', 'delete', 'gamma']);
    expect(await bridgeLinks()).not.toContain(gammaTap);
    // The last VM is gone: while the network lingers, its NAT rule and the uplink are gone.
    expect(await natTable()).not.toContain(`ip saddr ${gammaAddress} masquerade`);
    if (mode === 'isolated') expect(netProcesses().pasta).toEqual([]);
  });

  it.runIf(ready)(
    'refuses a subnet too small or overlapping a host route, and a name that is no DNS label',
    async () => {
      const refused = async (args: string[], message: string): Promise<void> => {
        const result = await home.run(args);
        expect(result.code).not.toBe(0);
        expect(result.stderr).toContain(message);
      };
      await refused(['vm', 'create', '--name', 'Bad_Name', '--no-start'], 'Bad_Name');
      await refused(['vm', 'create', '--name', `x${'y'.repeat(63)}`, '--no-start'], '63');
      await refused(['vm', 'create', '--name', 'dash-', '--no-start'], 'must not start or end');
      await home.writeConfig(
        `[network]\nmode = "${mode}"\nidle_teardown_seconds = 5\nsubnet = "10.213.0.0/29"\n`,
      );
      await refused(['vm', 'create', '--name', 'small', '--no-start'], '/8 to /28');
      // The "host" reaches 198.51.100.0/24 through tup0: guests there would shadow it.
      await home.writeConfig(
        `[network]\nmode = "${mode}"\nidle_teardown_seconds = 5\nsubnet = "198.51.100.0/24"\n`,
      );
      await refused(
        ['vm', 'create', '--name', 'overlap'],
        'overlaps the host route 198.51.100.0/24 (dev tup0)',
      );
      await home.writeConfig(`[network]\nmode = "${mode}"\nidle_teardown_seconds = 5\n`);
      for (const vm of JSON.parse((await home.ok(['vm', 'list', '--json'])).out) as {
        name: string;
      }[])
        await home.ok(['vm', 'delete', vm.name]);
      // After the network's idle linger (idle_teardown_seconds) nothing of banger's is left.
      await expect
        .poll(async () => (await ns.ok(['ip', '-br', 'link'])).match(/^bg/m), poll)
        .toBeNull();
      expect(await ns.ok(['nft', 'list', 'ruleset'])).not.toContain('banger');
      const own = bangerNetns();
      if (own) await expect.poll(() => netnsNames(), poll).not.toContain(own);
      expect(leases()).toEqual([]);
    },
  );

  /** Guest addresses leased in the store. */
  function leases(): string[] {
    const db = new Database(path.join(home.stateDir, 'banger.db'), { readonly: true });
    try {
      return (db.prepare('SELECT guest_ip AS ip FROM vm_network').all() as { ip: string }[]).map(
        (r) => r.ip,
      );
    } finally {
      db.close();
    }
  }

  async function vmId(name: string): Promise<string | undefined> {
    return (JSON.parse((await home.ok(['vm', 'show', name, '--json'])).out) as { id?: string }).id;
  }
});

/** What Docker leaves: an empty DOCKER-USER chain jumped to first, then FORWARD policy DROP. */
async function makeDockerHost(ns: TestNetns): Promise<void> {
  await ns.ok(['iptables', '-N', 'DOCKER-USER']);
  await ns.ok(['iptables', '-A', 'FORWARD', '-j', 'DOCKER-USER']);
  await ns.ok(['iptables', '-P', 'FORWARD', 'DROP']);
}
