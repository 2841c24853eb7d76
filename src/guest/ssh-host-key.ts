/**
 * A fresh ed25519 SSH host key for a guest restored from a saved state, made on the host so
 * that the host knows (and pins) the key without asking the guest. The private key is written
 * in OpenSSH's own format (openssh-key-v1, unencrypted: PROTOCOL.key in OpenSSH's sources),
 * which every OpenSSH sshd reads; no ssh-keygen is needed.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { SshPublicKey } from './ssh-public-key.js';

export interface SshHostKey {
  /** The private key file's text (-----BEGIN OPENSSH PRIVATE KEY----- ...). */
  privateKey: string;
  publicKey: SshPublicKey;
  /** "ssh-ed25519 BASE64": the .pub file's line. */
  publicLine: string;
}

function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length, 0);
  return Buffer.concat([length, bytes]);
}

function uint32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0, 0);
  return out;
}

/** Makes an ed25519 host key; `comment` goes into the private key (default none). */
export function generateSshHostKey(comment = ''): SshHostKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  if (typeof jwk.d !== 'string' || typeof jwk.x !== 'string') {
    throw new Error('ed25519 key export returned no key material');
  }
  const seed = Buffer.from(jwk.d, 'base64url');
  const pub = Buffer.from(jwk.x, 'base64url');
  const type = 'ssh-ed25519';
  const publicBlob = Buffer.concat([sshString(type), sshString(pub)]);
  const check = randomBytes(4).readUInt32BE(0);
  let secret = Buffer.concat([
    uint32(check),
    uint32(check),
    sshString(type),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  // Padding 1, 2, 3... up to the cipher block size (8 for "none").
  const pad = (8 - (secret.length % 8)) % 8;
  secret = Buffer.concat([secret, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'),
    sshString('none'),
    sshString(Buffer.alloc(0)),
    uint32(1),
    sshString(publicBlob),
    sshString(secret),
  ]);
  const b64 = body.toString('base64');
  const lines = b64.match(/.{1,70}/g) ?? [];
  const blob = publicBlob.toString('base64');
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: { type, blob },
    publicLine: `${type} ${blob}`,
  };
}
