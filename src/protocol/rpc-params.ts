/**
 * Parameters and results of every daemon RPC method, with validators. The daemon validates
 * every request with these before it makes any resource; the CLI uses the same types.
 */
import {
  asObject,
  bool,
  fail,
  int,
  onlyKeys,
  optInt,
  optStr,
  str,
  strArray,
  strRecord,
  type Fields,
} from './validate.js';
import { parseOptionalWorkspace, type WorkspaceSpec } from './workspace-params.js';
import type { ForwardInfo } from './vm-access.js';
import type { VmmKind } from './vm-launch.js';
import {
  ARTIFACT_NAME_PATTERN,
  ARTIFACT_NAME_RULE,
  VM_NAME_PATTERN,
  VM_NAME_RULE,
  VM_REF_PATTERN,
} from './names.js';

export const LIMITS = {
  vcpu: { min: 1, max: 32 },
  memoryMib: { min: 64, max: 262144 },
  diskBytes: { min: 64 * 1024 * 1024, max: 2 * 1024 ** 4 },
  argvItems: 4096,
} as const;

export interface TtySpec {
  rows: number;
  cols: number;
  term?: string;
}

export interface ExecSpec {
  argv: string[];
  env?: Record<string, string>;
  cwd?: string;
  tty?: TtySpec;
  /** Whether the client forwards stdin; without it the command sees an empty stdin. */
  stdin: boolean;
}

export interface VmSizeParams {
  vcpu?: number;
  memoryMib?: number;
  diskBytes?: number;
}

export interface VmCreateParams extends VmSizeParams {
  name?: string;
  image?: string;
  /** The VMM for this VM (default: config `vmm`). */
  vmm?: VmmKind;
  /** Outbound NAT for this VM (default off). */
  nat?: boolean;
  /** Start it right away (default true). */
  start: boolean;
  /** Boot the kernel even when a warm template matches (docs/warm-start.md). */
  cold?: boolean;
  /** Start from this snapshot's memory and disks (its image and size). */
  fromSnapshot?: string;
}

export interface VmRunParams extends VmSizeParams {
  name?: string;
  image?: string;
  /** The VMM for this VM (default: config `vmm`). */
  vmm?: VmmKind;
  nat?: boolean;
  rm: boolean;
  /** Boot the kernel even when a warm template matches (docs/warm-start.md). */
  cold?: boolean;
  /** Empty argv: an interactive login shell. */
  exec: ExecSpec;
  /** Ship this host repository in before the command runs (workspace mode). */
  workspace?: WorkspaceSpec;
}

export interface VmRefParams {
  ref: string;
}

export interface VmExecParams extends VmRefParams {
  exec: ExecSpec;
  /** Re-ship the VM's workspace first when the host repository's HEAD moved. */
  autoPrepare?: boolean;
}

export interface VmSetParams extends VmRefParams {
  vcpu?: number;
  memoryMib?: number;
  /** NAT on or off; applies at once, also to a running VM. */
  nat?: boolean;
}

export interface VmLogsParams extends VmRefParams {
  follow: boolean;
}

export type ExitStatusInfo =
  { kind: 'exited'; code: number } | { kind: 'signaled'; signal: string; coreDumped: boolean };

/** A VM's place on banger's network (`vm show --json` .network). */
export interface VmNetworkInfo {
  mode: 'isolated' | 'bridged';
  /** The guest's own address on the bridge (other guests reach it here). */
  guestAddress: string;
  /** Where the host reaches it: its loopback address (isolated) or the guest address (bridged). */
  hostAddress: string;
  mac: string;
  nat: boolean;
  dnsName: string;
}

/** The stable JSON shape of a VM (`vm list --json`, `vm show --json`). */
export interface VmInfo {
  id: string;
  name: string;
  state: string;
  image: string;
  kernel: string;
  backend: string;
  vcpu: number;
  memoryMib: number;
  diskBytes: number;
  createdAt: string;
  startedAt: string | null;
  stoppedAt: string | null;
  pid: number | null;
  bootId: string | null;
  lastError: string | null;
  /** Absent for VMs without a network lease. */
  network?: VmNetworkInfo;
  /** The saved guest this run of the VM was restored from ("warm template ID", "snapshot NAME"). */
  restoredFrom?: string;
  /** Host endpoints forwarding into the VM (`vm forward`, automatic ones); running VMs only. */
  forwards?: ForwardInfo[];
}

export interface VmRunResult {
  vm: VmInfo;
  exit: ExitStatusInfo;
  removed: boolean;
}

function ttySpec(value: unknown, field: string): TtySpec | undefined {
  if (value === undefined || value === null) return undefined;
  const obj = asObject(value, field);
  onlyKeys(obj, ['rows', 'cols', 'term'], field);
  const tty: TtySpec = {
    rows: int(obj, 'rows', field, 1, 10000),
    cols: int(obj, 'cols', field, 1, 10000),
  };
  const term = optStr(obj, 'term', field, /^[A-Za-z0-9._+-]{1,64}$/, 'must be a terminal name');
  if (term !== undefined) tty.term = term;
  return tty;
}

export function parseExecSpec(value: unknown, field: string): ExecSpec {
  const obj = asObject(value, field);
  onlyKeys(obj, ['argv', 'env', 'cwd', 'tty', 'stdin'], field);
  const argv = strArray(obj, 'argv', field, LIMITS.argvItems);
  if (argv.some((a) => a.includes('\0'))) throw fail(`${field}.argv`, 'must not contain NUL bytes');
  if (argv.length > 0 && argv[0] === '') throw fail(`${field}.argv[0]`, 'must not be empty');
  const spec: ExecSpec = { argv, stdin: bool(obj, 'stdin', field, false) };
  const env = strRecord(obj, 'env', field);
  if (env) {
    for (const [k, v] of Object.entries(env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
        throw fail(`${field}.env`, 'names must match [A-Za-z_][A-Za-z0-9_]*', k);
      if (v.includes('\0')) throw fail(`${field}.env.${k}`, 'must not contain NUL bytes');
    }
    spec.env = env;
  }
  const cwd = optStr(obj, 'cwd', field, /^\/[^\0]*$/, 'must be an absolute path');
  if (cwd !== undefined) spec.cwd = cwd;
  const tty = ttySpec(obj.tty, `${field}.tty`);
  if (tty) spec.tty = tty;
  return spec;
}

function sizeParams(obj: Fields, field: string, out: VmSizeParams): void {
  const vcpu = optInt(obj, 'vcpu', field, LIMITS.vcpu.min, LIMITS.vcpu.max);
  if (vcpu !== undefined) out.vcpu = vcpu;
  const memoryMib = optInt(obj, 'memoryMib', field, LIMITS.memoryMib.min, LIMITS.memoryMib.max);
  if (memoryMib !== undefined) out.memoryMib = memoryMib;
  const diskBytes = optInt(obj, 'diskBytes', field, LIMITS.diskBytes.min, LIMITS.diskBytes.max);
  if (diskBytes !== undefined) out.diskBytes = diskBytes;
}

function nameAndImage(
  obj: Fields,
  field: string,
  out: { name?: string; image?: string; vmm?: VmmKind },
): void {
  const name = optStr(obj, 'name', field, VM_NAME_PATTERN, VM_NAME_RULE);
  if (name !== undefined) out.name = name;
  const image = optStr(obj, 'image', field, ARTIFACT_NAME_PATTERN, ARTIFACT_NAME_RULE);
  if (image !== undefined) out.image = image;
  const vmm = optStr(obj, 'vmm', field, /^(qemu|firecracker)$/, 'must be "qemu" or "firecracker"');
  if (vmm !== undefined) out.vmm = vmm as VmmKind;
}

export function parseVmCreateParams(value: unknown): VmCreateParams {
  const obj = asObject(value, 'params');
  onlyKeys(
    obj,
    [
      'name',
      'image',
      'vcpu',
      'memoryMib',
      'diskBytes',
      'start',
      'nat',
      'cold',
      'fromSnapshot',
      'vmm',
    ],
    'params',
  );
  const out: VmCreateParams = { start: bool(obj, 'start', 'params', true) };
  if (obj.nat !== undefined) out.nat = bool(obj, 'nat', 'params', false);
  if (bool(obj, 'cold', 'params', false)) out.cold = true;
  const fromSnapshot = optStr(obj, 'fromSnapshot', 'params', VM_NAME_PATTERN, VM_NAME_RULE);
  if (fromSnapshot !== undefined) {
    if (out.cold) throw fail('params.cold', 'cannot go with fromSnapshot');
    if (!out.start)
      throw fail(
        'params.start',
        'must be true with fromSnapshot (a clone runs on from where its snapshot was)',
      );
    out.fromSnapshot = fromSnapshot;
  }
  nameAndImage(obj, 'params', out);
  sizeParams(obj, 'params', out);
  return out;
}

export function parseVmRunParams(value: unknown): VmRunParams {
  const obj = asObject(value, 'params');
  onlyKeys(
    obj,
    [
      'name',
      'image',
      'vcpu',
      'memoryMib',
      'diskBytes',
      'rm',
      'exec',
      'nat',
      'workspace',
      'cold',
      'vmm',
    ],
    'params',
  );
  const out: VmRunParams = {
    rm: bool(obj, 'rm', 'params', false),
    exec: parseExecSpec(obj.exec, 'params.exec'),
  };
  if (bool(obj, 'cold', 'params', false)) out.cold = true;
  if (obj.nat !== undefined) out.nat = bool(obj, 'nat', 'params', false);
  const workspace = parseOptionalWorkspace(obj, 'params');
  if (workspace) out.workspace = workspace;
  nameAndImage(obj, 'params', out);
  sizeParams(obj, 'params', out);
  return out;
}

export function parseVmRefParams(value: unknown): VmRefParams {
  const obj = asObject(value, 'params');
  onlyKeys(obj, ['ref'], 'params');
  return { ref: str(obj, 'ref', 'params', VM_REF_PATTERN, 'must be a VM name or id prefix') };
}

export function parseVmExecParams(value: unknown): VmExecParams {
  const obj = asObject(value, 'params');
  onlyKeys(obj, ['ref', 'exec', 'autoPrepare'], 'params');
  const out: VmExecParams = {
    ref: str(obj, 'ref', 'params', VM_REF_PATTERN, 'must be a VM name or id prefix'),
    exec: parseExecSpec(obj.exec, 'params.exec'),
  };
  if (bool(obj, 'autoPrepare', 'params', false)) out.autoPrepare = true;
  return out;
}

export function parseVmSetParams(value: unknown): VmSetParams {
  const obj = asObject(value, 'params');
  onlyKeys(obj, ['ref', 'vcpu', 'memoryMib', 'nat'], 'params');
  const out: VmSetParams = {
    ref: str(obj, 'ref', 'params', VM_REF_PATTERN, 'must be a VM name or id prefix'),
  };
  const vcpu = optInt(obj, 'vcpu', 'params', LIMITS.vcpu.min, LIMITS.vcpu.max);
  if (vcpu !== undefined) out.vcpu = vcpu;
  const memoryMib = optInt(obj, 'memoryMib', 'params', LIMITS.memoryMib.min, LIMITS.memoryMib.max);
  if (memoryMib !== undefined) out.memoryMib = memoryMib;
  if (obj.nat !== undefined) out.nat = bool(obj, 'nat', 'params', false);
  return out;
}

export function parseVmLogsParams(value: unknown): VmLogsParams {
  const obj = asObject(value, 'params');
  onlyKeys(obj, ['ref', 'follow'], 'params');
  return {
    ref: str(obj, 'ref', 'params', VM_REF_PATTERN, 'must be a VM name or id prefix'),
    follow: bool(obj, 'follow', 'params', false),
  };
}

export function parseArtifactName(value: unknown, field = 'params'): { name: string } {
  const obj = asObject(value, field);
  onlyKeys(obj, ['name'], field);
  return { name: str(obj, 'name', field, ARTIFACT_NAME_PATTERN, ARTIFACT_NAME_RULE) };
}

export function parseNoParams(value: unknown): Record<string, never> {
  if (value === undefined || value === null) return {};
  onlyKeys(asObject(value, 'params'), [], 'params');
  return {};
}

export function parseOptionalStrings(
  value: unknown,
  keys: readonly string[],
): Record<string, string | undefined> {
  const obj = asObject(value ?? {}, 'params');
  onlyKeys(obj, keys, 'params');
  const out: Record<string, string | undefined> = {};
  for (const key of keys) out[key] = optStr(obj, key, 'params');
  return out;
}
