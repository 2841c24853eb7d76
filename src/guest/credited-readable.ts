/**
 * One output stream of a guest process (stdout or stderr) as a Readable, with the receive
 * side of the protocol's credit: the agent may send only what we granted, and we grant only
 * what the consumer has taken off our buffer. A consumer that stops reading therefore stops
 * this stream in the guest (the process blocks on its pipe) and nothing else.
 */
import { Readable } from 'node:stream';
import { AGENT_INITIAL_WINDOW } from '../protocol/index.js';

/** Grant in batches of at least this much, so WINDOW frames stay few. */
const GRANT_THRESHOLD = AGENT_INITIAL_WINDOW / 2;

export class CreditedReadable extends Readable {
  /** Bytes the agent may still send. */
  private credit = AGENT_INITIAL_WINDOW;
  private readonly grant: (bytes: number) => void;
  private finished = false;

  constructor(grant: (bytes: number) => void) {
    super({ highWaterMark: AGENT_INITIAL_WINDOW });
    this.grant = grant;
  }

  /**
   * Takes a chunk from the agent. False when the chunk exceeds the credit the agent had: a
   * protocol violation the caller must act on (the chunk is dropped).
   */
  accept(chunk: Buffer): boolean {
    if (chunk.length > this.credit) return false;
    this.credit -= chunk.length;
    if (this.destroyed || this.finished) {
      // Nobody will read it: give the credit straight back so the process is not stalled.
      this.credit += chunk.length;
      if (chunk.length > 0) this.grant(chunk.length);
      return true;
    }
    this.push(chunk);
    this.maybeGrant();
    return true;
  }

  /** The agent sent FIN (or the session ended). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.destroyed) this.push(null);
  }

  // Every consumer path (flowing mode, pipe, read(), async iteration) goes through read(), and
  // only after it returns has the buffer shrunk; _read alone is not enough because Node calls
  // it once and then waits for the next push.
  override read(size?: number): unknown {
    const chunk: unknown = super.read(size);
    if (chunk !== null) this.maybeGrant();
    return chunk;
  }

  override _read(): void {
    this.maybeGrant();
  }

  /** Keeps credit + buffered bytes <= one window: that is the memory bound. */
  private maybeGrant(): void {
    if (this.destroyed || this.finished) return;
    const room = AGENT_INITIAL_WINDOW - this.credit - this.readableLength;
    if (room >= GRANT_THRESHOLD) {
      this.credit += room;
      this.grant(room);
    }
  }
}
