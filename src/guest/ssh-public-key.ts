/**
 * OpenSSH public keys as one line of text (`ssh-ed25519 AAAA... comment`): parsed and checked
 * (the base64 blob must decode and name the same key type), and fingerprinted the way
 * `ssh-keygen -l` prints it. Keys read from a guest are untrusted input.
 */
import { createHash } from 'node:crypto';
import { BangerError } from '../base/index.js';

export interface SshPublicKey {
  /** 'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa', ... */
  type: string;
  /** The base64 key blob. */
  blob: string;
}

const TYPE = /^[a-z0-9][a-z0-9@.-]{2,63}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parses `TYPE BASE64 [comment]`; `bad_request` naming `what` when it is not one. */
export function parseSshPublicKey(text: string, what = 'SSH public key'): SshPublicKey {
  const [type = '', blob = ''] = text.trim().split(/\s+/);
  if (!TYPE.test(type) || !BASE64.test(blob) || blob.length > 16_384) {
    throw new BangerError('bad_request', `${what} is not an OpenSSH public key line`);
  }
  const raw = Buffer.from(blob, 'base64');
  const nameLength = raw.length >= 4 ? raw.readUInt32BE(0) : -1;
  if (
    nameLength < 1 ||
    4 + nameLength > raw.length ||
    raw.toString('latin1', 4, 4 + nameLength) !== type
  ) {
    throw new BangerError('bad_request', `${what}: the key blob does not hold a ${type} key`);
  }
  return { type, blob };
}

/** 'SHA256:...' (unpadded base64 of the blob's SHA-256), as `ssh-keygen -l` shows it. */
export function sshFingerprint(key: SshPublicKey): string {
  const digest = createHash('sha256').update(Buffer.from(key.blob, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

export function sameKey(a: SshPublicKey, b: SshPublicKey): boolean {
  return a.type === b.type && a.blob === b.blob;
}
