import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BangerError } from '../base/index.js';
import { KnownHosts } from './known-hosts.js';
import { parseSshPublicKey } from './ssh-public-key.js';

const A = parseSshPublicKey(
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJpiTWUVPy8v/Uh9DXvkgA/NCD/oxF869GB2HWYugGoe',
);
const B = parseSshPublicKey(
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE3ldZa406Aru5TAT8D7tGhifkajnjUVUcgdGE06lp67',
);

describe('KnownHosts', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'bkh-'));
    file = path.join(dir, 'known_hosts');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('pins a key on first use (0600, OpenSSH format) and accepts it afterwards', async () => {
    const hosts = new KnownHosts(file);
    expect(await hosts.check({ alias: 'dev.vm', vmName: 'dev', key: A })).toMatchObject({
      status: 'pinned',
    });
    expect(await hosts.check({ alias: 'dev.vm', vmName: 'dev', key: A })).toMatchObject({
      status: 'known',
    });
    expect(readFileSync(file, 'utf8')).toBe(`dev.vm ssh-ed25519 ${A.blob}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses a changed key with a conflict naming the VM and both fingerprints', async () => {
    const hosts = new KnownHosts(file);
    await hosts.check({ alias: 'dev.vm', vmName: 'dev', key: A });
    const err: unknown = await hosts
      .check({ alias: 'dev.vm', vmName: 'dev', key: B })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BangerError);
    expect(err).toMatchObject({ code: 'conflict' });
    expect((err as BangerError).message).toMatch(/SSH host key of VM dev changed/);
    expect((err as BangerError).message).toContain(
      'SHA256:fL4RomYLl2uNnpbec+e7tQZq0EdqPVjgHRplYyoSWlE',
    );
    expect((err as BangerError).hint).toContain(`ssh-keygen -R dev.vm -f ${file}`);
    // The pinned key stays.
    expect(await hosts.lookup('dev.vm')).toEqual([A]);
  });

  it('keeps VMs apart, and removes exactly one VM`s entries', async () => {
    writeFileSync(file, '# a comment someone wrote\n', { mode: 0o600 });
    const hosts = new KnownHosts(file);
    await hosts.check({ alias: 'a.vm', vmName: 'a', key: A });
    await hosts.check({ alias: 'b.vm', vmName: 'b', key: B });
    expect(await hosts.remove('a.vm')).toBe(true);
    expect(await hosts.remove('a.vm')).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(
      `# a comment someone wrote\nb.vm ssh-ed25519 ${B.blob}\n`,
    );
    // After removal the next key for the name is pinned afresh (a new VM of the same name).
    expect((await hosts.check({ alias: 'a.vm', vmName: 'a', key: B })).status).toBe('pinned');
  });

  it('serialises concurrent first uses: one pin, one match', async () => {
    const hosts = new KnownHosts(file);
    const results = await Promise.all(
      [1, 2, 3].map(() => hosts.check({ alias: 'x.vm', vmName: 'x', key: A })),
    );
    expect(results.map((r) => r.status).sort()).toEqual(['known', 'known', 'pinned']);
    expect(readFileSync(file, 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('refuses an alias that is not a host name', async () => {
    const hosts = new KnownHosts(file);
    await expect(hosts.check({ alias: 'a b', vmName: 'x', key: A })).rejects.toMatchObject({
      code: 'bad_request',
    });
  });

  it('pin replaces whatever was pinned for the alias and leaves other entries alone', async () => {
    const hosts = new KnownHosts(file);
    await hosts.check({ alias: 'a.vm', vmName: 'a', key: A });
    await hosts.check({ alias: 'b.vm', vmName: 'b', key: A });
    await hosts.pin({ alias: 'a.vm', key: B });
    expect(readFileSync(file, 'utf8')).toBe(
      `b.vm ssh-ed25519 ${A.blob}\na.vm ssh-ed25519 ${B.blob}\n`,
    );
    expect((await hosts.check({ alias: 'a.vm', vmName: 'a', key: B })).status).toBe('known');
    await expect(hosts.check({ alias: 'a.vm', vmName: 'a', key: A })).rejects.toMatchObject({
      code: 'conflict',
    });
  });
});
