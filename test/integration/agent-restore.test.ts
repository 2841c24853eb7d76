/**
 * RESTORE and PREPARE_SAVE against the real banger-agent, run in network and UTS namespaces
 * of its own (so the hostname, MAC and address it sets are a "guest's", not this machine's),
 * writing its files under a scratch root (--restore-root). The clock is never set over the
 * test transport; that part is covered end to end (test/e2e/warm-start.test.ts).
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../src/base/index.js';
import { AgentClient } from '../../src/guest/index.js';
import { generateSshHostKey } from '../../src/guest/ssh-host-key.js';
import { RestorePart } from '../../src/protocol/index.js';
import { requirePrerequisite } from '../support/banger-home.js';
import { buildGuestPrograms, startAgent, view, type AgentProcess } from './agent-harness.js';

const built = await buildGuestPrograms();
const ready = requirePrerequisite(process.getuid?.() === 0, 'root (unshare --net --uts)');

async function sh(client: AgentClient, script: string): Promise<{ code: number; out: string }> {
  const exec = await client.exec({ argv: ['sh', '-c', script] });
  exec.stdin.end();
  let out = '';
  exec.stdout.on('data', (d: Buffer) => (out += d.toString()));
  exec.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exit = await exec.exit;
  return { code: exit.kind === 'exited' ? exit.code : 128, out };
}

describe.skipIf(!built || !ready)('banger-agent RESTORE (real binary)', () => {
  let agent: AgentProcess | undefined;
  let root: string | undefined;

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    if (root) await fs.rm(root, { recursive: true, force: true });
    root = undefined;
  });

  async function start(): Promise<AgentClient> {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'bgr-root-'));
    await fs.mkdir(path.join(root, 'etc', 'ssh'), { recursive: true });
    await fs.mkdir(path.join(root, 'run'));
    await fs.writeFile(path.join(root, 'etc', 'machine-id'), 'f'.repeat(32) + '\n', {
      mode: 0o444,
    });
    for (const name of ['ssh_host_rsa_key', 'ssh_host_rsa_key.pub', 'ssh_host_ecdsa_key'])
      await fs.writeFile(path.join(root, 'etc', 'ssh', name), 'old\n');
    agent = await startAgent(['--restore-root', root], { netns: true, uts: true });
    return AgentClient.connect(view(agent.socket), { timeoutMs: 5000 });
  }

  it('gives the guest its own hostname, MAC, address, machine-id, resolvers and host key', async () => {
    const client = await start();
    expect(client.hello.capabilities).toContain('restore');
    const setup = await sh(
      client,
      'ip link set lo up && ip link add eth0 type veth peer name eth0p && ip link set eth0p up',
    );
    expect(setup.code, setup.out).toBe(0);
    const key = generateSshHostKey();
    const machineId = randomBytes(16).toString('hex');
    const done = await client.restore({
      timeNs: BigInt(Date.now()) * 1_000_000n,
      entropy: randomBytes(64),
      hostname: 'clone-7',
      machineId,
      network: { mac: '02:aa:bb:cc:dd:07', address: '10.9.0.7/24', gateway: '10.9.0.1' },
      dns: ['10.9.0.1', '100.64.213.1'],
      sshHostKey: { privateKey: key.privateKey, publicKey: key.publicLine },
    });
    expect(done.failures).toEqual([]);
    expect(done.failed).toBe(0);
    // Every part but the clock, which the test transport never touches.
    expect(done.applied).toBe(
      RestorePart.entropy |
        RestorePart.hostname |
        RestorePart.machineId |
        RestorePart.network |
        RestorePart.dns |
        RestorePart.sshHostKey,
    );

    const seen = await sh(
      client,
      // (not /sys/class/net: sysfs shows the namespace that mounted it, this machine's)
      'hostname; ip -o link show dev eth0; ip -4 -o addr show dev eth0; ip route show default',
    );
    expect(seen.code, seen.out).toBe(0);
    const [hostname, mac, addr, route] = seen.out.trim().split('\n');
    expect(hostname).toBe('clone-7');
    expect(mac).toContain('link/ether 02:aa:bb:cc:dd:07 ');
    expect(addr).toContain('inet 10.9.0.7/24');
    expect(route).toMatch(/^default via 10\.9\.0\.1 dev eth0/);

    const etc = path.join(root ?? '', 'etc');
    expect(await fs.readFile(path.join(etc, 'machine-id'), 'utf8')).toBe(`${machineId}\n`);
    expect((await fs.stat(path.join(etc, 'machine-id'))).mode & 0o777).toBe(0o444);
    const keyFile = path.join(etc, 'ssh', 'ssh_host_ed25519_key');
    expect((await fs.stat(keyFile)).mode & 0o777).toBe(0o600);
    expect((await fs.readFile(`${keyFile}.pub`, 'utf8')).trim()).toBe(key.publicLine);
    // The private key is one OpenSSH itself reads, and it belongs to the public key we pin.
    const derived = await run('ssh-keygen', ['-y', '-f', keyFile]);
    expect(derived.stdout.toString().trim().split(' ').slice(0, 2).join(' ')).toBe(key.publicLine);
    // The saved guest's other host keys would be every clone's: they are gone.
    expect((await fs.readdir(path.join(etc, 'ssh'))).sort()).toEqual([
      'ssh_host_ed25519_key',
      'ssh_host_ed25519_key.pub',
    ]);
    expect(await fs.readFile(path.join(root ?? '', 'run', 'banger', 'resolv.conf'), 'utf8')).toBe(
      '# Written by banger-init from banger.dns\nnameserver 10.9.0.1\nnameserver 100.64.213.1\n',
    );
    client.close();
  });

  it('reports each part that fails, applies the others, and skips a key without /etc/ssh', async () => {
    const client = await start();
    await fs.rm(path.join(root ?? '', 'etc', 'ssh'), { recursive: true });
    const key = generateSshHostKey();
    const done = await client.restore({
      hostname: 'bad_name!',
      machineId: 'nothex',
      network: { iface: 'nosuch0', mac: '02:00:00:00:00:01' },
      dns: ['10.0.0.1'],
      sshHostKey: { privateKey: key.privateKey, publicKey: key.publicLine },
    });
    expect(done.failed).toBe(RestorePart.hostname | RestorePart.machineId | RestorePart.network);
    expect(done.applied).toBe(RestorePart.dns);
    expect(done.failures).toEqual([
      'hostname: bad_name! is not a host name',
      'machine-id: not 32 lowercase hex digits',
      'network: no interface nosuch0',
    ]);
    // The machine-id file is untouched by the refused request.
    expect(await fs.readFile(path.join(root ?? '', 'etc', 'machine-id'), 'utf8')).toBe(
      'f'.repeat(32) + '\n',
    );
    client.close();
  });

  it('writes a machine-id whole where the file is not one of the same length', async () => {
    const client = await start();
    const file = path.join(root ?? '', 'etc', 'machine-id');
    for (const before of ['', 'short\n', undefined]) {
      await fs.rm(file, { force: true });
      if (before !== undefined) await fs.writeFile(file, before, { mode: 0o444 });
      const machineId = randomBytes(16).toString('hex');
      const done = await client.restore({ machineId });
      expect(done.failures).toEqual([]);
      expect(done.applied).toBe(RestorePart.machineId);
      expect(await fs.readFile(file, 'utf8')).toBe(`${machineId}\n`);
      expect((await fs.stat(file)).mode & 0o777).toBe(0o444);
    }
    // A second name for the same file (a hard link) keeps what it had.
    const other = path.join(root ?? '', 'etc', 'other-id');
    await fs.link(file, other);
    const kept = await fs.readFile(other, 'utf8');
    const done = await client.restore({ machineId: randomBytes(16).toString('hex') });
    expect(done.failures).toEqual([]);
    expect(await fs.readFile(other, 'utf8')).toBe(kept);
    expect(await fs.readFile(file, 'utf8')).not.toBe(kept);
    client.close();
  });

  it('writes a new host key over one of the same format in place, never over a wrong mode or owner', async () => {
    const client = await start();
    const keyFile = path.join(root ?? '', 'etc', 'ssh', 'ssh_host_ed25519_key');
    const give = async (): Promise<string> => {
      const key = generateSshHostKey();
      const done = await client.restore({
        sshHostKey: { privateKey: key.privateKey, publicKey: key.publicLine },
      });
      expect(done.failures).toEqual([]);
      expect(done.applied).toBe(RestorePart.sshHostKey);
      expect(await fs.readFile(keyFile, 'utf8')).toBe(key.privateKey);
      expect((await fs.readFile(`${keyFile}.pub`, 'utf8')).trim()).toBe(key.publicLine);
      return key.publicLine;
    };
    await give(); // a template's throwaway key: files created
    const before = await fs.stat(keyFile);
    await give(); // a clone's key: the same files, written over
    expect((await fs.stat(keyFile)).ino).toBe(before.ino);
    expect((await fs.stat(keyFile)).mode & 0o777).toBe(0o600);
    // A private key readable by others, or owned by someone else, would be refused by sshd:
    // such a file is replaced, not written into.
    await fs.chmod(keyFile, 0o644);
    await give();
    const replaced = await fs.stat(keyFile);
    expect(replaced.ino).not.toBe(before.ino);
    expect(replaced.mode & 0o777).toBe(0o600);
    await fs.chown(keyFile, 4242, 4242);
    await give();
    expect((await fs.stat(keyFile)).ino).not.toBe(replaced.ino);
    expect((await fs.stat(keyFile)).uid).toBe(process.getuid?.());
    client.close();
  });

  it('leaves a resolver file that already says the same, and rewrites one that does not', async () => {
    const client = await start();
    const file = path.join(root ?? '', 'run', 'banger', 'resolv.conf');
    const expected = (servers: string[]): string =>
      `# Written by banger-init from banger.dns\n${servers.map((s) => `nameserver ${s}\n`).join('')}`;
    expect((await client.restore({ dns: ['10.9.0.1'] })).applied).toBe(RestorePart.dns);
    const first = await fs.stat(file);
    expect((await client.restore({ dns: ['10.9.0.1'] })).applied).toBe(RestorePart.dns);
    expect((await fs.stat(file)).ino).toBe(first.ino); // the template's file, untouched
    expect(await fs.readFile(file, 'utf8')).toBe(expected(['10.9.0.1']));
    expect((await client.restore({ dns: ['10.9.0.1', '100.64.213.1'] })).applied).toBe(
      RestorePart.dns,
    );
    expect(await fs.readFile(file, 'utf8')).toBe(expected(['10.9.0.1', '100.64.213.1']));
    expect((await fs.stat(file)).ino).not.toBe(first.ino);
    client.close();
  });

  it('answers PREPARE_SAVE over the test transport without waiting for anything', async () => {
    const client = await start();
    const t0 = performance.now();
    expect(await client.prepareSave({ timeoutMs: 10_000 })).toBe(0);
    expect(performance.now() - t0).toBeLessThan(5000);
    client.close();
  });
});
