/**
 * Networking end to end, in both modes, inside network namespaces this test makes: the
 * daemon runs in a "host" namespace whose FORWARD policy is DROP, with a fake "outside"
 * namespace behind it. Nothing here touches the real host's network.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import path from 'node:path';
import { BangerHome, requirePrerequisite } from '../support/banger-home.js';
import { provisionDefaultArtifacts } from '../support/artifacts.js';
import { processesMentioning } from '../support/leaks.js';
import { linkNamespaces, must, netnsNames, TestNetns } from '../support/net-namespace.js';
import { netnsNameFor } from '../../src/network/index.js';
import { run } from '../../src/base/index.js';

const isRoot = process.getuid?.() === 0;
const hasTools = (
  await Promise.all(
    ['dig', 'nft', 'pasta', 'nsenter', 'iptables'].map((t) =>
      run('which', [t]).then(
        () => true,
        () => false,
      ),
    ),
  )
).every(Boolean);
const ready = requirePrerequisite(
  isRoot && hasTools,
  'root, dig, nft, pasta (passt), nsenter, iptables',
);

const OUTSIDE_IP = '198.51.100.2';

/** A tiny HTTP server on :PORT in the guest (perl is in every Debian image), detached. */
function serveHttp(port: number, text: string): string[] {
  const perl =
    `$s=IO::Socket::INET->new(LocalPort=>${String(port)},Listen=>5,ReuseAddr=>1) or die; ` +
    `while($c=$s->accept){print $c "HTTP/1.0 200 OK\\r\\n\\r\\n${text}\\n"; close $c}`;
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
  const nftIn = async (where: string | undefined): Promise<string> =>
    where === undefined
      ? (await ns.exec(['nft', 'list', 'ruleset'])).stdout
      : await must(['ip', 'netns', 'exec', where, 'nft', 'list', 'ruleset']);
  const bangerNetns = (): string | undefined =>
    mode === 'isolated' ? netnsNameFor(home.stateDir) : undefined;

  beforeAll(async () => {
    if (!ready) return;
    ns = await TestNetns.create('bgt');
    outside = await TestNetns.create('bgo');
    await linkNamespaces(
      { ns, ifname: 'tup0', address: '198.51.100.1/24' },
      { ns: outside, ifname: 'tdown0', address: `${OUTSIDE_IP}/24` },
    );
    await must(['ip', '-n', ns.name, 'route', 'add', 'default', 'via', OUTSIDE_IP]);
    // The Docker situation: the "host" drops everything it would forward.
    // Isolated mode must not care; bridged mode cannot work there (docs/networking.md).
    if (mode === 'isolated') await ns.exec(['iptables', '-P', 'FORWARD', 'DROP']);
    outside.spawn([
      'perl',
      '-MIO::Socket::INET',
      '-e',
      `$s=IO::Socket::INET->new(LocalAddr=>"${OUTSIDE_IP}",LocalPort=>8080,Listen=>5,ReuseAddr=>1) or die; ` +
        'while($c=$s->accept){print $c "HTTP/1.0 200 OK\\r\\n\\r\\nfrom outside\\n"; close $c}',
    ]);
    home = await BangerHome.create(mode === 'isolated' ? 'bgni-' : 'bgnb-');
    await provisionDefaultArtifacts(home);
    await home.writeConfig(`[network]\nmode = "${mode}"\n`);
    await home.startDaemonIn(ns.name);
    await Promise.all([
      home.ok(['vm', 'create', '--name', 'alpha', '--nat']),
      home.ok(['vm', 'create', '--name', 'beta']),
    ]);
    for (const name of ['alpha', 'beta']) net[name] = await show(name);
  });

  afterAll(async () => {
    if (!ready) return;
    await home?.destroy().catch(() => undefined);
    const own = home ? bangerNetns() : undefined;
    if (own && netnsNames().includes(own)) await must(['ip', 'netns', 'del', own]).catch(() => '');
    for (const p of processesMentioning(outside?.name ?? 'no-such-netns'))
      process.kill(p.pid, 'SIGKILL');
    await outside?.destroy();
    await ns?.destroy();
  });

  it.runIf(ready)('gives each VM its addresses: loopback on the host when isolated', () => {
    expect(net.alpha?.guestAddress).toMatch(/^10\.213\.0\.\d+$/);
    expect(net.alpha?.guestAddress).not.toBe(net.beta?.guestAddress);
    if (mode === 'isolated') expect(net.alpha?.hostAddress).toMatch(/^127\.64\.\d+\.\d+$/);
    else expect(net.alpha?.hostAddress).toBe(net.alpha?.guestAddress);
  });

  it.runIf(ready)(
    'answers NAME.vm with the VM address and NXDOMAIN for unknown names',
    async () => {
      expect((await dig('alpha.vm', ['+short'])).trim()).toBe(net.alpha?.hostAddress);
      expect((await dig('beta.vm', ['+short', '+tcp'])).trim()).toBe(net.beta?.hostAddress);
      const missing = await dig('nosuchvm.vm');
      expect(missing).toContain('status: NXDOMAIN');
      expect(missing).toMatch(/vm\.\s+0\s+IN\s+SOA\s+ns\.vm\. hostmaster\.vm\./);
      expect(await dig('alpha.vm', ['AAAA'])).toContain('status: NOERROR');
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

  it.runIf(ready)('serves :3000 of two VMs at NAME.vm:3000 with no manual forward', async () => {
    await home.ok(['vm', 'exec', 'alpha', '--', ...serveHttp(3000, 'hello from alpha')]);
    await home.ok(['vm', 'exec', 'beta', '--', ...serveHttp(3000, 'hello from beta')]);
    for (const name of ['alpha', 'beta']) {
      const address = (await dig(`${name}.vm`, ['+short'])).trim();
      let body = '';
      // The guest's port appears within a poll or two of the agent (perl starts slowly under TCG).
      for (let i = 0; i < 60 && !body.includes('hello'); i++) {
        body = (
          await ns.exec([
            'curl',
            '-s',
            '-m',
            '3',
            '--resolve',
            `${name}.vm:3000:${address}`,
            `http://${name}.vm:3000/`,
          ])
        ).stdout;
        if (!body.includes('hello')) await new Promise((r) => setTimeout(r, 500));
      }
      expect(body).toBe(`hello from ${name}\n`);
    }
  });

  it.runIf(ready)(
    "gives NAT only to the VM that asked, with rules in banger's table while it runs",
    async () => {
      const rules = await nftIn(bangerNetns());
      expect(rules).toContain('table ip banger');
      expect(rules).toContain(`ip saddr ${net.alpha?.guestAddress ?? ''} masquerade`);
      expect(rules).not.toContain(`ip saddr ${net.beta?.guestAddress ?? ''} masquerade`);
      const curl = ['curl', '-s', '-m', '5', `http://${OUTSIDE_IP}:8080/`];
      const blocked = await home.run(['vm', 'exec', 'beta', '--', ...curl]);
      expect(blocked.code).not.toBe(0);
      const allowed = await home.ok(['vm', 'exec', 'alpha', '--', ...curl]);
      expect(allowed.out).toBe('from outside\n');
      // Nothing of banger's in the host's own tables when isolated.
      if (mode === 'isolated') expect(await nftIn(undefined)).not.toContain('banger');
      await home.ok(['vm', 'set', 'alpha', '--no-nat']);
      expect(await nftIn(bangerNetns())).not.toContain(net.alpha?.guestAddress ?? '?');
      await home.ok(['vm', 'set', 'alpha', '--nat']);
      expect(await nftIn(bangerNetns())).toContain(
        `ip saddr ${net.alpha?.guestAddress ?? ''} masquerade`,
      );
      await home.ok(['vm', 'stop', 'alpha']);
      await expect
        .poll(() => nftIn(bangerNetns()), { timeout: 10_000 })
        .not.toContain(net.alpha?.guestAddress ?? '?');
      expect(await dig('alpha.vm')).toContain('status: NXDOMAIN');
    },
  );

  it.runIf(ready)('leaves no tap, rule, lease, relay or record after VMs come and go', async () => {
    for (let i = 0; i < 20; i++) {
      await home.ok(['vm', 'create', '--name', `churn-${String(i)}`, '--no-start', '--nat']);
      await home.ok(['vm', 'delete', `churn-${String(i)}`]);
    }
    for (let i = 0; i < 2; i++) {
      await home.ok(['vm', 'create', '--name', `boot-${String(i)}`, '--nat']);
      expect((await dig(`boot-${String(i)}.vm`, ['+short'])).trim()).not.toBe('');
      await home.ok(['vm', 'delete', `boot-${String(i)}`]);
      expect(await dig(`boot-${String(i)}.vm`)).toContain('status: NXDOMAIN');
    }
    for (const name of ['alpha', 'beta']) await home.ok(['vm', 'delete', name]);
    const own = bangerNetns();
    await expect
      .poll(() => (own ? netnsNames().includes(own) : false), { timeout: 10_000 })
      .toBe(false);
    expect((await ns.exec(['ip', '-br', 'link'])).stdout).not.toMatch(/^bg/m);
    expect(await nftIn(undefined)).not.toContain('banger');
    expect(processesMentioning(path.join(home.runtimeDir, 'network'))).toEqual([]);
    const db = new Database(path.join(home.stateDir, 'banger.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM vm_network').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
    for (const name of ['alpha', 'beta', 'churn-3'])
      expect(await dig(`${name}.vm`)).toContain('NXDOMAIN');
  });
});
