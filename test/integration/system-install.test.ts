/**
 * The privilege split for real: `banger system install` with an unprivileged owner, bangerd as
 * that owner and bangerd-root as root (under banger's supervisor, inside a network namespace
 * this test made), a VM that boots and runs a command, strangers kept out of both sockets,
 * the helper refusing what it must, and a restart of both services that leaves VMs running.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/base/index.js';
import { call } from '../../src/ipc/index.js';
import type { VmLaunchSpec } from '../../src/protocol/index.js';
import { requirePrerequisite } from '../support/banger-home.js';
import { BUILT, runAs, SystemInstall, type TestUser } from '../support/system-install.js';

const isRoot = process.getuid?.() === 0;
const ready = requirePrerequisite(isRoot && BUILT, 'root and a full build (npm run build)');

function status(pid: number): Promise<Record<string, string>> {
  return fs.readFile(`/proc/${String(pid)}/status`, 'utf8').then((text) =>
    Object.fromEntries(
      text
        .split('\n')
        .map((line) => line.split(':\t'))
        .filter((kv): kv is [string, string] => kv.length === 2)
        .map(([k, v]) => [k, v.trim()]),
    ),
  );
}

/** Tries to connect to `socket` as `user`; resolves with the errno (or "connected"). */
async function connectAs(user: TestUser, socket: string): Promise<string> {
  const script =
    `const s=require('net').connect(${JSON.stringify(socket)});` +
    `s.on('connect',()=>{console.log('connected');s.destroy()});` +
    `s.on('error',e=>console.log(e.code))`;
  const result = await runAs(user, [process.execPath, '-e', script]);
  return result.out.trim();
}

/** One request to the helper as `user` (root when absent), through the real RPC framing. */
async function askHelper(
  sys: SystemInstall,
  method: string,
  params: unknown,
  user?: TestUser,
): Promise<{ ok: true; value: unknown } | { ok: false; code: string; message: string }> {
  const socket = path.join(sys.root, 'run/bangerd-root/bangerd-root.sock');
  if (user === undefined) {
    return call(socket, { method, params }).then(
      (value) => ({ ok: true as const, value }),
      (err: unknown) => ({
        ok: false as const,
        code: (err as { code: string }).code,
        message: (err as Error).message,
      }),
    );
  }
  const script =
    `import(${JSON.stringify(path.join(sys.root, 'usr/local/lib/banger/dist/src/ipc/index.js'))}).then(({call})=>` +
    `call(${JSON.stringify(socket)},{method:${JSON.stringify(method)},params:${JSON.stringify(params)}})` +
    `.then(v=>console.log(JSON.stringify({ok:true,value:v??null})),` +
    `e=>console.log(JSON.stringify({ok:false,code:e.code,message:e.message}))))`;
  const result = await runAs(user, [process.execPath, '-e', script]);
  return JSON.parse(result.out) as { ok: false; code: string; message: string };
}

describe.skipIf(!ready)('system install: bangerd as the owner, bangerd-root as root', () => {
  let sys: SystemInstall;
  let artifacts = false;

  beforeAll(async () => {
    sys = await SystemInstall.create();
    const installed = await sys.rootCli([
      'system',
      'install',
      '--owner',
      sys.owner.name,
      '--root',
      sys.root,
    ]);
    if (installed.code !== 0) throw new Error(`system install failed:\n${installed.err}`);
    artifacts = requirePrerequisite(
      await sys.provisionArtifacts(),
      'the default kernel and image in root’s banger store (./install.sh)',
    );
  });

  afterAll(async () => {
    await sys?.destroy();
  });

  it('runs the daemon as the owner with no capabilities, and the helper as root', async () => {
    const state = await sys.supervisorState();
    const daemon = await status(state.services.bangerd?.pid ?? -1);
    const helper = await status(state.services['bangerd-root']?.pid ?? -1);
    const uid = String(sys.owner.uid);
    expect(daemon.Uid?.split(/\s+/)).toEqual([uid, uid, uid, uid]);
    expect(daemon.CapEff).toBe('0000000000000000');
    expect(daemon.CapPrm).toBe('0000000000000000');
    expect(daemon.CapBnd).toBe('0000000000000000');
    expect(daemon.NoNewPrivs).toBe('1');
    expect(helper.Uid?.split(/\s+/)).toEqual(['0', '0', '0', '0']);
  });

  it('keeps the sockets private: the helper’s 0600 owner socket sits in a root 0711 directory', async () => {
    const helperDir = path.join(sys.root, 'run/bangerd-root');
    const dir = await fs.stat(helperDir);
    expect([dir.uid, dir.mode & 0o7777]).toEqual([0, 0o711]);
    const socket = await fs.stat(path.join(helperDir, 'bangerd-root.sock'));
    expect([socket.uid, socket.mode & 0o777]).toEqual([sys.owner.uid, 0o600]);
    const runtime = await fs.stat(path.join(sys.root, 'run/banger'));
    expect([runtime.uid, runtime.mode & 0o7777]).toEqual([sys.owner.uid, 0o700]);
    const record = await fs.stat(path.join(sys.root, 'etc/banger/install.toml'));
    expect([record.uid, record.mode & 0o777]).toEqual([0, 0o644]);
  });

  it('lets no second user connect to either socket', async () => {
    const daemonSocket = path.join(sys.root, 'run/banger/bangerd.sock');
    const helperSocket = path.join(sys.root, 'run/bangerd-root/bangerd-root.sock');
    expect(await connectAs(sys.stranger, daemonSocket)).toBe('EACCES');
    expect(await connectAs(sys.stranger, helperSocket)).toBe('EACCES');
    expect(await connectAs(sys.owner, helperSocket)).toBe('connected');
    // The CLI says whose install it is, and never starts a daemon of the stranger's own.
    const cli = await sys.cli(['vm', 'list'], { user: sys.stranger });
    expect(cli.code).toBe(69);
    expect(cli.err).toContain(`installed for ${sys.owner.name}`);
  });

  it('checks peer credentials even when the socket file would let a stranger in', async () => {
    const helperSocket = path.join(sys.root, 'run/bangerd-root/bangerd-root.sock');
    await fs.chmod(helperSocket, 0o666);
    try {
      const refused = await askHelper(sys, 'hello', {}, sys.stranger);
      expect(refused).toMatchObject({ ok: false, code: 'unauthorized' });
      expect(refused.ok ? '' : refused.message).toContain(`uid ${String(sys.stranger.uid)}`);
      const allowed = await askHelper(sys, 'hello', {}, sys.owner);
      expect(allowed).toMatchObject({ ok: true, value: { ownerUid: sys.owner.uid } });
    } finally {
      await fs.chmod(helperSocket, 0o600);
    }
  });

  it('refuses bad requests with a clear error and no side effect', async () => {
    const netnsBefore = await fs.readdir('/run/netns');
    const linksBefore = (await run('ip', ['-n', sys.netns.name, '-o', 'link'])).stdout.toString();
    const stateDir = path.join(sys.root, 'var/lib/banger');
    // A symlink the owner planted in its own tree, pointing at /etc.
    const planted = path.join(stateDir, 'planted');
    await runAs(sys.owner, ['ln', '-s', '/etc', planted]);
    const vmDir = path.join(stateDir, 'vms', 'aaaaaaaaaaaa');
    const spec = (overrides: Partial<VmLaunchSpec>): VmLaunchSpec => ({
      vmId: 'aaaaaaaaaaaa',
      vcpus: 1,
      memoryMib: 128,
      accel: 'tcg',
      boot: { kernelPath: path.join(stateDir, 'kernels/debian/vmlinux'), args: [] },
      disks: [],
      nics: [],
      runDir: path.join(sys.root, 'run/banger/vms/aaaaaaaaaaaa'),
      consoleLogPath: path.join(vmDir, 'console.log'),
      vmmLogPath: path.join(vmDir, 'vmm.log'),
      ...overrides,
    });
    const cases: [string, string, unknown, RegExp][] = [
      [
        'a bridge named eth0',
        'ensureBridge',
        { bridge: 'eth0', gateway: '10.213.0.1/24' },
        /bridge "eth0" must be a banger interface name/,
      ],
      [
        'a tap named lo',
        'createTap',
        { bridge: 'bgbr0', tap: 'lo' },
        /tap "lo" must be a banger interface name/,
      ],
      [
        'a name with ;',
        'createTap',
        { bridge: 'bgbr0;reboot', tap: 'bg-aaaaaaaaaaaa' },
        /bgbr0;reboot/,
      ],
      [
        'a name with $(...)',
        'ensureBridge',
        { bridge: 'bg$(reboot)', gateway: '10.213.0.1/24' },
        /bg\$\(reboot\)/,
      ],
      [
        'a name with a newline',
        'removeNetwork',
        { bridge: 'bgbr0\nx' },
        /must be a banger interface name/,
      ],
      ['a 200-character name', 'deleteTap', { tap: `bg-${'a'.repeat(197)}` }, /must be a banger/],
      [
        'the path /etc/passwd',
        'launchVmm',
        { backend: 'qemu', spec: spec({ vmmLogPath: '/etc/passwd' }) },
        /must lie under banger's directories/,
      ],
      [
        'a path through a planted symlink',
        'launchVmm',
        { backend: 'qemu', spec: spec({ vmmLogPath: path.join(planted, 'banger-planted.log') }) },
        /refusing .*planted: it is a symlink/,
      ],
      [
        'a path with a planted symlink further up',
        'launchVmm',
        {
          backend: 'qemu',
          spec: spec({ vmmLogPath: path.join(planted, 'default', 'banger-planted.log') }),
        },
        /reached through a symlink \(it is really \/etc\/default\)/,
      ],
      [
        'an op that is not in its table',
        'runCommand',
        { argv: ['id'] },
        /has no operation "runCommand"/,
      ],
    ];
    for (const [what, op, params, message] of cases) {
      const answer = await askHelper(sys, op, params);
      expect(answer, what).toMatchObject({ ok: false, code: 'bad_request' });
      expect(answer.ok ? '' : answer.message, what).toMatch(message);
    }
    // Nothing happened: no file through the symlink, no namespace, no link, no VMM.
    expect(existsSync('/etc/banger-planted.log')).toBe(false);
    expect(existsSync('/etc/default/banger-planted.log')).toBe(false);
    expect(await fs.readdir('/run/netns')).toEqual(netnsBefore);
    expect((await run('ip', ['-n', sys.netns.name, '-o', 'link'])).stdout.toString()).toBe(
      linksBefore,
    );
    const ps = (await run('ps', ['-eo', 'args'])).stdout.toString();
    expect(ps).not.toContain('banger-aaaaaaaaaaaa');
    await fs.rm(planted);
  });

  it('boots a VM and runs a command end to end, the VMM running as the owner', async () => {
    if (!artifacts) return;
    const result = await sys.ok([
      'vm',
      'run',
      '--rm',
      '--',
      'sh',
      '-c',
      'echo hello from $(id -u)',
    ]);
    expect(result.out).toBe('hello from 0\n');
  });

  it('keeps running VMs running across a restart of both services', async () => {
    if (!artifacts) return;
    await sys.ok(['vm', 'create', '--name', 'survivor']);
    const bootId = (
      await sys.ok(['vm', 'exec', 'survivor', '--', 'cat', '/proc/sys/kernel/random/boot_id'])
    ).out;
    expect(bootId).toMatch(/^[0-9a-f-]{36}\n$/);
    const vm = JSON.parse((await sys.ok(['vm', 'show', 'survivor', '--json'])).out) as {
      pid: number;
    };
    const vmm = await status(vm.pid);
    expect(vmm.Uid?.split(/\s+/)[0]).toBe(String(sys.owner.uid));
    expect(vmm.CapEff).toBe('0000000000000000');
    // The guests' DNS relay bound port 53 as root, then dropped to the owner.
    const ps = (await run('ps', ['-eo', 'uid=,args='])).stdout.toString().split('\n');
    const relay = ps.find((line) => line.includes('dns-relay-main.js') && line.includes(sys.root));
    expect(relay?.trim().split(/\s+/)[0]).toBe(String(sys.owner.uid));
    const qmp = await fs.stat(
      path.join(sys.root, 'run/banger/vms', (await vmId(sys)) ?? '', 'qmp.sock'),
    );
    expect(qmp.uid).toBe(sys.owner.uid);

    const before = await sys.supervisorState();
    const restarted = await sys.rootCli(['system', 'restart', '--root', sys.root]);
    expect(restarted.code, restarted.err).toBe(0);
    const after = await sys.supervisorState();
    expect(after.services.bangerd?.pid).not.toBe(before.services.bangerd?.pid);
    expect(after.services['bangerd-root']?.pid).not.toBe(before.services['bangerd-root']?.pid);

    const again = (
      await sys.ok(['vm', 'exec', 'survivor', '--', 'cat', '/proc/sys/kernel/random/boot_id'])
    ).out;
    expect(again).toBe(bootId);
    expect((await status(vm.pid)).Uid).toBe(vmm.Uid);
    await sys.ok(['vm', 'delete', 'survivor']);
  });

  it('reports the services and no version drift', async () => {
    const status = await sys.rootCli(['system', 'status', '--root', sys.root, '--json']);
    expect(status.code, status.err).toBe(0);
    expect(JSON.parse(status.out)).toMatchObject({
      manager: 'supervisor',
      versionDrift: false,
      install: { owner: sys.owner.name, uid: sys.owner.uid },
    });
    const doctor = JSON.parse((await sys.cli(['doctor', '--json'])).out) as {
      name: string;
      status: string;
    }[];
    for (const row of ['cli version', 'privileged helper', 'service versions'])
      expect(doctor.find((c) => c.name === row)?.status, row).toBe('pass');
  });

  it('writes unit files that systemd-analyze verify accepts without a warning', async () => {
    const unitDir = path.join(sys.root, 'etc/systemd/system');
    const result = await run(
      'systemd-analyze',
      ['verify', path.join(unitDir, 'bangerd-root.service'), path.join(unitDir, 'bangerd.service')],
      { okCodes: Array.from({ length: 256 }, (_, i) => i) },
    );
    expect(result.stderr.trim()).toBe('');
    expect(result.code).toBe(0);
  });

  it('uninstalls, removing the services and every file with --purge', async () => {
    const state = await sys.supervisorState();
    const result = await sys.rootCli(['system', 'uninstall', '--purge', '--root', sys.root]);
    expect(result.code, result.err).toBe(0);
    for (const pid of [state.pid, state.services.bangerd?.pid, state.services['bangerd-root']?.pid])
      expect(await running(pid ?? -1)).toBe(false);
    for (const dir of ['usr/local/lib/banger', 'var/lib/banger', 'etc/banger', 'run/banger'])
      expect(existsSync(path.join(sys.root, dir)), dir).toBe(false);
  });
});

/** Alive and not a zombie (our PID 1 may not reap orphans). */
async function running(pid: number): Promise<boolean> {
  const stat = await fs.readFile(`/proc/${String(pid)}/stat`, 'utf8').catch(() => '');
  return stat !== '' && !/\) [ZX] /.test(stat);
}

async function vmId(sys: SystemInstall): Promise<string | undefined> {
  const list = JSON.parse((await sys.ok(['vm', 'list', '--json'])).out) as {
    id: string;
    name: string;
  }[];
  return list.find((vm) => vm.name === 'survivor')?.id;
}
