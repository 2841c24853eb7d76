/**
 * The host end of one connection to banger-agent (docs/agent-protocol.md): handshake,
 * frame dispatch to exec sessions, ping, shutdown. Everything the guest sends is checked:
 * before the handshake all bytes are noise to skip; after it, garbage in the stream or a
 * frame that breaks the rules of the connection ends the connection with a clear error,
 * and a frame that breaks the rules of one channel ends only that session.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { BangerError, silentLogger, type Logger } from '../base/index.js';
import {
  AGENT_NONCE_SIZE,
  AGENT_PROTOCOL_VERSION,
  AgentErrorCode,
  AgentProtocolError,
  FrameDecoder,
  FrameType,
  decodeError,
  decodeHelloAck,
  decodePorts,
  decodeRestoreDone,
  decodeSaveReady,
  decodeShutdown,
  encodeForwardOpen,
  encodeFrame,
  encodeHello,
  encodePrepareSave,
  encodeRestore,
  encodeShutdown,
  frameTypeName,
  syncPreamble,
  type AgentFrame,
  type ListeningPort,
  type RestoreDonePayload,
  type RestorePayload,
  type ShutdownKind,
} from '../protocol/index.js';
import { ChannelSession, type ExecSession, type SessionLink } from './exec-session.js';
import { PortReports } from './port-reports.js';
import { TcpChannel } from './tcp-channel.js';
import { encodeExecRequest, type ExecRequest } from './exec-request.js';
import { sanitizeGuestText } from './exec-failure.js';

export interface AgentHello {
  protocolVersion: number;
  agentVersion: string;
  /** /proc/sys/kernel/random/boot_id of the guest: changes on every boot. */
  bootId: string;
  kernel: string;
  hostname: string;
  capabilities: string[];
}

export interface AgentConnectOptions {
  /** Give up on the handshake after this long ('timeout'). */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  logger?: Logger | undefined;
  /** Repeat HELLO this often until answered, in case the agent restarted (default 1000). */
  helloIntervalMs?: number | undefined;
}

const SUPPORTED_VERSIONS = { min: AGENT_PROTOCOL_VERSION, max: AGENT_PROTOCOL_VERSION };
const MAX_CHANNEL = 0x7fffffff;

/** What a live channel (an exec session or a TCP connection) needs from the dispatcher. */
interface ChannelEndpoint {
  onFrame(frame: AgentFrame): void;
  fail(err: BangerError): void;
}

export interface OpenTcpOptions {
  /** Numeric IPv4 or IPv6 address inside the guest (default 127.0.0.1). */
  host?: string | undefined;
  signal?: AbortSignal | undefined;
}

interface PendingReply<T> {
  resolve: (value: T) => void;
  reject: (err: BangerError) => void;
}

interface PendingPing {
  resolve: (rttMs: number) => void;
  reject: (err: BangerError) => void;
  sentAt: number;
}

export class AgentClient {
  /** What the agent said in its HELLO_ACK. */
  readonly hello: AgentHello;
  /** Resolves when the connection is gone (the VMM died, close() was called, the agent broke it). */
  readonly closed: Promise<void>;

  private readonly stream: Duplex;
  private readonly decoder: FrameDecoder;
  private readonly logger: Logger;
  private readonly sessions = new Map<number, ChannelEndpoint>();
  private readonly portReports: PortReports;
  private readonly pings = new Map<string, PendingPing>();
  private readonly shutdowns: (() => void)[] = [];
  private readonly restores = new Map<number, PendingReply<RestoreDonePayload>>();
  private readonly saveReadies = new Map<number, PendingReply<number>>();
  private nextRequestId = 1;
  private drainWaiters: (() => void)[] = [];
  private nextChannel = 1;
  private reason: BangerError | undefined;
  private resolveClosed!: () => void;
  private readonly link: SessionLink;

  private constructor(stream: Duplex, decoder: FrameDecoder, hello: AgentHello, logger: Logger) {
    this.stream = stream;
    this.decoder = decoder;
    this.hello = hello;
    this.logger = logger;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.link = {
      send: (frame) => this.send(frame),
      whenWritable: () => this.whenWritable(),
      release: (channel) => this.sessions.delete(channel),
      logger,
    };
    this.portReports = new PortReports((frame) => this.send(frame), logger);
  }

  /**
   * Opens a session over a fresh byte stream to the agent: sends the sync preamble and HELLO,
   * skips whatever stale bytes precede the matching HELLO_ACK. Rejects with 'timeout',
   * 'canceled', 'unavailable' (the stream ended) or 'precondition_failed' (protocol version
   * mismatch); on failure the stream is destroyed.
   */
  static connect(stream: Duplex, options: AgentConnectOptions): Promise<AgentClient> {
    const logger = options.logger ?? silentLogger;
    const nonce = randomBytes(AGENT_NONCE_SIZE);
    const decoder = new FrameDecoder();
    const helloBytes = Buffer.concat([
      syncPreamble(),
      encodeFrame({
        type: FrameType.hello,
        channel: 0,
        payload: encodeHello({
          versionMin: SUPPORTED_VERSIONS.min,
          versionMax: SUPPORTED_VERSIONS.max,
          nonce,
        }),
      }),
    ]);

    return new Promise<AgentClient>((resolve, reject) => {
      let settled = false;
      const cleanup = (): void => {
        clearTimeout(timer);
        clearInterval(retry);
        options.signal?.removeEventListener('abort', onAbort);
        stream.off('data', onData);
        stream.off('end', onEnd);
        stream.off('close', onEnd);
        stream.off('error', onError);
      };
      const fail = (err: BangerError): void => {
        if (settled) return;
        settled = true;
        cleanup();
        stream.destroy();
        reject(err);
      };
      const onAbort = (): void =>
        fail(new BangerError('canceled', 'canceled while waiting for the guest agent'));
      const onEnd = (): void =>
        fail(
          new BangerError(
            'unavailable',
            'the guest agent channel closed before the agent answered HELLO',
          ),
        );
      const onError = (err: Error): void =>
        fail(
          new BangerError('unavailable', `the guest agent channel failed: ${err.message}`, {
            cause: err,
          }),
        );
      const onData = (chunk: Buffer): void => {
        if (settled) return;
        const frames = decoder.push(chunk);
        for (const [i, frame] of frames.entries()) {
          if (frame.type !== FrameType.helloAck || frame.channel !== 0) continue;
          let ack;
          try {
            ack = decodeHelloAck(frame.payload);
          } catch {
            continue; // stale or corrupt: not ours
          }
          if (!ack.nonce.equals(nonce)) continue; // an answer to an earlier host
          if (
            ack.protocolVersion < SUPPORTED_VERSIONS.min ||
            ack.protocolVersion > SUPPORTED_VERSIONS.max
          ) {
            fail(
              new BangerError(
                'precondition_failed',
                `the guest agent (${sanitizeGuestText(ack.agentVersion, 40)}) speaks protocol ${ack.protocolVersion}; this banger speaks ${SUPPORTED_VERSIONS.min}..${SUPPORTED_VERSIONS.max}`,
                {
                  hint: 'rebuild the image with this version of banger (its guest programs must match)',
                },
              ),
            );
            return;
          }
          settled = true;
          cleanup();
          const client = new AgentClient(
            stream,
            decoder,
            {
              protocolVersion: ack.protocolVersion,
              agentVersion: sanitizeGuestText(ack.agentVersion, 64),
              bootId: sanitizeGuestText(ack.bootId, 64),
              kernel: sanitizeGuestText(ack.kernel, 128),
              hostname: sanitizeGuestText(ack.hostname, 64),
              capabilities: ack.capabilities.map((c) => sanitizeGuestText(c, 64)),
            },
            logger,
          );
          // Stale garbage before the handshake is expected; from here on it is not.
          decoder.skipped = 0;
          client.attach();
          for (const rest of frames.slice(i + 1)) client.onFrame(rest);
          resolve(client);
          return;
        }
      };

      const timer = setTimeout(
        () =>
          fail(
            new BangerError(
              'timeout',
              `the guest agent did not answer HELLO within ${options.timeoutMs} ms`,
              { hint: 'is the guest booted with banger-init, and banger-agent running?' },
            ),
          ),
        options.timeoutMs,
      );
      // Repeat HELLO (same nonce) in case the agent restarted after reading the first one.
      const retry = setInterval(() => {
        if (!settled) stream.write(helloBytes);
      }, options.helloIntervalMs ?? 1000);
      if (options.signal?.aborted) {
        onAbort();
        return;
      }
      options.signal?.addEventListener('abort', onAbort, { once: true });
      stream.on('data', onData);
      stream.once('end', onEnd);
      stream.once('close', onEnd);
      stream.on('error', onError);
      stream.write(helloBytes);
    });
  }

  /** The guest's boot id (shorthand for hello.bootId). */
  get bootId(): string {
    return this.hello.bootId;
  }

  /** Why the connection ended, once it has. */
  get closeReason(): BangerError | undefined {
    return this.reason;
  }

  /** Starts a command; resolves once the process runs, rejects with the agent's reason. */
  async exec(request: ExecRequest, options: { signal?: AbortSignal } = {}): Promise<ExecSession> {
    const payload = encodeExecRequest(request);
    if (this.reason) throw this.reason;
    if (options.signal?.aborted) throw new BangerError('canceled', 'exec canceled');
    const channel = this.allocateChannel();
    const session = new ChannelSession({
      channel,
      argv: [...request.argv],
      tty: request.tty !== undefined,
      link: this.link,
    });
    this.sessions.set(channel, session);
    this.send({ type: FrameType.exec, channel, payload });
    const onAbort = (): void =>
      session.cancelStart(new BangerError('canceled', 'exec canceled before the process started'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await session.started;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * A byte stream to a TCP port inside the guest (capability `forward`). Resolves once the
   * guest connected; rejects with 'unavailable' when nothing listens there (details.errno
   * 'ECONNREFUSED'), 'operation_failed' with the errno for other failures, 'bad_request'
   * for a bad port or address, 'precondition_failed' when the agent cannot forward.
   */
  async openTcp(port: number, options: OpenTcpOptions = {}): Promise<Duplex> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new BangerError(
        'bad_request',
        `guest port must be an integer from 1 to 65535, got ${port}`,
      );
    }
    const host = options.host ?? '127.0.0.1';
    if (net.isIP(host) === 0) {
      throw new BangerError(
        'bad_request',
        `guest address ${JSON.stringify(host)} is not a numeric IPv4 or IPv6 address`,
      );
    }
    this.requireCapability('forward', 'TCP forwarding');
    if (this.reason) throw this.reason;
    if (options.signal?.aborted) throw new BangerError('canceled', 'connection canceled');
    const channel = this.allocateChannel();
    const target = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
    const tcp = new TcpChannel({ channel, target, link: this.link });
    this.sessions.set(channel, tcp);
    this.send({
      type: FrameType.forwardOpen,
      channel,
      payload: encodeForwardOpen({ port, address: host }),
    });
    const onAbort = (): void =>
      tcp.cancelOpen(new BangerError('canceled', `connection to ${target} canceled`));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await tcp.opened;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The guest's listening TCP sockets (capability `ports`). */
  async listPorts(
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<ListeningPort[]> {
    this.requireCapability('ports', 'listing ports');
    if (this.reason) throw this.reason;
    return this.portReports.list(options);
  }

  /**
   * Calls `listener` with the guest's listening sockets now and after every change (the
   * agent polls about every 500 ms while anyone watches). Returns the unsubscribe function.
   */
  watchPorts(listener: (ports: readonly ListeningPort[]) => void): () => void {
    this.requireCapability('ports', 'watching ports');
    return this.portReports.watch(listener);
  }

  /** Round trip to the agent, in milliseconds. */
  ping(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<number> {
    if (this.reason) return Promise.reject(this.reason);
    const token = randomBytes(8);
    const key = token.toString('hex');
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise<number>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.pings.delete(key);
      };
      const onAbort = (): void => {
        done();
        reject(new BangerError('canceled', 'ping canceled'));
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new BangerError(
            'timeout',
            `the guest agent did not answer a ping within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.pings.set(key, {
        sentAt: performance.now(),
        resolve: (rtt) => {
          done();
          resolve(rtt);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      });
      this.send({ type: FrameType.ping, channel: 0, payload: token });
    });
  }

  /**
   * Asks the guest to sync and power off (or reboot). Resolves when the agent acknowledged
   * (its filesystems are synced) or the connection ended; rejects with 'timeout'.
   */
  shutdown(kind: ShutdownKind, options: { timeoutMs?: number } = {}): Promise<void> {
    if (kind !== 'poweroff' && kind !== 'reboot') {
      return Promise.reject(
        new BangerError(
          'bad_request',
          `shutdown kind must be poweroff or reboot, got ${String(kind)}`,
        ),
      );
    }
    if (this.reason) return Promise.resolve();
    const timeoutMs = options.timeoutMs ?? 10_000;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new BangerError(
            'timeout',
            `the guest agent did not acknowledge ${kind} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.shutdowns.push(finish);
      void this.closed.then(finish);
      this.send({ type: FrameType.shutdown, channel: 0, payload: encodeShutdown(kind) });
    });
  }

  /**
   * Gives a guest restored from a saved state its own identity (capability `restore`).
   * Resolves with what the agent applied and the failures it reported; rejects only when the
   * request could not be answered ('timeout', 'unavailable', 'precondition_failed').
   */
  restore(
    request: Omit<RestorePayload, 'requestId'>,
    options: { timeoutMs?: number } = {},
  ): Promise<RestoreDonePayload> {
    const requestId = this.takeRequestId();
    return this.request(this.restores, requestId, 'RESTORE', options.timeoutMs ?? 10_000, () =>
      this.send({
        type: FrameType.restore,
        channel: 0,
        payload: encodeRestore({ ...request, requestId }),
      }),
    );
  }

  /**
   * Asks the agent to finish first-boot work (an SSH host key being made) and sync, before the guest is
   * saved (capability `restore`). Resolves with the SAVE_READY flags.
   */
  prepareSave(options: { timeoutMs?: number } = {}): Promise<number> {
    const requestId = this.takeRequestId();
    const timeoutMs = options.timeoutMs ?? 15_000;
    return this.request(this.saveReadies, requestId, 'PREPARE_SAVE', timeoutMs + 5000, () =>
      this.send({
        type: FrameType.prepareSave,
        channel: 0,
        payload: encodePrepareSave({ requestId, timeoutMs }),
      }),
    );
  }

  /** Closes the connection. Processes keep running in the guest until the next HELLO. */
  close(): void {
    this.terminate(new BangerError('unavailable', 'the guest agent connection was closed'));
  }

  private takeRequestId(): number {
    const id = this.nextRequestId;
    this.nextRequestId = id >= 0xffffffff ? 1 : id + 1;
    return id;
  }

  private request<T>(
    table: Map<number, PendingReply<T>>,
    requestId: number,
    what: string,
    timeoutMs: number,
    send: () => void,
  ): Promise<T> {
    this.requireCapability('restore', what);
    if (this.reason) return Promise.reject(this.reason);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        table.delete(requestId);
        reject(
          new BangerError(
            'timeout',
            `the guest agent did not answer ${what} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      table.set(requestId, {
        resolve: (value) => {
          clearTimeout(timer);
          table.delete(requestId);
          resolve(value);
        },
        reject: (err) => {
          clearTimeout(timer);
          table.delete(requestId);
          reject(err);
        },
      });
      send();
    });
  }

  private attach(): void {
    this.stream.on('data', (chunk: Buffer) => {
      const frames = this.decoder.push(chunk);
      for (const frame of frames) {
        if (this.reason) return;
        this.onFrame(frame);
      }
      if (this.decoder.skipped > 0 && !this.reason) {
        this.terminate(
          new BangerError(
            'operation_failed',
            `the guest agent stream is corrupted (${this.decoder.skipped} bytes were not valid frames)`,
            { hint: 'reconnect to start a new session; running commands in the guest are lost' },
          ),
        );
      }
    });
    this.stream.on('drain', () => this.wakeDrainWaiters());
    this.stream.once('end', () =>
      this.terminate(new BangerError('unavailable', 'the guest agent channel closed')),
    );
    this.stream.once('close', () =>
      this.terminate(new BangerError('unavailable', 'the guest agent channel closed')),
    );
    this.stream.on('error', (err: Error) =>
      this.terminate(
        new BangerError('unavailable', `the guest agent channel failed: ${err.message}`, {
          cause: err,
        }),
      ),
    );
  }

  private onFrame(frame: AgentFrame): void {
    if (frame.channel !== 0) {
      const session = this.sessions.get(frame.channel);
      if (session) session.onFrame(frame);
      else
        this.logger.debug('frame for an unknown channel ignored', {
          channel: frame.channel,
          type: frameTypeName(frame.type),
        });
      return;
    }
    try {
      this.onControlFrame(frame);
    } catch (err) {
      if (!(err instanceof AgentProtocolError)) throw err;
      this.logger.warn('malformed control frame from the guest agent ignored', {
        reason: err.message,
      });
    }
  }

  private onControlFrame(frame: AgentFrame): void {
    switch (frame.type) {
      case FrameType.pong: {
        const pending = this.pings.get(frame.payload.toString('hex'));
        pending?.resolve(performance.now() - pending.sentAt);
        return;
      }
      case FrameType.ping:
        this.send({ type: FrameType.pong, channel: 0, payload: frame.payload.subarray(0, 64) });
        return;
      case FrameType.shutdownAck:
        decodeShutdown(frame.payload);
        for (const done of this.shutdowns.splice(0)) done();
        return;
      case FrameType.error: {
        const error = decodeError(frame.payload);
        const message = sanitizeGuestText(error.message);
        if (error.code === AgentErrorCode.noSession) {
          this.terminate(
            new BangerError('unavailable', 'the guest agent restarted and lost this session', {
              hint: 'reconnect; commands that were running are gone',
            }),
          );
        } else if (error.code === AgentErrorCode.badFrame) {
          this.terminate(
            new BangerError(
              'operation_failed',
              `the guest agent received corrupted data: ${message}`,
            ),
          );
        } else {
          this.logger.warn('guest agent reported an error', {
            code: error.code,
            about: frameTypeName(error.refType),
            message,
          });
        }
        return;
      }
      case FrameType.helloAck:
        return; // an answer to our repeated HELLO
      case FrameType.ports:
        this.portReports.onPorts(decodePorts(frame.payload));
        return;
      case FrameType.restoreDone: {
        const done = decodeRestoreDone(frame.payload);
        this.restores.get(done.requestId)?.resolve({
          ...done,
          failures: done.failures.map((f) => sanitizeGuestText(f, 300)),
        });
        return;
      }
      case FrameType.saveReady: {
        const ready = decodeSaveReady(frame.payload);
        this.saveReadies.get(ready.requestId)?.resolve(ready.flags);
        return;
      }
      default:
        this.logger.debug('control frame ignored', { type: frameTypeName(frame.type) });
    }
  }

  private send(frame: {
    type: number;
    channel: number;
    flags?: number;
    payload?: Buffer;
  }): boolean {
    if (this.reason || this.stream.destroyed || !this.stream.writable) return true;
    return this.stream.write(encodeFrame(frame));
  }

  private whenWritable(): Promise<void> {
    if (this.reason || !this.stream.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }

  private allocateChannel(): number {
    for (;;) {
      const channel = this.nextChannel;
      this.nextChannel = channel >= MAX_CHANNEL ? 1 : channel + 1;
      if (!this.sessions.has(channel)) return channel;
    }
  }

  private requireCapability(capability: string, what: string): void {
    if (this.hello.capabilities.includes(capability)) return;
    throw new BangerError(
      'precondition_failed',
      `the guest agent (${this.hello.agentVersion}) does not support ${what} (capability "${capability}")`,
      { hint: 'rebuild the image with this version of banger (its guest programs must match)' },
    );
  }

  private terminate(reason: BangerError): void {
    if (this.reason) return;
    this.reason = reason;
    for (const session of [...this.sessions.values()]) session.fail(reason);
    this.sessions.clear();
    this.portReports.fail(reason);
    for (const ping of this.pings.values()) ping.reject(reason);
    this.pings.clear();
    for (const pending of [...this.restores.values(), ...this.saveReadies.values()])
      pending.reject(reason);
    this.wakeDrainWaiters();
    this.stream.destroy();
    this.resolveClosed();
  }
}
