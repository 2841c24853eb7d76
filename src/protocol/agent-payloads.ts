/**
 * Payload layouts of the guest-agent protocol (docs/agent-protocol.md, "Messages"): fixed
 * little-endian structs, then tagged NUL-terminated records where strings vary. Every decoder
 * checks lengths and throws AgentProtocolError on a malformed payload: the guest is untrusted.
 */
import {
  AGENT_MAX_PAYLOAD,
  AGENT_NONCE_SIZE,
  AgentProtocolError,
  type AgentStreamId,
} from './agent-wire.js';

/** ERROR frame codes. */
export const AgentErrorCode = {
  badFrame: 1,
  unknownType: 2,
  unknownChannel: 3,
  channelInUse: 4,
  badPayload: 5,
  flowControl: 6,
  noSession: 7,
  unsupported: 8,
  internal: 9,
} as const;

/** Where an EXEC failed (EXEC_FAILED.stage). */
export const ExecStage = { request: 1, cwd: 2, setup: 3, exec: 4 } as const;
export type ExecStageName = keyof typeof ExecStage;

export const EXEC_FLAG_TTY = 0x01;

/** Record tags. */
const REC = {
  arg: 0x41, // 'A'
  env: 0x45, // 'E'
  cwd: 0x43, // 'C'
  term: 0x54, // 'T'
  agentVersion: 0x56, // 'V'
  bootId: 0x42, // 'B'
  capability: 0x43, // 'C'
  kernel: 0x4b, // 'K'
  hostname: 0x48, // 'H'
} as const;

function need(payload: Buffer, size: number, what: string): void {
  if (payload.length < size) {
    throw new AgentProtocolError(
      `${what} payload is ${payload.length} bytes, at least ${size} expected`,
    );
  }
}

/** Tagged NUL-terminated records: tag byte, UTF-8 bytes, 0x00. */
export function encodeRecords(records: readonly (readonly [number, string])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [tag, value] of records) {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.includes(0)) throw new AgentProtocolError('record values must not contain NUL');
    parts.push(Buffer.of(tag), bytes, Buffer.of(0));
  }
  return Buffer.concat(parts);
}

export function decodeRecords(bytes: Buffer): [number, string][] {
  const out: [number, string][] = [];
  let off = 0;
  while (off < bytes.length) {
    const tag = bytes.readUInt8(off);
    const end = bytes.indexOf(0, off + 1);
    if (end < 0) throw new AgentProtocolError('record without its terminating NUL');
    out.push([tag, bytes.toString('utf8', off + 1, end)]);
    off = end + 1;
  }
  return out;
}

// ---- HELLO / HELLO_ACK ----------------------------------------------------------------

export interface HelloPayload {
  versionMin: number;
  versionMax: number;
  nonce: Buffer;
}

export function encodeHello(hello: HelloPayload): Buffer {
  if (hello.nonce.length !== AGENT_NONCE_SIZE) {
    throw new AgentProtocolError(`the HELLO nonce must be ${AGENT_NONCE_SIZE} bytes`);
  }
  const out = Buffer.alloc(8 + AGENT_NONCE_SIZE);
  out.writeUInt16LE(hello.versionMin, 0);
  out.writeUInt16LE(hello.versionMax, 2);
  hello.nonce.copy(out, 8);
  return out;
}

export function decodeHello(payload: Buffer): HelloPayload {
  need(payload, 8 + AGENT_NONCE_SIZE, 'HELLO');
  return {
    versionMin: payload.readUInt16LE(0),
    versionMax: payload.readUInt16LE(2),
    nonce: Buffer.from(payload.subarray(8, 8 + AGENT_NONCE_SIZE)),
  };
}

export interface HelloAckPayload {
  protocolVersion: number;
  nonce: Buffer;
  agentVersion: string;
  bootId: string;
  kernel: string;
  hostname: string;
  capabilities: string[];
}

export function encodeHelloAck(ack: HelloAckPayload): Buffer {
  const head = Buffer.alloc(8 + AGENT_NONCE_SIZE);
  head.writeUInt16LE(ack.protocolVersion, 0);
  ack.nonce.copy(head, 8);
  return Buffer.concat([
    head,
    encodeRecords([
      [REC.agentVersion, ack.agentVersion],
      [REC.bootId, ack.bootId],
      [REC.kernel, ack.kernel],
      [REC.hostname, ack.hostname],
      ...ack.capabilities.map((c): [number, string] => [REC.capability, c]),
    ]),
  ]);
}

export function decodeHelloAck(payload: Buffer): HelloAckPayload {
  need(payload, 8 + AGENT_NONCE_SIZE, 'HELLO_ACK');
  const ack: HelloAckPayload = {
    protocolVersion: payload.readUInt16LE(0),
    nonce: Buffer.from(payload.subarray(8, 8 + AGENT_NONCE_SIZE)),
    agentVersion: '',
    bootId: '',
    kernel: '',
    hostname: '',
    capabilities: [],
  };
  for (const [tag, value] of decodeRecords(payload.subarray(8 + AGENT_NONCE_SIZE))) {
    if (tag === REC.agentVersion) ack.agentVersion = value;
    else if (tag === REC.bootId) ack.bootId = value;
    else if (tag === REC.kernel) ack.kernel = value;
    else if (tag === REC.hostname) ack.hostname = value;
    else if (tag === REC.capability) ack.capabilities.push(value);
  }
  return ack;
}

// ---- EXEC and its answers -------------------------------------------------------------

export interface ExecPayload {
  argv: string[];
  /** Added to (or replacing) the agent's default environment. */
  env: Record<string, string>;
  cwd?: string | undefined;
  tty?: { rows: number; cols: number; term?: string | undefined } | undefined;
}

export function encodeExec(exec: ExecPayload): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(exec.tty ? EXEC_FLAG_TTY : 0, 0);
  head.writeUInt16LE(exec.tty?.rows ?? 0, 4);
  head.writeUInt16LE(exec.tty?.cols ?? 0, 6);
  const records: [number, string][] = exec.argv.map((a): [number, string] => [REC.arg, a]);
  for (const [key, value] of Object.entries(exec.env)) records.push([REC.env, `${key}=${value}`]);
  if (exec.cwd !== undefined) records.push([REC.cwd, exec.cwd]);
  if (exec.tty?.term !== undefined) records.push([REC.term, exec.tty.term]);
  const out = Buffer.concat([head, encodeRecords(records)]);
  if (out.length > AGENT_MAX_PAYLOAD) {
    throw new AgentProtocolError(
      `the exec request is ${out.length} bytes; argv, env and cwd together must fit in ${AGENT_MAX_PAYLOAD}`,
    );
  }
  return out;
}

export function decodeExec(payload: Buffer): ExecPayload {
  need(payload, 8, 'EXEC');
  const flags = payload.readUInt32LE(0);
  const exec: ExecPayload = { argv: [], env: {} };
  let term: string | undefined;
  for (const [tag, value] of decodeRecords(payload.subarray(8))) {
    if (tag === REC.arg) exec.argv.push(value);
    else if (tag === REC.cwd) exec.cwd = value;
    else if (tag === REC.term) term = value;
    else if (tag === REC.env) {
      const eq = value.indexOf('=');
      if (eq <= 0) throw new AgentProtocolError(`environment record ${value} is not NAME=value`);
      exec.env[value.slice(0, eq)] = value.slice(eq + 1);
    }
  }
  if ((flags & EXEC_FLAG_TTY) !== 0) {
    exec.tty = { rows: payload.readUInt16LE(4), cols: payload.readUInt16LE(6), term };
  }
  return exec;
}

export function encodeExecStarted(pid: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32LE(pid, 0);
  return out;
}

export function decodeExecStarted(payload: Buffer): { pid: number } {
  need(payload, 4, 'EXEC_STARTED');
  return { pid: payload.readUInt32LE(0) };
}

export interface ExecFailedPayload {
  /** Linux errno. */
  errno: number;
  stage: number;
  message: string;
}

export function encodeExecFailed(failed: ExecFailedPayload): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(failed.errno, 0);
  head.writeUInt32LE(failed.stage, 4);
  return Buffer.concat([head, Buffer.from(failed.message, 'utf8')]);
}

export function decodeExecFailed(payload: Buffer): ExecFailedPayload {
  need(payload, 8, 'EXEC_FAILED');
  return {
    errno: payload.readUInt32LE(0),
    stage: payload.readUInt32LE(4),
    message: trimNul(payload.toString('utf8', 8)),
  };
}

/** How a process ended, as the agent reports it (signal as a Linux number). */
export type AgentExit =
  { kind: 'exited'; code: number } | { kind: 'signaled'; signal: number; coreDumped: boolean };

export function encodeExit(exit: AgentExit): Buffer {
  const out = Buffer.alloc(8);
  if (exit.kind === 'exited') {
    out.writeUInt8(0, 0);
    out.writeInt32LE(exit.code, 4);
  } else {
    out.writeUInt8(1, 0);
    out.writeUInt8(exit.coreDumped ? 1 : 0, 1);
    out.writeInt32LE(exit.signal, 4);
  }
  return out;
}

export function decodeExit(payload: Buffer): AgentExit {
  need(payload, 8, 'EXIT');
  const kind = payload.readUInt8(0);
  const value = payload.readInt32LE(4);
  if (kind === 0) {
    if (value < 0 || value > 255) throw new AgentProtocolError(`exit code ${value} out of range`);
    return { kind: 'exited', code: value };
  }
  if (kind === 1) {
    if (value < 1 || value > 64) throw new AgentProtocolError(`signal ${value} out of range`);
    return { kind: 'signaled', signal: value, coreDumped: payload.readUInt8(1) !== 0 };
  }
  throw new AgentProtocolError(`EXIT kind ${kind} is neither 0 (exited) nor 1 (signaled)`);
}

// ---- flow control and process control --------------------------------------------------

export interface WindowPayload {
  stream: AgentStreamId;
  increment: number;
}

export function encodeWindow(window: WindowPayload): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt8(window.stream, 0);
  out.writeUInt32LE(window.increment, 4);
  return out;
}

export function decodeWindow(payload: Buffer): WindowPayload {
  need(payload, 8, 'WINDOW');
  const stream = payload.readUInt8(0);
  if (stream > 2) throw new AgentProtocolError(`WINDOW for unknown stream ${stream}`);
  return { stream: stream as AgentStreamId, increment: payload.readUInt32LE(4) };
}

export function encodeSignal(signal: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32LE(signal, 0);
  return out;
}

export function decodeSignal(payload: Buffer): number {
  need(payload, 4, 'SIGNAL');
  return payload.readUInt32LE(0);
}

export function encodeResize(size: { rows: number; cols: number }): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt16LE(size.rows, 0);
  out.writeUInt16LE(size.cols, 2);
  return out;
}

export function decodeResize(payload: Buffer): { rows: number; cols: number } {
  need(payload, 4, 'RESIZE');
  return { rows: payload.readUInt16LE(0), cols: payload.readUInt16LE(2) };
}

export type ShutdownKind = 'poweroff' | 'reboot';

/** SHUTDOWN and SHUTDOWN_ACK share this one-byte layout. */
export function encodeShutdown(kind: ShutdownKind): Buffer {
  return Buffer.of(kind === 'poweroff' ? 1 : 2);
}

export function decodeShutdown(payload: Buffer): ShutdownKind {
  need(payload, 1, 'SHUTDOWN');
  const kind = payload.readUInt8(0);
  if (kind === 1) return 'poweroff';
  if (kind === 2) return 'reboot';
  throw new AgentProtocolError(`shutdown kind ${kind} is neither 1 (poweroff) nor 2 (reboot)`);
}

export interface ErrorPayload {
  code: number;
  /** The frame type that caused it (0 when none). */
  refType: number;
  message: string;
}

export function encodeError(error: ErrorPayload): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(error.code, 0);
  head.writeUInt8(error.refType, 4);
  return Buffer.concat([head, Buffer.from(error.message, 'utf8')]);
}

export function decodeError(payload: Buffer): ErrorPayload {
  need(payload, 8, 'ERROR');
  return {
    code: payload.readUInt32LE(0),
    refType: payload.readUInt8(4),
    message: trimNul(payload.toString('utf8', 8)),
  };
}

function trimNul(text: string): string {
  const nul = text.indexOf('\0');
  return nul < 0 ? text : text.slice(0, nul);
}
