/**
 * AgentClient's forward and ports capabilities against the scripted FakeAgent: capability
 * checks, the frames the client sends, how it treats answers that break the rules. The
 * real agent is exercised by test/integration/agent-forward.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { BangerError } from '../base/index.js';
import {
  AGENT_INITIAL_WINDOW,
  FLAG_FIN,
  FrameType,
  decodeForwardOpen,
  decodePortsWatch,
  encodeForwardStatus,
  encodePorts,
  type ListeningPort,
} from '../protocol/index.js';
import { AgentClient } from './agent-client.js';
import { FakeAgent } from './fake-agent.js';

async function connected(capabilities = ['exec', 'ports', 'forward']) {
  const agent = new FakeAgent();
  agent.capabilities = capabilities;
  const client = await AgentClient.connect(agent.host, { timeoutMs: 2000 });
  return { agent, client };
}

const SSHD: ListeningPort = { family: 'ipv4', address: '0.0.0.0', port: 22, process: 'sshd' };

describe('capabilities', () => {
  it('refuses forward and ports on an agent that lacks them, naming the rebuild', async () => {
    const { client } = await connected(['exec', 'pty']);
    await expect(client.openTcp(22)).rejects.toMatchObject({
      code: 'precondition_failed',
      hint: expect.stringContaining('rebuild the image') as unknown,
    });
    await expect(client.listPorts()).rejects.toMatchObject({ code: 'precondition_failed' });
    expect(() => client.watchPorts(() => undefined)).toThrow(/capability "ports"/);
  });
});

describe('openTcp', () => {
  it('asks for the port and address, and resolves on FORWARD_OPENED', async () => {
    const { agent, client } = await connected();
    const opening = client.openTcp(8080, { host: '::1' });
    const open = await agent.waitFor((f) => f.type === FrameType.forwardOpen);
    expect(decodeForwardOpen(open.payload)).toEqual({ port: 8080, address: '::1' });
    agent.send(FrameType.forwardOpened, open.channel);
    const tcp = await opening;
    tcp.end('ping');
    const data = await agent.waitFor(
      (f) => f.type === FrameType.stdin && f.channel === open.channel && f.payload.length > 0,
    );
    expect(data.payload.toString()).toBe('ping');
    await agent.waitFor((f) => f.type === FrameType.stdin && (f.flags & FLAG_FIN) !== 0);
  });

  it('maps a refused connection to unavailable with the errno', async () => {
    const { agent, client } = await connected();
    const opening = client.openTcp(5432);
    const open = await agent.waitFor((f) => f.type === FrameType.forwardOpen);
    agent.send(
      FrameType.forwardFailed,
      open.channel,
      encodeForwardStatus({ errno: 111, message: 'connect to 127.0.0.1:5432: refused' }),
    );
    const err = (await opening.catch((e: unknown) => e)) as BangerError;
    expect(err.code).toBe('unavailable');
    expect(err.message).toBe('nothing listens on 127.0.0.1:5432 in the guest (ECONNREFUSED)');
    expect(err.details).toEqual({ errno: 'ECONNREFUSED' });
  });

  it('destroys the stream and sends CLOSE when the agent overruns the window', async () => {
    const { agent, client } = await connected();
    const opening = client.openTcp(80);
    const open = await agent.waitFor((f) => f.type === FrameType.forwardOpen);
    agent.send(FrameType.forwardOpened, open.channel);
    const tcp = await opening;
    tcp.pause();
    const failed = new Promise<Error>((resolve) => tcp.once('error', resolve));
    const chunk = Buffer.alloc(64 * 1024);
    for (let sent = 0; sent <= AGENT_INITIAL_WINDOW; sent += chunk.length) {
      agent.send(FrameType.stdout, open.channel, chunk);
    }
    expect((await failed).message).toMatch(/beyond the granted window/);
    await agent.waitFor((f) => f.type === FrameType.close && f.channel === open.channel);
  });

  it('ends the readable side on FIN and reports a reset as an error', async () => {
    const { agent, client } = await connected();
    const first = client.openTcp(80);
    const a = await agent.waitFor((f) => f.type === FrameType.forwardOpen);
    agent.send(FrameType.forwardOpened, a.channel);
    const clean = await first;
    let text = '';
    clean.on('data', (d: Buffer) => (text += d.toString()));
    const ended = new Promise<void>((resolve) => clean.once('end', resolve));
    agent.send(FrameType.stdout, a.channel, Buffer.from('bye'), FLAG_FIN);
    await ended;
    expect(text).toBe('bye');

    const second = client.openTcp(81);
    const b = await agent.waitFor(
      (f) => f.type === FrameType.forwardOpen && f.channel !== a.channel,
    );
    agent.send(FrameType.forwardOpened, b.channel);
    const reset = await second;
    const failed = new Promise<Error>((resolve) => reset.once('error', resolve));
    agent.send(
      FrameType.forwardClosed,
      b.channel,
      encodeForwardStatus({ errno: 104, message: '' }),
    );
    expect((await failed).message).toContain('ECONNRESET');
  });

  it('fails open connections with unavailable when the agent connection ends', async () => {
    const { agent, client } = await connected();
    const opening = client.openTcp(80);
    await agent.waitFor((f) => f.type === FrameType.forwardOpen);
    agent.end();
    await expect(opening).rejects.toMatchObject({ code: 'unavailable' });
  });
});

describe('ports', () => {
  it('answers a list with the matching report', async () => {
    const { agent, client } = await connected();
    const listing = client.listPorts();
    const request = await agent.waitFor((f) => f.type === FrameType.portsList);
    const id = request.payload.readUInt32LE(0);
    agent.send(FrameType.ports, 0, encodePorts({ requestId: id + 1, truncated: false, ports: [] }));
    agent.send(FrameType.ports, 0, encodePorts({ requestId: id, truncated: false, ports: [SSHD] }));
    expect(await listing).toEqual([SSHD]);
  });

  it('shares one watch between listeners and stops it when the last one leaves', async () => {
    const { agent, client } = await connected();
    const a: (readonly ListeningPort[])[] = [];
    const b: (readonly ListeningPort[])[] = [];
    const stopA = client.watchPorts((ports) => a.push(ports));
    const start = await agent.waitFor((f) => f.type === FrameType.portsWatch);
    expect(decodePortsWatch(start.payload)).toBe(500);
    agent.send(FrameType.ports, 0, encodePorts({ requestId: 0, truncated: false, ports: [SSHD] }));
    await new Promise((r) => setTimeout(r, 20));
    const stopB = client.watchPorts((ports) => b.push(ports));
    await new Promise((r) => setTimeout(r, 20));
    expect(a).toEqual([[SSHD]]);
    expect(b).toEqual([[SSHD]]); // the latest report, at once
    expect(agent.framesOf(FrameType.portsWatch)).toHaveLength(1);
    stopA();
    stopB();
    await new Promise((r) => setTimeout(r, 20));
    const watches = agent.framesOf(FrameType.portsWatch).map((f) => decodePortsWatch(f.payload));
    expect(watches).toEqual([500, 0]);
    agent.send(FrameType.ports, 0, encodePorts({ requestId: 0, truncated: false, ports: [] }));
    await new Promise((r) => setTimeout(r, 20));
    expect(a).toHaveLength(1);
  });

  it('rejects a pending list with unavailable when the connection ends', async () => {
    const { agent, client } = await connected();
    const listing = client.listPorts();
    await agent.waitFor((f) => f.type === FrameType.portsList);
    agent.end();
    await expect(listing).rejects.toMatchObject({ code: 'unavailable' });
  });
});
