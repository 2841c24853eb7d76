/**
 * Payloads of the `ports` and `forward` capabilities of the guest-agent protocol
 * (docs/agent-protocol.md, "Listening ports" and "TCP forwarding"): the guest's listening TCP
 * sockets, and byte streams to a TCP address inside the guest. Pure codecs; every decoder
 * checks lengths and values, since the guest is untrusted.
 */
import { AgentProtocolError } from './agent-wire.js';
import { decodeRecords, encodeRecords } from './agent-payloads.js';

/** One TCP socket in state LISTEN inside the guest. */
export interface ListeningPort {
  family: 'ipv4' | 'ipv6';
  /** Numeric address it is bound to ('0.0.0.0', '::', '127.0.0.1', '::1', ...). */
  address: string;
  port: number;
  /** Pid of a process holding the socket, when the agent found one. */
  pid?: number;
  /** That process's name (/proc/PID/comm), when known. */
  process?: string;
}

export const PORTS_ENTRY_SIZE = 40;
const PORTS_HEAD_SIZE = 12;
/** PORTS.flags bit 0: the guest had more sockets than one frame holds. */
export const PORTS_FLAG_TRUNCATED = 0x01;
/** The watch interval the host asks for (the agent clamps to 100..60000 ms). */
export const PORTS_WATCH_DEFAULT_MS = 500;

export interface PortsPayload {
  /** The PORTS_LIST request answered, or 0 for a report pushed by a watch. */
  requestId: number;
  truncated: boolean;
  ports: ListeningPort[];
}

export function encodePortsList(requestId: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32LE(requestId, 0);
  return out;
}

export function decodePortsList(payload: Buffer): number {
  need(payload, 4, 'PORTS_LIST');
  return payload.readUInt32LE(0);
}

/** PORTS_WATCH: 0 stops watching. */
export function encodePortsWatch(intervalMs: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32LE(intervalMs, 0);
  return out;
}

export function decodePortsWatch(payload: Buffer): number {
  need(payload, 4, 'PORTS_WATCH');
  return payload.readUInt32LE(0);
}

export function encodePorts(ports: PortsPayload): Buffer {
  const out = Buffer.alloc(PORTS_HEAD_SIZE + ports.ports.length * PORTS_ENTRY_SIZE);
  out.writeUInt32LE(ports.requestId, 0);
  out.writeUInt32LE(ports.ports.length, 4);
  out.writeUInt8(ports.truncated ? PORTS_FLAG_TRUNCATED : 0, 8);
  ports.ports.forEach((port, i) => {
    const at = PORTS_HEAD_SIZE + i * PORTS_ENTRY_SIZE;
    out.writeUInt8(port.family === 'ipv4' ? 4 : 6, at);
    out.writeUInt16LE(port.port, at + 2);
    encodeAddress(port.family, port.address).copy(out, at + 4);
    out.writeUInt32LE(port.pid ?? 0, at + 20);
    Buffer.from(port.process ?? '', 'utf8')
      .subarray(0, 15)
      .copy(out, at + 24);
  });
  return out;
}

export function decodePorts(payload: Buffer): PortsPayload {
  need(payload, PORTS_HEAD_SIZE, 'PORTS');
  const count = payload.readUInt32LE(4);
  if (payload.length < PORTS_HEAD_SIZE + count * PORTS_ENTRY_SIZE) {
    throw new AgentProtocolError(
      `PORTS announces ${count} entries but carries ${payload.length} bytes`,
    );
  }
  const ports: ListeningPort[] = [];
  for (let i = 0; i < count; i++) {
    const at = PORTS_HEAD_SIZE + i * PORTS_ENTRY_SIZE;
    const familyByte = payload.readUInt8(at);
    if (familyByte !== 4 && familyByte !== 6) {
      throw new AgentProtocolError(`PORTS entry ${i} has family ${familyByte}, not 4 or 6`);
    }
    const family = familyByte === 4 ? 'ipv4' : 'ipv6';
    const port = payload.readUInt16LE(at + 2);
    if (port === 0) throw new AgentProtocolError(`PORTS entry ${i} has port 0`);
    const entry: ListeningPort = {
      family,
      address: decodeAddress(family, payload.subarray(at + 4, at + 20)),
      port,
    };
    const pid = payload.readUInt32LE(at + 20);
    if (pid > 0) entry.pid = pid;
    const comm = payload.subarray(at + 24, at + 40);
    const nul = comm.indexOf(0);
    const name = comm.toString('utf8', 0, nul < 0 ? comm.length : nul);
    if (name !== '') entry.process = name;
    ports.push(entry);
  }
  return {
    requestId: payload.readUInt32LE(0),
    truncated: (payload.readUInt8(8) & PORTS_FLAG_TRUNCATED) !== 0,
    ports,
  };
}

// ---- forward ----------------------------------------------------------------------------

const REC_ADDRESS = 0x41; // 'A'

export interface ForwardOpenPayload {
  port: number;
  /** Numeric IPv4 or IPv6 address in the guest; the agent defaults to 127.0.0.1. */
  address?: string | undefined;
}

export function encodeForwardOpen(open: ForwardOpenPayload): Buffer {
  if (!Number.isInteger(open.port) || open.port < 1 || open.port > 65535) {
    throw new AgentProtocolError(`guest port must be 1..65535, got ${open.port}`);
  }
  const head = Buffer.alloc(4);
  head.writeUInt16LE(open.port, 0);
  return Buffer.concat([
    head,
    encodeRecords(open.address === undefined ? [] : [[REC_ADDRESS, open.address]]),
  ]);
}

export function decodeForwardOpen(payload: Buffer): ForwardOpenPayload {
  need(payload, 4, 'FORWARD_OPEN');
  const open: ForwardOpenPayload = { port: payload.readUInt16LE(0) };
  for (const [tag, value] of decodeRecords(payload.subarray(4))) {
    if (tag === REC_ADDRESS) open.address = value;
  }
  return open;
}

/** FORWARD_FAILED and FORWARD_CLOSED: a Linux errno (0 for a clean close) and a message. */
export interface ForwardStatusPayload {
  errno: number;
  message: string;
}

export function encodeForwardStatus(status: ForwardStatusPayload): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(status.errno, 0);
  return Buffer.concat([head, Buffer.from(status.message, 'utf8')]);
}

export function decodeForwardStatus(payload: Buffer, what: string): ForwardStatusPayload {
  need(payload, 4, what);
  const text = payload.toString('utf8', 4);
  const nul = text.indexOf('\0');
  return { errno: payload.readUInt32LE(0), message: nul < 0 ? text : text.slice(0, nul) };
}

// ---- addresses --------------------------------------------------------------------------

function encodeAddress(family: 'ipv4' | 'ipv6', address: string): Buffer {
  const out = Buffer.alloc(16);
  if (family === 'ipv4') {
    const parts = address.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
      throw new AgentProtocolError(`${address} is not an IPv4 address`);
    }
    parts.forEach((p, i) => out.writeUInt8(p, i));
    return out;
  }
  const groups = expandIpv6(address);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

function decodeAddress(family: 'ipv4' | 'ipv6', bytes: Buffer): string {
  if (family === 'ipv4') return [...bytes.subarray(0, 4)].join('.');
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(bytes.readUInt16BE(i * 2));
  // IPv4-mapped (::ffff:a.b.c.d), as dual-stack sockets show IPv4 peers.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${[...bytes.subarray(12, 16)].join('.')}`;
  }
  return compressIpv6(groups);
}

/** RFC 5952 text: lowercase, the longest run of two or more zero groups as '::'. */
function compressIpv6(groups: number[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}

function expandIpv6(address: string): number[] {
  const halves = address.split('::');
  if (halves.length > 2) throw new AgentProtocolError(`${address} is not an IPv6 address`);
  const parse = (text: string): number[] =>
    text === ''
      ? []
      : text.split(':').map((g) => {
          if (!/^[0-9a-fA-F]{1,4}$/.test(g)) {
            throw new AgentProtocolError(`${address} is not an IPv6 address`);
          }
          return parseInt(g, 16);
        });
  const head = parse(halves[0] ?? '');
  const tail = halves.length === 2 ? parse(halves[1] ?? '') : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) {
    throw new AgentProtocolError(`${address} is not an IPv6 address`);
  }
  return [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
}

function need(payload: Buffer, size: number, what: string): void {
  if (payload.length < size) {
    throw new AgentProtocolError(
      `${what} payload is ${payload.length} bytes, at least ${size} expected`,
    );
  }
}
