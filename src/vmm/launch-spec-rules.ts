/**
 * Validation of a VmLaunchSpec before any argv is built from it. The spec may arrive over the
 * root helper's socket from a less privileged daemon, so every field is checked for type,
 * range and shape, and each failure is a bad_request naming the field and the rule. Pure.
 */
import path from 'node:path';
import { BangerError } from '../base/index.js';
import { VM_ID_PATTERN, type VmLaunchSpec } from '../protocol/index.js';

export const LAUNCH_LIMITS = {
  vcpus: { min: 1, max: 64 },
  memoryMib: { min: 64, max: 1024 * 1024 },
  disks: 8,
  nics: 4,
  kernelArgs: 64,
  /** x86 COMMAND_LINE_SIZE is 2048 including the NUL. */
  cmdlineBytes: 2047,
  /** sockaddr_un.sun_path is 108 bytes including the NUL. */
  socketPathBytes: 107,
  /** Backends name their sockets in runDir with at most this many bytes (qmp.sock, agent.sock...). */
  socketNameBytes: 16,
} as const;

export const DISK_ID_PATTERN = /^[a-z0-9]{1,16}$/;
/** Linux interface names: at most 15 bytes; we allow only characters QEMU options cannot misread. */
export const TAP_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;
export const MAC_PATTERN = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
export const NETNS_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
/**
 * One kernel argument: no whitespace, quotes or backslashes (the kernel parses those), no
 * control characters. `root=/dev/vda`, `banger.hostname=dev-1`, `rw` all fit.
 */
export const KERNEL_ARG_PATTERN = /^[A-Za-z0-9_.,:=/@+%-]{1,256}$/;

export function invalid(field: string, rule: string, value?: unknown): BangerError {
  const shown = value === undefined ? '' : ` (got ${preview(value)})`;
  return new BangerError('bad_request', `launch spec: ${field} ${rule}${shown}`);
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** An absolute, normalised path without control characters (QEMU option escaping is separate). */
export function checkPath(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 4096) {
    throw invalid(field, 'must be a path of 1 to 4096 characters', value);
  }
  if (/[\x00-\x1f\x7f]/.test(value))
    throw invalid(field, 'must not contain control characters or newlines', value);
  if (
    !path.posix.isAbsolute(value) ||
    path.posix.normalize(value) !== value ||
    value.endsWith('/')
  ) {
    throw invalid(
      field,
      'must be an absolute, normalised path (no "..", "//" or trailing "/")',
      value,
    );
  }
  return value;
}

function checkInt(value: unknown, field: string, range: { min: number; max: number }): number {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < range.min ||
    value > range.max
  ) {
    throw invalid(
      field,
      `must be an integer from ${String(range.min)} to ${String(range.max)}`,
      value,
    );
  }
  return value;
}

function checkArray(value: unknown, field: string, max: number): unknown[] {
  if (!Array.isArray(value) || value.length > max)
    throw invalid(field, `must be a list of at most ${String(max)}`, value);
  return value;
}

function checkObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(field, 'must be an object', value);
  return value as Record<string, unknown>;
}

/** True for a locally administered (bit 1 set) unicast (bit 0 clear) MAC. */
export function isLocalUnicastMac(mac: string): boolean {
  if (!MAC_PATTERN.test(mac)) return false;
  const first = parseInt(mac.slice(0, 2), 16);
  return (first & 0x02) !== 0 && (first & 0x01) === 0;
}

/** Throws bad_request naming the first field that breaks a rule; returns the spec typed. */
export function checkLaunchSpec(raw: unknown): VmLaunchSpec {
  const spec = checkObject(raw, 'spec');
  if (typeof spec.vmId !== 'string' || !VM_ID_PATTERN.test(spec.vmId)) {
    throw invalid('vmId', 'must be 12 lowercase hex characters', spec.vmId);
  }
  checkInt(spec.vcpus, 'vcpus', LAUNCH_LIMITS.vcpus);
  checkInt(spec.memoryMib, 'memoryMib', LAUNCH_LIMITS.memoryMib);
  if (spec.accel !== 'kvm' && spec.accel !== 'tcg')
    throw invalid('accel', 'must be "kvm" or "tcg"', spec.accel);

  const boot = checkObject(spec.boot, 'boot');
  checkPath(boot.kernelPath, 'boot.kernelPath');
  if (boot.initrdPath !== undefined) checkPath(boot.initrdPath, 'boot.initrdPath');
  checkArray(boot.args, 'boot.args', LAUNCH_LIMITS.kernelArgs).forEach((arg, i) => {
    if (typeof arg !== 'string' || !KERNEL_ARG_PATTERN.test(arg)) {
      throw invalid(`boot.args[${String(i)}]`, `must match ${String(KERNEL_ARG_PATTERN)}`, arg);
    }
  });

  const diskIds = new Set<string>();
  checkArray(spec.disks, 'disks', LAUNCH_LIMITS.disks).forEach((d, i) => {
    const field = `disks[${String(i)}]`;
    const disk = checkObject(d, field);
    if (typeof disk.id !== 'string' || !DISK_ID_PATTERN.test(disk.id)) {
      throw invalid(`${field}.id`, `must match ${String(DISK_ID_PATTERN)}`, disk.id);
    }
    if (diskIds.has(disk.id)) throw invalid(`${field}.id`, 'must be unique', disk.id);
    diskIds.add(disk.id);
    checkPath(disk.path, `${field}.path`);
    if (disk.format !== 'raw' && disk.format !== 'qcow2')
      throw invalid(`${field}.format`, 'must be raw or qcow2', disk.format);
    if (typeof disk.readOnly !== 'boolean')
      throw invalid(`${field}.readOnly`, 'must be true or false', disk.readOnly);
  });

  const taps = new Set<string>();
  checkArray(spec.nics, 'nics', LAUNCH_LIMITS.nics).forEach((n, i) => {
    const field = `nics[${String(i)}]`;
    const nic = checkObject(n, field);
    if (typeof nic.tap !== 'string' || !TAP_PATTERN.test(nic.tap)) {
      throw invalid(`${field}.tap`, `must match ${String(TAP_PATTERN)}`, nic.tap);
    }
    if (taps.has(nic.tap)) throw invalid(`${field}.tap`, 'must be unique', nic.tap);
    taps.add(nic.tap);
    if (typeof nic.mac !== 'string' || !isLocalUnicastMac(nic.mac)) {
      throw invalid(
        `${field}.mac`,
        'must be a lowercase, locally administered unicast MAC (e.g. 02:xx:xx:xx:xx:xx)',
        nic.mac,
      );
    }
  });

  const runDir = checkPath(spec.runDir, 'runDir');
  // Every socket a backend creates in runDir must fit in sun_path.
  if (
    Buffer.byteLength(runDir) + 1 + LAUNCH_LIMITS.socketNameBytes >
    LAUNCH_LIMITS.socketPathBytes
  ) {
    throw invalid(
      'runDir',
      `is too long: sockets in it must fit in ${String(LAUNCH_LIMITS.socketPathBytes)} bytes`,
      runDir,
    );
  }
  checkPath(spec.consoleLogPath, 'consoleLogPath');
  checkPath(spec.vmmLogPath, 'vmmLogPath');
  if (
    spec.netns !== undefined &&
    (typeof spec.netns !== 'string' || !NETNS_PATTERN.test(spec.netns))
  ) {
    throw invalid('netns', `must match ${String(NETNS_PATTERN)}`, spec.netns);
  }
  if (spec.memoryFile !== undefined) {
    const memory = checkObject(spec.memoryFile, 'memoryFile');
    checkPath(memory.path, 'memoryFile.path');
    if (typeof memory.shared !== 'boolean')
      throw invalid('memoryFile.shared', 'must be true or false', memory.shared);
  }
  if (spec.incoming !== undefined && typeof spec.incoming !== 'boolean')
    throw invalid('incoming', 'must be true or false', spec.incoming);
  return raw as VmLaunchSpec;
}
