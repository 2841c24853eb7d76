import { createHash } from 'node:crypto';

/** banger's own UUIDv5 namespace (random, fixed forever): the same name always gives the same UUID. */
const BANGER_NAMESPACE = 'a7c1f0de-3b52-4c0e-9d1e-6f2b8e4c5a90';

/**
 * RFC 4122 version-5 UUID of `name` in banger's namespace. Used for the filesystem UUID and
 * hash seed of an image so that rebuilding an image under the same name gives the same ids.
 */
export function deterministicUuid(name: string): string {
  const ns = Buffer.from(BANGER_NAMESPACE.replaceAll('-', ''), 'hex');
  const digest = createHash('sha1').update(ns).update(name, 'utf8').digest();
  const bytes = digest.subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
