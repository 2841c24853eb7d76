/**
 * The host side of the `ports` capability: one-off PORTS_LIST requests, and a shared watch
 * (PORTS_WATCH) that is on while at least one listener is subscribed. The agent answers a
 * list with PORTS carrying the request id, and pushes PORTS with id 0 when the watch starts
 * and whenever the set of listening sockets changes.
 */
import { BangerError, type Logger } from '../base/index.js';
import {
  FrameType,
  PORTS_WATCH_DEFAULT_MS,
  encodePortsList,
  encodePortsWatch,
  type ListeningPort,
  type PortsPayload,
} from '../protocol/index.js';
import { sanitizeGuestText } from './exec-failure.js';

type Send = (frame: { type: number; channel: number; payload?: Buffer }) => void;
type Listener = (ports: readonly ListeningPort[]) => void;

interface Pending {
  resolve: (ports: ListeningPort[]) => void;
  reject: (err: BangerError) => void;
}

const MAX_REQUEST_ID = 0x7fffffff;

export class PortReports {
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<Listener>();
  private latest: readonly ListeningPort[] | undefined;
  private nextId = 1;
  private failed: BangerError | undefined;
  private warnedTruncated = false;

  constructor(
    private readonly send: Send,
    private readonly logger: Logger,
    private readonly intervalMs = PORTS_WATCH_DEFAULT_MS,
  ) {}

  list(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ListeningPort[]> {
    if (this.failed) return Promise.reject(this.failed);
    if (options.signal?.aborted) return Promise.reject(canceled());
    const id = this.nextId;
    this.nextId = id >= MAX_REQUEST_ID ? 1 : id + 1;
    const timeoutMs = options.timeoutMs ?? 10_000;
    return new Promise<ListeningPort[]>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
      };
      const onAbort = (): void => {
        done();
        reject(canceled());
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new BangerError(
            'timeout',
            `the guest agent did not list listening ports within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: (ports) => {
          done();
          resolve(ports);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      });
      this.send({ type: FrameType.portsList, channel: 0, payload: encodePortsList(id) });
    });
  }

  watch(listener: Listener): () => void {
    if (this.failed) return () => undefined;
    const first = this.listeners.size === 0;
    this.listeners.add(listener);
    if (first) {
      this.send({
        type: FrameType.portsWatch,
        channel: 0,
        payload: encodePortsWatch(this.intervalMs),
      });
    } else if (this.latest) {
      const snapshot = this.latest;
      queueMicrotask(() => {
        if (this.listeners.has(listener)) listener(snapshot);
      });
    }
    return () => {
      if (!this.listeners.delete(listener)) return;
      if (this.listeners.size > 0 || this.failed) return;
      this.latest = undefined;
      this.send({ type: FrameType.portsWatch, channel: 0, payload: encodePortsWatch(0) });
    };
  }

  /** A PORTS frame from the agent (already decoded). */
  onPorts(report: PortsPayload): void {
    if (report.truncated && !this.warnedTruncated) {
      this.warnedTruncated = true;
      this.logger.warn('the guest has more listening sockets than one report holds');
    }
    const ports = report.ports.map(clean);
    if (report.requestId !== 0) {
      this.pending.get(report.requestId)?.resolve(ports);
      return;
    }
    if (this.listeners.size === 0) return; // a report that crossed our "stop"
    this.latest = ports;
    for (const listener of [...this.listeners]) {
      try {
        listener(ports);
      } catch (err) {
        this.logger.warn('port watcher failed', { error: String(err) });
      }
    }
  }

  /** The connection is gone: pending lists fail, watchers hear nothing more. */
  fail(err: BangerError): void {
    this.failed = err;
    for (const pending of [...this.pending.values()]) pending.reject(err);
    this.pending.clear();
    this.listeners.clear();
  }
}

function clean(port: ListeningPort): ListeningPort {
  if (port.process === undefined) return port;
  return { ...port, process: sanitizeGuestText(port.process, 16) };
}

function canceled(): BangerError {
  return new BangerError('canceled', 'listing guest ports was canceled');
}
