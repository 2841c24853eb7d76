/**
 * Payloads of the `restore` capability of the guest-agent protocol (docs/agent-protocol.md,
 * "Restore"): RESTORE gives a guest restored from a saved state its own identity (clock,
 * entropy, hostname, machine-id, MAC and address, DNS, SSH host key) and RESTORE_DONE says
 * what was applied; PREPARE_SAVE asks a guest to finish first-boot work and sync before it is
 * saved, SAVE_READY answers. Pure codecs; decoders check lengths, the guest is untrusted.
 */
import { AgentProtocolError, AGENT_MAX_PAYLOAD } from './agent-wire.js';
import { decodeRecords, encodeRecords } from './agent-payloads.js';

/** RESTORE.flags: the parts of the identity to apply (RESTORE_DONE reports the same bits). */
export const RestorePart = {
  time: 0x01,
  entropy: 0x02,
  hostname: 0x04,
  machineId: 0x08,
  network: 0x10,
  dns: 0x20,
  sshHostKey: 0x40,
} as const;
export type RestorePartName = keyof typeof RestorePart;

export const RESTORE_HEADER_SIZE = 20;
export const RESTORE_MAX_ENTROPY = 1024;

const REC = {
  hostname: 0x48, // 'H'
  iface: 0x49, // 'I'
  mac: 0x4d, // 'M'
  address: 0x41, // 'A'
  gateway: 0x47, // 'G'
  dns: 0x44, // 'D'
  machineId: 0x4e, // 'N'
  sshPrivate: 0x53, // 'S'
  sshPublic: 0x50, // 'P'
  failure: 0x46, // 'F'
} as const;

/** SAVE_READY.flags */
export const SAVE_READY_SSHD = 0x01;
export const SAVE_READY_TIMEOUT = 0x02;

export interface RestoreNetwork {
  /** Guest interface (default eth0). */
  iface?: string | undefined;
  mac: string;
  /** ADDR/PREFIX; absent: only the MAC changes. */
  address?: string | undefined;
  gateway?: string | undefined;
}

export interface RestorePayload {
  requestId: number;
  /** Unix time in nanoseconds (part `time`). */
  timeNs?: bigint | undefined;
  /** Host randomness credited to the guest's pool before a forced reseed (part `entropy`). */
  entropy?: Buffer | undefined;
  hostname?: string | undefined;
  /** 32 lowercase hex digits (part `machineId`). */
  machineId?: string | undefined;
  network?: RestoreNetwork | undefined;
  /** Resolver addresses (part `dns`). */
  dns?: string[] | undefined;
  /** OpenSSH private key file text and its "TYPE BASE64" public line (part `sshHostKey`). */
  sshHostKey?: { privateKey: string; publicKey: string } | undefined;
}

function need(payload: Buffer, size: number, what: string): void {
  if (payload.length < size) {
    throw new AgentProtocolError(
      `${what} payload is ${payload.length} bytes, at least ${size} expected`,
    );
  }
}

/** The parts a payload carries. */
export function restoreFlags(restore: RestorePayload): number {
  let flags = 0;
  if (restore.timeNs !== undefined) flags |= RestorePart.time;
  if (restore.entropy !== undefined) flags |= RestorePart.entropy;
  if (restore.hostname !== undefined) flags |= RestorePart.hostname;
  if (restore.machineId !== undefined) flags |= RestorePart.machineId;
  if (restore.network !== undefined) flags |= RestorePart.network;
  if (restore.dns !== undefined) flags |= RestorePart.dns;
  if (restore.sshHostKey !== undefined) flags |= RestorePart.sshHostKey;
  return flags;
}

export function encodeRestore(restore: RestorePayload): Buffer {
  const entropy = restore.entropy ?? Buffer.alloc(0);
  if (entropy.length > RESTORE_MAX_ENTROPY) {
    throw new AgentProtocolError(`RESTORE carries at most ${RESTORE_MAX_ENTROPY} entropy bytes`);
  }
  if (restore.entropy !== undefined && entropy.length === 0) {
    throw new AgentProtocolError('RESTORE entropy must not be empty');
  }
  const head = Buffer.alloc(RESTORE_HEADER_SIZE);
  head.writeUInt32LE(restore.requestId >>> 0, 0);
  head.writeUInt32LE(restoreFlags(restore), 4);
  head.writeBigInt64LE(restore.timeNs ?? 0n, 8);
  head.writeUInt16LE(entropy.length, 16);
  const records: [number, string][] = [];
  if (restore.hostname !== undefined) records.push([REC.hostname, restore.hostname]);
  if (restore.machineId !== undefined) records.push([REC.machineId, restore.machineId]);
  const net = restore.network;
  if (net !== undefined) {
    if (net.iface !== undefined) records.push([REC.iface, net.iface]);
    records.push([REC.mac, net.mac]);
    if (net.address !== undefined) records.push([REC.address, net.address]);
    if (net.gateway !== undefined) records.push([REC.gateway, net.gateway]);
  }
  for (const server of restore.dns ?? []) records.push([REC.dns, server]);
  if (restore.sshHostKey !== undefined) {
    records.push([REC.sshPrivate, restore.sshHostKey.privateKey]);
    records.push([REC.sshPublic, restore.sshHostKey.publicKey]);
  }
  const out = Buffer.concat([head, entropy, encodeRecords(records)]);
  if (out.length > AGENT_MAX_PAYLOAD) {
    throw new AgentProtocolError(`the RESTORE request is ${out.length} bytes; too long`);
  }
  return out;
}

export function decodeRestore(payload: Buffer): RestorePayload {
  need(payload, RESTORE_HEADER_SIZE, 'RESTORE');
  const flags = payload.readUInt32LE(4);
  const entropyLength = payload.readUInt16LE(16);
  if (entropyLength > RESTORE_MAX_ENTROPY || RESTORE_HEADER_SIZE + entropyLength > payload.length) {
    throw new AgentProtocolError(`RESTORE entropy length ${entropyLength} does not fit`);
  }
  const out: RestorePayload = { requestId: payload.readUInt32LE(0) };
  if (flags & RestorePart.time) out.timeNs = payload.readBigInt64LE(8);
  if (flags & RestorePart.entropy) {
    out.entropy = Buffer.from(
      payload.subarray(RESTORE_HEADER_SIZE, RESTORE_HEADER_SIZE + entropyLength),
    );
  }
  const net: RestoreNetwork = { mac: '' };
  let sshPrivate = '';
  let sshPublic = '';
  for (const [tag, value] of decodeRecords(payload.subarray(RESTORE_HEADER_SIZE + entropyLength))) {
    if (tag === REC.hostname) out.hostname = value;
    else if (tag === REC.machineId) out.machineId = value;
    else if (tag === REC.iface) net.iface = value;
    else if (tag === REC.mac) net.mac = value;
    else if (tag === REC.address) net.address = value;
    else if (tag === REC.gateway) net.gateway = value;
    else if (tag === REC.dns) (out.dns ??= []).push(value);
    else if (tag === REC.sshPrivate) sshPrivate = value;
    else if (tag === REC.sshPublic) sshPublic = value;
  }
  if (flags & RestorePart.network) out.network = net;
  if (flags & RestorePart.dns) out.dns ??= [];
  if (flags & RestorePart.sshHostKey)
    out.sshHostKey = { privateKey: sshPrivate, publicKey: sshPublic };
  return out;
}

export interface RestoreDonePayload {
  requestId: number;
  /** RestorePart bits applied. */
  applied: number;
  /** RestorePart bits that failed; `failures` says why. */
  failed: number;
  failures: string[];
}

export function encodeRestoreDone(done: RestoreDonePayload): Buffer {
  const head = Buffer.alloc(16);
  head.writeUInt32LE(done.requestId >>> 0, 0);
  head.writeUInt32LE(done.applied >>> 0, 4);
  head.writeUInt32LE(done.failed >>> 0, 8);
  return Buffer.concat([
    head,
    encodeRecords(done.failures.map((f): [number, string] => [REC.failure, f])),
  ]);
}

export function decodeRestoreDone(payload: Buffer): RestoreDonePayload {
  need(payload, 16, 'RESTORE_DONE');
  return {
    requestId: payload.readUInt32LE(0),
    applied: payload.readUInt32LE(4),
    failed: payload.readUInt32LE(8),
    failures: decodeRecords(payload.subarray(16))
      .filter(([tag]) => tag === REC.failure)
      .map(([, value]) => value),
  };
}

export function encodePrepareSave(request: { requestId: number; timeoutMs: number }): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt32LE(request.requestId >>> 0, 0);
  out.writeUInt32LE(Math.max(0, Math.min(60_000, Math.round(request.timeoutMs))), 4);
  return out;
}

export function decodePrepareSave(payload: Buffer): { requestId: number; timeoutMs: number } {
  need(payload, 8, 'PREPARE_SAVE');
  return { requestId: payload.readUInt32LE(0), timeoutMs: payload.readUInt32LE(4) };
}

export function encodeSaveReady(ready: { requestId: number; flags: number }): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt32LE(ready.requestId >>> 0, 0);
  out.writeUInt32LE(ready.flags >>> 0, 4);
  return out;
}

export function decodeSaveReady(payload: Buffer): { requestId: number; flags: number } {
  need(payload, 8, 'SAVE_READY');
  return { requestId: payload.readUInt32LE(0), flags: payload.readUInt32LE(4) };
}

/** "time, entropy" for a set of RestorePart bits. */
export function restorePartNames(bits: number): RestorePartName[] {
  return (Object.entries(RestorePart) as [RestorePartName, number][])
    .filter(([, bit]) => (bits & bit) !== 0)
    .map(([name]) => name);
}
