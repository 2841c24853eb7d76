/**
 * QemuBackend booting real microVMs (TCG here): the Debian cloud kernel pulled by our own
 * kernel store, a tiny busybox ext4 rootfs under a qcow2 overlay, the in-process VMM ops.
 * Needs qemu-system-x86_64, qemu-img, mkfs.ext4 and the apt tools; under CI=true their absence fails.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BangerError, newId, run, sleep, waitFor } from '../../src/base/index.js';
import { KernelStore, type KernelBootPaths } from '../../src/kernels/index.js';
import type { VmLaunchSpec } from '../../src/protocol/index.js';
import {
  createInProcessVmmOps,
  isProcessAlive,
  QemuBackend,
  type QemuInstance,
} from '../../src/vmm/index.js';

const TOOLS = [
  'qemu-system-x86_64',
  'qemu-img',
  'mkfs.ext4',
  'apt-get',
  'apt-cache',
  'dpkg-deb',
  'depmod',
  'lz4',
];
const missing: string[] = [];
for (const tool of TOOLS) {
  if (
    !(await run('which', [tool]).then(
      () => true,
      () => false,
    ))
  )
    missing.push(tool);
}
if (missing.length > 0 && process.env.CI === 'true') {
  throw new Error(
    `qemu backend integration test needs ${missing.join(', ')} (CI=true: not skipping)`,
  );
}

const MARKER = 'BANGER-TEST-ROOT-UP';
const INIT = `#!/bin/sh
PATH=/bin
export PATH
echo written > /written-by-guest
sync
for p in /sys/class/virtio-ports/*; do
	if [ "$(cat "$p/name")" = banger.agent ]; then
		echo agent-hello > "/dev/\${p##*/}" &
	fi
done
echo "${MARKER} root=$(cat /proc/cmdline)"
for arg in $(cat /proc/cmdline); do
	if [ "$arg" = banger.test=poweroff ]; then
		sleep 0.3
		poweroff -f
	fi
done
while true; do sleep 1000; done
`;

async function qemuProcessesOf(vmId: string): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(`banger-${vmId}`)) {
      const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
      if (!/\) Z /.test(stat)) out.push(Number(entry));
    }
  }
  return out;
}

describe.skipIf(missing.length > 0)('QemuBackend with real microVMs', () => {
  let root: string;
  let kernel: KernelBootPaths;
  let baseImage: string;
  let backend: QemuBackend;
  const live: QemuInstance[] = [];

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'bq-'));
    const store = new KernelStore({
      kernelsDir: path.join(root, 'kernels'),
      tmpDir: path.join(root, 'tmp'),
      cacheDir: path.join(root, 'cache'),
    });
    await store.pullDebian('debian');
    kernel = await store.paths('debian');

    // A tiny root filesystem: busybox (from the cached busybox-static .deb) and our init.
    const debs = path.join(root, 'cache', 'debs');
    const bbDeb = (await fs.readdir(debs)).find((f) => f.startsWith('busybox-static_'))!;
    const bb = path.join(root, 'bb');
    await run('dpkg-deb', ['-x', path.join(debs, bbDeb), bb]);
    const rootfs = path.join(root, 'rootfs');
    for (const d of ['bin', 'sbin', 'dev', 'proc', 'sys'])
      await fs.mkdir(path.join(rootfs, d), { recursive: true });
    await fs.copyFile(path.join(bb, 'bin', 'busybox'), path.join(rootfs, 'bin', 'busybox'));
    await fs.chmod(path.join(rootfs, 'bin', 'busybox'), 0o755);
    for (const applet of ['sh', 'cat', 'sleep', 'sync', 'poweroff']) {
      await fs.symlink('busybox', path.join(rootfs, 'bin', applet));
    }
    await fs.writeFile(path.join(rootfs, 'sbin', 'banger-init'), INIT, { mode: 0o755 });
    baseImage = path.join(root, 'base.ext4');
    await run('mkfs.ext4', ['-q', '-F', '-d', rootfs, baseImage, '64M']);

    backend = new QemuBackend({ ops: createInProcessVmmOps() });
  });

  afterEach(async () => {
    for (const vm of live.splice(0)) await vm.kill().catch(() => undefined);
  });

  afterAll(async () => {
    for (const vm of live.splice(0)) await vm.kill().catch(() => undefined);
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  /** A VM's files: dir names with a comma prove QEMU's ",," escaping for real. */
  async function prepare(
    options: { args?: string[]; kernelPath?: string; dirName?: string } = {},
  ): Promise<VmLaunchSpec> {
    const vmId = newId();
    const dir = path.join(root, options.dirName ?? vmId);
    await fs.mkdir(dir, { recursive: true });
    const disk = await backend.createRootDisk(
      { path: baseImage, format: 'raw' },
      path.join(dir, 'root.qcow2'),
    );
    return {
      vmId,
      vcpus: 1,
      memoryMib: 256,
      accel: 'tcg',
      boot: {
        kernelPath: options.kernelPath ?? kernel.vmlinux,
        initrdPath: kernel.initrd,
        args: ['root=/dev/vda', 'rw', ...(options.args ?? [])],
      },
      disks: [disk],
      nics: [],
      runDir: path.join(dir, 'run'),
      consoleLogPath: path.join(dir, 'console.log'),
      vmmLogPath: path.join(dir, 'vmm.log'),
    };
  }

  async function waitForMarker(spec: VmLaunchSpec, timeoutMs = 60_000): Promise<string> {
    return waitFor(
      async () => {
        const text = await fs.readFile(spec.consoleLogPath, 'utf8').catch(() => '');
        return text.includes(MARKER) ? text : undefined;
      },
      { timeoutMs, intervalMs: 20, what: `the guest marker in ${spec.consoleLogPath}` },
    );
  }

  it('boots to the rootfs init, answers QMP, carries the agent channel, and kill() leaves nothing', async () => {
    const spec = await prepare({ dirName: 'with,comma' });
    const baseSha = createHash('sha256')
      .update(await fs.readFile(baseImage))
      .digest('hex');
    const t0 = Date.now();
    const vm = await backend.launch(spec);
    live.push(vm);
    const consoleText = await waitForMarker(spec);
    const bootMs = Date.now() - t0;
    expect(consoleText).toMatch(/tsc_early_khz=\d+ cryptomgr\.notests=1 root=\/dev\/vda rw/);
    expect(consoleText).not.toContain('banger-initramfs:');
    expect(vm.isAlive()).toBe(true);
    expect(await vm.queryStatus()).toEqual({ status: 'running', running: true });
    // Detached into its own session: it outlives the daemon that started it.
    const stat = await fs.readFile(`/proc/${String(vm.handles.pid)}/stat`, 'utf8');
    const session = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
    expect(session).toBe(vm.handles.pid);

    await vm.pause();
    expect((await vm.queryStatus()).status).toBe('paused');
    await vm.resume();
    expect((await vm.queryStatus()).status).toBe('running');

    // Bytes the guest wrote before anyone listened are waiting on the agent channel.
    const agent = await vm.connectAgent();
    const got = await new Promise<string>((resolve) => {
      let text = '';
      agent.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('\n')) resolve(text);
      });
    });
    expect(got).toBe('agent-hello\n');
    agent.destroy();

    const { pid, startTime } = vm.handles;
    await vm.kill();
    expect(await isProcessAlive(pid, startTime)).toBe(false);
    expect(vm.isAlive()).toBe(false);
    expect(await vm.exited).toEqual({ kind: 'unknown', reason: 'host-qmp-quit' });
    expect(await qemuProcessesOf(spec.vmId)).toEqual([]);
    expect(await fs.readdir(spec.runDir)).toEqual([]);
    await vm.kill(); // idempotent

    // The guest wrote to its root disk: the overlay took it, the base is untouched.
    expect(
      createHash('sha256')
        .update(await fs.readFile(baseImage))
        .digest('hex'),
    ).toBe(baseSha);
    console.info(`boot to rootfs init marker: ${String(bootMs)} ms`);
  });

  it('notices a guest that powers itself off, although QEMU is not our child to wait for', async () => {
    const spec = await prepare({ args: ['banger.test=poweroff'] });
    const vm = await backend.launch(spec);
    live.push(vm);
    const exit = await Promise.race([vm.exited, sleep(60_000).then(() => 'still running')]);
    expect(exit).toEqual({ kind: 'unknown', reason: 'guest-shutdown' });
    expect(vm.isAlive()).toBe(false);
    expect(await qemuProcessesOf(spec.vmId)).toEqual([]);
    await vm.kill();
    expect(await fs.readdir(spec.runDir)).toEqual([]);
  });

  it('ends the VM at once with a reason when the initramfs cannot hand over (no such init)', async () => {
    const spec = await prepare({ args: ['init=/sbin/nope'] });
    const vm = await backend.launch(spec);
    live.push(vm);
    const exit = await Promise.race([vm.exited, sleep(60_000).then(() => 'still running')]);
    expect(exit).toEqual({ kind: 'unknown', reason: 'guest-shutdown' });
    const text = await fs.readFile(spec.consoleLogPath, 'utf8');
    expect(text).toContain('banger-initramfs: init /sbin/nope not found on /dev/vda');
  });

  it('fails a launch whose QEMU exits at once with the tail of vmm.log, leaving nothing behind', async () => {
    const spec = await prepare({ kernelPath: path.join(root, 'no-such-vmlinux') });
    const err = await backend.launch(spec).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BangerError);
    expect((err as BangerError).code).toBe('operation_failed');
    expect((err as BangerError).message).toMatch(/QEMU exited while starting:\n.*no-such-vmlinux/s);
    expect((err as BangerError).hint).toBe(`see ${spec.vmmLogPath}`);
    expect(await qemuProcessesOf(spec.vmId)).toEqual([]);
    expect(await fs.readdir(spec.runDir)).toEqual([]);
  });

  it('refuses an invalid spec before starting anything', async () => {
    const spec = await prepare();
    await expect(backend.launch({ ...spec, memoryMib: 1 })).rejects.toThrow(
      /memoryMib must be an integer from 64/,
    );
    await expect(backend.launch({ ...spec, consoleLogPath: 'relative.log' })).rejects.toThrow(
      /consoleLogPath must be an absolute/,
    );
    expect(await qemuProcessesOf(spec.vmId)).toEqual([]);
  });

  it('adopts a live VM after its handle was dropped, and returns undefined for a dead one', async () => {
    const spec = await prepare();
    const first = await backend.launch(spec);
    live.push(first);
    await waitForMarker(spec);
    const handles = first.handles;
    first.detach(); // what a daemon restart looks like to QEMU: the QMP client goes away

    const adopted = await backend.adopt(JSON.parse(JSON.stringify(handles)) as typeof handles);
    expect(adopted).toBeDefined();
    live.push(adopted!);
    expect(await adopted!.queryStatus()).toEqual({ status: 'running', running: true });
    await adopted!.kill();
    expect(await isProcessAlive(handles.pid, handles.startTime)).toBe(false);
    expect(await backend.adopt(handles)).toBeUndefined();
    // Handles with a reused pid (same pid, other start time) are not adopted either.
    expect(await backend.adopt({ ...handles, pid: process.pid })).toBeUndefined();
  });

  it('times a few boots (launch to rootfs init marker)', async () => {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const spec = await prepare();
      const t0 = Date.now();
      const vm = await backend.launch(spec);
      live.push(vm);
      const launchMs = Date.now() - t0;
      await waitForMarker(spec);
      times.push(Date.now() - t0);
      await vm.kill();
      console.info(
        `boot ${String(i + 1)}: launch() ${String(launchMs)} ms, marker at ${String(times[i])} ms`,
      );
    }
    expect(times).toHaveLength(3);
  });
});
