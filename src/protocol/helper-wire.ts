/**
 * The wire contract between bangerd (or any root caller) and bangerd-root: one request per
 * connection over banger's RPC framing, `method` = one of HELPER_OPS, `params` = that
 * PrivilegedOps method's request. Anything else is refused by the helper before it acts.
 */
import type { PrivilegedOps } from './privileged-ops.js';

/** Every operation bangerd-root performs; the table is closed. */
export const HELPER_OPS = [
  'hello',
  'ensureBridge',
  'removeNetwork',
  'createTap',
  'deleteTap',
  'listLinks',
  'syncNat',
  'startNetProcess',
  'stopNetProcess',
  'netProcessAlive',
  'launchVmm',
  'killVmm',
  'releaseVmm',
] as const satisfies readonly ('hello' | keyof PrivilegedOps)[];

export type HelperOp = (typeof HELPER_OPS)[number];

/** `hello`: who answers (for doctor's version-drift row and the owner check). */
export interface HelperHello {
  /** The version of the helper's running build. */
  version: string;
  /** The version the install record names. */
  installedVersion: string;
  pid: number;
  owner: string;
  ownerUid: number;
  ownerGid: number;
}

export function isHelperOp(value: unknown): value is HelperOp {
  return typeof value === 'string' && (HELPER_OPS as readonly string[]).includes(value);
}
