/**
 * Images from anywhere, end to end through the CLI and a booted guest: an OCI image (no init,
 * no sshd, no package manager) pulled from a real registry on loopback boots and shows every
 * layer feature from the inside; the same image exported as a bundle and its kernel exported
 * likewise are served by a local HTTP catalog, pulled by name (the kernel through the kernel
 * catalog), verified and booted. Two boots in all.
 */
import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BangerHome } from '../support/banger-home.js';
import { busyboxEntries, writeOciLayout } from '../support/oci-layout.js';
import { pushLayout, startRegistry, type TestRegistry } from '../support/oci-registry.js';

const home = BangerHome.open(inject('e2eHome'));
const IMAGE = 'oci-e2e';
const CATALOG_IMAGE = 'oci-e2e-bundled';
const CATALOG_KERNEL = 'e2e-cat-kernel';

let registry: TestRegistry;
let work = '';
let server: http.Server | undefined;
let configBefore: string | undefined;
const configFile = (): string => path.join(home.root, 'config', 'banger', 'config.toml');

beforeAll(async () => {
  registry = await startRegistry();
  work = await fs.mkdtemp(path.join(home.root, 'oci-e2e-'));
  const layout = path.join(work, 'layout');
  const busybox = await busyboxEntries();
  const suid = await fs.readFile('/bin/busybox');
  await writeOciLayout(layout, [
    {
      entries: [
        ...busybox,
        { name: 'etc/gone', body: 'bye\n' },
        { name: 'opq/', type: 'dir' },
        { name: 'opq/lower', body: 'lower' },
        { name: 'opq/sub/deeper', body: 'lower' },
        { name: 'opt/', type: 'dir' },
        { name: 'opt/null', type: 'char', devMajor: 1, devMinor: 3, mode: 0o666 },
      ],
    },
    {
      entries: [
        { name: 'etc/.wh.gone' },
        { name: 'opq/', type: 'dir' },
        { name: 'opq/.wh..wh..opq' },
        { name: 'opq/upper', body: 'upper' },
        { name: 'usr/bin/', type: 'dir' },
        { name: 'usr/bin/suid', body: suid, mode: 0o4755 },
        { name: 'usr/bin/suid-link', type: 'hardlink', linkname: 'usr/bin/suid' },
        { name: 'usr/bin/motd-link', type: 'symlink', linkname: '/etc/motd' },
        { name: 'etc/motd', body: 'hello from an OCI layer\n' },
        { name: 'home/dev/', type: 'dir', mode: 0o750, uid: 1000, gid: 1000 },
        { name: 'home/dev/owned', body: 'mine\n', mode: 0o640, uid: 1000, gid: 1000 },
      ],
      compression: 'zstd',
    },
  ]);
  await pushLayout(layout, `${registry.host}/e2e/features:v1`);
});

afterAll(async () => {
  for (const name of [IMAGE, CATALOG_IMAGE]) await home.run(['image', 'delete', name]);
  await home.run(['kernel', 'rm', CATALOG_KERNEL]);
  if (configBefore === undefined) await fs.rm(configFile(), { force: true });
  else await fs.writeFile(configFile(), configBefore);
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await registry?.stop();
  if (work !== '') await fs.rm(work, { recursive: true, force: true });
});

/** One guest command that prints every feature, one line each. */
const PROBE = [
  'test -e /etc/gone && echo gone:present || echo gone:absent',
  'echo opq:$(ls -A /opq)',
  "stat -c 'suid:%a %u %g' /usr/bin/suid",
  "stat -c 'link:%i %h' /usr/bin/suid /usr/bin/suid-link",
  'echo symlink:$(readlink /usr/bin/motd-link) $(cat /usr/bin/motd-link)',
  "stat -c 'owned:%u %g %a' /home/dev/owned /home/dev",
  "stat -c 'dev:%F %t:%T %a' /opt/null",
].join('; ');

describe('image pull from an OCI registry and from a catalog, booted', () => {
  it('pulls an OCI image without init or sshd, boots it and shows every layer feature inside', async () => {
    const pull = await home.ok([
      'image',
      'pull',
      `${registry.host}/e2e/features:v1`,
      '--name',
      IMAGE,
    ]);
    expect(pull.out).toContain(`source:  oci ${registry.host}/e2e/features:v1`);
    expect(pull.out).toMatch(/no ssh server and no package manager/);
    const r = await home.ok(['vm', 'run', '--rm', '--image', IMAGE, '--', 'sh', '-c', PROBE]);
    const lines = r.out.trim().split('\n');
    expect(lines[0]).toBe('gone:absent');
    expect(lines[1]).toBe('opq:upper');
    expect(lines[2]).toBe('suid:4755 0 0');
    const [a, b] = [lines[3], lines[4]].map((l) => (l ?? '').split(' '));
    expect(a?.[0]).toBe(b?.[0]);
    expect(a?.[1]).toBe('2');
    expect(b?.[1]).toBe('2');
    expect(lines[5]).toBe('symlink:/etc/motd hello from an OCI layer');
    expect(lines[6]).toBe('owned:1000 1000 640');
    expect(lines[7]).toBe('owned:1000 1000 750');
    expect(lines[8]).toBe('dev:character special file 1:3 666');
  });

  it('exports it as a bundle, serves it in a catalog with its kernel, pulls both by name and boots', async () => {
    const bundle = path.join(work, 'image.tar.zst');
    const kernelBundle = path.join(work, 'kernel.tar.zst');
    const exported = await home.ok(['image', 'export', IMAGE, '-o', bundle, '--json']);
    const image = JSON.parse(exported.out) as { sha256: string; size: number };
    const kernelOut = await home.ok(['kernel', 'export', 'debian', '-o', kernelBundle]);
    const kernelSha = /sha256: ([0-9a-f]{64})/.exec(kernelOut.out)?.[1] ?? '';
    const kernelSize = (await fs.stat(kernelBundle)).size;
    const files: Record<string, string> = {
      '/b/image.tar.zst': bundle,
      '/b/kernel.tar.zst': kernelBundle,
    };
    const index = JSON.stringify({
      schema: 1,
      images: [
        {
          name: CATALOG_IMAGE,
          arch: 'amd64',
          kernel: CATALOG_KERNEL,
          url: 'b/image.tar.zst',
          sha256: image.sha256,
          size: image.size,
        },
      ],
      kernels: [
        {
          name: CATALOG_KERNEL,
          arch: 'amd64',
          url: 'b/kernel.tar.zst',
          sha256: kernelSha,
          size: kernelSize,
        },
      ],
    });
    server = http.createServer((req, res) => {
      const file = files[req.url ?? ''];
      if (req.url === '/catalog.json') res.end(index);
      else if (file !== undefined) void fs.readFile(file).then((data) => res.end(data));
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${String((server?.address() as { port: number }).port)}/catalog.json`;
    configBefore = await fs.readFile(configFile(), 'utf8').catch(() => undefined);
    await fs.mkdir(path.dirname(configFile()), { recursive: true });
    await fs.writeFile(
      configFile(),
      `${configBefore ?? ''}\n[catalog]\nimages_url = "${url}"\nkernels_url = "${url}"\n`,
    );

    const pull = await home.ok(['image', 'pull', CATALOG_IMAGE]);
    expect(pull.out).toContain(`source:  catalog ${CATALOG_IMAGE}`);
    expect(pull.out).toContain(`kernel:  ${CATALOG_KERNEL}`);
    const kernel = JSON.parse(
      (await home.ok(['kernel', 'show', CATALOG_KERNEL, '--json'])).out,
    ) as {
      name: string;
    };
    expect(kernel.name).toBe(CATALOG_KERNEL);
    const r = await home.ok([
      'vm',
      'run',
      '--rm',
      '--image',
      CATALOG_IMAGE,
      '--',
      'cat',
      '/etc/motd',
    ]);
    expect(r.out).toBe('hello from an OCI layer\n');
  });

  it('logs in with --password-stdin, refuses without, and prunes the cache it no longer needs', async () => {
    const user = { username: 'dev', password: 'e2e-secret' };
    const locked = await startRegistry({ auth: 'htpasswd', user });
    try {
      const layout = path.join(work, 'locked-layout');
      await writeOciLayout(layout, [{ entries: [{ name: 'etc/secret', body: 'locked\n' }] }]);
      await pushLayout(layout, `${locked.host}/team/app:v1`, { creds: user });
      const ref = `${locked.host}/team/app:v1`;
      const refused = await home.run(['image', 'pull', ref, '--name', 'e2e-locked']);
      expect(refused.code).toBe(69);
      expect(refused.stderr).toMatch(/requires a login/);
      const wrong = await home.run(
        ['image', 'pull', ref, '--name', 'e2e-locked', '--username', 'dev', '--password-stdin'],
        { input: 'not-it\n' },
      );
      expect(wrong.code).toBe(69);
      expect(wrong.stderr).toMatch(/refused the credentials of user "dev"/);
      await home.ok(
        ['image', 'pull', ref, '--name', 'e2e-locked', '--username', 'dev', '--password-stdin'],
        {
          input: `${user.password}\n`,
        },
      );
      await home.ok(['image', 'delete', 'e2e-locked']);
      const dry = await home.ok(['image', 'cache', 'prune', '--dry-run']);
      expect(dry.out).toMatch(/^would free \S+ \S+ across [1-9]\d* blob\(s\) in /);
      const freed = await home.ok(['image', 'cache', 'prune', '--json']);
      const result = JSON.parse(freed.out) as { blobs: number; freedBytes: number };
      expect(result.blobs).toBeGreaterThan(0);
      const again = JSON.parse(
        (await home.ok(['image', 'cache', 'prune', '--dry-run', '--json'])).out,
      ) as {
        blobs: number;
      };
      expect(again.blobs).toBe(0);
      // The image still present keeps its layers in the cache.
      const kept = JSON.parse((await home.ok(['image', 'show', IMAGE, '--json'])).out) as {
        source: { layers: { digest: string }[] };
      };
      for (const layer of kept.source.layers) {
        await fs.access(
          path.join(home.root, 'cache', 'banger', 'oci', 'blobs', 'sha256', layer.digest.slice(7)),
        );
      }
    } finally {
      await locked.stop();
    }
  });
});
