/**
 * The real Debian build (mmdebstrap from deb.debian.org, ~30-60 s) into a scratch store,
 * checked from the outside with debugfs: guest programs, first-boot setup, manifest, checksum.
 * Also: a failing build and a canceled build leave nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BangerError,
  run,
  sha256File,
  sha256Hex,
  type ProgressEvent,
} from '../../src/base/index.js';
import { packageRoot } from '../../src/config/index.js';
import {
  ImageStore,
  listDirInExt4,
  readExt4Superblock,
  readFileFromExt4,
  statInExt4,
  type ImageResult,
} from '../../src/images/index.js';

const CI = process.env.CI === 'true';
const TOOLS = ['mmdebstrap', 'unshare', 'mkfs.ext4', 'debugfs'];

async function has(tool: string): Promise<boolean> {
  return run('which', [tool]).then(
    () => true,
    () => false,
  );
}

const problems: string[] = [];
if (process.getuid?.() !== 0) problems.push('root (mmdebstrap --mode=root)');
for (const tool of TOOLS) if (!(await has(tool))) problems.push(tool);
if (problems.length > 0 && CI) throw new Error(`the image build test needs ${problems.join(', ')}`);

/** The real guest programs when built; stand-ins otherwise (never under CI). */
const realGuestDir = path.join(packageRoot(), 'build', 'guest');
const haveRealGuest = (
  await Promise.all(
    ['banger-init', 'banger-agent'].map((n) =>
      fs.stat(path.join(realGuestDir, n)).then(
        (s) => s.isFile(),
        () => false,
      ),
    ),
  )
).every(Boolean);
if (!haveRealGuest && CI)
  throw new Error(
    `CI=true requires the built guest programs in ${realGuestDir} (npm run build:guest)`,
  );

let base = '';
let guestDir = '';
let store: ImageStore;

async function leftovers(): Promise<{ images: string[]; tmp: string[] }> {
  const list = async (dir: string): Promise<string[]> => fs.readdir(dir).catch(() => []);
  return { images: await list(path.join(base, 'images')), tmp: await list(path.join(base, 'tmp')) };
}

/** Processes whose command line mentions `needle` (a build's scratch path): none may outlive a build. */
async function processesMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(needle)) pids.push(Number(entry));
  }
  return pids;
}

describe.skipIf(problems.length > 0)('image build debian-bookworm (real mmdebstrap)', () => {
  let result: ImageResult;
  const events: ProgressEvent[] = [];

  let savedUmask = 0o022;

  beforeAll(async () => {
    // banger processes run with umask 077: the image must come out right regardless.
    savedUmask = process.umask(0o077);
    base = await fs.mkdtemp(path.join(os.tmpdir(), 'banger-build-'));
    if (haveRealGuest) {
      guestDir = realGuestDir;
    } else {
      guestDir = path.join(base, 'guest');
      await fs.mkdir(guestDir);
      await fs.writeFile(path.join(guestDir, 'banger-init'), randomBytes(4096), { mode: 0o755 });
      await fs.writeFile(path.join(guestDir, 'banger-agent'), randomBytes(8192), { mode: 0o755 });
    }
    store = new ImageStore({
      layout: {
        imagesDir: path.join(base, 'images'),
        tmpDir: path.join(base, 'tmp'),
        guestBinDir: guestDir,
      },
    });
    result = await store.build('debian-bookworm', { onProgress: (e) => events.push(e) });
    const took = result.timings.steps
      .map((s) => `${s.step} ${(s.ms / 1000).toFixed(1)}s`)
      .join(', ');
    const m = result.image.manifest;
    const allocated = (await fs.stat(result.image.rootfsPath)).blocks * 512;
    const packages = m.source.kind === 'debian' ? m.source.packages.length : 0;
    console.log(
      `image build: ${(result.timings.totalMs / 1000).toFixed(1)} s (${took}); ` +
        `${String(m.sizeBytes / 2 ** 20)} MiB file, ${String(Math.round(allocated / 2 ** 20))} MiB allocated, ` +
        `${String(packages)} packages; guest programs: ${haveRealGuest ? 'real' : 'stand-ins'}`,
    );
  });

  afterAll(async () => {
    process.umask(savedUmask);
    if (base !== '') await fs.rm(base, { recursive: true, force: true });
  });

  it('publishes the image with a valid manifest and a matching sha256, leaving no scratch', async () => {
    const image = await store.get('debian-bookworm');
    expect(image.manifest).toEqual(result.image.manifest);
    expect(image.manifest.format).toBe('raw');
    expect(image.manifest.rootfs).toBe('rootfs.ext4');
    expect(image.manifest.kernel).toBe('debian');
    expect(image.manifest.sha256).toBe(await sha256File(image.rootfsPath));
    expect((await store.list()).images.map((i) => i.name)).toEqual(['debian-bookworm']);
    expect(await leftovers()).toEqual({ images: ['debian-bookworm'], tmp: [] });
  });

  it('is a sparse ext4 file of at least 1 GiB labelled banger-root', async () => {
    const image = await store.get('debian-bookworm');
    const st = await fs.stat(image.rootfsPath);
    expect(st.size).toBeGreaterThanOrEqual(2 ** 30);
    expect(st.size).toBe(image.manifest.sizeBytes);
    expect(st.blocks * 512).toBeLessThan(st.size);
    const sb = await readExt4Superblock(image.rootfsPath);
    expect(sb.label).toBe('banger-root');
    expect(sb.fsBytes).toBe(st.size);
  });

  it('carries banger-init and banger-agent in /usr/sbin, 0755, root-owned, byte for byte', async () => {
    const image = await store.get('debian-bookworm');
    for (const name of ['banger-init', 'banger-agent']) {
      const hostSha = await sha256File(path.join(guestDir, name));
      expect(await statInExt4(image.rootfsPath, `/usr/sbin/${name}`)).toMatchObject({
        type: 'regular',
        mode: 0o755,
        uid: 0,
        gid: 0,
      });
      expect(sha256Hex(await readFileFromExt4(image.rootfsPath, `/usr/sbin/${name}`))).toBe(
        hostSha,
      );
      expect(image.manifest.guestPrograms.files).toContainEqual({ name, sha256: hostSha });
    }
    expect(await statInExt4(image.rootfsPath, '/sbin')).toMatchObject({
      type: 'symlink',
      linkTarget: 'usr/sbin',
    });
  });

  it('has no ssh host keys and says so in the manifest', async () => {
    const image = await store.get('debian-bookworm');
    const names = (await listDirInExt4(image.rootfsPath, '/etc/ssh')).map((e) => e.name);
    expect(names).toContain('sshd_config');
    expect(names.filter((n) => n.startsWith('ssh_host_'))).toEqual([]);
    expect(image.manifest.sshHostKeys).toBe('absent');
  });

  it('records the installed package versions, matching the image own dpkg status', async () => {
    const image = await store.get('debian-bookworm');
    const source = image.manifest.source;
    expect(source.kind).toBe('debian');
    if (source.kind !== 'debian') return;
    expect(source.suite).toBe('bookworm');
    expect(source.mirror).toBe('http://deb.debian.org/debian');
    const status = (await readFileFromExt4(image.rootfsPath, '/var/lib/dpkg/status')).toString(
      'utf8',
    );
    for (const name of ['openssh-server', 'git', 'curl', 'iproute2']) {
      const pin = source.packages.find((p) => p.name === name);
      expect(pin, name).toBeDefined();
      expect(status).toContain(`Package: ${name}\n`);
      const paragraph = status.split('\n\n').find((p) => p.startsWith(`Package: ${name}\n`)) ?? '';
      expect(paragraph).toContain(`Version: ${pin?.version ?? '?'}\n`);
    }
  });

  it('is set up for first boot: placeholders, private /root, no host resolver, no apt lists, sshd drop-in', async () => {
    const image = await store.get('debian-bookworm');
    const read = async (p: string): Promise<string> =>
      (await readFileFromExt4(image.rootfsPath, p)).toString('utf8');
    expect(await read('/etc/hostname')).toBe('banger\n');
    for (const p of ['/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/etc/passwd']) {
      expect(await statInExt4(image.rootfsPath, p), p).toMatchObject({ mode: 0o644, uid: 0 });
    }
    expect(await statInExt4(image.rootfsPath, '/tmp')).toMatchObject({ mode: 0o1777 });
    expect(await read('/etc/machine-id')).toBe('');
    expect(await read('/etc/resolv.conf')).toBe('');
    expect(await read('/etc/hosts')).toContain('127.0.0.1\tlocalhost');
    expect(await read('/etc/ssh/sshd_config.d/banger.conf')).toContain(
      'PermitRootLogin prohibit-password',
    );
    expect(await statInExt4(image.rootfsPath, '/root')).toMatchObject({
      type: 'directory',
      mode: 0o700,
      uid: 0,
    });
    const lists = (await listDirInExt4(image.rootfsPath, '/var/lib/apt/lists'))
      .map((e) => e.name)
      .sort();
    expect(lists.filter((n) => n !== 'partial' && n !== 'lock')).toEqual([]);
    expect(await statInExt4(image.rootfsPath, '/usr/share/man/man1')).toBeUndefined();
  });

  it('reported each stage and the bootstrap lines', () => {
    const steps = [...new Set(events.map((e) => e.step))];
    expect(steps).toEqual(['bootstrap', 'inject', 'mkfs', 'checksum', 'done']);
    expect(
      events.filter((e) => e.step === 'bootstrap').some((e) => e.message.startsWith('I: ')),
    ).toBe(true);
    expect(result.timings.totalMs).toBeGreaterThan(0);
  });

  it('a failing build (unreachable mirror) leaves nothing behind', async () => {
    const failed = await store
      .build('unreachable', {
        recipe: 'debian-bookworm',
        mirror: 'http://127.0.0.1:9/debian',
        securityMirror: 'http://127.0.0.1:9/debian-security',
      })
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(BangerError);
    expect((failed as BangerError).code).toBe('operation_failed');
    expect((failed as BangerError).message).toContain('mmdebstrap');
    expect(await leftovers()).toEqual({ images: ['debian-bookworm'], tmp: [] });
  });

  it('a canceled build stops mmdebstrap and everything it started, and leaves nothing behind', async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    const fallback = setTimeout(() => controller.abort(), 30_000);
    const started = Date.now();
    const err = await store
      .build('canceled', {
        recipe: 'debian-bookworm',
        signal: controller.signal,
        onProgress: (e) => {
          seen.push(e.message);
          // Cancel while apt/dpkg are busy, the worst moment.
          if (/extracting|installing/.test(e.message)) controller.abort();
        },
      })
      .catch((e: unknown) => e);
    clearTimeout(fallback);
    expect((err as BangerError).code).toBe('canceled');
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(await leftovers()).toEqual({ images: ['debian-bookworm'], tmp: [] });
    expect(await processesMentioning(path.join(base, 'tmp'))).toEqual([]);
    const mounts = await fs.readFile('/proc/self/mountinfo', 'utf8');
    expect(mounts).not.toContain(base);
  });
});
