/**
 * FirecrackerBackend through the real launch path (in-process VMM ops -> pure launch plan ->
 * spawnVmm, detached, pid + start time) with the fixture standing in for `firecracker` and
 * `jailer` (test/support): this host has no KVM. The fixture checks every request against the
 * vendored spec; these tests check the boot sequence, the agent channel over the vsock
 * handshake (the real banger-agent behind it), pause/resume, snapshots, adopt, the error paths
 * (a 4xx with a fault_message, a socket that never appears, a process that exits early or
 * mid-boot, an answer of an unknown shape, a too old version) and that teardown leaves no
 * process, socket, jail or cgroup directory behind.
 */
import { promises as fs, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newId, run, sha256File, sleep } from '../../src/base/index.js';
import { AgentClient } from '../../src/guest/index.js';
import type { VmLaunchSpec } from '../../src/protocol/index.js';
import {
  chooseCowStrategy,
  createCowDisk,
  createInProcessVmmOps,
  FirecrackerBackend,
  isProcessAlive,
  type FirecrackerHostInfo,
  type FirecrackerInstance,
} from '../../src/vmm/index.js';
import { processesMentioning } from '../support/leaks.js';
import { AGENT_BIN, buildGuestPrograms, REPO_ROOT } from './agent-harness.js';

const FIXTURE = path.join(REPO_ROOT, 'test', 'support', 'firecracker-fixture.mjs');
const FAKE_JAILER = path.join(REPO_ROOT, 'test', 'support', 'fake-jailer.mjs');
const NOBODY = 65534;

if (process.getuid?.() !== 0 && process.env.CI === 'true')
  throw new Error(
    'the firecracker backend test drops privileges through the jailer: run it as root',
  );
const built = await buildGuestPrograms();
if (!built && process.env.CI === 'true') throw new Error('banger-agent could not be built');

let root: string;
let fixtureDir: string;
let cgroupRoot: string;
const instances: FirecrackerInstance[] = [];

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'bgf-'));
  // The emulated firecracker runs as nobody after the jail drops privileges; it cannot chroot,
  // so it reaches its files through these directories.
  await fs.chmod(root, 0o755);
  fixtureDir = path.join(root, 'fixture');
  cgroupRoot = path.join(root, 'cgroup');
  await fs.mkdir(fixtureDir, { mode: 0o777 });
  await fs.chmod(fixtureDir, 0o777);
  await fs.mkdir(cgroupRoot);
  process.env.BANGER_FC_FIXTURE_DIR = fixtureDir;
  process.env.BANGER_FC_FIXTURE_CGROUP_ROOT = cgroupRoot;
});

afterEach(async () => {
  for (const instance of instances.splice(0)) await instance.kill().catch(() => undefined);
});

afterAll(async () => {
  delete process.env.BANGER_FC_FIXTURE_DIR;
  delete process.env.BANGER_FC_FIXTURE_CGROUP_ROOT;
  await fs.rm(root, { recursive: true, force: true });
});

interface Vm {
  id: string;
  spec: VmLaunchSpec;
  dir: string;
  rootDisk: string;
  kernel: string;
}

/** A VM's files: a fake ELF kernel (the fixture only checks the magic), a raw root disk. */
async function makeVm(options: { scenario?: Record<string, unknown> } = {}): Promise<Vm> {
  const id = newId();
  const dir = path.join(root, id);
  await fs.mkdir(path.join(dir, 'run'), { recursive: true, mode: 0o755 });
  await fs.chmod(dir, 0o755);
  const kernel = path.join(dir, 'vmlinux');
  const elf = Buffer.alloc(4096);
  elf.write('\x7fELF', 'latin1');
  await fs.writeFile(kernel, elf, { mode: 0o644 });
  const base = path.join(dir, 'base.img');
  await fs.writeFile(base, Buffer.alloc(0));
  await fs.truncate(base, 8 * 1024 * 1024);
  await fs.writeFile(path.join(dir, 'base.img'), 'root filesystem bytes', { flag: 'r+' });
  const rootDisk = path.join(dir, 'root.img');
  const scenario = { guestAgent: AGENT_BIN, ...options.scenario };
  await fs.writeFile(path.join(fixtureDir, `banger-${id}.json`), JSON.stringify(scenario));
  const spec: VmLaunchSpec = {
    vmId: id,
    vcpus: 2,
    memoryMib: 256,
    accel: 'kvm',
    boot: { kernelPath: kernel, args: ['root=/dev/vda', 'rw'] },
    disks: [{ id: 'root', path: rootDisk, format: 'raw', readOnly: false }],
    nics: [{ tap: 'bgtap9', mac: '02:00:00:00:00:09' }],
    runDir: path.join(dir, 'run'),
    consoleLogPath: path.join(dir, 'console.log'),
    vmmLogPath: path.join(dir, 'vmm.log'),
  };
  return { id, spec, dir, rootDisk, kernel };
}

function backendFor(host: FirecrackerHostInfo, options: { startTimeoutMs?: number } = {}) {
  const ops = createInProcessVmmOps({ firecracker: host, cgroupMounts: [cgroupRoot] });
  return new FirecrackerBackend({
    ops,
    host,
    cow: { strategy: 'sparse-copy', reason: 'test', deviceMapper: false },
    startTimeoutMs: options.startTimeoutMs ?? 10_000,
    agentTimeoutMs: 10_000,
  });
}

const plainHost: FirecrackerHostInfo = { firecrackerBinary: FIXTURE };
const jailHost = (): FirecrackerHostInfo => ({
  firecrackerBinary: FIXTURE,
  jailer: {
    jailerBinary: FAKE_JAILER,
    chrootBaseDir: path.join(root, 'jail'),
    uid: NOBODY,
    gid: NOBODY,
    cgroupVersion: 2,
  },
});

function requests(vm: Vm): {
  method: string;
  path: string;
  body?: Record<string, unknown>;
  status: number;
  fault?: string;
}[] {
  const file = path.join(fixtureDir, `banger-${vm.id}.requests.jsonl`);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { method: string; path: string; status: number });
}

function events(vm: Vm): { what: string; pid: number; uid: number }[] {
  const file = path.join(fixtureDir, `banger-${vm.id}.events.jsonl`);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { what: string; pid: number; uid: number });
}

function text(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    stream.on('data', (d: Buffer) => (out += d.toString()));
    stream.on('end', () => resolve(out));
    stream.on('error', reject);
  });
}

/** Nothing of the VM is left: no process, no socket in its run dir, no jail, no cgroup dir. */
async function expectNothingLeft(vm: Vm): Promise<void> {
  for (let i = 0; i < 50 && processesMentioning(`banger-${vm.id}`).length > 0; i++) await sleep(20);
  expect(processesMentioning(`banger-${vm.id}`)).toEqual([]);
  const runFiles = await fs.readdir(vm.spec.runDir);
  for (const f of runFiles)
    expect(statSync(path.join(vm.spec.runDir, f)).isSocket(), f).toBe(false);
  const jailParent = path.join(root, 'jail', path.basename(FIXTURE));
  expect(existsSync(path.join(jailParent, `banger-${vm.id}`))).toBe(false);
  expect(existsSync(path.join(cgroupRoot, 'banger', `banger-${vm.id}`))).toBe(false);
}

async function agentEcho(instance: FirecrackerInstance, word: string): Promise<string> {
  const stream = await instance.connectAgent();
  const client = await AgentClient.connect(stream, { timeoutMs: 5000 });
  try {
    // The agent may run as the jail's unprivileged uid here: a cwd anyone can enter.
    const session = await client.exec({ argv: ['echo', word], cwd: '/tmp' });
    const out = text(session.stdout);
    session.stdin.end();
    await session.exit;
    return await out;
  } finally {
    client.close();
  }
}

const BOOT_SEQUENCE = [
  'GET /',
  'GET /version',
  'PUT /logger',
  'PUT /metrics',
  'PUT /machine-config',
  'PUT /boot-source',
  'PUT /drives/root',
  'PUT /network-interfaces/eth0',
  'PUT /vsock',
  'PUT /entropy',
  'PUT /actions',
];

describe.skipIf(!built)('FirecrackerBackend, firecracker started directly', () => {
  it('boots through every step, carries the agent over vsock, pauses, snapshots and is killed clean', async () => {
    const vm = await makeVm();
    const backend = backendFor(plainHost);
    const disk = await backend.createRootDisk(
      { path: path.join(vm.dir, 'base.img'), format: 'raw' },
      vm.rootDisk,
    );
    expect(disk).toEqual({ id: 'root', path: vm.rootDisk, format: 'raw', readOnly: false });
    expect(readFileSync(vm.rootDisk, 'utf8').startsWith('root filesystem bytes')).toBe(true);

    const instance = await backend.launch(vm.spec);
    instances.push(instance);
    expect(instance.version).toBe('1.7.0');
    expect(await isProcessAlive(instance.handles.pid, instance.handles.startTime)).toBe(true);
    expect(instance.handles).toMatchObject({
      kind: 'firecracker',
      vmId: vm.id,
      controlSocket: path.join(vm.spec.runDir, 'api.sock'),
      agentSocket: path.join(vm.spec.runDir, 'v.sock'),
    });
    const seen = requests(vm);
    expect(
      seen.filter((r) => r.method !== 'GET' || r.path !== '/').map((r) => `${r.method} ${r.path}`),
    ).toEqual(BOOT_SEQUENCE.slice(1));
    // The fixture answers 400 to anything the spec does not allow: every request passed.
    expect(seen.every((r) => r.status >= 200 && r.status < 300)).toBe(true);
    expect(readFileSync(vm.spec.consoleLogPath, 'utf8')).toContain(
      'fixture console: Linux version',
    );

    expect(await agentEcho(instance, 'over-vsock')).toBe('over-vsock\n');
    await instance.pause();
    expect((await instance.describe()).state).toBe('Paused');
    await instance.resume();
    expect((await instance.describe()).state).toBe('Running');

    const statePath = path.join(vm.dir, 'saved.vmstate');
    const memoryPath = path.join(vm.dir, 'saved.mem');
    await instance.createSnapshot({ statePath, memoryPath });
    expect(statSync(statePath).size).toBeGreaterThan(0);
    expect(statSync(memoryPath).size).toBe(4096);
    expect((await instance.describe()).state).toBe('Paused');

    await instance.kill();
    expect(instance.isAlive()).toBe(false);
    await expect(instance.exited).resolves.toEqual({ kind: 'unknown', reason: 'killed' });
    await expectNothingLeft(vm);
    // Firecracker's own log outlives its run dir, in the VMM log.
    expect(readFileSync(vm.spec.vmmLogPath, 'utf8')).toContain('Running Firecracker v1.7.0');
  });

  it('notices the VMM ending by itself (Ctrl-Alt-Del) and cleans up after it', async () => {
    const vm = await makeVm();
    const backend = backendFor(plainHost);
    await backend.createRootDisk(
      { path: path.join(vm.dir, 'base.img'), format: 'raw' },
      vm.rootDisk,
    );
    const instance = await backend.launch(vm.spec);
    instances.push(instance);
    await instance.requestPowerdown();
    await expect(instance.exited).resolves.toEqual({ kind: 'unknown' });
    expect(instance.isAlive()).toBe(false);
    await expectNothingLeft(vm);
  });

  it('adopts a running VMM after a daemon restart, and releases a dead one', async () => {
    const vm = await makeVm();
    const first = backendFor(plainHost);
    await first.createRootDisk({ path: path.join(vm.dir, 'base.img'), format: 'raw' }, vm.rootDisk);
    const instance = await first.launch(vm.spec);
    instance.detach();
    const adopted = await backendFor(plainHost).adopt(instance.handles);
    expect(adopted).toBeDefined();
    instances.push(adopted!);
    expect(adopted!.handles.vmId).toBe(vm.id);
    expect(await agentEcho(adopted!, 'adopted')).toBe('adopted\n');
    await adopted!.kill();
    expect(await backendFor(plainHost).adopt(instance.handles)).toBeUndefined();
    await expectNothingLeft(vm);
  });
});

describe.skipIf(!built || process.getuid?.() !== 0)('FirecrackerBackend through the jailer', () => {
  it('hard-links the VM files into a per-VM chroot, drops to the uid/gid, and removes the jail and cgroup', async () => {
    const vm = await makeVm();
    const host = jailHost();
    const backend = backendFor(host);
    await backend.createRootDisk(
      { path: path.join(vm.dir, 'base.img'), format: 'raw' },
      vm.rootDisk,
    );
    const instance = await backend.launch(vm.spec);
    instances.push(instance);

    const chroot = path.join(root, 'jail', path.basename(FIXTURE), `banger-${vm.id}`, 'root');
    // The same inodes as the host files: nothing was copied, guest writes reach the real disk.
    expect(statSync(path.join(chroot, 'vmlinux')).ino).toBe(statSync(vm.kernel).ino);
    expect(statSync(path.join(chroot, 'root.img')).ino).toBe(statSync(vm.rootDisk).ino);
    expect(statSync(vm.rootDisk).uid).toBe(NOBODY);
    expect(statSync(chroot).uid).toBe(NOBODY);
    expect(instance.handles.controlSocket).toBe(path.join(chroot, 'api.sock'));
    // Firecracker really runs as the jail's uid (the fixture reports its own).
    expect(events(vm).find((e) => e.what === 'listening')?.uid).toBe(NOBODY);
    const jailer = JSON.parse(
      readFileSync(path.join(fixtureDir, `banger-${vm.id}.jailer.jsonl`), 'utf8'),
    ) as {
      cgroups: string[];
      parent: string;
      forwarded: string[];
    };
    expect(jailer).toMatchObject({
      parent: 'banger',
      cgroups: [`memory.max=${String((256 + 128) * 1024 * 1024)}`],
      forwarded: ['--api-sock', '/api.sock'],
    });
    // Every path Firecracker was given is inside its chroot.
    const seen = requests(vm);
    expect(seen.find((r) => r.path === '/boot-source')?.body).toMatchObject({
      kernel_image_path: '/vmlinux',
    });
    expect(seen.find((r) => r.path === '/drives/root')?.body).toMatchObject({
      path_on_host: '/root.img',
    });
    expect(seen.find((r) => r.path === '/vsock')?.body).toEqual({
      guest_cid: 3,
      uds_path: '/v.sock',
    });

    expect(await agentEcho(instance, 'jailed')).toBe('jailed\n');
    await instance.kill();
    await expectNothingLeft(vm);
    expect(statSync(vm.rootDisk).size).toBe(8 * 1024 * 1024);
  });

  it('restores a snapshot into a fresh jail', async () => {
    const host = jailHost();
    const backend = backendFor(host);
    const a = await makeVm();
    await backend.createRootDisk({ path: path.join(a.dir, 'base.img'), format: 'raw' }, a.rootDisk);
    const source = await backend.launch(a.spec);
    instances.push(source);
    const target = {
      statePath: path.join(a.dir, 's.vmstate'),
      memoryPath: path.join(a.dir, 's.mem'),
    };
    await source.createSnapshot(target);
    await source.kill();

    const b = await makeVm();
    await fs.copyFile(a.rootDisk, b.rootDisk);
    const restored = await backend.restore(b.spec, target);
    instances.push(restored);
    expect(
      requests(b)
        .map((r) => `${r.method} ${r.path}`)
        .slice(2),
    ).toEqual(['PUT /logger', 'PUT /metrics', 'PUT /snapshot/load']);
    expect((await restored.describe()).state).toBe('Running');
    expect(await agentEcho(restored, 'restored')).toBe('restored\n');
    await restored.kill();
    await expectNothingLeft(a);
    await expectNothingLeft(b);
  });

  it('saves and restores through the VMM contract (saveState / restoreState), as warm starts do', async () => {
    // Jailed: a restored VM finds its devices (the vsock socket) where the saved one had them.
    const backend = backendFor(jailHost());
    expect(backend.capabilities.snapshot).toBe(true);
    const a = await makeVm();
    await backend.createRootDisk({ path: path.join(a.dir, 'base.img'), format: 'raw' }, a.rootDisk);
    const source = await backend.launch(a.spec);
    instances.push(source);
    const dir = path.join(a.dir, 'saved');
    await fs.mkdir(dir);
    let stoppedWhileCopying: string | undefined;
    const saved = await source.saveState({
      dir,
      whileStopped: async () => {
        stoppedWhileCopying = (await source.describe()).state;
      },
    });
    // The disks are copied while the guest stands still, and it stays stopped afterwards.
    expect(stoppedWhileCopying).toBe('Paused');
    expect(saved).toEqual({
      backend: 'firecracker',
      stateFile: path.join(dir, 'snapshot.vmstate'),
      memoryFile: path.join(dir, 'snapshot.mem'),
      compression: 'none',
    });
    expect(requests(a).find((r) => r.path === '/snapshot/create')).toMatchObject({
      method: 'PUT',
      path: '/snapshot/create',
      body: { snapshot_type: 'Full' },
    });
    await source.resume();
    expect((await source.describe()).state).toBe('Running');
    await source.kill();

    const b = await makeVm();
    await fs.copyFile(a.rootDisk, b.rootDisk);
    const restored = await backend.restoreState(b.spec, saved);
    instances.push(restored);
    expect(requests(b).find((r) => r.path === '/snapshot/load')).toMatchObject({
      path: '/snapshot/load',
      // Linked into the new jail, read there under its in-jail name.
      body: { snapshot_path: '/snapshot.vmstate', resume_vm: true },
    });
    expect(await agentEcho(restored, 'restored')).toBe('restored\n');
    await restored.kill();
    // A QEMU state, or one without a memory file, is not Firecracker's to restore.
    await expect(backend.restoreState(b.spec, { ...saved, backend: 'qemu' })).rejects.toMatchObject(
      { code: 'bad_request' },
    );
    await expectNothingLeft(a);
    await expectNothingLeft(b);
  });
});

describe.skipIf(!built)('FirecrackerBackend launch failures leave nothing behind', () => {
  for (const [name, hostOf] of [
    ['direct', () => plainHost],
    ['jailer', jailHost],
  ] as const) {
    if (name === 'jailer' && process.getuid?.() !== 0) continue;

    it(`a 4xx with a fault_message names the step and Firecracker's words (${name})`, async () => {
      const vm = await makeVm({
        scenario: {
          faults: {
            'PUT /drives/root': { status: 400, fault_message: 'Unable to open the disk: EACCES' },
          },
        },
      });
      const backend = backendFor(hostOf());
      await backend.createRootDisk(
        { path: path.join(vm.dir, 'base.img'), format: 'raw' },
        vm.rootDisk,
      );
      const err = await backend.launch(vm.spec).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'operation_failed' });
      expect((err as Error).message).toMatch(
        /^firecracker boot step "drive root" failed: firecracker refused PUT \/drives\/root \(400\): Unable to open the disk: EACCES/,
      );
      await expectNothingLeft(vm);
    });

    it(`an API socket that never appears times out (${name})`, async () => {
      const vm = await makeVm({ scenario: { noSocket: true } });
      const backend = backendFor(hostOf(), { startTimeoutMs: 800 });
      await backend.createRootDisk(
        { path: path.join(vm.dir, 'base.img'), format: 'raw' },
        vm.rootDisk,
      );
      await expect(backend.launch(vm.spec)).rejects.toMatchObject({
        code: 'timeout',
        message: expect.stringMatching(/did not open its API socket .* within 800 ms/) as string,
      });
      await expectNothingLeft(vm);
    });
  }

  it('a process that exits at once reports its last words', async () => {
    const vm = await makeVm({
      scenario: {
        exitBeforeSocket: { code: 1, stderr: 'Failed to open the API socket: Permission denied' },
      },
    });
    const backend = backendFor(plainHost);
    await backend.createRootDisk(
      { path: path.join(vm.dir, 'base.img'), format: 'raw' },
      vm.rootDisk,
    );
    const err = (await backend.launch(vm.spec).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/exited/);
    expect(err.message).toContain('Failed to open the API socket: Permission denied');
    await expectNothingLeft(vm);
  });

  it('a process that dies mid-boot fails the step it died in', async () => {
    const vm = await makeVm({ scenario: { exitOn: 'PUT /actions' } });
    const backend = backendFor(plainHost);
    await backend.createRootDisk(
      { path: path.join(vm.dir, 'base.img'), format: 'raw' },
      vm.rootDisk,
    );
    const err = (await backend.launch(vm.spec).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/^firecracker boot step "start" failed/);
    expect(err.message).toContain('fixture: exiting on PUT /actions');
    await expectNothingLeft(vm);
  });

  it('an answer of an unknown shape is refused', async () => {
    const vm = await makeVm({
      scenario: { responses: { 'GET /version': { status: 200, body: { version: '1.7.0' } } } },
    });
    const backend = backendFor(plainHost);
    await backend.createRootDisk(
      { path: path.join(vm.dir, 'base.img'), format: 'raw' },
      vm.rootDisk,
    );
    await expect(backend.launch(vm.spec)).rejects.toThrow(
      /unknown response \(status 200\): FirecrackerVersion.firecracker_version is required/,
    );
    await expectNothingLeft(vm);
  });

  it('a Firecracker older than 1.5 is refused before the VM is configured', async () => {
    const vm = await makeVm({ scenario: { version: '1.4.1' } });
    const backend = backendFor(plainHost);
    await backend.createRootDisk(
      { path: path.join(vm.dir, 'base.img'), format: 'raw' },
      vm.rootDisk,
    );
    await expect(backend.launch(vm.spec)).rejects.toMatchObject({
      code: 'precondition_failed',
      message: expect.stringMatching(/Firecracker 1.4.1 is too old/) as string,
    });
    expect(requests(vm).map((r) => r.path)).toEqual(['/', '/version']);
    await expectNothingLeft(vm);
  });
});

describe('copy-on-write strategy', () => {
  it.skipIf(process.getuid?.() !== 0)(
    'uses reflinks where the filesystem has them (a loop-mounted XFS) and the copy shares its extents',
    async () => {
      const mkfs = await run('which', ['mkfs.xfs']).then(
        () => true,
        () => false,
      );
      if (!mkfs && process.env.CI === 'true')
        throw new Error('mkfs.xfs is missing (apt-get install xfsprogs)');
      if (!mkfs) return;
      const dir = mkdtempSync(path.join(os.tmpdir(), 'bgfx-'));
      const image = path.join(dir, 'xfs.img');
      const mnt = path.join(dir, 'mnt');
      await fs.mkdir(mnt);
      await fs.writeFile(image, '');
      await fs.truncate(image, 320 * 1024 * 1024);
      await run('mkfs.xfs', ['-q', '-m', 'reflink=1', image]);
      await run('mount', ['-o', 'loop', image, mnt]);
      try {
        const choice = await chooseCowStrategy({ dir: mnt });
        expect(choice.strategy).toBe('reflink');
        const base = path.join(mnt, 'base.img');
        await fs.writeFile(base, Buffer.alloc(16 * 1024 * 1024, 0x5a));
        await createCowDisk({ base, dest: path.join(mnt, 'vm.img'), strategy: choice.strategy });
        expect(await sha256File(path.join(mnt, 'vm.img'))).toBe(await sha256File(base));
        expect(statSync(path.join(mnt, 'vm.img')).mode & 0o777).toBe(0o600);
        const frag = (await run('filefrag', ['-v', path.join(mnt, 'vm.img')])).stdout.toString();
        expect(frag).toContain('shared');
      } finally {
        await run('umount', [mnt]);
        await fs.rm(dir, { recursive: true, force: true });
      }
    },
  );

  it('falls back to a sparse copy where reflinks do not work, and says why', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bgc-'));
    try {
      const choice = await chooseCowStrategy({ dir, dmControl: path.join(dir, 'no-control') });
      // Whichever the filesystem of /tmp supports, the choice is explained.
      expect(['reflink', 'sparse-copy']).toContain(choice.strategy);
      expect(choice.reason).toContain(dir);
      expect(choice.deviceMapper).toBe(false);
      expect(await fs.readdir(dir)).toEqual([]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
