/**
 * The install's SSH key with the real ssh-keygen: made once, private, never replaced.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../src/base/index.js';
import { ensureInstallKey, sshFingerprint } from '../../src/guest/index.js';

const hasKeygen = ['/usr/bin/ssh-keygen', '/usr/local/bin/ssh-keygen'].some((p) => existsSync(p));
if (!hasKeygen && process.env.CI === 'true') {
  throw new Error('ssh-keygen is missing (apt-get install openssh-client)');
}

describe.skipIf(!hasKeygen)('ensureInstallKey (real ssh-keygen)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'bsk-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('makes an ed25519 key in a private directory, once', async () => {
    const keyFile = path.join(dir, 'ssh', 'id_ed25519');
    const first = await ensureInstallKey({ keyFile });
    expect(first.publicKey.type).toBe('ssh-ed25519');
    expect(statSync(path.dirname(keyFile)).mode & 0o777).toBe(0o700);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const listed = await run('ssh-keygen', ['-l', '-f', first.publicKeyFile]);
    expect(listed.stdout.toString()).toContain(sshFingerprint(first.publicKey));

    const before = readFileSync(keyFile);
    const second = await ensureInstallKey({ keyFile });
    expect(second.publicKey).toEqual(first.publicKey);
    expect(readFileSync(keyFile).equals(before)).toBe(true);
  });

  it('keeps an existing key: tightens loose permissions and derives a missing .pub', async () => {
    const keyFile = path.join(dir, 'id_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    const original = readFileSync(`${keyFile}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    rmSync(`${keyFile}.pub`);
    chmodSync(keyFile, 0o644);
    const key = await ensureInstallKey({ keyFile });
    expect(`${key.publicKey.type} ${key.publicKey.blob}`).toBe(original);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(existsSync(`${keyFile}.pub`)).toBe(true);
  });
});
