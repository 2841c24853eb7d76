/**
 * SSH and ports with real VMs: `vm ssh` runs OpenSSH through the agent channel (no route,
 * no guest address), the guest's host key is pinned on first use and a changed key is
 * refused naming the VM, `ssh NAME.vm` works through `ssh-config --install`, `vm forward`
 * reaches a guest HTTP server with curl, and `vm ports` lists what the guest listens on.
 * All traffic is host loopback <-> agent channel.
 */
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BangerHome, requirePrerequisite } from '../support/banger-home.js';

const home = BangerHome.open(inject('e2eHome'));
const hasSsh = requirePrerequisite(
  ['/usr/bin/ssh', '/usr/bin/ssh-keygen'].every((p) => existsSync(p)),
  'OpenSSH client (ssh, ssh-keygen)',
);
const hasCurl = requirePrerequisite(existsSync('/usr/bin/curl'), 'curl');

const VM = 'sshbox';
const knownHosts = (): string => path.join(home.stateDir, 'ssh', 'known_hosts');

/** A tiny HTTP server for the guest: perl-base is in every Debian image. */
const HTTPD = `use IO::Socket::INET;
my $s = IO::Socket::INET->new(LocalPort => 8080, Listen => 16, ReuseAddr => 1) or die "$!";
while (my $c = $s->accept) {
  while (my $l = <$c>) { last if $l =~ /^\\r?\\n$/ }
  print $c "HTTP/1.0 200 OK\\r\\nContent-Length: 12\\r\\n\\r\\nhello guest\\n";
  close $c;
}
`;

/** Runs a host program (ssh, curl) with the test home's environment. */
function hostRun(
  file: string,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: home.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 255, out, err });
    });
  });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.skipIf(!hasSsh)('ssh and ports through the agent channel', () => {
  beforeAll(async () => {
    await home.ok(['vm', 'create', '--name', VM]);
  });

  afterAll(async () => {
    await home.run(['vm', 'delete', VM]);
    await home.run(['ssh-config', '--uninstall']);
  });

  it('vm ssh NAME -- hostname works, pins the host key, and passes the remote status through', async () => {
    // sshd on demand: an idle guest runs none and has no host key until banger gives it one.
    expect((await home.run(['vm', 'exec', VM, '--', 'pgrep', '-x', 'sshd'])).code).toBe(1);
    const hostKey = '/etc/ssh/ssh_host_ed25519_key.pub';
    expect((await home.run(['vm', 'exec', VM, '--', 'test', '-e', hostKey])).code).toBe(1);
    const result = await home.run(['vm', 'ssh', VM, '--', 'hostname']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.out).toBe(`${VM}\n`);
    const pinned = await fs.readFile(knownHosts(), 'utf8');
    expect(pinned).toMatch(new RegExp(`^${VM}\\.vm ssh-ed25519 AAAA`, 'm'));
    const guestKey = (await home.ok(['vm', 'exec', VM, '--', 'cat', hostKey])).out.split(' ');
    expect(pinned).toContain(`${VM}.vm ${guestKey[0] ?? '?'} ${guestKey[1] ?? '?'}`);
    const key = await fs.stat(path.join(home.stateDir, 'ssh', 'id_ed25519'));
    expect(key.mode & 0o777).toBe(0o600);

    expect((await home.run(['vm', 'ssh', VM, '--', 'exit 7'])).code).toBe(7);
    // The same pinned key the next time: nothing added.
    expect(await fs.readFile(knownHosts(), 'utf8')).toBe(pinned);
    // Each connection's sshd ends with it.
    await expect
      .poll(async () => (await home.run(['vm', 'exec', VM, '--', 'pgrep', '-x', 'sshd'])).code, {
        timeout: 20_000,
        interval: 500,
      })
      .toBe(1);
  });

  it('keeps one authorized key and the same host key across a restart', async () => {
    const pinned = await fs.readFile(knownHosts(), 'utf8');
    await home.ok(['vm', 'restart', VM]);
    const keys = await home.run([
      'vm',
      'ssh',
      VM,
      '--',
      'grep -c " banger$" /root/.ssh/authorized_keys',
    ]);
    expect(keys.stderr).toBe('');
    expect(keys.out).toBe('1\n');
    expect(await fs.readFile(knownHosts(), 'utf8')).toBe(pinned);
  });

  it('ssh NAME.vm works from any terminal after ssh-config --install, and --uninstall undoes it', async () => {
    const userConfig = path.join(home.env.HOME ?? '', '.ssh', 'config');
    await fs.mkdir(path.dirname(userConfig), { recursive: true, mode: 0o700 });
    await fs.writeFile(userConfig, 'Host example\n  User someone\n', { mode: 0o600 });
    const written = await home.ok(['ssh-config', '--install']);
    expect(written.out.trim()).toBe(path.join(home.stateDir, 'ssh', 'ssh_config'));
    await home.ok(['ssh-config', '--install']); // idempotent
    const installed = await fs.readFile(userConfig, 'utf8');
    expect(installed.match(/Include /g)).toHaveLength(1);
    expect(installed.endsWith('Host example\n  User someone\n')).toBe(true);

    // OpenSSH finds ~/.ssh through the password database, not $HOME: name the file.
    const ssh = await hostRun('ssh', ['-F', userConfig, `${VM}.vm`, 'hostname']);
    expect(ssh.err).toBe('');
    expect(ssh.out).toBe(`${VM}\n`);

    await home.ok(['ssh-config', '--uninstall']);
    expect(await fs.readFile(userConfig, 'utf8')).toBe('Host example\n  User someone\n');
  });

  it.skipIf(!hasCurl)(
    'vm forward reaches a guest HTTP server with curl; vm ports lists it',
    async () => {
      await home.ok(['vm', 'exec', VM, '--', 'sh', '-c', 'cat > /root/httpd.pl'], { input: HTTPD });
      await home.ok([
        'vm',
        'exec',
        VM,
        '--',
        'sh',
        '-c',
        'nohup perl /root/httpd.pl >/dev/null 2>&1 &',
      ]);
      const port = await freePort();
      const forward = await home.ok(['vm', 'forward', VM, `${String(port)}:8080`]);
      expect(forward.out).toBe(`127.0.0.1:${String(port)} -> ${VM}:8080\n`);

      let body = '';
      for (let i = 0; i < 50 && body === ''; i++) {
        const curl = await hostRun('curl', [
          '-sS',
          '--max-time',
          '20',
          `http://127.0.0.1:${String(port)}/`,
        ]);
        if (curl.code === 0) body = curl.out;
        else await new Promise((r) => setTimeout(r, 200)); // perl may still be starting
      }
      expect(body).toBe('hello guest\n');
      // Several in a row, each its own connection through the agent.
      for (let i = 0; i < 3; i++) {
        const curl = await hostRun('curl', [
          '-sS',
          '--max-time',
          '20',
          `http://127.0.0.1:${String(port)}/`,
        ]);
        expect(curl.out).toBe('hello guest\n');
      }

      const ports = JSON.parse((await home.ok(['vm', 'ports', VM, '--json'])).out) as {
        vm: string;
        ports: { port: number; family: string; process?: string; endpoints: string[] }[];
      }[];
      expect(ports).toHaveLength(1);
      const listening = ports[0]?.ports ?? [];
      expect(listening).toContainEqual(
        // sshd on demand: banger-init holds port 22 and starts `sshd -i` per connection.
        expect.objectContaining({ port: 22, family: 'ipv4', process: 'banger-init' }),
      );
      const http = listening.find((p) => p.port === 8080);
      expect(http).toMatchObject({ process: 'perl' });
      expect(http?.endpoints).toContain(`127.0.0.1:${String(port)}`);
      const table = (await home.ok(['vm', 'ports', VM])).out;
      expect(table).toMatch(
        new RegExp(`${VM}\\s+0\\.0\\.0\\.0\\s+8080\\s+perl\\s+.*127\\.0\\.0\\.1:${String(port)}`),
      );

      const shown = JSON.parse((await home.ok(['vm', 'show', VM, '--json'])).out) as {
        forwards?: { endpoint: string; guestPort: number; origin: string }[];
      };
      expect(shown.forwards).toContainEqual({
        origin: 'explicit',
        hostAddress: '127.0.0.1',
        hostPort: port,
        guestPort: 8080,
        endpoint: `127.0.0.1:${String(port)}`,
      });
    },
  );

  it('refuses a forward from a host port already in use, naming the rule', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as net.AddressInfo;
    try {
      const result = await home.run(['vm', 'forward', VM, `${String(port)}:80`]);
      expect(result.code).toBe(67);
      expect(result.stderr).toContain(`host port 127.0.0.1:${String(port)} is already in use`);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
    const bad = await home.run(['vm', 'forward', VM, '8080']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('[HOST_ADDR:]HOST_PORT:GUEST_PORT');
  });

  it('refuses a guest whose host key changed, naming the VM', async () => {
    await home.ok([
      'vm',
      'exec',
      VM,
      '--',
      'sh',
      '-c',
      // The next connection's `sshd -i` reads the new key: nothing to restart.
      'rm -f /etc/ssh/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key.pub && ' +
        'ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key',
    ]);
    const result = await home.run(['vm', 'ssh', VM, '--', 'hostname']);
    expect(result.code).toBe(67);
    expect(result.out).toBe('');
    expect(result.stderr).toContain(`the SSH host key of VM ${VM} changed`);
    expect(result.stderr).toContain(`ssh-keygen -R ${VM}.vm`);
    // The proxy path (`ssh NAME.vm`) refuses too, before a byte reaches sshd.
    const proxied = await home.run(['__ssh-proxy', `${VM}.vm`]);
    expect(proxied.code).toBe(67);
    expect(proxied.stderr).toContain(`the SSH host key of VM ${VM} changed`);
  });

  it('vm delete removes the VM`s known_hosts entry', async () => {
    expect(await fs.readFile(knownHosts(), 'utf8')).toContain(`${VM}.vm `);
    await home.ok(['vm', 'delete', VM]);
    expect(await fs.readFile(knownHosts(), 'utf8')).not.toContain(`${VM}.vm `);
  });
});
