/**
 * A small QMP client (QEMU Machine Protocol: newline-delimited JSON over a unix socket):
 * greeting, `qmp_capabilities`, commands matched to replies by id, asynchronous events.
 * Errors come back as BangerError. Spec: qemu docs/interop/qmp-spec.rst.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { BangerError } from '../../base/index.js';

export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export interface QmpGreeting {
  version?: { qemu?: { major: number; minor: number; micro: number }; package?: string };
  capabilities?: unknown[];
}

export interface QmpOptions {
  /** Deadline for the greeting + capabilities handshake (default 5 s). */
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: BangerError) => void;
  timer: NodeJS.Timeout | undefined;
  /** `quit` ends the connection as its success. */
  closeIsSuccess: boolean;
}

const MAX_LINE_BYTES = 8 * 1024 * 1024;

export class QmpClient {
  readonly greeting: QmpGreeting;
  /** Resolves when the connection is gone (EOF, error or close()). */
  readonly closed: Promise<void>;
  private readonly pending = new Map<string, Pending>();
  private readonly listeners = new Set<(event: QmpEvent) => void>();
  private nextId = 1;
  private isOpen = true;
  private markClosed!: () => void;

  private constructor(
    private readonly stream: Duplex,
    greeting: QmpGreeting,
    private readonly label: string,
  ) {
    this.greeting = greeting;
    this.closed = new Promise((resolve) => {
      this.markClosed = resolve;
    });
  }

  /** Connects to a QMP unix socket and completes the handshake. */
  static async connect(socketPath: string, options: QmpOptions = {}): Promise<QmpClient> {
    const socket = net.createConnection({ path: socketPath });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
    } catch (err) {
      socket.destroy();
      throw new BangerError(
        'unavailable',
        `cannot connect to QMP socket ${socketPath}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    return QmpClient.handshake(socket, { ...options, label: socketPath });
  }

  /** Runs the handshake over any byte stream (a socket, or an in-memory pair in tests). */
  static async handshake(
    stream: Duplex,
    options: QmpOptions & { label?: string } = {},
  ): Promise<QmpClient> {
    const label = options.label ?? 'QMP';
    const timeoutMs = options.timeoutMs ?? 5000;
    // Decode as a stream so a multi-byte character split across chunks stays whole.
    stream.setEncoding('utf8');
    let client: QmpClient | undefined;
    const greeting = new Promise<QmpGreeting>((resolve, reject) => {
      let buffered = '';
      const onData = (chunk: Buffer | string): void => {
        buffered += chunk.toString();
        const nl = buffered.indexOf('\n');
        if (nl < 0) {
          if (buffered.length > MAX_LINE_BYTES)
            reject(protocolError(label, 'greeting line too long'));
          return;
        }
        stream.off('data', onData);
        stream.off('end', onEnd);
        stream.off('error', onEnd);
        const line = buffered.slice(0, nl);
        const rest = buffered.slice(nl + 1);
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          reject(protocolError(label, `greeting is not JSON: ${line.slice(0, 100)}`));
          return;
        }
        const qmp = (parsed as { QMP?: QmpGreeting } | null)?.QMP;
        if (typeof qmp !== 'object' || qmp === null) {
          reject(
            protocolError(label, `first message is not a QMP greeting: ${line.slice(0, 100)}`),
          );
          return;
        }
        client = new QmpClient(stream, qmp, label);
        client.attach(rest);
        resolve(qmp);
      };
      const onEnd = (err?: Error): void => {
        reject(
          new BangerError('unavailable', `${label}: connection closed before the QMP greeting`, {
            cause: err,
          }),
        );
      };
      stream.on('data', onData);
      stream.once('end', onEnd);
      stream.once('error', onEnd);
    });
    const work = (async (): Promise<QmpClient> => {
      await greeting;
      if (client === undefined) throw protocolError(label, 'no client after greeting');
      await client.execute('qmp_capabilities', undefined, { timeoutMs });
      return client;
    })();
    try {
      return await withDeadline(work, timeoutMs, options.signal, `${label}: QMP handshake`);
    } catch (err) {
      // Nobody listens any more: destroying must not surface as an unhandled 'error'.
      stream.on('error', () => undefined);
      stream.destroy();
      client?.close();
      throw err;
    }
  }

  get isClosed(): boolean {
    return !this.isOpen;
  }

  /** Runs a command and resolves with its `return` value. */
  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    options: { timeoutMs?: number } = {},
  ): Promise<T> {
    if (!this.isOpen) {
      return Promise.reject(
        new BangerError('unavailable', `${this.label}: QMP connection is closed (${command})`),
      );
    }
    const id = `banger-${String(this.nextId++)}`;
    const message: Record<string, unknown> = { execute: command, id };
    if (args !== undefined) message.arguments = args;
    return new Promise<T>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new BangerError(
            'timeout',
            `${this.label}: QMP ${command} got no reply within ${String(timeoutMs)} ms`,
          ),
        );
      }, timeoutMs);
      this.pending.set(id, {
        command,
        resolve: resolve as (v: unknown) => void,
        reject,
        timer,
        closeIsSuccess: command === 'quit',
      });
      this.stream.write(`${JSON.stringify(message)}\n`);
    });
  }

  /** Subscribes to asynchronous events (SHUTDOWN, STOP, RESUME...); returns the unsubscribe. */
  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.stream.destroy();
    this.finish();
  }

  private attach(initial: string): void {
    let buffered = '';
    const feed = (text: string): void => {
      buffered += text;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line !== '') this.dispatch(line);
      }
      if (buffered.length > MAX_LINE_BYTES) {
        this.stream.destroy();
        this.finish();
      }
    };
    this.stream.on('data', (chunk: Buffer | string) => feed(chunk.toString()));
    this.stream.on('end', () => this.finish());
    this.stream.on('close', () => this.finish());
    this.stream.on('error', () => this.finish());
    if (initial !== '') feed(initial);
  }

  private dispatch(line: string): void {
    let msg: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed !== 'object' || parsed === null) return;
      msg = parsed as Record<string, unknown>;
    } catch {
      return; // QEMU never sends this; a stray line must not break the session.
    }
    if (typeof msg.event === 'string') {
      const event: QmpEvent = {
        event: msg.event,
        data:
          typeof msg.data === 'object' && msg.data !== null
            ? (msg.data as Record<string, unknown>)
            : {},
      };
      if (typeof msg.timestamp === 'object' && msg.timestamp !== null) {
        event.timestamp = msg.timestamp as QmpEvent['timestamp'] & object;
      }
      for (const listener of this.listeners) listener(event);
      return;
    }
    if (typeof msg.id !== 'string') return;
    const pending = this.pending.get(msg.id);
    if (pending === undefined) return;
    this.pending.delete(msg.id);
    clearTimeout(pending.timer);
    if ('error' in msg) {
      const error = (msg.error ?? {}) as { class?: unknown; desc?: unknown };
      pending.reject(
        new BangerError(
          'operation_failed',
          `QMP ${pending.command} failed: ${typeof error.desc === 'string' ? error.desc : 'unknown error'}`,
          {
            details: { qmpClass: error.class, command: pending.command },
          },
        ),
      );
      return;
    }
    pending.resolve(msg.return);
  }

  private finish(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      clearTimeout(pending.timer);
      if (pending.closeIsSuccess) pending.resolve(undefined);
      else
        pending.reject(
          new BangerError(
            'unavailable',
            `${this.label}: QMP connection closed during ${pending.command}`,
          ),
        );
    }
    this.markClosed();
  }
}

function protocolError(label: string, what: string): BangerError {
  return new BangerError('operation_failed', `${label}: ${what}`);
}

async function withDeadline<T>(
  work: Promise<T>,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  what: string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new BangerError('timeout', `${what} took longer than ${String(timeoutMs)} ms`)),
      timeoutMs,
    );
    onAbort = () => reject(new BangerError('canceled', `${what} was canceled`));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, stop]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    work.catch(() => undefined);
  }
}
