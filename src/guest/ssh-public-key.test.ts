import { describe, expect, it } from 'vitest';
import { parseSshPublicKey, sameKey, sshFingerprint } from './ssh-public-key.js';

// A real ed25519 public key (made with ssh-keygen for this test) and its fingerprint as
// `ssh-keygen -lf` printed it.
const KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJpiTWUVPy8v/Uh9DXvkgA/NCD/oxF869GB2HWYugGoe test@host';

describe('parseSshPublicKey', () => {
  it('takes the type and the blob, ignoring the comment', () => {
    const key = parseSshPublicKey(KEY);
    expect(key.type).toBe('ssh-ed25519');
    expect(key.blob).toMatch(/^AAAAC3Nza/);
  });

  it('refuses a blob that holds another key type, garbage, and empty text', () => {
    const blob = parseSshPublicKey(KEY).blob;
    expect(() => parseSshPublicKey(`ssh-rsa ${blob}`)).toThrow(/does not hold a ssh-rsa key/);
    expect(() => parseSshPublicKey('ssh-ed25519 not*base64')).toThrow(/not an OpenSSH public key/);
    expect(() => parseSshPublicKey('')).toThrow(/not an OpenSSH public key/);
    expect(() => parseSshPublicKey('ssh-ed25519 AAAA', 'the guest key')).toThrow(/the guest key/);
  });

  it('compares keys by type and blob', () => {
    const a = parseSshPublicKey(KEY);
    expect(sameKey(a, parseSshPublicKey(`${a.type} ${a.blob} other-comment`))).toBe(true);
    expect(sameKey(a, { ...a, blob: `${a.blob.slice(0, -2)}==` })).toBe(false);
  });

  it('fingerprints like ssh-keygen -l (SHA256, unpadded base64)', () => {
    expect(sshFingerprint(parseSshPublicKey(KEY))).toBe(
      'SHA256:fL4RomYLl2uNnpbec+e7tQZq0EdqPVjgHRplYyoSWlE',
    );
  });
});
