import { randomBytes } from 'node:crypto';

/** A random lowercase hex id: 12 characters = 48 bits, short enough for socket paths. */
export function newId(bytes = 6): string {
  return randomBytes(bytes).toString('hex');
}
