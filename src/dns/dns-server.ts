/**
 * The daemon's DNS listeners: UDP and TCP on the host address (127.0.0.1:42069 by default)
 * answer with the host view; a unix socket, reached by guests through the relay on the
 * bridge, answers with the guest view. TCP and the unix socket use DNS-over-TCP framing
 * (2-byte length prefix); connections are capped in number, size and idle time.
 */
import dgram from 'node:dgram';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import { BangerError, silentLogger, type Logger } from '../base/index.js';
import type { DnsView, DnsZone } from './dns-zone.js';

export interface DnsListen {
  address: string;
  port: number;
}

const MAX_CONNECTIONS = 128;
const IDLE_MS = 10_000;
const MAX_MESSAGE = 4096;

export class DnsServer {
  private udp: dgram.Socket | undefined;
  private readonly servers: net.Server[] = [];
  private readonly logger: Logger;

  constructor(
    private readonly zone: DnsZone,
    options: { logger?: Logger } = {},
  ) {
    this.logger = options.logger ?? silentLogger;
  }

  /** Listens on UDP and TCP at `listen` (host view). */
  async listenHost(listen: DnsListen): Promise<void> {
    const udp = dgram.createSocket({ type: 'udp4' });
    udp.on('message', (msg, rinfo) => {
      if (msg.length > MAX_MESSAGE) return;
      const reply = this.zone.answer(msg, 'host');
      if (reply) udp.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', (err) => reject(listenError(err, listen)));
      udp.bind(listen.port, listen.address, () => resolve());
    });
    udp.on('error', (err) => this.logger.warn('dns udp error', { error: err.message }));
    this.udp = udp;
    const tcp = this.streamServer('host');
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', (err) => reject(listenError(err, listen)));
      tcp.listen(listen.port, listen.address, () => resolve());
    });
    this.servers.push(tcp);
  }

  /** Listens on a unix socket (guest view, relayed from the bridge address). */
  async listenGuests(socketPath: string): Promise<void> {
    await fs.rm(socketPath, { force: true });
    const server = this.streamServer('guest');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    // The relay may run as another user than the daemon (root helper): it only needs to connect.
    await fs.chmod(socketPath, 0o666);
    this.servers.push(server);
  }

  async close(): Promise<void> {
    this.udp?.close();
    this.udp = undefined;
    await Promise.all(
      this.servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
  }

  private streamServer(view: DnsView): net.Server {
    let open = 0;
    const server = net.createServer((socket) => {
      if (open >= MAX_CONNECTIONS) {
        socket.destroy();
        return;
      }
      open++;
      socket.on('close', () => open--);
      socket.on('error', () => socket.destroy());
      socket.setTimeout(IDLE_MS, () => socket.destroy());
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2) {
          const len = buffered.readUInt16BE(0);
          if (len > MAX_MESSAGE) {
            socket.destroy();
            return;
          }
          if (buffered.length < 2 + len) break;
          const msg = buffered.subarray(2, 2 + len);
          buffered = buffered.subarray(2 + len);
          const reply = this.zone.answer(msg, view);
          if (!reply) continue;
          const frame = Buffer.alloc(2);
          frame.writeUInt16BE(reply.length);
          socket.write(Buffer.concat([frame, reply]));
        }
        if (buffered.length > MAX_MESSAGE + 2) socket.destroy();
      });
    });
    server.maxConnections = MAX_CONNECTIONS;
    return server;
  }
}

function listenError(err: Error, listen: DnsListen): BangerError {
  const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
  return new BangerError(
    inUse ? 'conflict' : 'operation_failed',
    `cannot serve DNS on ${listen.address}:${String(listen.port)}: ${err.message}`,
    {
      hint: inUse
        ? 'another program uses that port: set network.dns_listen in config.toml to a free one'
        : undefined,
    },
  );
}
