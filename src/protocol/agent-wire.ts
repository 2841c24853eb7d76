/**
 * The frame layer of the guest-agent protocol (docs/agent-protocol.md): constants, the
 * 20-byte header, the encoder and a resynchronising decoder. Pure: bytes in, bytes out.
 * The C side is src/guest-agent/proto.h and frame.c; keep the two in step.
 */
import { crc32 } from 'node:zlib';

/** Frame magic: BA 4E 47 52. */
export const AGENT_MAGIC: Readonly<Uint8Array> = Uint8Array.of(0xba, 0x4e, 0x47, 0x52);
export const AGENT_HEADER_SIZE = 20;
export const AGENT_MAX_PAYLOAD = 65536;
/** Zero bytes sent before HELLO (and before a fresh HELLO_ACK): longer than any frame. */
export const AGENT_PREAMBLE_SIZE = AGENT_HEADER_SIZE + AGENT_MAX_PAYLOAD;
export const AGENT_PROTOCOL_VERSION = 1;
/** Credit every data stream starts with, in both directions. */
export const AGENT_INITIAL_WINDOW = 256 * 1024;
export const AGENT_MAX_WINDOW = 0x7fffffff;
export const AGENT_NONCE_SIZE = 16;

export const FrameType = {
  hello: 0x01,
  helloAck: 0x02,
  ping: 0x03,
  pong: 0x04,
  error: 0x05,
  shutdown: 0x06,
  shutdownAck: 0x07,
  window: 0x08,
  exec: 0x10,
  execStarted: 0x11,
  execFailed: 0x12,
  exit: 0x13,
  close: 0x14,
  signal: 0x15,
  resize: 0x16,
  stdin: 0x20,
  stdout: 0x21,
  stderr: 0x22,
  // capability 'ports'
  portsList: 0x40,
  ports: 0x41,
  portsWatch: 0x42,
  // capability 'forward': data rides on stdin (host to guest) and stdout (guest to host)
  forwardOpen: 0x50,
  forwardOpened: 0x51,
  forwardFailed: 0x52,
  forwardClosed: 0x53,
  // capability 'restore': the identity of a guest restored from a saved state
  restore: 0x60,
  restoreDone: 0x61,
  prepareSave: 0x62,
  saveReady: 0x63,
} as const;
export type FrameTypeName = keyof typeof FrameType;
export type FrameTypeCode = (typeof FrameType)[FrameTypeName];

/** Last frame of a data stream (payload may be empty). */
export const FLAG_FIN = 0x01;

export const AgentStream = { stdin: 0, stdout: 1, stderr: 2 } as const;
export type AgentStreamId = (typeof AgentStream)[keyof typeof AgentStream];

export interface AgentFrame {
  type: number;
  flags: number;
  channel: number;
  payload: Buffer;
}

/** Thrown for bytes that break the protocol (a malformed payload, an oversized frame). */
export class AgentProtocolError extends Error {
  override readonly name = 'AgentProtocolError';
}

export function frameTypeName(type: number): string {
  for (const [name, code] of Object.entries(FrameType)) if (code === type) return name;
  return `0x${type.toString(16).padStart(2, '0')}`;
}

/** One frame as bytes: header (with CRC) followed by the payload. */
export function encodeFrame(frame: {
  type: number;
  flags?: number;
  channel: number;
  payload?: Uint8Array;
}): Buffer {
  const payload = frame.payload ?? new Uint8Array(0);
  if (payload.length > AGENT_MAX_PAYLOAD) {
    throw new AgentProtocolError(
      `frame payload of ${payload.length} bytes exceeds the ${AGENT_MAX_PAYLOAD}-byte limit`,
    );
  }
  if (!Number.isInteger(frame.channel) || frame.channel < 0 || frame.channel > 0xffffffff) {
    throw new AgentProtocolError(`channel ${frame.channel} is not a u32`);
  }
  const out = Buffer.allocUnsafe(AGENT_HEADER_SIZE + payload.length);
  out.set(AGENT_MAGIC, 0);
  out.writeUInt8(frame.type, 4);
  out.writeUInt8(frame.flags ?? 0, 5);
  out.writeUInt16LE(0, 6);
  out.writeUInt32LE(frame.channel, 8);
  out.writeUInt32LE(payload.length, 12);
  out.set(payload, AGENT_HEADER_SIZE);
  const crc = crc32(out.subarray(AGENT_HEADER_SIZE), crc32(out.subarray(0, 16)));
  out.writeUInt32LE(crc, 16);
  return out;
}

/** Zero bytes that resynchronise a peer's decoder (see AGENT_PREAMBLE_SIZE). */
export function syncPreamble(): Buffer {
  return Buffer.alloc(AGENT_PREAMBLE_SIZE);
}

const MAGIC_FIRST_BYTE = 0xba;

function isMagicAt(buf: Buffer, i: number): boolean {
  return (
    buf[i] === AGENT_MAGIC[0] &&
    buf[i + 1] === AGENT_MAGIC[1] &&
    buf[i + 2] === AGENT_MAGIC[2] &&
    buf[i + 3] === AGENT_MAGIC[3]
  );
}

function countNonZero(buf: Buffer, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) if (buf[i] !== 0) n++;
  return n;
}

/**
 * Turns a byte stream into frames. Anything that is not a valid frame (no magic, reserved
 * bits set, length over the limit, CRC mismatch) is dropped, and scanning restarts one byte
 * after the rejected magic, so a real frame behind garbage is always found. Zero bytes are
 * padding (the preamble) and dropped silently; other dropped bytes are counted in `skipped`.
 * Memory is bounded: at most one partial frame is buffered.
 */
export class FrameDecoder {
  /** Non-zero bytes dropped so far. */
  skipped = 0;
  private buf: Buffer = Buffer.alloc(0);

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.buf.length;
  }

  push(chunk: Uint8Array): AgentFrame[] {
    const incoming = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.buf = this.buf.length === 0 ? incoming : Buffer.concat([this.buf, incoming]);
    const frames: AgentFrame[] = [];
    let pos = 0;
    const buf = this.buf;
    for (;;) {
      const start = this.findMagic(buf, pos);
      if (start > pos) this.skipped += countNonZero(buf, pos, start);
      pos = start;
      if (buf.length - pos < AGENT_HEADER_SIZE) break;
      const length = buf.readUInt32LE(pos + 12);
      if (buf.readUInt16LE(pos + 6) !== 0 || length > AGENT_MAX_PAYLOAD) {
        this.skipped += 1;
        pos += 1;
        continue;
      }
      const end = pos + AGENT_HEADER_SIZE + length;
      if (buf.length < end) break;
      const payload = buf.subarray(pos + AGENT_HEADER_SIZE, end);
      const crc = crc32(payload, crc32(buf.subarray(pos, pos + 16)));
      if (crc !== buf.readUInt32LE(pos + 16)) {
        this.skipped += 1;
        pos += 1;
        continue;
      }
      frames.push({
        type: buf.readUInt8(pos + 4),
        flags: buf.readUInt8(pos + 5),
        channel: buf.readUInt32LE(pos + 8),
        payload,
      });
      pos = end;
    }
    // Copy the partial tail so a frame's payload never pins a large old chunk.
    this.buf = pos >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos));
    return frames;
  }

  /** Index of the next magic at or after `from` (or of a possible magic cut off at the end). */
  private findMagic(buf: Buffer, from: number): number {
    let i = from;
    for (;;) {
      const hit = buf.indexOf(MAGIC_FIRST_BYTE, i);
      if (hit < 0) return buf.length;
      if (hit + 4 > buf.length || isMagicAt(buf, hit)) return hit;
      i = hit + 1;
    }
  }
}
