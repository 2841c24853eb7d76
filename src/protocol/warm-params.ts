/**
 * RPC parameters and results of warm starts (docs/warm-start.md): `image.warm` (save a warm
 * template of an image), `image.templates`, `image.unwarm`, `vm.pause`/`vm.resume` (ref
 * params), `vm.snapshot`, `snapshot.list`, `snapshot.delete`.
 */
import { bool, asObject, fail, onlyKeys, optInt, optStr, str } from './validate.js';
import {
  ARTIFACT_NAME_PATTERN,
  ARTIFACT_NAME_RULE,
  VM_NAME_PATTERN,
  VM_NAME_RULE,
  VM_REF_PATTERN,
} from './names.js';
import { LIMITS } from './rpc-params.js';

/** A snapshot is known by a name with the rules of a VM name. */
export const SNAPSHOT_NAME_PATTERN = VM_NAME_PATTERN;
export const SNAPSHOT_NAME_RULE = VM_NAME_RULE;

/** A saved guest: a warm template or a snapshot (`image templates --json`, `snapshot list --json`). */
export interface SavedInfo {
  kind: 'template' | 'snapshot';
  id: string;
  /** Snapshots only. */
  name?: string;
  image: string;
  kernel: string;
  backend: string;
  vcpu: number;
  memoryMib: number;
  /** Work disk bytes; 0: none (a template for `vm run --rm`). */
  diskBytes: number;
  createdAt: string;
  /** Snapshots: the VM it was taken of. */
  sourceVm?: string;
  /** The saved guest's kernel boot id: every VM restored from it reports this one too. */
  guestBootId: string;
  dir: string;
}

export interface ImageWarmParams {
  name: string;
  vcpu?: number;
  memoryMib?: number;
  diskBytes?: number;
  /** A template without a work disk: only for `vm run --rm`. */
  noDisk?: boolean;
  /** Build a new template even if a valid one exists. */
  force?: boolean;
}

export interface ImageWarmResult {
  template: SavedInfo;
  /** False when a valid template was already there. */
  built: boolean;
}

export interface VmSnapshotParams {
  ref: string;
  /** Default: "<vm>-<n>". */
  name?: string;
}

export function parseImageWarmParams(value: unknown): ImageWarmParams {
  const obj = asObject(value, 'params');
  onlyKeys(obj, ['name', 'vcpu', 'memoryMib', 'diskBytes', 'noDisk', 'force'], 'params');
  const out: ImageWarmParams = {
    name: str(obj, 'name', 'params', ARTIFACT_NAME_PATTERN, ARTIFACT_NAME_RULE),
  };
  const vcpu = optInt(obj, 'vcpu', 'params', LIMITS.vcpu.min, LIMITS.vcpu.max);
  if (vcpu !== undefined) out.vcpu = vcpu;
  const memoryMib = optInt(obj, 'memoryMib', 'params', LIMITS.memoryMib.min, LIMITS.memoryMib.max);
  if (memoryMib !== undefined) out.memoryMib = memoryMib;
  const diskBytes = optInt(obj, 'diskBytes', 'params', LIMITS.diskBytes.min, LIMITS.diskBytes.max);
  if (diskBytes !== undefined) out.diskBytes = diskBytes;
  if (bool(obj, 'noDisk', 'params', false)) out.noDisk = true;
  if (bool(obj, 'force', 'params', false)) out.force = true;
  if (out.noDisk && out.diskBytes !== undefined)
    throw fail('params.noDisk', 'cannot go with diskBytes (a template has one work disk or none)');
  return out;
}

export function parseImageTemplatesParams(value: unknown): { name?: string } {
  const obj = asObject(value ?? {}, 'params');
  onlyKeys(obj, ['name'], 'params');
  const name = optStr(obj, 'name', 'params', ARTIFACT_NAME_PATTERN, ARTIFACT_NAME_RULE);
  return name === undefined ? {} : { name };
}

export function parseVmSnapshotParams(value: unknown): VmSnapshotParams {
  const obj = asObject(value, 'params');
  onlyKeys(obj, ['ref', 'name'], 'params');
  const out: VmSnapshotParams = {
    ref: str(obj, 'ref', 'params', VM_REF_PATTERN, 'must be a VM name or id prefix'),
  };
  const name = optStr(obj, 'name', 'params', SNAPSHOT_NAME_PATTERN, SNAPSHOT_NAME_RULE);
  if (name !== undefined) out.name = name;
  return out;
}

export function parseSnapshotRefParams(value: unknown): { name: string } {
  const obj = asObject(value, 'params');
  onlyKeys(obj, ['name'], 'params');
  return { name: str(obj, 'name', 'params', SNAPSHOT_NAME_PATTERN, SNAPSHOT_NAME_RULE) };
}
