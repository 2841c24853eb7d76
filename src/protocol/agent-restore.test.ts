import { describe, expect, it } from 'vitest';
import { AgentProtocolError } from './agent-wire.js';
import {
  decodePrepareSave,
  decodeRestore,
  decodeRestoreDone,
  decodeSaveReady,
  encodePrepareSave,
  encodeRestore,
  encodeRestoreDone,
  encodeSaveReady,
  restoreFlags,
  restorePartNames,
  RESTORE_HEADER_SIZE,
  RestorePart,
} from './agent-restore.js';

describe('RESTORE payloads', () => {
  it('round-trips every part, with the flags saying which are there', () => {
    const request = {
      requestId: 7,
      timeNs: 1_795_941_656_123_456_789n,
      entropy: Buffer.from('0123456789abcdef'),
      hostname: 'clone-1',
      machineId: 'a'.repeat(32),
      network: {
        iface: 'eth0',
        mac: '02:00:00:00:00:01',
        address: '10.0.0.2/24',
        gateway: '10.0.0.1',
      },
      dns: ['10.0.0.1', '100.64.213.1'],
      sshHostKey: {
        privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nx\n',
        publicKey: 'ssh-ed25519 AAAA',
      },
    };
    const bytes = encodeRestore(request);
    // Fixed layout: id, flags, time, entropy length, then the entropy bytes.
    expect(bytes.readUInt32LE(0)).toBe(7);
    expect(bytes.readUInt32LE(4)).toBe(0x7f);
    expect(bytes.readBigInt64LE(8)).toBe(request.timeNs);
    expect(bytes.readUInt16LE(16)).toBe(16);
    expect(bytes.subarray(RESTORE_HEADER_SIZE, RESTORE_HEADER_SIZE + 16).toString()).toBe(
      '0123456789abcdef',
    );
    expect(decodeRestore(bytes)).toEqual(request);
  });

  it('carries only the parts asked for', () => {
    const bytes = encodeRestore({ requestId: 1, timeNs: 5n });
    expect(restoreFlags({ requestId: 1, timeNs: 5n })).toBe(RestorePart.time);
    expect(bytes).toHaveLength(RESTORE_HEADER_SIZE);
    expect(decodeRestore(bytes)).toEqual({ requestId: 1, timeNs: 5n });
  });

  it('refuses empty or oversized entropy and short or inconsistent payloads', () => {
    expect(() => encodeRestore({ requestId: 1, entropy: Buffer.alloc(0) })).toThrow(
      AgentProtocolError,
    );
    expect(() => encodeRestore({ requestId: 1, entropy: Buffer.alloc(1025) })).toThrow(
      AgentProtocolError,
    );
    expect(() => decodeRestore(Buffer.alloc(19))).toThrow(AgentProtocolError);
    const lying = Buffer.alloc(RESTORE_HEADER_SIZE);
    lying.writeUInt16LE(8, 16);
    expect(() => decodeRestore(lying)).toThrow(/entropy length 8/);
  });

  it('round-trips RESTORE_DONE with its failure messages', () => {
    const done = {
      requestId: 3,
      applied: RestorePart.entropy | RestorePart.dns,
      failed: RestorePart.network,
      failures: ['network: no interface eth0'],
    };
    expect(decodeRestoreDone(encodeRestoreDone(done))).toEqual(done);
    expect(() => decodeRestoreDone(Buffer.alloc(15))).toThrow(AgentProtocolError);
    expect(restorePartNames(done.applied)).toEqual(['entropy', 'dns']);
  });

  it('round-trips PREPARE_SAVE (timeout clamped to 60 s) and SAVE_READY', () => {
    expect(decodePrepareSave(encodePrepareSave({ requestId: 2, timeoutMs: 90_000 }))).toEqual({
      requestId: 2,
      timeoutMs: 60_000,
    });
    expect(decodeSaveReady(encodeSaveReady({ requestId: 2, flags: 1 }))).toEqual({
      requestId: 2,
      flags: 1,
    });
    expect(() => decodeSaveReady(Buffer.alloc(4))).toThrow(AgentProtocolError);
  });
});
