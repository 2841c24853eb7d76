/**
 * A guest process's stdin as a Writable, with the send side of the protocol's credit: bytes
 * go out only as far as the agent granted room, in frames of at most 64 KiB. A process that
 * does not read its stdin makes write() callbacks wait, which is ordinary stream
 * backpressure for whoever pipes into it. Once the process is gone, writes are discarded
 * (not errors: nothing to read them is the normal end of a pipe).
 */
import { Writable } from 'node:stream';
import { AGENT_MAX_PAYLOAD, AGENT_MAX_WINDOW } from '../protocol/index.js';

export interface StdinLink {
  /** Sends one STDIN frame; resolves when the transport can take more. */
  send(chunk: Buffer, fin: boolean): Promise<void>;
}

export class CreditedWritable extends Writable {
  private credit = 0;
  private gone = false;
  private finSent = false;
  private waiter: (() => void) | undefined;
  private readonly link: StdinLink;

  constructor(link: StdinLink) {
    super({ highWaterMark: 64 * 1024 });
    this.link = link;
  }

  /** The agent granted more room (the initial window counts as a grant). False (and the
   * grant ignored) when it would push the window past the protocol's 2^31-1 limit. */
  addCredit(bytes: number): boolean {
    if (this.credit + bytes > AGENT_MAX_WINDOW) return false;
    this.credit += bytes;
    this.wake();
    return true;
  }

  /** The process ended or the connection is gone: discard from now on. */
  abandon(): void {
    this.gone = true;
    this.wake();
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.sendAll(chunk).then(
      () => callback(),
      () => callback(),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.sendFin().then(
      () => callback(),
      () => callback(),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // A consumer that drops stdin should not leave the process waiting for input forever.
    this.sendFin().then(
      () => callback(error),
      () => callback(error),
    );
  }

  private async sendAll(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length && !this.gone) {
      if (this.credit <= 0) {
        await new Promise<void>((resolve) => (this.waiter = resolve));
        continue;
      }
      const size = Math.min(this.credit, AGENT_MAX_PAYLOAD, chunk.length - offset);
      this.credit -= size;
      const part = chunk.subarray(offset, offset + size);
      offset += size;
      await this.link.send(part, false);
    }
  }

  private async sendFin(): Promise<void> {
    if (this.finSent || this.gone) return;
    this.finSent = true;
    await this.link.send(Buffer.alloc(0), true);
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}
