#!/usr/bin/env node
/**
 * The guests' DNS server address: a tiny relay that banger starts on the bridge address
 * (port 53, inside banger's namespace in isolated mode) and that hands every query to the
 * daemon over a unix socket, which crosses namespaces where an IP socket cannot. The unix
 * socket speaks DNS-over-TCP framing (2-byte length, then the message), so TCP clients are
 * piped through as they are and each UDP query becomes one short unix connection. It knows
 * nothing about DNS beyond sizes: every answer comes from the daemon.
 *
 * argv: --listen ADDR --socket PATH [--user UID --group GID]
 * With --user/--group (the root helper starts it so), it drops to that user once port 53 is
 * bound and before it forwards anything: the daemon's socket is then reached with the
 * owner's rights, never root's, wherever the socket path leads.
 */
import dgram from 'node:dgram';
import net from 'node:net';

const QUERY_TIMEOUT_MS = 3000;
const MAX_INFLIGHT = 256;
const MAX_TCP_CLIENTS = 64;

// Nothing is written, but every banger process starts private.
process.umask(0o077);

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? process.argv[i + 1] : undefined;
  if (value === undefined) {
    process.stderr.write(`dns-relay: missing ${name}\n`);
    process.exit(2);
  }
  return value;
}

function optId(name: string): number | undefined {
  if (!process.argv.includes(name)) return undefined;
  const value = Number(arg(name));
  if (!Number.isSafeInteger(value) || value < 1 || value > 0xfffffffe) {
    process.stderr.write(`dns-relay: ${name} must be an unprivileged id\n`);
    process.exit(2);
  }
  return value;
}

const listen = arg('--listen');
const socketPath = arg('--socket');
const user = optId('--user');
const group = optId('--group');
if ((user === undefined) !== (group === undefined)) {
  process.stderr.write('dns-relay: --user and --group go together\n');
  process.exit(2);
}
/** Nothing is forwarded until the privileges are dropped (or there are none to drop). */
let serving = false;
let bound = 0;
let inflight = 0;

function onBound(): void {
  if (++bound < 2) return;
  if (user !== undefined && group !== undefined) {
    // Defined on POSIX; absent only on Windows, which banger does not run on.
    process.setgroups?.([group]);
    process.setgid?.(group);
    process.setuid?.(user);
    if (process.getuid?.() !== user) {
      process.stderr.write(`dns-relay: could not drop to uid ${String(user)}\n`);
      process.exit(1);
    }
  }
  serving = true;
  process.stderr.write(`dns-relay: serving ${listen}:53 for ${socketPath}\n`);
}

function relayUdp(udp: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
  if (!serving || msg.length < 12 || msg.length > 4096 || inflight >= MAX_INFLIGHT) return;
  inflight++;
  const conn = net.connect(socketPath);
  const chunks: Buffer[] = [];
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    inflight--;
    conn.destroy();
    const all = Buffer.concat(chunks);
    if (all.length < 2) return;
    const len = all.readUInt16BE(0);
    if (all.length < 2 + len) return;
    udp.send(all.subarray(2, 2 + len), rinfo.port, rinfo.address);
  };
  conn.setTimeout(QUERY_TIMEOUT_MS, finish);
  conn.on('error', finish);
  conn.on('close', finish);
  conn.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    const all = Buffer.concat(chunks);
    if (all.length >= 2 && all.length >= 2 + all.readUInt16BE(0)) finish();
  });
  const frame = Buffer.alloc(2 + msg.length);
  frame.writeUInt16BE(msg.length, 0);
  msg.copy(frame, 2);
  conn.end(frame);
}

const udp = dgram.createSocket({ type: 'udp4', reuseAddr: true });
udp.on('message', (msg, rinfo) => relayUdp(udp, msg, rinfo));
udp.on('error', (err) => {
  process.stderr.write(`dns-relay: udp ${listen}:53: ${err.message}\n`);
  process.exit(1);
});
udp.bind(53, listen, onBound);

let tcpClients = 0;
const tcp = net.createServer((client) => {
  if (!serving || tcpClients >= MAX_TCP_CLIENTS) {
    client.destroy();
    return;
  }
  tcpClients++;
  const upstream = net.connect(socketPath);
  const close = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.setTimeout(30_000, close);
  client.on('close', () => {
    tcpClients--;
    upstream.destroy();
  });
  client.on('error', close);
  upstream.on('error', close);
  upstream.on('close', close);
  client.pipe(upstream).pipe(client);
});
tcp.on('error', (err) => {
  process.stderr.write(`dns-relay: tcp ${listen}:53: ${err.message}\n`);
  process.exit(1);
});
tcp.listen(53, listen, onBound);

process.on('SIGTERM', () => process.exit(0));
