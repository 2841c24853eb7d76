import { describe, expect, it } from 'vitest';
import {
  decodeForwardOpen,
  decodeForwardStatus,
  decodePorts,
  decodePortsList,
  decodePortsWatch,
  encodeForwardOpen,
  encodeForwardStatus,
  encodePorts,
  encodePortsList,
  encodePortsWatch,
  PORTS_ENTRY_SIZE,
} from './agent-ports.js';
import { AgentProtocolError } from './agent-wire.js';

describe('PORTS payloads', () => {
  it('round-trips IPv4 and IPv6 entries with their process', () => {
    const report = {
      requestId: 7,
      truncated: false,
      ports: [
        { family: 'ipv4' as const, address: '0.0.0.0', port: 22, pid: 99, process: 'sshd' },
        { family: 'ipv6' as const, address: '::', port: 22 },
        { family: 'ipv6' as const, address: 'fe80::1:2', port: 8080 },
        { family: 'ipv6' as const, address: '2001:db8:0:1:1:1:1:1', port: 443 },
      ],
    };
    const bytes = encodePorts(report);
    expect(bytes.length).toBe(12 + 4 * PORTS_ENTRY_SIZE);
    expect(decodePorts(bytes)).toEqual(report);
  });

  it('writes IPv4-mapped addresses as ::ffff:a.b.c.d and compresses the longest zero run', () => {
    const bytes = encodePorts({ requestId: 0, truncated: true, ports: [] });
    const entry = Buffer.alloc(PORTS_ENTRY_SIZE);
    entry.writeUInt8(6, 0);
    entry.writeUInt16LE(80, 2);
    Buffer.from('00000000000000000000ffff7f000001', 'hex').copy(entry, 4);
    const head = Buffer.from(bytes);
    head.writeUInt32LE(1, 4);
    const decoded = decodePorts(Buffer.concat([head, entry]));
    expect(decoded.truncated).toBe(true);
    expect(decoded.ports).toEqual([{ family: 'ipv6', address: '::ffff:127.0.0.1', port: 80 }]);
  });

  it('refuses a count the payload does not carry, a bad family and port 0', () => {
    const head = Buffer.alloc(12);
    head.writeUInt32LE(2, 4);
    expect(() => decodePorts(head)).toThrow(AgentProtocolError);
    const entry = Buffer.alloc(PORTS_ENTRY_SIZE);
    entry.writeUInt8(5, 0);
    entry.writeUInt16LE(1, 2);
    head.writeUInt32LE(1, 4);
    expect(() => decodePorts(Buffer.concat([head, entry]))).toThrow(/family 5/);
    entry.writeUInt8(4, 0);
    entry.writeUInt16LE(0, 2);
    expect(() => decodePorts(Buffer.concat([head, entry]))).toThrow(/port 0/);
  });

  it('encodes the list and watch requests', () => {
    expect(decodePortsList(encodePortsList(42))).toBe(42);
    expect(decodePortsWatch(encodePortsWatch(500))).toBe(500);
    expect(() => decodePortsWatch(Buffer.alloc(2))).toThrow(AgentProtocolError);
  });
});

describe('FORWARD payloads', () => {
  it('round-trips an open request with and without an address', () => {
    expect(decodeForwardOpen(encodeForwardOpen({ port: 22 }))).toEqual({ port: 22 });
    expect(decodeForwardOpen(encodeForwardOpen({ port: 8080, address: '::1' }))).toEqual({
      port: 8080,
      address: '::1',
    });
  });

  it('refuses a port outside 1..65535', () => {
    expect(() => encodeForwardOpen({ port: 0 })).toThrow(AgentProtocolError);
    expect(() => encodeForwardOpen({ port: 65536 })).toThrow(AgentProtocolError);
  });

  it('carries an errno and a message in FAILED and CLOSED', () => {
    const bytes = encodeForwardStatus({ errno: 111, message: 'connect to 127.0.0.1:1: refused' });
    expect(decodeForwardStatus(bytes, 'FORWARD_FAILED')).toEqual({
      errno: 111,
      message: 'connect to 127.0.0.1:1: refused',
    });
    expect(() => decodeForwardStatus(Buffer.alloc(3), 'FORWARD_CLOSED')).toThrow(/FORWARD_CLOSED/);
  });
});
