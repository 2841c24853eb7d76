/**
 * OCI pulls against a real registry (Debian's docker-registry on 127.0.0.1), through the real
 * image store: layers with whiteouts, an opaque directory, set-uid, hard links, symlinks,
 * device nodes and foreign owners end up in the ext4 image (checked with debugfs); logins
 * (htpasswd basic auth, token auth with and without credentials, ~/.docker/config.json); an
 * interrupted download resumes with a Range request; a corrupted blob is refused; concurrent
 * pulls share one download; `pruneCache` frees what no image needs.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError, run } from '../../src/base/index.js';
import { ImageStore, readFileFromExt4, statInExt4 } from '../../src/images/index.js';
import { busyboxEntries, writeOciLayout, type LayerSpec } from '../support/oci-layout.js';
import {
  pushLayout,
  registryBlobPath,
  startRegistry,
  type TestRegistry,
} from '../support/oci-registry.js';

const TOOLS = ['docker-registry', 'skopeo', 'htpasswd', 'openssl', 'zstd', 'mkfs.ext4', 'debugfs'];

async function missingTools(): Promise<string[]> {
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
  return missing;
}

const missing = await missingTools();
if (missing.length > 0 && process.env.CI === 'true') {
  throw new Error(`OCI pull tests need ${missing.join(', ')} (see install.sh)`);
}

let base = '';
let registry: TestRegistry;
let store: ImageStore;
const guest = { init: randomBytes(3000), agent: randomBytes(5000) };
let layoutCount = 0;

function newStore(extra: { ociCacheDir?: string } = {}): ImageStore {
  return new ImageStore({
    layout: {
      imagesDir: path.join(base, 'images'),
      tmpDir: path.join(base, 'tmp'),
      guestBinDir: path.join(base, 'guest'),
      ociCacheDir: extra.ociCacheDir ?? path.join(base, 'cache', 'oci'),
      bundleCacheDir: path.join(base, 'cache', 'bundles'),
    },
  });
}

async function publish(
  reg: TestRegistry,
  repo: string,
  layers: LayerSpec[],
  creds?: { username: string; password: string },
) {
  const dir = path.join(base, `layout-${String(layoutCount++)}`);
  const layout = await writeOciLayout(dir, layers);
  await pushLayout(dir, `${reg.host}/${repo}:v1`, creds ? { creds } : {});
  return layout;
}

async function caught(p: Promise<unknown>): Promise<BangerError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BangerError);
  return err as BangerError;
}

async function debugfsStat(image: string, p: string): Promise<string> {
  return (await run('debugfs', ['-R', `stat "${p}"`, image])).stdout.toString();
}

async function leftovers(): Promise<string[]> {
  return (await fs.readdir(path.join(base, 'tmp')).catch(() => [] as string[])).filter((n) =>
    n.startsWith('image-'),
  );
}

describe.skipIf(missing.length > 0)('image pull from a real OCI registry', () => {
  beforeAll(async () => {
    base = await fs.mkdtemp(path.join(os.tmpdir(), 'banger-oci-'));
    const guestDir = path.join(base, 'guest');
    await fs.mkdir(guestDir);
    await fs.writeFile(path.join(guestDir, 'banger-init'), guest.init, { mode: 0o755 });
    await fs.writeFile(path.join(guestDir, 'banger-agent'), guest.agent, { mode: 0o755 });
    registry = await startRegistry();
    store = newStore();
  });

  afterAll(async () => {
    await registry?.stop();
    if (base !== '') await fs.rm(base, { recursive: true, force: true });
  });

  it('applies every layer feature into the ext4 image', async () => {
    const busybox = await busyboxEntries();
    const layout = await publish(registry, 'test/features', [
      {
        entries: [
          ...busybox,
          { name: 'etc/gone', body: 'bye\n' },
          {
            name: 'etc/passwd',
            body: 'root:x:0:0:root:/root:/bin/sh\ndev:x:1000:1000::/home/dev:/bin/sh\n',
          },
          { name: 'opq/', type: 'dir' },
          { name: 'opq/lower1', body: 'lower' },
          { name: 'opq/sub/lower2', body: 'lower' },
          { name: 'dev/', type: 'dir' },
          { name: 'dev/null', type: 'char', devMajor: 1, devMinor: 3, mode: 0o666 },
        ],
      },
      {
        entries: [
          { name: 'etc/.wh.gone' },
          { name: 'opq/', type: 'dir', mode: 0o755 },
          { name: 'opq/.wh..wh..opq' },
          { name: 'opq/upper', body: 'upper' },
          { name: 'usr/bin/', type: 'dir' },
          { name: 'usr/bin/suid', body: 'setuid payload', mode: 0o4755 },
          { name: 'usr/bin/suid-link', type: 'hardlink', linkname: 'usr/bin/suid' },
          { name: 'usr/bin/motd-link', type: 'symlink', linkname: '/etc/motd' },
          { name: 'etc/motd', body: 'hello from layer 2\n' },
          { name: 'home/dev/', type: 'dir', mode: 0o750, uid: 1000, gid: 1000 },
          { name: 'home/dev/owned', body: 'mine', mode: 0o640, uid: 1000, gid: 1000 },
        ],
      },
      { entries: [{ name: 'etc/layer3', body: 'zstd layer\n' }], compression: 'zstd' },
    ]);
    const progress: string[] = [];
    const { image } = await store.pullOci({
      ref: `${registry.host}/test/features:v1`,
      name: 'features',
      onProgress: (e) => progress.push(e.message),
    });
    const rootfs = image.rootfsPath;
    expect(image.manifest.source).toMatchObject({
      kind: 'oci',
      ref: `${registry.host}/test/features:v1`,
      manifestDigest: layout.manifestDigest,
      layers: layout.layers.map((l) => ({ digest: l.digest, size: l.size })),
    });
    expect(image.manifest.userland).toEqual({ init: false, sshd: false, packageManager: null });
    expect(progress.some((m) => /no ssh server and no package manager/.test(m))).toBe(true);

    expect(await statInExt4(rootfs, '/etc/gone')).toBeUndefined();
    expect(await statInExt4(rootfs, '/opq/lower1')).toBeUndefined();
    expect(await statInExt4(rootfs, '/opq/sub')).toBeUndefined();
    expect((await readFileFromExt4(rootfs, '/opq/upper')).toString()).toBe('upper');
    expect((await readFileFromExt4(rootfs, '/etc/layer3')).toString()).toBe('zstd layer\n');
    expect(await statInExt4(rootfs, '/usr/bin/suid')).toMatchObject({
      type: 'regular',
      mode: 0o4755,
      uid: 0,
    });
    const suid = await debugfsStat(rootfs, '/usr/bin/suid');
    const link = await debugfsStat(rootfs, '/usr/bin/suid-link');
    expect(suid).toMatch(/Links: 2/);
    expect(/Inode: (\d+)/.exec(link)?.[1]).toBe(/Inode: (\d+)/.exec(suid)?.[1]);
    expect(await statInExt4(rootfs, '/usr/bin/motd-link')).toMatchObject({
      type: 'symlink',
      linkTarget: '/etc/motd',
    });
    expect(await statInExt4(rootfs, '/home/dev')).toMatchObject({
      type: 'directory',
      mode: 0o750,
      uid: 1000,
      gid: 1000,
    });
    expect(await statInExt4(rootfs, '/home/dev/owned')).toMatchObject({
      mode: 0o640,
      uid: 1000,
      gid: 1000,
    });
    expect(await statInExt4(rootfs, '/tmp')).toMatchObject({ mode: 0o1777 });
    expect(await debugfsStat(rootfs, '/dev/null')).toMatch(
      /Type: character special\s+Mode:\s+0666[\s\S]*Device major\/minor number: 01:03/,
    );
    // banger's programs, reachable as /sbin/banger-init (the kernel command line's init=).
    expect(await readFileFromExt4(rootfs, '/sbin/banger-init')).toEqual(guest.init);
    expect(await statInExt4(rootfs, '/root')).toMatchObject({ type: 'directory', mode: 0o700 });
    expect(await leftovers()).toEqual([]);
  });
});
