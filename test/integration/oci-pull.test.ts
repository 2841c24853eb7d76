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
import { busyboxEntries, tarOf, writeOciLayout, type LayerSpec } from '../support/oci-layout.js';
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

beforeAll(async () => {
  if (missing.length > 0) return;
  base = await fs.mkdtemp(path.join(os.tmpdir(), 'banger-oci-'));
  const guestDir = path.join(base, 'guest');
  await fs.mkdir(guestDir);
  await fs.writeFile(path.join(guestDir, 'banger-init'), guest.init, { mode: 0o755 });
  await fs.writeFile(path.join(guestDir, 'banger-agent'), guest.agent, { mode: 0o755 });
  store = newStore();
});

afterAll(async () => {
  if (base !== '') await fs.rm(base, { recursive: true, force: true });
});

describe.skipIf(missing.length > 0)('image pull from a real OCI registry', () => {
  beforeAll(async () => {
    registry = await startRegistry();
  });

  afterAll(async () => {
    await registry?.stop();
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
    const { image, timings } = await store.pullOci({
      ref: `${registry.host}/test/features:v1`,
      name: 'features',
      onProgress: (e) => progress.push(e.message),
    });
    expect(timings.steps.map((t) => t.step)).toEqual([
      'resolve',
      'layers',
      'mkfs',
      'fixup',
      'inject',
      'checksum',
    ]);
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

  it('refuses a blob whose bytes do not match its digest, leaving nothing behind', async () => {
    const layout = await publish(registry, 'test/corrupt', [
      { entries: [{ name: 'etc/data', body: randomBytes(64 * 1024).toString('hex') }] },
    ]);
    const blob = registryBlobPath(registry, layout.layers[0]?.digest ?? '');
    const bytes = await fs.readFile(blob);
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0xff;
    await fs.writeFile(blob, bytes);
    const err = await caught(
      store.pullOci({ ref: `${registry.host}/test/corrupt:v1`, name: 'corrupt' }),
    );
    expect(err.code).toBe('operation_failed');
    expect(err.message).toMatch(/does not match its digest .*refused/);
    await expect(store.get('corrupt')).rejects.toThrow(/not found/);
    const hex = (layout.layers[0]?.digest ?? '').slice(7);
    expect(await fs.readdir(path.join(base, 'cache/oci/partial'))).not.toContain(hex);
    expect(await fs.readdir(path.join(base, 'cache/oci/blobs/sha256'))).not.toContain(hex);
    expect(await leftovers()).toEqual([]);
  });

  it('checks cached layers again on use: a copy that went bad is refused, dropped and fetched anew', async () => {
    const features = await store.get('features');
    if (features.manifest.source.kind !== 'oci') throw new Error('not oci');
    const layer = features.manifest.source.layers[0]?.digest ?? '';
    const cached = path.join(base, 'cache/oci/blobs/sha256', layer.slice(7));
    const bytes = await fs.readFile(cached);
    bytes[100] = (bytes[100] ?? 0) ^ 0xff;
    await fs.writeFile(cached, bytes);
    const ref = `${registry.host}/test/features:v1`;
    const err = await caught(store.pullOci({ ref, name: 'features-again' }));
    expect(err.message).toMatch(/cached blob does not match its digest|gzip stream is corrupt/);
    expect(await leftovers()).toEqual([]);
    const { image } = await store.pullOci({ ref, name: 'features-again' });
    expect(image.manifest.source).toEqual(features.manifest.source);
    await store.remove('features-again');
  });

  it('resumes an interrupted download with a Range request', async () => {
    const big = randomBytes(6 * 1024 * 1024);
    const layout = await publish(registry, 'test/big', [
      { entries: [...(await busyboxEntries()), { name: 'big.bin', body: big }] },
    ]);
    const bigLayer = layout.layers[0];
    if (bigLayer === undefined) throw new Error('no layer');
    const proxy = await startCuttingProxy(registry.host, bigLayer.digest, 2 * 1024 * 1024);
    try {
      const cacheDir = path.join(base, 'cache-resume');
      const resumable = newStore({ ociCacheDir: cacheDir });
      const ref = `${proxy.host}/test/big:v1`;
      const first = await caught(resumable.pullOci({ ref, name: 'big' }));
      expect(first.code).toBe('unavailable');
      expect(first.message).toMatch(/pull again to resume|interrupted/);
      const partial = path.join(cacheDir, 'partial', bigLayer.digest.slice(7));
      const had = (await fs.stat(partial)).size;
      expect(had).toBeGreaterThan(0);
      expect(had).toBeLessThan(bigLayer.size);
      const { image } = await resumable.pullOci({ ref, name: 'big' });
      expect(proxy.ranges).toEqual([`bytes=${String(had)}-`]);
      expect(proxy.servedAfterCut).toBe(bigLayer.size - had);
      expect((await readFileFromExt4(image.rootfsPath, '/big.bin')).equals(big)).toBe(true);
      await fs.access(partial).then(
        () => expect.fail('the partial download should be gone'),
        () => undefined,
      );
    } finally {
      await proxy.stop();
    }
  });

  it('shares one download between concurrent pulls and coalesces identical ones', async () => {
    const layout = await publish(registry, 'test/shared', [
      { entries: [{ name: 'a', body: randomBytes(512 * 1024) }] },
      { entries: [{ name: 'b', body: randomBytes(512 * 1024) }] },
    ]);
    const ref = `${registry.host}/test/shared:v1`;
    const [one, two, three] = await Promise.all([
      store.pullOci({ ref, name: 'shared-a' }),
      store.pullOci({ ref, name: 'shared-a' }),
      store.pullOci({ ref, name: 'shared-b' }),
    ]);
    expect(two.image).toEqual(one.image);
    expect(three.image.manifest.source).toEqual(one.image.manifest.source);
    for (const layer of layout.layers) {
      const gets = registry.log().split(`GET /v2/test/shared/blobs/${layer.digest}`).length - 1;
      expect(gets).toBe(1);
    }
  });

  it('prunes cached blobs no image needs, and says how much', async () => {
    const layout = await publish(registry, 'test/prunable', [
      { entries: [{ name: 'p', body: randomBytes(256 * 1024) }] },
    ]);
    await store.pullOci({ ref: `${registry.host}/test/prunable:v1`, name: 'prunable' });
    const blobFile = path.join(
      base,
      'cache/oci/blobs/sha256',
      (layout.layers[0]?.digest ?? '').slice(7),
    );
    // What earlier tests left unreferenced (the config of the refused corrupt pull) goes first.
    await store.pruneCache({ dryRun: false });
    expect((await store.pruneCache({ dryRun: true })).blobs).toBe(0);
    await store.remove('prunable');
    const dry = await store.pruneCache({ dryRun: true });
    expect(dry.blobs).toBe(2); // the layer and the config
    expect(dry.freedBytes).toBeGreaterThanOrEqual(256 * 1024);
    await fs.access(blobFile);
    const real = await store.pruneCache({ dryRun: false });
    expect(real).toMatchObject({ blobs: 2, freedBytes: dry.freedBytes, dryRun: false });
    await expect(fs.access(blobFile)).rejects.toThrow();
    // Blobs of images still present stay.
    const features = await store.get('features');
    if (features.manifest.source.kind !== 'oci') throw new Error('not oci');
    for (const l of features.manifest.source.layers) {
      await fs.access(path.join(base, 'cache/oci/blobs/sha256', l.digest.slice(7)));
    }
  });
});

describe.skipIf(missing.length > 0)('image pull from registries that need a login', () => {
  const user = { username: 'dev', password: 'pa55-w0rd' };
  let basicRegistry: TestRegistry;
  let tokenRegistry: TestRegistry;

  beforeAll(async () => {
    basicRegistry = await startRegistry({ auth: 'htpasswd', user });
    tokenRegistry = await startRegistry({ auth: 'token', user, privatePrefix: 'private/' });
    const layer: LayerSpec[] = [{ entries: [{ name: 'etc/secret', body: 'only for dev\n' }] }];
    await publish(basicRegistry, 'team/app', layer, user);
    await publish(tokenRegistry, 'private/app', layer, user);
    await publish(tokenRegistry, 'public/app', layer, user);
  });

  afterAll(async () => {
    await basicRegistry?.stop();
    await tokenRegistry?.stop();
  });

  it('basic auth: refuses without credentials or with wrong ones, pulls with the right ones', async () => {
    const ref = `${basicRegistry.host}/team/app:v1`;
    const noConfig = path.join(base, 'no-docker-config.json');
    const anonymous = await caught(
      store.pullOci({ ref, name: 'basic-a', dockerConfigFile: noConfig }),
    );
    expect(anonymous.code).toBe('unauthorized');
    expect(anonymous.message).toMatch(/requires a login/);
    expect(anonymous.hint).toMatch(/--password-stdin/);
    const wrong = await caught(
      store.pullOci({ ref, name: 'basic-b', credentials: { username: 'dev', password: 'nope' } }),
    );
    expect(wrong.code).toBe('unauthorized');
    expect(wrong.message).toMatch(/refused the credentials of user "dev"/);
    const { image } = await store.pullOci({ ref, name: 'basic-c', credentials: user });
    expect((await readFileFromExt4(image.rootfsPath, '/etc/secret')).toString()).toBe(
      'only for dev\n',
    );
    expect(await leftovers()).toEqual([]);
  });

  it('basic auth: finds credentials in a Docker config.json', async () => {
    const file = path.join(base, 'docker-config.json');
    const auth = Buffer.from(`${user.username}:${user.password}`).toString('base64');
    await fs.writeFile(
      file,
      JSON.stringify({ auths: { [`http://${basicRegistry.host}`]: { auth } } }),
    );
    const { image } = await store.pullOci({
      ref: `${basicRegistry.host}/team/app:v1`,
      name: 'basic-config',
      dockerConfigFile: file,
    });
    expect(image.manifest.source.kind).toBe('oci');
  });

  it('token auth: anonymous pulls of public repositories, basic-then-token for private ones', async () => {
    const noConfig = path.join(base, 'no-docker-config.json');
    const { image } = await store.pullOci({
      ref: `${tokenRegistry.host}/public/app:v1`,
      name: 'token-public',
      dockerConfigFile: noConfig,
    });
    expect(image.manifest.source.kind).toBe('oci');
    expect(tokenRegistry.tokenRequests).toContainEqual(['repository:public/app:pull', '']);
    const refused = await caught(
      store.pullOci({
        ref: `${tokenRegistry.host}/private/app:v1`,
        name: 'token-anon',
        dockerConfigFile: noConfig,
      }),
    );
    expect(refused.code).toBe('unauthorized');
    expect(refused.message).toMatch(/requires a login/);
    const wrong = await caught(
      store.pullOci({
        ref: `${tokenRegistry.host}/private/app:v1`,
        name: 'token-wrong',
        credentials: { username: 'dev', password: 'bad' },
      }),
    );
    expect(wrong.code).toBe('unauthorized');
    const ok = await store.pullOci({
      ref: `${tokenRegistry.host}/private/app:v1`,
      name: 'token-private',
      credentials: user,
    });
    expect((await readFileFromExt4(ok.image.rootfsPath, '/etc/secret')).toString()).toBe(
      'only for dev\n',
    );
    expect(tokenRegistry.tokenRequests).toContainEqual(['repository:private/app:pull', 'dev']);
  });
});

describe.skipIf(missing.length > 0)(
  'hostile layers are refused, and nothing lands outside the image',
  () => {
    let hostileRegistry: TestRegistry;
    let outside = '';

    beforeAll(async () => {
      hostileRegistry = await startRegistry();
      outside = path.join(base, 'outside');
      await fs.mkdir(outside);
    });

    afterAll(async () => {
      await hostileRegistry?.stop();
    });

    /** Every path under the test's base whose name a hostile layer tried to write. */
    async function planted(): Promise<string[]> {
      const names = new Set(['pwned', 'evil', 'escaped', 'shadow-link']);
      const found: string[] = [];
      for (const e of await fs.readdir(base, { withFileTypes: true, recursive: true })) {
        if (names.has(e.name)) found.push(path.join(e.parentPath, e.name));
      }
      return found;
    }

    async function refused(repo: string, layers: LayerSpec[]): Promise<BangerError> {
      await publish(hostileRegistry, repo, layers);
      const err = await caught(
        store.pullOci({ ref: `${hostileRegistry.host}/${repo}:v1`, name: repo.replace('/', '-') }),
      );
      await expect(store.get(repo.replace('/', '-'))).rejects.toThrow(/not found/);
      expect(await leftovers()).toEqual([]);
      expect(await fs.readdir(outside)).toEqual([]);
      expect(await planted()).toEqual([]);
      return err;
    }

    it('refuses entries with ".." and absolute paths', async () => {
      const dots = await refused('hostile/dotdot', [
        { entries: [{ name: '../../escaped', body: 'x' }] },
      ]);
      expect(dots.code).toBe('bad_request');
      expect(dots.message).toMatch(
        /layer 1\/1 .*entry 1: entry "\.\.\/\.\.\/escaped" contains "\.\."/,
      );
      const abs = await refused('hostile/absolute', [
        { entries: [{ name: `${outside}/evil`, body: 'x' }] },
      ]);
      expect(abs.message).toMatch(/is an absolute path/);
    });

    it('refuses writing through a symlink that escapes, in the same or a later layer', async () => {
      const same = await refused('hostile/symlink-same', [
        {
          entries: [
            { name: 'esc', type: 'symlink', linkname: outside },
            { name: 'esc/pwned', body: 'x' },
          ],
        },
      ]);
      expect(same.message).toMatch(/"esc\/pwned" would be written through the symlink "esc"/);
      const later = await refused('hostile/symlink-later', [
        { entries: [{ name: 'esc', type: 'symlink', linkname: '../../../../../../..' }] },
        { entries: [{ name: 'esc/tmp/pwned', body: 'x' }] },
      ]);
      expect(later.message).toMatch(/layer 2\/2 .*never writes through a symlink/);
    });

    it('refuses hard links that point outside the image', async () => {
      const up = await refused('hostile/hardlink-up', [
        {
          entries: [{ name: 'shadow-link', type: 'hardlink', linkname: '../../../../etc/shadow' }],
        },
      ]);
      expect(up.message).toMatch(
        /hard link target "\.\.\/\.\.\/\.\.\/\.\.\/etc\/shadow" contains "\.\."/,
      );
      const abs = await refused('hostile/hardlink-abs', [
        { entries: [{ name: 'shadow-link', type: 'hardlink', linkname: '/etc/shadow' }] },
      ]);
      expect(abs.message).toMatch(/hard link target "\/etc\/shadow" is an absolute path/);
      const via = await refused('hostile/hardlink-via-symlink', [
        {
          entries: [
            { name: 'etc', type: 'symlink', linkname: '/etc' },
            { name: 'shadow-link', type: 'hardlink', linkname: 'etc/shadow' },
          ],
        },
      ]);
      expect(via.message).toMatch(/symlink/);
    });

    it('refuses device nodes the policy forbids', async () => {
      const err = await refused('hostile/device', [
        { entries: [{ name: 'dev/sda', type: 'block', devMajor: 8, devMinor: 0, mode: 0o660 }] },
      ]);
      expect(err.message).toMatch(
        /block device "dev\/sda" \(8:0\) is refused by the device policy "safe"/,
      );
      expect(err.hint).toMatch(/device_nodes/);
      const mem = await refused('hostile/devmem', [
        { entries: [{ name: 'dev/mem', type: 'char', devMajor: 1, devMinor: 1, mode: 0o666 }] },
      ]);
      expect(mem.message).toMatch(/char device "dev\/mem" \(1:1\)/);
    });

    it('refuses a 10 GiB sparse-file bomb (GNU and PAX sparse formats) and a declared 10 GiB file', async () => {
      const dir = path.join(base, 'bomb');
      await fs.mkdir(dir);
      await run('truncate', ['-s', '10G', path.join(dir, 'bomb.img')]);
      for (const format of ['gnu', 'posix']) {
        const tarFile = path.join(base, `bomb-${format}.tar`);
        await run('tar', ['--sparse', `--format=${format}`, '-C', dir, '-cf', tarFile, 'bomb.img']);
        const raw = await fs.readFile(tarFile);
        expect(raw.length).toBeLessThan(1024 * 1024);
        const err = await refused(`hostile/sparse-${format}`, [{ raw }]);
        expect(err.code).toBe('bad_request');
        expect(err.message).toMatch(/sparse/);
      }
      await fs.rm(dir, { recursive: true });
      // A plain header claiming 10 GiB: refused before a byte is written.
      const header = tarOf([{ name: 'huge.bin', size: 10 * 1024 ** 3 }]);
      const declared = await refused('hostile/declared', [{ raw: header.subarray(0, 2048) }]);
      expect(declared.message).toMatch(/takes the image past 8589934592 bytes of content/);
      expect(declared.hint).toMatch(/max_unpacked_size/);
    });

    it('refuses a layer with 100k entries', async () => {
      // Symlinks: the cheapest entries to create, so the test spends its time on the limit.
      const entries = Array.from({ length: 100_000 }, (_, i) => ({
        name: `many/l${String(i)}`,
        type: 'symlink' as const,
        linkname: 'x',
      }));
      const err = await refused('hostile/many', [{ raw: tarOf(entries) }]);
      expect(err.message).toMatch(/more than 65536 entries/);
      expect(err.hint).toMatch(/max_entries/);
    });
  },
);

/**
 * A proxy in front of the registry that cuts the first download of one blob after `cutAt`
 * bytes, then records the Range of every later request for it and what it served.
 */
async function startCuttingProxy(upstream: string, digest: string, cutAt: number) {
  const [upHost, upPort] = upstream.split(':');
  const state = { cut: false, ranges: [] as string[], servedAfterCut: 0 };
  const server = http.createServer((req, res) => {
    const isBlob = req.url?.endsWith(`/blobs/${digest}`) === true && req.method === 'GET';
    if (isBlob && state.cut) state.ranges.push(req.headers.range ?? '');
    const up = http.request(
      {
        host: upHost,
        port: Number(upPort),
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (!isBlob) {
          upRes.pipe(res);
          return;
        }
        const cutting = !state.cut;
        let sent = 0;
        upRes.on('data', (chunk: Buffer) => {
          if (cutting) {
            const room = cutAt - sent;
            if (room <= 0) return;
            res.write(chunk.subarray(0, room));
            sent += Math.min(room, chunk.length);
            if (sent >= cutAt) {
              state.cut = true;
              setTimeout(() => res.socket?.destroy(), 50);
              upRes.destroy();
            }
          } else {
            state.servedAfterCut += chunk.length;
            res.write(chunk);
          }
        });
        upRes.on('end', () => res.end());
      },
    );
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${String(port)}`,
    get ranges() {
      return state.ranges;
    },
    get servedAfterCut() {
      return state.servedAfterCut;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
