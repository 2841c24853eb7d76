/**
 * Wire framing for the daemon's and the helper's unix sockets:
 *   u32 big-endian length of (type + payload) | u8 type | payload
 * type 1 = JSON control message (UTF-8), type 2 = data: u8 stream id + bytes.
 * Data frames carry stdin/stdout/stderr bytes without base64 or JSON overhead.
 */
import { BangerError } from '../base/index.js';

export const FRAME_JSON = 1;
export const FRAME_DATA = 2;
/** Upper bound for one frame; larger payloads are split by the writer. */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** Data chunk size used when splitting large writes. */
export const DATA_CHUNK_BYTES = 256 * 1024;

export type StreamId = 0 | 1 | 2;
export const STDIN: StreamId = 0;
export const STDOUT: StreamId = 1;
export const STDERR: StreamId = 2;

export type Frame =
  { type: 'json'; message: unknown } | { type: 'data'; stream: StreamId; bytes: Buffer };

export function encodeJsonFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  if (body.length + 1 > MAX_FRAME_BYTES) {
    throw new BangerError(
      'internal',
      `control message of ${String(body.length)} bytes exceeds the frame limit`,
    );
  }
  const frame = Buffer.allocUnsafe(5 + body.length);
  frame.writeUInt32BE(body.length + 1, 0);
  frame.writeUInt8(FRAME_JSON, 4);
  body.copy(frame, 5);
  return frame;
}

export function encodeDataFrame(stream: StreamId, bytes: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(6 + bytes.length);
  frame.writeUInt32BE(bytes.length + 2, 0);
  frame.writeUInt8(FRAME_DATA, 4);
  frame.writeUInt8(stream, 5);
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).copy(frame, 6);
  return frame;
}

/** Incremental decoder: feed it chunks, it returns whole frames. Throws on a malformed stream. */
export class FrameDecoder {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const frames: Frame[] = [];
    while (this.buffer.length >= 4) {
      const length = this.buffer.readUInt32BE(0);
      if (length < 1 || length > MAX_FRAME_BYTES) {
        throw new BangerError(
          'bad_request',
          `malformed frame: length ${String(length)} out of range`,
        );
      }
      if (this.buffer.length < 4 + length) break;
      const type = this.buffer.readUInt8(4);
      const payload = this.buffer.subarray(5, 4 + length);
      this.buffer = this.buffer.subarray(4 + length);
      frames.push(decodeFrame(type, payload));
    }
    return frames;
  }

  get pendingBytes(): number {
    return this.buffer.length;
  }
}

function decodeFrame(type: number, payload: Buffer): Frame {
  if (type === FRAME_JSON) {
    try {
      return { type: 'json', message: JSON.parse(payload.toString('utf8')) as unknown };
    } catch {
      throw new BangerError('bad_request', 'malformed frame: control message is not JSON');
    }
  }
  if (type === FRAME_DATA) {
    const stream = payload.readUInt8(0);
    if (stream > 2)
      throw new BangerError('bad_request', `malformed frame: unknown stream ${String(stream)}`);
    // Copy: the decoder's buffer is reused and consumers may keep chunks.
    return { type: 'data', stream: stream as StreamId, bytes: Buffer.from(payload.subarray(1)) };
  }
  throw new BangerError('bad_request', `malformed frame: unknown type ${String(type)}`);
}
