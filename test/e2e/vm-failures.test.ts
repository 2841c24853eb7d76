import { existsSync, readdirSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { writeCpio } from '../../src/kernels/index.js';
import { BangerHome } from '../support/banger-home.js';
import { processesMentioning } from '../support/leaks.js';

const home = BangerHome.open(inject('e2eHome'));

function vmDirs(h: BangerHome): string[] {
  const dir = path.join(h.stateDir, 'vms');
  return existsSync(dir) ? readdirSync(dir) : [];
}

describe('bad input is refused with the value named, leaving nothing behind', () => {
  it('an unknown image', async () => {
    const before = vmDirs(home);
    const r = await home.run(['vm', 'run', '--rm', '--image', 'no-such-image', '--', 'true']);
    expect(r.code).toBe(65);
    expect(r.stderr).toContain('no-such-image');
    expect(r.stderr).toContain('banger image build debian-bookworm');
    expect(vmDirs(home)).toEqual(before);
    expect(JSON.parse((await home.ok(['vm', 'list', '--json'])).out)).toEqual([]);
  });

  it('an unknown kernel and a missing rootfs file when registering an image', async () => {
    const rootfs = path.join(home.stateDir, 'images', 'debian-bookworm', 'rootfs.ext4');
    const noKernel = await home.run([
      'image',
      'register',
      'orphan',
      '--rootfs',
      rootfs,
      '--kernel',
      'no-such-kernel',
    ]);
    expect(noKernel.code).toBe(65);
    expect(noKernel.stderr).toContain('no-such-kernel');
    const noFile = await home.run([
      'image',
      'register',
      'orphan',
      '--rootfs',
      '/nonexistent/rootfs.ext4',
      '--kernel',
      'debian',
    ]);
    expect(noFile.code).not.toBe(0);
    expect(noFile.stderr).toContain('/nonexistent/rootfs.ext4');
    const images = JSON.parse((await home.ok(['image', 'list', '--json'])).out) as {
      name: string;
    }[];
    expect(images.map((i) => i.name)).toEqual(['debian-bookworm']);
  });

  it('bad sizes and names before anything is made', async () => {
    const before = vmDirs(home);
    const badName = await home.run(['vm', 'run', '--rm', '--name', 'Bad_Name', '--', 'true']);
    expect(badName.code).toBe(64);
    expect(badName.stderr).toContain('Bad_Name');
    const badVcpu = await home.run(['vm', 'run', '--rm', '--vcpu', '99', '--', 'true']);
    expect(badVcpu.code).toBe(64);
    expect(badVcpu.stderr).toContain('--vcpu');
    expect(vmDirs(home)).toEqual(before);
  });

  it('a VMM killed from outside mid-command: an error, and no process, overlay or socket left', async () => {
    const running = home.run(['vm', 'run', '--rm', '--name', 'victim', '--', 'sleep', '600']);
    let info: { id: string; pid: number | null; state: string } | undefined;
    for (let i = 0; i < 600 && !(info?.state === 'running' && info.pid); i++) {
      const show = await home.run(['vm', 'show', 'victim', '--json']);
      if (show.code === 0) info = JSON.parse(show.out) as typeof info;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(info?.pid).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1000)); // let `sleep` start in the guest
    process.kill(info!.pid!, 'SIGKILL');
    const r = await running;
    expect(r.code).toBe(70);
    expect(r.stderr).toContain('exited while the command was running');
    expect((await home.run(['vm', 'show', 'victim'])).code).toBe(65);
    expect(processesMentioning(info!.id)).toEqual([]);
    expect(existsSync(path.join(home.stateDir, 'vms', info!.id))).toBe(false);
    expect(existsSync(path.join(home.runtimeDir, 'vms', info!.id))).toBe(false);
  });
});

describe('a guest that never becomes ready', () => {
  let slow: BangerHome;

  beforeAll(async () => {
    // Its own home: a short boot timeout and a kernel whose initramfs never starts banger-init.
    slow = await BangerHome.create('bgs-');
    await fs.mkdir(path.join(slow.root, 'config', 'banger'), { recursive: true });
    await fs.writeFile(
      path.join(slow.root, 'config', 'banger', 'config.toml'),
      'boot_timeout_seconds = 6\n',
    );
    const kernelDir = path.join(slow.root, 'hang-kernel');
    await fs.mkdir(kernelDir);
    const source = path.join(home.stateDir, 'kernels', 'debian', 'vmlinux');
    await fs.copyFile(source, path.join(kernelDir, 'vmlinux'));
    const busybox = await fs.readFile('/bin/busybox');
    const init =
      '#!/bin/busybox sh\n/bin/busybox echo hanging-on-purpose\nexec /bin/busybox sleep 3600\n';
    await fs.writeFile(
      path.join(kernelDir, 'initramfs.cpio'),
      writeCpio([
        { kind: 'dir', path: 'bin' },
        { kind: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 },
        { kind: 'dir', path: 'dev' },
        { kind: 'chardev', path: 'dev/console', major: 5, minor: 1, mode: 0o600 },
        { kind: 'file', path: 'init', data: Buffer.from(init), mode: 0o755 },
      ]),
    );
    await slow.ok(['kernel', 'import', 'hang', '--from', kernelDir]);
    const rootfs = path.join(home.stateDir, 'images', 'debian-bookworm', 'rootfs.ext4');
    await slow.ok(['image', 'register', 'debian-bookworm', '--rootfs', rootfs, '--kernel', 'hang']);
  });

  afterAll(async () => {
    await slow.destroy();
  });

  it('times out with a hint naming the console log, and leaves nothing running', async () => {
    const r = await slow.run(['vm', 'run', '--rm', '--name', 'sleepy', '--', 'true']);
    expect(r.code).toBe(71);
    expect(r.stderr).toContain('VM sleepy did not become ready within 6 s');
    const logPath = /read the guest console log: (\S+)/.exec(r.stderr)?.[1];
    expect(logPath).toBeDefined();
    expect(await fs.readFile(logPath!, 'utf8')).toContain('hanging-on-purpose');
    expect(processesMentioning(slow.root).filter((p) => p.cmdline.includes('qemu'))).toEqual([]);
    expect(vmDirs(slow)).toEqual([]);
    expect(JSON.parse((await slow.ok(['vm', 'list', '--json'])).out)).toEqual([]);
  });
});
