/**
 * The daemon's port forwarder with the real banger-agent (over --connect-unix, no VM) and
 * real TCP on both sides: the agent runs on this machine, so the "guest" servers below are
 * ordinary loopback servers, and host listeners use other loopback addresses (127.0.0.2/3)
 * so they never collide with them.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BangerError, silentLogger } from '../../src/base/index.js';
import { toAgentSession } from '../../src/daemon/agent-session.js';
import { PortForwarder } from '../../src/daemon/port-forwards.js';
import type { AgentSession } from '../../src/daemon/ports.js';
import { AgentClient } from '../../src/guest/index.js';
import { buildGuestPrograms, startAgent, type AgentProcess } from './agent-harness.js';

const built = await buildGuestPrograms();

async function server(
  handler: (socket: net.Socket) => void,
  host = '127.0.0.1',
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    handler(socket);
  });
  await new Promise<void>((resolve) => srv.listen(0, host, resolve));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  };
}

/** Connects, sends `text`, half-closes and returns everything the far side answered. */
function exchange(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, allowHalfOpen: true });
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString()));
    socket.once('end', () => {
      socket.end();
      resolve(out);
    });
    socket.once('error', reject);
    socket.once('connect', () => socket.end(text));
  });
}

/** Resolves with the error a connection attempt ends in, or 'open' if it connects and stays. */
function connectOutcome(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    socket.once('close', () => resolve('closed'));
    socket.once('connect', () =>
      setTimeout(() => {
        socket.destroy();
        resolve('open');
      }, 300),
    );
  });
}

const upper = (socket: net.Socket): void => {
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString()));
  socket.once('end', () => socket.end(got.toUpperCase()));
};

async function until(what: string, probe: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.skipIf(!built)('port forwarder with the real agent', () => {
  let agentProcess: AgentProcess;
  let client: AgentClient;
  let agent: AgentSession;
  const forwarder = new PortForwarder({ logger: silentLogger });

  beforeAll(async () => {
    agentProcess = await startAgent();
    client = await AgentClient.connect(agentProcess.socket, { timeoutMs: 5000 });
    agent = toAgentSession(client);
  });

  afterAll(async () => {
    await forwarder.stopEverything();
    client.close();
    await agentProcess.stop();
  });

  it('pipes host connections into the guest port, both directions and half-close', async () => {
    const guest = await server(upper);
    try {
      const fwd = await forwarder.startForward({
        vmId: 'vm-a',
        agent,
        hostAddress: '127.0.0.2',
        hostPort: 0,
        guestPort: guest.port,
      });
      expect(fwd.address).toBe(`127.0.0.2:${fwd.hostPort}`);
      const answers = await Promise.all(
        ['one', 'two', 'three'].map((t) => exchange('127.0.0.2', fwd.hostPort, t)),
      );
      expect(answers).toEqual(['ONE', 'TWO', 'THREE']);
      expect(forwarder.list('vm-a').map((f) => f.guestPort)).toEqual([guest.port]);
      await fwd.close();
      expect(forwarder.list('vm-a')).toEqual([]);
      expect(await connectOutcome('127.0.0.2', fwd.hostPort)).toBe('ECONNREFUSED');
    } finally {
      await forwarder.stopAll('vm-a');
      await guest.close();
    }
  });

  it('resets the host connection when nothing listens on the guest port', async () => {
    const gone = await server(() => undefined);
    await gone.close();
    const fwd = await forwarder.startForward({
      vmId: 'vm-a',
      agent,
      hostAddress: '127.0.0.2',
      hostPort: 0,
      guestPort: gone.port,
    });
    try {
      expect(await connectOutcome('127.0.0.2', fwd.hostPort)).toBe('ECONNRESET');
    } finally {
      await fwd.close();
    }
  });

  it('refuses a host port already in use, naming the rule', async () => {
    const taken = await server(() => undefined, '127.0.0.2');
    try {
      const err: unknown = await forwarder
        .startForward({
          vmId: 'vm-a',
          agent,
          hostAddress: '127.0.0.2',
          hostPort: taken.port,
          guestPort: 80,
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BangerError);
      expect(err).toMatchObject({ code: 'conflict' });
      expect((err as BangerError).message).toContain(`127.0.0.2:${taken.port} is already in use`);
      expect(forwarder.list('vm-a')).toEqual([]);
    } finally {
      await taken.close();
    }
  });
});

/** Serves upper-cased echoes tagged with argv[2] on 0.0.0.0:argv[1]; prints the port. */
const GUEST_SERVER = `
const net = require('node:net');
const tag = process.argv[2] || '';
const srv = net.createServer({ allowHalfOpen: true }, (s) => {
  let got = '';
  s.on('data', (d) => (got += d));
  s.on('end', () => s.end(tag + got.toUpperCase()));
  s.on('error', () => {});
});
srv.listen(Number(process.argv[1]), '0.0.0.0', () => console.log(srv.address().port));
`;

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI === 'true') {
  throw new Error('the auto-forward tests need root (unshare --net)');
}

describe.skipIf(!built || !isRoot)(
  'auto-forward with the real agent in its own network namespace',
  () => {
    const forwarder = new PortForwarder({ logger: silentLogger });
    const guests: { process: AgentProcess; client: AgentClient; agent: AgentSession }[] = [];

    async function guestVm(): Promise<(typeof guests)[number]> {
      const process = await startAgent([], { netns: true });
      const client = await AgentClient.connect(process.socket, { timeoutMs: 5000 });
      const up = await client.exec({ argv: ['ip', 'link', 'set', 'lo', 'up'] });
      up.stdin.end();
      expect(await up.exit).toEqual({ kind: 'exited', code: 0 });
      const vm = { process, client, agent: toAgentSession(client) };
      guests.push(vm);
      return vm;
    }

    /** A TCP server inside the guest's namespace (run through the agent); resolves its port. */
    async function guestServer(
      client: AgentClient,
      port: number,
      tag = '',
    ): Promise<{ port: number; stop(): Promise<void> }> {
      const run = await client.exec({
        argv: [globalThis.process.execPath, '-e', GUEST_SERVER, String(port), tag],
      });
      run.stdin.end();
      run.stderr.resume();
      const bound = await new Promise<number>((resolve, reject) => {
        let out = '';
        run.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(Number(out.trim()));
        });
        run.exit.then(() => reject(new Error('the guest server exited')), reject);
      });
      run.stdout.resume();
      return {
        port: bound,
        stop: async () => {
          run.kill('SIGTERM');
          await run.exit;
        },
      };
    }

    afterAll(async () => {
      await forwarder.stopEverything();
      for (const vm of guests) {
        vm.client.close();
        await vm.process.stop();
      }
    });

    it('follows the guest: every listening port is served on the VM address as it opens and closes', async () => {
      const vm = await guestVm();
      const first = await guestServer(vm.client, 0);
      const auto = forwarder.autoForward({
        vmId: 'vm-b',
        agent: vm.agent,
        hostAddress: '127.0.0.3',
      });
      const served = (port: number): boolean =>
        forwarder.list('vm-b').some((f) => f.hostPort === port && f.origin === 'auto');
      try {
        await until('the existing port', () => served(first.port));
        expect(await exchange('127.0.0.3', first.port, 'already there')).toBe('ALREADY THERE');

        const second = await guestServer(vm.client, 0);
        const opened = Date.now();
        await until('the new port', () => served(second.port));
        expect(Date.now() - opened).toBeLessThan(2500);
        expect(await exchange('127.0.0.3', second.port, 'new')).toBe('NEW');

        await first.stop();
        await until('the closed port to go', () => !served(first.port));
        expect(await connectOutcome('127.0.0.3', first.port)).toBe('ECONNREFUSED');
        expect(auto.failed.size).toBe(0);

        await forwarder.stopAll('vm-b');
        expect(forwarder.list('vm-b')).toEqual([]);
        expect(await connectOutcome('127.0.0.3', second.port)).toBe('ECONNREFUSED');
        await second.stop();
      } finally {
        await auto.close();
        await forwarder.stopAll('vm-b');
      }
    });

    it('serves the same guest port of two VMs at once, each on its own address', async () => {
      const [c, d] = [await guestVm(), await guestVm()];
      const port = 30_000 + Math.floor(Math.random() * 10_000);
      const servers = [
        await guestServer(c.client, port, 'c:'),
        await guestServer(d.client, port, 'd:'),
      ];
      try {
        forwarder.autoForward({ vmId: 'vm-c', agent: c.agent, hostAddress: '127.0.0.2' });
        forwarder.autoForward({ vmId: 'vm-d', agent: d.agent, hostAddress: '127.0.0.3' });
        await until('both', () =>
          ['vm-c', 'vm-d'].every((vm) => forwarder.list(vm).some((f) => f.hostPort === port)),
        );
        expect(await exchange('127.0.0.2', port, 'hello')).toBe('c:HELLO');
        expect(await exchange('127.0.0.3', port, 'hello')).toBe('d:HELLO');
      } finally {
        await forwarder.stopAll('vm-c');
        await forwarder.stopAll('vm-d');
        for (const server of servers) await server.stop();
      }
      expect(forwarder.list('vm-c')).toEqual([]);
      expect(await connectOutcome('127.0.0.2', port)).toBe('ECONNREFUSED');
    });
  },
);
