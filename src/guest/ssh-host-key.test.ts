import { createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSshHostKey } from './ssh-host-key.js';
import { parseSshPublicKey } from './ssh-public-key.js';

/** Reads the SSH wire strings of an openssh-key-v1 body. */
function reader(buf: Buffer): { string(): Buffer; uint32(): number; rest(): Buffer } {
  let off = 0;
  return {
    uint32() {
      const v = buf.readUInt32BE(off);
      off += 4;
      return v;
    },
    string() {
      const n = buf.readUInt32BE(off);
      const s = buf.subarray(off + 4, off + 4 + n);
      off += 4 + n;
      return s;
    },
    rest: () => buf.subarray(off),
  };
}

describe('generateSshHostKey', () => {
  it('makes an unencrypted openssh-key-v1 ed25519 key whose halves belong together', () => {
    const key = generateSshHostKey();
    expect(key.privateKey).toMatch(
      /^-----BEGIN OPENSSH PRIVATE KEY-----\n([A-Za-z0-9+/=]{1,70}\n)+-----END OPENSSH PRIVATE KEY-----\n$/,
    );
    expect(parseSshPublicKey(key.publicLine)).toEqual(key.publicKey);
    const body = Buffer.from(
      key.privateKey.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''),
      'base64',
    );
    expect(body.subarray(0, 15).toString('latin1')).toBe('openssh-key-v1\0');
    const r = reader(body.subarray(15));
    expect(r.string().toString()).toBe('none');
    expect(r.string().toString()).toBe('none');
    expect(r.string()).toHaveLength(0);
    expect(r.uint32()).toBe(1);
    const publicBlob = r.string();
    expect(publicBlob.toString('base64')).toBe(key.publicKey.blob);
    const secret = r.string();
    expect(r.rest()).toHaveLength(0);
    expect(secret.length % 8).toBe(0);
    const s = reader(secret);
    expect(s.uint32()).toBe(s.uint32());
    expect(s.string().toString()).toBe('ssh-ed25519');
    const pub = s.string();
    const priv = s.string();
    expect(priv).toHaveLength(64);
    expect(priv.subarray(32)).toEqual(pub);
    expect(s.string()).toHaveLength(0);
    const padding = s.rest();
    expect([...padding]).toEqual(Array.from({ length: padding.length }, (_, i) => i + 1));
    // The public half is what the seed makes (Node derives it from the JWK's private part).
    const derived = createPublicKey({
      key: {
        kty: 'OKP',
        crv: 'Ed25519',
        x: pub.toString('base64url'),
        d: priv.subarray(0, 32).toString('base64url'),
      },
      format: 'jwk',
    }).export({ format: 'jwk' });
    expect(derived.x).toBe(pub.toString('base64url'));
  });

  it('makes a different key every time', () => {
    expect(generateSshHostKey().publicLine).not.toBe(generateSshHostKey().publicLine);
  });
});
