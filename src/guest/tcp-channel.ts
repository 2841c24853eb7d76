/**
 * One TCP connection inside the guest, seen from the host as a Duplex (capability `forward`,
 * docs/agent-protocol.md "TCP forwarding"). Bytes to the guest ride STDIN frames within the
 * credit the agent granted; bytes from the guest ride STDOUT frames within the credit we
 * granted, and we grant only what the consumer has taken (a reader that stops stops the
 * guest's sender, and we never buffer more than one window). end() half-closes towards the
 * guest; the guest's FIN ends the readable side; destroy() resets the connection.
 */
import { Duplex } from 'node:stream';
import { BangerError } from '../base/index.js';
import {
  AGENT_INITIAL_WINDOW,
  AGENT_MAX_PAYLOAD,
  AGENT_MAX_WINDOW,
  AgentErrorCode,
  AgentProtocolError,
  AgentStream,
  FLAG_FIN,
  FrameType,
  decodeError,
  decodeForwardStatus,
  decodeWindow,
  encodeWindow,
  frameTypeName,
  linuxErrnoName,
  type AgentFrame,
} from '../protocol/index.js';
import { sanitizeGuestText } from './exec-failure.js';
import type { SessionLink } from './exec-session.js';

const GRANT_THRESHOLD = AGENT_INITIAL_WINDOW / 2;

type State = 'opening' | 'open' | 'ended';

export class TcpChannel extends Duplex {
  readonly channel: number;
  /** Resolves with this channel on FORWARD_OPENED; rejects on FORWARD_FAILED. */
  readonly opened: Promise<TcpChannel>;

  private state: State = 'opening';
  /** We sent CLOSE: only FORWARD_CLOSED (or FAILED) matters now. */
  private abandoned = false;
  private readonly target: string;
  private readonly link: SessionLink;
  /** Bytes we may still send (the agent's grant). */
  private sendCredit = 0;
  /** Bytes the agent may still send us. */
  private recvCredit = AGENT_INITIAL_WINDOW;
  private recvFinished = false;
  private finSent = false;
  private creditWaiter: (() => void) | undefined;
  private resolveOpened!: (channel: TcpChannel) => void;
  private rejectOpened!: (err: BangerError) => void;

  constructor(options: { channel: number; target: string; link: SessionLink }) {
    super({
      readableHighWaterMark: AGENT_INITIAL_WINDOW,
      writableHighWaterMark: 64 * 1024,
      allowHalfOpen: true,
    });
    this.channel = options.channel;
    this.target = options.target;
    this.link = options.link;
    this.opened = new Promise<TcpChannel>((resolve, reject) => {
      this.resolveOpened = resolve;
      this.rejectOpened = reject;
    });
    this.opened.catch(() => undefined);
  }

  /** Frames from the agent for this channel. */
  onFrame(frame: AgentFrame): void {
    try {
      this.dispatch(frame);
    } catch (err) {
      if (!(err instanceof AgentProtocolError)) throw err;
      this.violation(err.message);
    }
  }

  /** The connection to the agent is gone. */
  fail(err: BangerError): void {
    if (this.state === 'ended') return;
    if (this.state === 'opening') {
      // Nobody holds the stream yet: the rejection is the whole story (an 'error' event
      // without a listener would be thrown).
      this.rejectOpened(err);
      this.state = 'ended';
      this.destroy();
      return;
    }
    this.end_(err);
  }

  /** Gives up before the guest connected (the caller's signal fired). */
  cancelOpen(err: BangerError): void {
    if (this.state !== 'opening') return;
    this.rejectOpened(err);
    this.abandon();
  }

  // ---- Duplex ---------------------------------------------------------------------------

  override _read(): void {
    this.maybeGrant();
  }

  override read(size?: number): unknown {
    const chunk: unknown = super.read(size);
    if (chunk !== null) this.maybeGrant();
    return chunk;
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.sendAll(chunk).then(
      () => callback(),
      (err: unknown) => callback(err as Error),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.finSent || this.state !== 'open' || this.abandoned) {
      callback();
      return;
    }
    this.finSent = true;
    const ok = this.link.send({
      type: FrameType.stdin,
      channel: this.channel,
      flags: FLAG_FIN,
      payload: Buffer.alloc(0),
    });
    if (ok) callback();
    else this.link.whenWritable().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.state !== 'ended' && !this.abandoned) {
      if (this.state === 'opening') {
        this.rejectOpened(
          new BangerError('canceled', `connection to ${this.target} in the guest was abandoned`),
        );
      }
      this.abandon();
    }
    this.wakeSender();
    callback(error);
  }

  // ---- internals ------------------------------------------------------------------------

  private dispatch(frame: AgentFrame): void {
    if (this.abandoned) {
      if (frame.type === FrameType.forwardClosed || frame.type === FrameType.forwardFailed) {
        this.state = 'ended';
        this.link.release(this.channel);
      }
      return;
    }
    switch (frame.type) {
      case FrameType.forwardOpened:
        if (this.state !== 'opening') return this.violation('FORWARD_OPENED twice');
        this.state = 'open';
        this.sendCredit = AGENT_INITIAL_WINDOW;
        this.resolveOpened(this);
        this.wakeSender();
        return;
      case FrameType.forwardFailed: {
        if (this.state !== 'opening') return this.violation('FORWARD_FAILED after FORWARD_OPENED');
        const status = decodeForwardStatus(frame.payload, 'FORWARD_FAILED');
        const err = connectError(this.target, status.errno, status.message);
        this.rejectOpened(err);
        this.state = 'ended';
        this.link.release(this.channel);
        this.destroy();
        return;
      }
      case FrameType.stdout: {
        if (this.state !== 'open') return this.violation('data before FORWARD_OPENED');
        if (this.recvFinished) return this.violation('data after FIN');
        if (frame.payload.length > this.recvCredit) {
          return this.violation('data beyond the granted window');
        }
        this.recvCredit -= frame.payload.length;
        if (frame.payload.length > 0) this.push(Buffer.from(frame.payload));
        if ((frame.flags & FLAG_FIN) !== 0) {
          this.recvFinished = true;
          this.push(null);
        }
        this.maybeGrant();
        return;
      }
      case FrameType.window: {
        const window = decodeWindow(frame.payload);
        if (window.stream !== AgentStream.stdin || this.state !== 'open') return;
        if (this.sendCredit + window.increment > AGENT_MAX_WINDOW) {
          return this.violation('a window beyond 2^31-1 bytes');
        }
        this.sendCredit += window.increment;
        this.wakeSender();
        return;
      }
      case FrameType.forwardClosed: {
        if (this.state !== 'open') return this.violation('FORWARD_CLOSED before FORWARD_OPENED');
        const status = decodeForwardStatus(frame.payload, 'FORWARD_CLOSED');
        this.state = 'ended';
        this.link.release(this.channel);
        if (status.errno !== 0) {
          this.end_(
            new BangerError(
              'unavailable',
              `connection to ${this.target} in the guest failed: ${linuxErrnoName(status.errno)}`,
              { details: { errno: linuxErrnoName(status.errno) } },
            ),
          );
        } else {
          this.end_(undefined);
        }
        return;
      }
      case FrameType.error: {
        const error = decodeError(frame.payload);
        if (error.code === AgentErrorCode.unknownChannel) return;
        this.link.logger.warn('guest agent reported an error on a forward channel', {
          channel: this.channel,
          code: error.code,
          about: frameTypeName(error.refType),
          message: sanitizeGuestText(error.message),
        });
        return;
      }
      default:
        this.link.logger.debug('ignoring frame for forward channel', {
          channel: this.channel,
          type: frameTypeName(frame.type),
        });
    }
  }

  private async sendAll(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      // The guest side is gone: what is written now has no reader, like a closed socket's
      // peer; the readable side (and its end or error) tells the story.
      if (this.state === 'ended' || this.abandoned || this.destroyed) return;
      if (this.state !== 'open' || this.sendCredit <= 0) {
        await new Promise<void>((resolve) => (this.creditWaiter = resolve));
        continue;
      }
      const size = Math.min(this.sendCredit, AGENT_MAX_PAYLOAD, chunk.length - offset);
      this.sendCredit -= size;
      const part = chunk.subarray(offset, offset + size);
      offset += size;
      if (!this.link.send({ type: FrameType.stdin, channel: this.channel, payload: part })) {
        await this.link.whenWritable();
      }
    }
  }

  /** Keeps credit + buffered bytes <= one window: that is the memory bound. */
  private maybeGrant(): void {
    if (this.state !== 'open' || this.abandoned || this.recvFinished || this.destroyed) return;
    const room = AGENT_INITIAL_WINDOW - this.recvCredit - this.readableLength;
    if (room >= GRANT_THRESHOLD) {
      this.recvCredit += room;
      this.link.send({
        type: FrameType.window,
        channel: this.channel,
        payload: encodeWindow({ stream: AgentStream.stdout, increment: room }),
      });
    }
  }

  private wakeSender(): void {
    const wake = this.creditWaiter;
    this.creditWaiter = undefined;
    wake?.();
  }

  private violation(reason: string): void {
    const err = new BangerError(
      'operation_failed',
      `the guest agent broke the protocol on channel ${this.channel}: ${reason}`,
    );
    this.link.logger.warn('guest agent protocol violation', { channel: this.channel, reason });
    const opening = this.state === 'opening';
    if (opening) this.rejectOpened(err);
    this.abandon();
    this.destroy(opening ? undefined : err);
  }

  /** Asks the agent to reset the connection; the id stays reserved until it confirms. */
  private abandon(): void {
    if (this.abandoned || this.state === 'ended') return;
    this.abandoned = true;
    this.link.send({ type: FrameType.close, channel: this.channel });
    this.wakeSender();
  }

  /** The channel is over: a clean end finishes the readable side, an error destroys. */
  private end_(err: BangerError | undefined): void {
    this.state = 'ended';
    this.wakeSender();
    if (err) {
      this.destroy(err);
      return;
    }
    if (!this.recvFinished) {
      this.recvFinished = true;
      this.push(null);
    }
  }
}

function connectError(target: string, errno: number, message: string): BangerError {
  const name = linuxErrnoName(errno);
  const why = message ? `: ${sanitizeGuestText(message, 200)}` : '';
  const refused = name === 'ECONNREFUSED';
  return new BangerError(
    refused ? 'unavailable' : 'operation_failed',
    refused
      ? `nothing listens on ${target} in the guest (${name})`
      : `cannot connect to ${target} in the guest (${name})${why}`,
    { details: { errno: name } },
  );
}
