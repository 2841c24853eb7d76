/**
 * One command running in the guest, seen from the host: the channel's state machine
 * (starting -> running -> ended), its three streams with credit, and the exit status.
 * Frames from the agent are checked against that state; one that does not fit ends this
 * session with 'operation_failed' and asks the agent to kill the process, leaving the other
 * sessions alone.
 */
import type { Readable, Writable } from 'node:stream';
import { BangerError, type Logger } from '../base/index.js';
import {
  AGENT_INITIAL_WINDOW,
  AgentErrorCode,
  AgentProtocolError,
  AgentStream,
  FLAG_FIN,
  FrameType,
  decodeError,
  decodeExecFailed,
  decodeExecStarted,
  decodeExit,
  decodeWindow,
  encodeResize,
  encodeSignal,
  encodeWindow,
  frameTypeName,
  linuxSignalName,
  linuxSignalNumber,
  type AgentFrame,
} from '../protocol/index.js';
import { CreditedReadable } from './credited-readable.js';
import { CreditedWritable } from './credited-writable.js';
import { execFailureError, sanitizeGuestText } from './exec-failure.js';

export type ExitStatus =
  { kind: 'exited'; code: number } | { kind: 'signaled'; signal: string; coreDumped: boolean };

export interface ExecSession {
  /** The protocol channel (for logs). */
  readonly channel: number;
  /** The process id in the guest. */
  readonly pid: number;
  /** End it to give the process EOF (in tty mode: ^D, as a user would type it). */
  readonly stdin: Writable;
  /** Consume it (or resume() it): unread output stops the process, as a pipe would. */
  readonly stdout: Readable;
  /** Empty and already ended in tty mode. */
  readonly stderr: Readable;
  /** New terminal size (tty mode only; ignored otherwise). */
  resize(rows: number, cols: number): void;
  /** Sends a signal (a NodeJS.Signals name such as 'SIGTERM') to the process group.
   * Throws 'bad_request' for an unknown name. */
  kill(signal: string): void;
  /** Kills the process group (SIGKILL) and discards its output; exit still resolves. */
  close(): void;
  /**
   * Resolves once the process was reaped and the agent sent all of stdout/stderr (EXIT comes
   * after both streams' EOF); output still buffered here may be read after that, so wait for
   * the streams' 'end' too when you collect them. Rejects with 'unavailable' when the connection is lost first, or
   * 'operation_failed' when the agent breaks the protocol on this channel.
   */
  readonly exit: Promise<ExitStatus>;
}

/** What a session needs from the connection it lives on. */
export interface SessionLink {
  /** Writes a frame; false when the transport's buffer is full (see whenWritable). */
  send(frame: { type: number; channel: number; flags?: number; payload?: Buffer }): boolean;
  /** Resolves when the transport drained or the connection ended. */
  whenWritable(): Promise<void>;
  /** The channel may be reused: the agent has finished with it. */
  release(channel: number): void;
  readonly logger: Logger;
}

type State = 'starting' | 'running' | 'ended';

export class ChannelSession implements ExecSession {
  readonly channel: number;
  pid = 0;
  readonly stdin: CreditedWritable;
  readonly stdout: CreditedReadable;
  readonly stderr: CreditedReadable;
  readonly exit: Promise<ExitStatus>;
  /** Resolves with this session on EXEC_STARTED; rejects on EXEC_FAILED. */
  readonly started: Promise<ChannelSession>;

  private state: State = 'starting';
  /** The host gave up on the process (close(), abort, violation): frames are only awaited. */
  private abandoned = false;
  private readonly tty: boolean;
  private readonly argv: readonly string[];
  private readonly link: SessionLink;
  private resolveStarted!: (session: ChannelSession) => void;
  private rejectStarted!: (err: BangerError) => void;
  private resolveExit!: (status: ExitStatus) => void;
  private rejectExit!: (err: BangerError) => void;

  constructor(options: {
    channel: number;
    argv: readonly string[];
    tty: boolean;
    link: SessionLink;
  }) {
    this.channel = options.channel;
    this.argv = options.argv;
    this.tty = options.tty;
    this.link = options.link;
    const grant = (stream: number) => (bytes: number) => {
      if (this.state === 'running' && !this.abandoned) {
        this.link.send({
          type: FrameType.window,
          channel: this.channel,
          payload: encodeWindow({ stream: stream as 1 | 2, increment: bytes }),
        });
      }
    };
    this.stdout = new CreditedReadable(grant(AgentStream.stdout));
    this.stderr = new CreditedReadable(grant(AgentStream.stderr));
    this.stdin = new CreditedWritable({
      send: async (chunk, fin) => {
        if (this.state !== 'running' || this.abandoned) return;
        const ok = this.link.send({
          type: FrameType.stdin,
          channel: this.channel,
          flags: fin ? FLAG_FIN : 0,
          payload: chunk,
        });
        if (!ok) await this.link.whenWritable();
      },
    });
    this.started = new Promise<ChannelSession>((resolve, reject) => {
      this.resolveStarted = resolve;
      this.rejectStarted = reject;
    });
    this.exit = new Promise<ExitStatus>((resolve, reject) => {
      this.resolveExit = resolve;
      this.rejectExit = reject;
    });
    // Rejections are part of the API; nobody awaiting them must not crash the daemon.
    this.started.catch(() => undefined);
    this.exit.catch(() => undefined);
  }

  get ended(): boolean {
    return this.state === 'ended';
  }

  resize(rows: number, cols: number): void {
    for (const [name, value] of [
      ['rows', rows],
      ['cols', cols],
    ] as const) {
      if (!Number.isInteger(value) || value < 1 || value > 65535) {
        throw new BangerError(
          'bad_request',
          `tty ${name} must be an integer from 1 to 65535, got ${value}`,
        );
      }
    }
    if (!this.tty || this.state !== 'running' || this.abandoned) return;
    this.link.send({
      type: FrameType.resize,
      channel: this.channel,
      payload: encodeResize({ rows, cols }),
    });
  }

  kill(signal: string): void {
    const number = linuxSignalNumber(signal);
    if (number === undefined) {
      throw new BangerError('bad_request', `unknown signal ${JSON.stringify(signal)}`, {
        hint: 'use a name such as SIGTERM, SIGINT or SIGKILL',
      });
    }
    if (this.state !== 'running' || this.abandoned) return;
    this.link.send({
      type: FrameType.signal,
      channel: this.channel,
      payload: encodeSignal(number),
    });
  }

  close(): void {
    if (this.state === 'ended' || this.abandoned) return;
    this.abandon();
  }

  /** Gives up on a process not started yet (the exec() call was aborted). */
  cancelStart(err: BangerError): void {
    if (this.state !== 'starting') return;
    this.rejectStarted(err);
    this.abandon();
  }

  /** The connection is gone: everything pending fails with err. */
  fail(err: BangerError): void {
    if (this.state === 'ended') return;
    if (this.state === 'starting') this.rejectStarted(err);
    this.rejectExit(err);
    this.end();
  }

  onFrame(frame: AgentFrame): void {
    try {
      this.dispatch(frame);
    } catch (err) {
      if (!(err instanceof AgentProtocolError)) throw err;
      this.violation(err.message);
    }
  }

  private dispatch(frame: AgentFrame): void {
    if (this.abandoned) {
      // Only the end of the channel matters now.
      if (frame.type === FrameType.exit && this.state === 'running') {
        this.resolveExit(this.toExitStatus(frame.payload));
        this.end();
      } else if (frame.type === FrameType.exit || frame.type === FrameType.execFailed) {
        this.end();
      }
      return;
    }
    switch (frame.type) {
      case FrameType.execStarted:
        if (this.state !== 'starting') return this.violation('EXEC_STARTED twice');
        this.pid = decodeExecStarted(frame.payload).pid;
        this.state = 'running';
        this.stdin.addCredit(AGENT_INITIAL_WINDOW);
        this.resolveStarted(this);
        return;
      case FrameType.execFailed:
        if (this.state !== 'starting') return this.violation('EXEC_FAILED after EXEC_STARTED');
        this.rejectStarted(execFailureError(decodeExecFailed(frame.payload), this.argv));
        this.end();
        return;
      case FrameType.stdout:
      case FrameType.stderr: {
        if (this.state !== 'running')
          return this.violation(`${frameTypeName(frame.type)} before EXEC_STARTED`);
        const stream = frame.type === FrameType.stdout ? this.stdout : this.stderr;
        if (!stream.accept(frame.payload)) {
          return this.violation(`${frameTypeName(frame.type)} data beyond the granted window`);
        }
        if ((frame.flags & FLAG_FIN) !== 0) stream.finish();
        return;
      }
      case FrameType.window: {
        const window = decodeWindow(frame.payload);
        if (window.stream === AgentStream.stdin && this.state === 'running') {
          if (!this.stdin.addCredit(window.increment)) {
            this.violation('a stdin window beyond 2^31-1 bytes');
          }
        }
        return;
      }
      case FrameType.exit:
        if (this.state !== 'running') return this.violation('EXIT before EXEC_STARTED');
        this.resolveExit(this.toExitStatus(frame.payload));
        this.end();
        return;
      case FrameType.error: {
        const error = decodeError(frame.payload);
        if (error.code === AgentErrorCode.unknownChannel) return;
        this.link.logger.warn('guest agent reported an error on a channel', {
          channel: this.channel,
          code: error.code,
          about: frameTypeName(error.refType),
          message: sanitizeGuestText(error.message),
        });
        return;
      }
      default:
        this.link.logger.debug('ignoring frame for exec channel', {
          channel: this.channel,
          type: frameTypeName(frame.type),
        });
    }
  }

  private toExitStatus(payload: Buffer): ExitStatus {
    const exit = decodeExit(payload);
    return exit.kind === 'exited'
      ? { kind: 'exited', code: exit.code }
      : { kind: 'signaled', signal: linuxSignalName(exit.signal), coreDumped: exit.coreDumped };
  }

  private violation(reason: string): void {
    const err = new BangerError(
      'operation_failed',
      `the guest agent broke the protocol on channel ${this.channel}: ${reason}`,
    );
    this.link.logger.warn('guest agent protocol violation', { channel: this.channel, reason });
    if (this.state === 'starting') this.rejectStarted(err);
    this.rejectExit(err);
    this.abandon();
  }

  /** Asks the agent to kill the process; the channel stays reserved until it confirms. */
  private abandon(): void {
    this.abandoned = true;
    this.link.send({ type: FrameType.close, channel: this.channel });
    this.stdout.finish();
    this.stderr.finish();
    this.stdin.abandon();
  }

  private end(): void {
    this.state = 'ended';
    this.stdout.finish();
    this.stderr.finish();
    this.stdin.abandon();
    this.link.release(this.channel);
  }
}
