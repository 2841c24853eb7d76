/**
 * TCP forwarding and listening-port reports against the real banger-agent (over
 * --connect-unix, no VM): the agent runs on this machine, so "127.0.0.1 in the guest" is this
 * machine's loopback and the servers below are real TCP servers the agent connects to.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError } from '../../src/base/index.js';
import { AgentClient } from '../../src/guest/index.js';
import type { ListeningPort } from '../../src/protocol/index.js';
import { buildGuestPrograms, startAgent, type AgentProcess } from './agent-harness.js';

const built = await buildGuestPrograms();

interface TestServer {
  server: net.Server;
  port: number;
  connections: net.Socket[];
  close(): Promise<void>;
}

async function listen(
  onConnection: (socket: net.Socket) => void,
  host = '127.0.0.1',
): Promise<TestServer> {
  const connections: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    connections.push(socket);
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address() as net.AddressInfo;
  return {
    server,
    port: address.port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.destroy();
        server.close(() => resolve());
      }),
  };
}

function collect(stream: Duplex | net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

function sha(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function until<T>(what: string, probe: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(!built)('banger-agent forward and ports (real binary)', () => {
  let agent: AgentProcess;
  let client: AgentClient;

  beforeAll(async () => {
    agent = await startAgent();
    client = await AgentClient.connect(agent.socket, { timeoutMs: 5000 });
  });

  afterAll(async () => {
    client.close();
    await agent.stop();
  });

  it('announces the ports and forward capabilities', () => {
    expect(client.hello.capabilities).toEqual(expect.arrayContaining(['ports', 'forward']));
  });

  it('carries bytes both ways and half-closes towards the guest', async () => {
    // The "guest" server reads everything, then answers with its hash and closes.
    const srv = await listen((socket) => {
      void collect(socket).then((got) => socket.end(`got ${got.length} ${sha(got)}`));
    });
    try {
      const tcp = await client.openTcp(srv.port);
      const payload = randomBytes(3 * 1024 * 1024 + 17);
      const reply = collect(tcp);
      tcp.end(payload);
      expect((await reply).toString()).toBe(`got ${payload.length} ${sha(payload)}`);
    } finally {
      await srv.close();
    }
  });

  it('streams 16 MiB from the guest within the windows, and the host may still write after the guest half-closed', async () => {
    const big = randomBytes(16 * 1024 * 1024);
    let received: Promise<Buffer> | undefined;
    const srv = await listen((socket) => {
      received = collect(socket);
      socket.end(big); // the guest's FIN comes first; the host keeps writing
    });
    try {
      const tcp = await client.openTcp(srv.port);
      const got = await collect(tcp);
      expect(got.length).toBe(big.length);
      expect(sha(got)).toBe(sha(big));
      tcp.end('after-fin');
      const back = await until('server side', () => received);
      expect(back.toString()).toBe('after-fin');
    } finally {
      await srv.close();
    }
  });

  it('never buffers more than one window for a reader that stops', async () => {
    const srv = await listen((socket) => {
      socket.write(randomBytes(8 * 1024 * 1024));
    });
    try {
      const tcp = await client.openTcp(srv.port);
      tcp.pause();
      await new Promise((r) => setTimeout(r, 500));
      expect(tcp.readableLength).toBeLessThanOrEqual(256 * 1024);
      // Reading resumes the flow: all 8 MiB arrive.
      let total = 0;
      tcp.on('data', (d: Buffer) => (total += d.length));
      tcp.resume();
      await until('all bytes', () => (total >= 8 * 1024 * 1024 ? true : undefined), 20_000);
      tcp.destroy();
    } finally {
      await srv.close();
    }
  });

  it('reports a refused connection with its errno', async () => {
    const srv = await listen(() => undefined);
    const port = srv.port;
    await srv.close(); // nothing listens there now
    const err: unknown = await client.openTcp(port).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BangerError);
    expect((err as BangerError).code).toBe('unavailable');
    expect((err as BangerError).details).toEqual({ errno: 'ECONNREFUSED' });
    expect((err as BangerError).message).toContain(`127.0.0.1:${port}`);
  });

  it('connects to IPv6 loopback when asked', async () => {
    const srv = await listen((socket) => socket.end('v6'), '::1');
    try {
      const tcp = await client.openTcp(srv.port, { host: '::1' });
      tcp.end();
      expect((await collect(tcp)).toString()).toBe('v6');
    } finally {
      await srv.close();
    }
  });

  it('rejects bad ports and addresses before asking the agent', async () => {
    await expect(client.openTcp(0)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(client.openTcp(70000)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(client.openTcp(80, { host: 'localhost' })).rejects.toMatchObject({
      code: 'bad_request',
    });
  });

  it('resets the guest connection on destroy() and frees the channel (300 in a row)', async () => {
    const closed: Promise<void>[] = [];
    const srv = await listen((socket) => {
      closed.push(new Promise((resolve) => socket.once('close', () => resolve())));
    });
    try {
      for (let i = 0; i < 300; i++) {
        const tcp = await client.openTcp(srv.port);
        tcp.destroy();
      }
      await until('server connections', () => (closed.length === 300 ? true : undefined));
      await Promise.all(closed);
      // The exec channels still work alongside.
      const run = await client.exec({ argv: ['true'] });
      run.stdin.end();
      expect(await run.exit).toEqual({ kind: 'exited', code: 0 });
    } finally {
      await srv.close();
    }
  });

  it('lists listening sockets, IPv4 and IPv6, with the owning process', async () => {
    const v4 = await listen(() => undefined, '127.0.0.1');
    const v6 = await listen(() => undefined, '::1');
    try {
      const ports = await client.listPorts();
      const mine4 = ports.find((p) => p.port === v4.port && p.family === 'ipv4');
      const mine6 = ports.find((p) => p.port === v6.port && p.family === 'ipv6');
      expect(mine4).toMatchObject({ address: '127.0.0.1', pid: process.pid });
      expect(mine6).toMatchObject({ address: '::1', pid: process.pid });
      expect(typeof mine4?.process).toBe('string');
    } finally {
      await v4.close();
      await v6.close();
    }
  });

  it('pushes port changes to watchers as they happen, and stops when unsubscribed', async () => {
    const reports: (readonly ListeningPort[])[] = [];
    const stop = client.watchPorts((ports) => reports.push(ports));
    try {
      await until('first report', () => (reports.length > 0 ? true : undefined));
      const srv = await listen(() => undefined);
      const has = (ports: readonly ListeningPort[]): boolean =>
        ports.some((p) => p.port === srv.port);
      const opened = Date.now();
      await until('opened port', () => (reports.some(has) ? true : undefined));
      expect(Date.now() - opened).toBeLessThan(2000);
      await srv.close();
      await until('closed port', () => (has(reports[reports.length - 1] ?? []) ? undefined : true));
    } finally {
      stop();
    }
    const count = reports.length;
    const again = await listen(() => undefined);
    await new Promise((r) => setTimeout(r, 1200));
    await again.close();
    expect(reports.length).toBe(count);
  });
});
