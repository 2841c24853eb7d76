/**
 * Host TCP listeners that carry each accepted connection into a guest port through the
 * agent channel (agent.openTcp): no route, bridge or guest address is involved. Two kinds:
 *
 *   const fwd = await forwarder.startForward({ vmId, agent, hostAddress: '127.0.0.1',
 *                                              hostPort: 8080, guestPort: 80 });
 *   fwd.address;              // '127.0.0.1:8080'
 *   const auto = forwarder.autoForward({ vmId, agent, hostAddress: '127.0.10.3' });
 *   // every port the guest listens on is now served on 127.0.10.3:<same port>, following
 *   // agent.watchPorts as ports open and close
 *   await forwarder.stopAll(vmId);  // when the VM stops: every listener and connection ends
 *
 * Every forward of a VM is listed by list(vmId), whichever kind made it.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { BangerError, type Logger } from '../base/index.js';
import type { ListeningPort } from '../protocol/index.js';
import type { AgentSession } from './ports.js';

export type ForwardOrigin = 'explicit' | 'auto';

export interface ForwardSpec {
  vmId: string;
  agent: AgentSession;
  /** Numeric host address to listen on (127.0.0.1 for explicit forwards by default). */
  hostAddress: string;
  /** 1..65535, or 0 for a port the kernel picks (tests). */
  hostPort: number;
  guestPort: number;
  /** Address inside the guest to connect to (default 127.0.0.1). */
  guestHost?: string | undefined;
  origin?: ForwardOrigin | undefined;
}

export interface ActiveForward {
  readonly vmId: string;
  readonly origin: ForwardOrigin;
  readonly hostAddress: string;
  /** The port actually bound (differs from the request only when it asked for 0). */
  readonly hostPort: number;
  readonly guestPort: number;
  readonly guestHost: string;
  /** 'HOST:PORT' ('[::1]:PORT' for IPv6). */
  readonly address: string;
  /** Stops listening and ends its open connections. */
  close(): Promise<void>;
}

export interface AutoForwardSpec {
  vmId: string;
  agent: AgentSession;
  /** The VM's own host loopback address (isolated mode): guest port N is served on HOST:N. */
  hostAddress: string;
}

export interface AutoForward {
  readonly vmId: string;
  readonly hostAddress: string;
  /** Guest ports that could not be served on the host (port taken there), with the reason. */
  readonly failed: ReadonlyMap<number, string>;
  /** Resolves once the forwards match the latest port report (tests, `vm ports`). */
  settled(): Promise<void>;
  /** Stops following the guest and closes every forward it made. */
  close(): Promise<void>;
}

interface VmForwards {
  forwards: Set<ForwardHandle>;
  autos: Set<AutoForwardHandle>;
}

export class PortForwarder {
  private readonly vms = new Map<string, VmForwards>();

  constructor(private readonly options: { logger: Logger }) {}

  /**
   * Listens on hostAddress:hostPort and pipes each connection into the guest port. Rejects
   * with 'conflict' when the host port is in use, 'bad_request' for an address this host
   * does not have, 'precondition_failed' when permission is denied (ports below 1024).
   */
  async startForward(spec: ForwardSpec): Promise<ActiveForward> {
    checkPort(spec.guestPort, 'guest port', false);
    checkPort(spec.hostPort, 'host port', true);
    if (net.isIP(spec.hostAddress) === 0) {
      throw new BangerError(
        'bad_request',
        `host address ${JSON.stringify(spec.hostAddress)} is not a numeric IPv4 or IPv6 address`,
      );
    }
    const handle = new ForwardHandle(spec, this.options.logger, () => this.forget(handle));
    await handle.listen();
    this.entry(spec.vmId).forwards.add(handle);
    this.options.logger.info('port forward started', {
      vmId: spec.vmId,
      origin: handle.origin,
      host: handle.address,
      guestPort: spec.guestPort,
    });
    return handle;
  }

  /**
   * Serves every TCP port the guest listens on at hostAddress:<same port>, following
   * agent.watchPorts: a listener opens when a guest port opens and closes when it closes.
   * A port already taken on the host is logged and listed in `failed`, not fatal.
   */
  autoForward(spec: AutoForwardSpec): AutoForward {
    if (net.isIP(spec.hostAddress) === 0) {
      throw new BangerError(
        'bad_request',
        `host address ${JSON.stringify(spec.hostAddress)} is not a numeric IPv4 or IPv6 address`,
      );
    }
    const auto = new AutoForwardHandle(spec, this, () => this.entry(spec.vmId).autos.delete(auto));
    this.entry(spec.vmId).autos.add(auto);
    auto.begin();
    return auto;
  }

  /** Every forward of a VM, explicit and automatic, ordered by host address and port. */
  list(vmId: string): ActiveForward[] {
    const entry = this.vms.get(vmId);
    if (!entry) return [];
    return [...entry.forwards].sort(
      (a, b) => a.hostAddress.localeCompare(b.hostAddress) || a.hostPort - b.hostPort,
    );
  }

  /** The VM stopped: every auto-forward stops following it and every listener closes. */
  async stopAll(vmId: string): Promise<void> {
    const entry = this.vms.get(vmId);
    if (!entry) return;
    this.vms.delete(vmId);
    await Promise.all([
      ...[...entry.autos].map((a) => a.close()),
      ...[...entry.forwards].map((f) => f.close()),
    ]);
  }

  /** Everything, for daemon shutdown. */
  async stopEverything(): Promise<void> {
    await Promise.all([...this.vms.keys()].map((id) => this.stopAll(id)));
  }

  private entry(vmId: string): VmForwards {
    let entry = this.vms.get(vmId);
    if (!entry) {
      entry = { forwards: new Set(), autos: new Set() };
      this.vms.set(vmId, entry);
    }
    return entry;
  }

  private forget(handle: ForwardHandle): void {
    const entry = this.vms.get(handle.vmId);
    entry?.forwards.delete(handle);
    if (entry && entry.forwards.size === 0 && entry.autos.size === 0) this.vms.delete(handle.vmId);
  }
}

function checkPort(port: number, what: string, zeroOk: boolean): void {
  if (!Number.isInteger(port) || port < (zeroOk ? 0 : 1) || port > 65535) {
    throw new BangerError('bad_request', `${what} must be an integer from 1 to 65535, got ${port}`);
  }
}

function formatAddress(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

class ForwardHandle implements ActiveForward {
  readonly vmId: string;
  readonly origin: ForwardOrigin;
  readonly hostAddress: string;
  hostPort: number;
  readonly guestPort: number;
  readonly guestHost: string;
  private readonly agent: AgentSession;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private closing: Promise<void> | undefined;

  constructor(
    spec: ForwardSpec,
    private readonly logger: Logger,
    private readonly onClosed: () => void,
  ) {
    this.vmId = spec.vmId;
    this.origin = spec.origin ?? 'explicit';
    this.hostAddress = spec.hostAddress;
    this.hostPort = spec.hostPort;
    this.guestPort = spec.guestPort;
    this.guestHost = spec.guestHost ?? '127.0.0.1';
    this.agent = spec.agent;
    // allowHalfOpen: a client's FIN must reach the guest without ending our answer to it.
    this.server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) =>
      this.accept(socket),
    );
  }

  get address(): string {
    return formatAddress(this.hostAddress, this.hostPort);
  }

  listen(): Promise<void> {
    const wanted = formatAddress(this.hostAddress, this.hostPort);
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(listenError(err, wanted));
      };
      this.server.once('error', onError);
      // A port another process (or another forward) listens on fails with EADDRINUSE.
      this.server.listen({ host: this.hostAddress, port: this.hostPort }, () => {
        this.server.off('error', onError);
        this.server.on('error', (err) =>
          this.logger.warn('port forward listener failed', {
            host: this.address,
            error: err.message,
          }),
        );
        const bound = this.server.address();
        if (bound && typeof bound === 'object') this.hostPort = bound.port;
        resolve();
      });
    });
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      for (const socket of this.sockets) socket.destroy();
      this.sockets.clear();
      this.onClosed();
      this.server.close(() => resolve());
    });
    return this.closing;
  }

  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let guest: Duplex | undefined;
    let done = false;
    // An error on either side resets both; otherwise each direction half-closes on its own
    // (client FIN -> FIN to the guest, guest FIN -> socket end once flushed) and the pair is
    // done when the client's socket closes.
    const finish = (reset: boolean): void => {
      if (done) return;
      done = true;
      this.sockets.delete(socket);
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
      guest?.destroy();
    };
    socket.once('error', () => finish(true));
    socket.once('close', () => finish(false));
    this.agent.openTcp(this.guestPort, { host: this.guestHost }).then(
      (stream) => {
        if (done) {
          stream.destroy();
          return;
        }
        guest = stream;
        stream.once('error', () => finish(true));
        socket.pipe(stream);
        stream.pipe(socket);
        socket.resume();
      },
      (err: unknown) => {
        this.logger.debug('guest connection failed', {
          vmId: this.vmId,
          guestPort: this.guestPort,
          error: err instanceof Error ? err.message : String(err),
        });
        // A reset tells the client at once, as a refused port on a real host would.
        finish(true);
      },
    );
  }
}

function listenError(err: NodeJS.ErrnoException, address: string): BangerError {
  switch (err.code) {
    case 'EADDRINUSE':
      return new BangerError(
        'conflict',
        `host port ${address} is already in use; a forward needs a host port nothing else listens on`,
        { hint: 'pick another host port, or stop what listens there', cause: err },
      );
    case 'EADDRNOTAVAIL':
      return new BangerError('bad_request', `this host has no address to listen on at ${address}`, {
        cause: err,
      });
    case 'EACCES':
      return new BangerError(
        'precondition_failed',
        `permission denied listening on ${address} (ports below 1024 need privileges)`,
        { hint: 'pick a host port of 1024 or more', cause: err },
      );
    default:
      return new BangerError('operation_failed', `cannot listen on ${address}: ${err.message}`, {
        cause: err,
      });
  }
}

/** The guest address to dial for a listening socket, reachable from the agent (in the guest). */
export function dialAddress(port: ListeningPort): string {
  if (port.family === 'ipv4') return port.address === '0.0.0.0' ? '127.0.0.1' : port.address;
  if (port.address === '::') return '::1';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(port.address);
  return mapped?.[1] ?? port.address;
}

/** Which socket of a port to dial when several listen on it: loopback-reachable first. */
function dialRank(port: ListeningPort): number {
  const dial = dialAddress(port);
  if (dial === '127.0.0.1') return 0;
  if (dial === '::1') return 1;
  return port.family === 'ipv4' ? 2 : 3;
}

class AutoForwardHandle implements AutoForward {
  readonly vmId: string;
  readonly hostAddress: string;
  readonly failed = new Map<number, string>();
  private readonly agent: AgentSession;
  private readonly forwards = new Map<number, ActiveForward>();
  /** Ports whose listener is being opened. */
  private readonly opening = new Set<number>();
  private latest: readonly ListeningPort[] = [];
  private unsubscribe: (() => void) | undefined;
  private closed = false;
  private work: Promise<void> = Promise.resolve();

  constructor(
    spec: AutoForwardSpec,
    private readonly forwarder: PortForwarder,
    private readonly onClosed: () => void,
  ) {
    this.vmId = spec.vmId;
    this.hostAddress = spec.hostAddress;
    this.agent = spec.agent;
  }

  begin(): void {
    this.unsubscribe = this.agent.watchPorts((ports) => {
      this.latest = ports;
      this.work = this.work.then(() => this.apply());
    });
  }

  settled(): Promise<void> {
    return this.work;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    this.onClosed();
    await this.work;
    await Promise.all([...this.forwards.values()].map((f) => f.close()));
    this.forwards.clear();
  }

  /** Brings the listeners in line with the latest report, one change at a time. */
  private async apply(): Promise<void> {
    if (this.closed) return;
    // One forward per port number: a port open on both 0.0.0.0 and :: is one service.
    const wanted = new Map<number, ListeningPort>();
    for (const port of this.latest) {
      const seen = wanted.get(port.port);
      if (!seen || dialRank(port) < dialRank(seen)) wanted.set(port.port, port);
    }
    for (const [port, forward] of this.forwards) {
      const want = wanted.get(port);
      if (!want || dialAddress(want) !== forward.guestHost) {
        this.forwards.delete(port);
        await forward.close();
      }
    }
    for (const port of this.failed.keys()) if (!wanted.has(port)) this.failed.delete(port);
    for (const [port, listening] of wanted) {
      if (this.closed) return;
      if (this.forwards.has(port) || this.opening.has(port)) continue;
      this.opening.add(port);
      try {
        const forward = await this.forwarder.startForward({
          vmId: this.vmId,
          agent: this.agent,
          hostAddress: this.hostAddress,
          hostPort: port,
          guestPort: port,
          guestHost: dialAddress(listening),
          origin: 'auto',
        });
        if (this.closed) await forward.close();
        else {
          this.forwards.set(port, forward);
          this.failed.delete(port);
        }
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        this.failed.set(port, reason);
      } finally {
        this.opening.delete(port);
      }
    }
  }
}
