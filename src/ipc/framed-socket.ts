/**
 * A socket speaking banger's frames, with backpressure in both directions: data writes wait
 * for the kernel buffer to drain, and a slow data consumer pauses reading from the peer.
 */
import type { Duplex } from 'node:stream';
import { BangerError, toBangerError } from '../base/index.js';
import {
  DATA_CHUNK_BYTES,
  encodeDataFrame,
  encodeJsonFrame,
  FrameDecoder,
  type StreamId,
} from './frame-codec.js';

export interface FramedHandlers {
  json(message: unknown): void;
  /** Return a promise to pause reading until the consumer has taken the bytes. */
  data(stream: StreamId, bytes: Buffer): void | Promise<void>;
  /** The peer went away or sent garbage; `error` is set for garbage. */
  close(error?: BangerError): void;
}

export class FramedSocket {
  private readonly decoder = new FrameDecoder();
  private closed = false;
  private readonly drainWaiters: (() => void)[] = [];

  constructor(
    readonly socket: Duplex,
    private readonly handlers: FramedHandlers,
  ) {
    socket.on('data', (chunk: Buffer) => this.onChunk(chunk));
    socket.on('drain', () => {
      for (const wake of this.drainWaiters.splice(0)) wake();
    });
    socket.on('close', () => this.finish());
    socket.on('end', () => this.finish());
    socket.on('error', () => this.finish());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  sendJson(message: unknown): void {
    if (this.closed) return;
    this.socket.write(encodeJsonFrame(message));
  }

  /** Writes data in chunks, resolving once the socket can take more. */
  async sendData(stream: StreamId, bytes: Buffer): Promise<void> {
    for (
      let offset = 0;
      offset < bytes.length || (offset === 0 && bytes.length === 0);
      offset += DATA_CHUNK_BYTES
    ) {
      if (this.closed)
        throw new BangerError('unavailable', 'the connection closed while sending data');
      const ok = this.socket.write(
        encodeDataFrame(stream, bytes.subarray(offset, offset + DATA_CHUNK_BYTES)),
      );
      if (!ok) await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
      if (bytes.length === 0) break;
    }
  }

  end(): void {
    if (this.closed) return;
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
    this.finish();
  }

  private onChunk(chunk: Buffer): void {
    let frames;
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.finish(toBangerError(err));
      this.socket.destroy();
      return;
    }
    for (const frame of frames) {
      if (frame.type === 'json') {
        this.handlers.json(frame.message);
      } else {
        const pending = this.handlers.data(frame.stream, frame.bytes);
        if (pending) {
          this.socket.pause();
          void pending.then(
            () => this.socket.resume(),
            () => this.socket.resume(),
          );
        }
      }
    }
  }

  private finish(error?: BangerError): void {
    if (this.closed) return;
    this.closed = true;
    for (const wake of this.drainWaiters.splice(0)) wake();
    this.handlers.close(error);
  }
}
