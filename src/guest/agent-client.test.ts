import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import {
  AGENT_INITIAL_WINDOW,
  AGENT_MAX_PAYLOAD,
  AgentErrorCode,
  AgentStream,
  FLAG_FIN,
  FrameType,
  decodeHello,
  decodeResize,
  decodeShutdown,
  decodeSignal,
  encodeError,
  encodeExecFailed,
  encodeExecStarted,
  encodeExit,
  encodeFrame,
  encodeHelloAck,
  encodeShutdown,
  encodeWindow,
  syncPreamble,
  type ExecPayload,
} from '../protocol/index.js';
import { AgentClient } from './agent-client.js';
import { FakeAgent } from './fake-agent.js';

async function connected(
  agent = new FakeAgent(),
): Promise<{ agent: FakeAgent; client: AgentClient }> {
  const client = await AgentClient.connect(agent.host, { timeoutMs: 2000 });
  return { agent, client };
}

/** The fake starts every EXEC with pid 1000 + channel and records what it was asked. */
function autoStart(agent: FakeAgent): ExecPayload[] {
  const seen: ExecPayload[] = [];
  agent.onExec = (channel, exec) => {
    seen.push(exec);
    agent.send(FrameType.execStarted, channel, encodeExecStarted(1000 + channel));
  };
  return seen;
}

function collect(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    stream.on('data', (d: Buffer) => (text += d.toString()));
    stream.on('end', () => resolve(text));
  });
}

describe('AgentClient.connect', () => {
  it('handshakes and reports what the agent said', async () => {
    const { agent, client } = await connected();
    expect(client.hello).toEqual({
      protocolVersion: 1,
      agentVersion: 'fake-1',
      bootId: 'boot-1234',
      kernel: '6.1.0-fake',
      hostname: 'fakebox',
      capabilities: ['exec', 'pty'],
    });
    expect(client.bootId).toBe('boot-1234');
    expect(agent.helloCount).toBe(1);
    client.close();
  });

  it('skips stale bytes, a stale partial frame and an answer to another nonce', async () => {
    const agent = new FakeAgent();
    agent.answerHello = () => false;
    const connecting = AgentClient.connect(agent.host, { timeoutMs: 2000 });
    const hello = await agent.waitFor((f) => f.type === FrameType.hello);
    const stale = encodeFrame({
      type: FrameType.stdout,
      channel: 3,
      payload: Buffer.alloc(60000, 1),
    });
    agent.sendRaw(Buffer.from('leftover console noise'));
    agent.send(
      FrameType.helloAck,
      0,
      encodeHelloAck({
        protocolVersion: 1,
        nonce: Buffer.alloc(16, 9),
        agentVersion: 'old',
        bootId: 'old',
        kernel: '',
        hostname: '',
        capabilities: [],
      }),
    );
    agent.sendRaw(stale.subarray(0, 500));
    agent.sendRaw(syncPreamble());
    agent.send(
      FrameType.helloAck,
      0,
      encodeHelloAck({
        protocolVersion: 1,
        nonce: decodeHello(hello.payload).nonce,
        agentVersion: 'fake-1',
        bootId: 'boot-1234',
        kernel: '',
        hostname: '',
        capabilities: [],
      }),
    );
    const client = await connecting;
    expect(client.hello.agentVersion).toBe('fake-1');
    client.close();
  });

  it('repeats HELLO until the agent answers', async () => {
    const agent = new FakeAgent();
    agent.answerHello = (n) => n >= 3;
    const client = await AgentClient.connect(agent.host, { timeoutMs: 2000, helloIntervalMs: 20 });
    expect(agent.helloCount).toBe(3);
    client.close();
  });

  it('times out, and destroys the stream', async () => {
    const agent = new FakeAgent();
    agent.answerHello = () => false;
    await expect(AgentClient.connect(agent.host, { timeoutMs: 50 })).rejects.toMatchObject({
      code: 'timeout',
    });
    expect(agent.host.destroyed).toBe(true);
  });

  it('fails with unavailable when the stream ends first', async () => {
    const agent = new FakeAgent();
    agent.answerHello = () => false;
    const connecting = AgentClient.connect(agent.host, { timeoutMs: 2000 });
    agent.end();
    await expect(connecting).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('can be canceled', async () => {
    const agent = new FakeAgent();
    agent.answerHello = () => false;
    const abort = new AbortController();
    const connecting = AgentClient.connect(agent.host, { timeoutMs: 2000, signal: abort.signal });
    abort.abort();
    await expect(connecting).rejects.toMatchObject({ code: 'canceled' });
  });

  it('refuses an agent speaking another protocol version', async () => {
    const agent = new FakeAgent();
    agent.protocolVersion = 9;
    await expect(AgentClient.connect(agent.host, { timeoutMs: 2000 })).rejects.toMatchObject({
      code: 'precondition_failed',
      message: expect.stringContaining('protocol 9') as unknown,
    });
  });
});

describe('AgentClient.exec', () => {
  it('sends the request, streams output and resolves the exit status', async () => {
    const { agent, client } = await connected();
    const seen = autoStart(agent);
    const run = await client.exec({ argv: ['make', 'test'], env: { A: '1' }, cwd: '/w' });
    expect(run.pid).toBe(1000 + run.channel);
    expect(seen).toEqual([{ argv: ['make', 'test'], env: { A: '1' }, cwd: '/w' }]);
    const out = collect(run.stdout);
    const err = collect(run.stderr);
    agent.send(FrameType.stdout, run.channel, Buffer.from('hello '));
    agent.send(FrameType.stdout, run.channel, Buffer.from('world'), FLAG_FIN);
    agent.send(FrameType.stderr, run.channel, Buffer.from('oops'), FLAG_FIN);
    agent.send(FrameType.exit, run.channel, encodeExit({ kind: 'exited', code: 7 }));
    await expect(run.exit).resolves.toEqual({ kind: 'exited', code: 7 });
    expect(await out).toBe('hello world');
    expect(await err).toBe('oops');
    client.close();
  });

  it('reports a signal by name', async () => {
    const { agent, client } = await connected();
    autoStart(agent);
    const run = await client.exec({ argv: ['sleep', '9'] });
    run.kill('SIGTERM');
    const signal = await agent.waitFor((f) => f.type === FrameType.signal);
    expect(decodeSignal(signal.payload)).toBe(15);
    expect(() => run.kill('SIGNOPE')).toThrow(/unknown signal/);
    agent.send(FrameType.stdout, run.channel, Buffer.alloc(0), FLAG_FIN);
    agent.send(FrameType.stderr, run.channel, Buffer.alloc(0), FLAG_FIN);
    agent.send(
      FrameType.exit,
      run.channel,
      encodeExit({ kind: 'signaled', signal: 15, coreDumped: false }),
    );
    await expect(run.exit).resolves.toEqual({
      kind: 'signaled',
      signal: 'SIGTERM',
      coreDumped: false,
    });
    client.close();
  });

  it('forwards resize in tty mode', async () => {
    const { agent, client } = await connected();
    const seen = autoStart(agent);
    const run = await client.exec({ argv: ['bash'], tty: { rows: 24, cols: 80 } });
    expect(seen[0]?.tty).toEqual({ rows: 24, cols: 80, term: undefined });
    run.resize(50, 132);
    const resize = await agent.waitFor((f) => f.type === FrameType.resize);
    expect(decodeResize(resize.payload)).toEqual({ rows: 50, cols: 132 });
    expect(() => run.resize(0, 10)).toThrow(/rows/);
    client.close();
  });

  it.each([
    [2, 4, 'command not found: nope', 'not_found'],
    [2, 2, 'working directory /nope does not exist in the guest', 'not_found'],
    [13, 4, 'cannot execute /etc/passwd: Permission denied', 'precondition_failed'],
    [11, 3, 'too many processes', 'unavailable'],
    [22, 1, 'malformed', 'bad_request'],
  ])(
    'maps EXEC_FAILED errno %i at stage %i to a BangerError',
    async (errno, stage, message, code) => {
      const { agent, client } = await connected();
      agent.onExec = (channel) =>
        agent.send(FrameType.execFailed, channel, encodeExecFailed({ errno, stage, message }));
      await expect(client.exec({ argv: ['nope'] })).rejects.toMatchObject({
        code,
        message: `cannot run nope in the guest: ${message}`,
      });
      client.close();
    },
  );

  it('rejects invalid requests before anything is sent', async () => {
    const { agent, client } = await connected();
    for (const bad of [
      { argv: [] },
      { argv: [''] },
      { argv: ['a\0b'] },
      { argv: ['x'], env: { 'A=B': '1' } },
      { argv: ['x'], cwd: 'relative' },
      { argv: ['x'], tty: { rows: 0, cols: 80 } },
      { argv: ['x'], tty: { rows: 24, cols: 80, term: 'bad term' } },
      { argv: ['x'.repeat(70000)] },
    ]) {
      await expect(client.exec(bad)).rejects.toMatchObject({ code: 'bad_request' });
    }
    expect(agent.framesOf(FrameType.exec)).toHaveLength(0);
    client.close();
  });

  it('runs sessions concurrently on separate channels', async () => {
    const { agent, client } = await connected();
    autoStart(agent);
    const runs = await Promise.all([1, 2, 3].map((i) => client.exec({ argv: [`cmd${i}`] })));
    expect(new Set(runs.map((r) => r.channel)).size).toBe(3);
    for (const run of runs.reverse()) {
      agent.send(FrameType.stdout, run.channel, Buffer.from(`out${run.channel}`), FLAG_FIN);
      agent.send(FrameType.stderr, run.channel, Buffer.alloc(0), FLAG_FIN);
      agent.send(FrameType.exit, run.channel, encodeExit({ kind: 'exited', code: run.channel }));
    }
    for (const run of runs) {
      expect(await collect(run.stdout)).toBe(`out${run.channel}`);
      await expect(run.exit).resolves.toEqual({ kind: 'exited', code: run.channel });
    }
    client.close();
  });
});

describe('flow control', () => {
  it('grants stdout credit only as the consumer reads', async () => {
    const { agent, client } = await connected();
    autoStart(agent);
    const run = await client.exec({ argv: ['yes'] });
    const chunk = Buffer.alloc(AGENT_MAX_PAYLOAD, 0x79);
    for (let i = 0; i < AGENT_INITIAL_WINDOW / AGENT_MAX_PAYLOAD; i++) {
      agent.send(FrameType.stdout, run.channel, chunk);
    }
    await vi.waitFor(() => expect(run.stdout.readableLength).toBe(AGENT_INITIAL_WINDOW));
    await sleep(20);
    expect(agent.granted(run.channel, AgentStream.stdout)).toBe(0);
    let read = 0;
    run.stdout.on('data', (d: Buffer) => (read += d.length));
    await vi.waitFor(() =>
      expect(agent.granted(run.channel, AgentStream.stdout)).toBe(AGENT_INITIAL_WINDOW),
    );
    expect(read).toBe(AGENT_INITIAL_WINDOW);
    client.close();
  });

  /** Sends `total` bytes on stdout as fast as the granted window allows, then FIN and EXIT. */
  async function produce(agent: FakeAgent, channel: number, total: number): Promise<void> {
    let sent = 0;
    while (sent < total) {
      const credit = AGENT_INITIAL_WINDOW + agent.granted(channel, AgentStream.stdout) - sent;
      if (credit <= 0) {
        await sleep(1);
        continue;
      }
      const size = Math.min(credit, AGENT_MAX_PAYLOAD, total - sent);
      agent.send(FrameType.stdout, channel, Buffer.alloc(size, sent % 251));
      sent += size;
    }
    agent.send(FrameType.stdout, channel, Buffer.alloc(0), FLAG_FIN);
    agent.send(FrameType.stderr, channel, Buffer.alloc(0), FLAG_FIN);
    agent.send(FrameType.exit, channel, encodeExit({ kind: 'exited', code: 0 }));
  }

  it('keeps granting for a for-await consumer until the end', async () => {
    const { agent, client } = await connected();
    autoStart(agent);
    const run = await client.exec({ argv: ['cat', 'big'] });
    const total = 4 * 1024 * 1024 + 123;
    void produce(agent, run.channel, total);
    let got = 0;
    for await (const chunk of run.stdout) {
      got += (chunk as Buffer).length;
      if (got % 3 === 0) await sleep(0);
    }
    expect(got).toBe(total);
    await expect(run.exit).resolves.toEqual({ kind: 'exited', code: 0 });
    client.close();
  });

  it('keeps granting through pipe() into a slow writable', async () => {
    const { agent, client } = await connected();
    autoStart(agent);
    const run = await client.exec({ argv: ['cat', 'big'] });
    const total = 2 * 1024 * 1024;
    void produce(agent, run.channel, total);
    let got = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, callback) {
        got += chunk.length;
        setTimeout(callback, 0);
      },
    });
    await pipeline(run.stdout, slow);
    expect(got).toBe(total);
    client.close();
  });

  it('ends only the offending session when the agent overruns its window', async () => {
    const { agent, client } = await connected();
    autoStart(agent);
    const greedy = await client.exec({ argv: ['yes'] });
    const other = await client.exec({ argv: ['echo'] });
    for (let i = 0; i <= AGENT_INITIAL_WINDOW / AGENT_MAX_PAYLOAD; i++) {
      agent.send(FrameType.stdout, greedy.channel, Buffer.alloc(AGENT_MAX_PAYLOAD));
    }
    await expect(greedy.exit).rejects.toMatchObject({
      code: 'operation_failed',
      message: expect.stringContaining('beyond the granted window') as unknown,
    });
    await agent.waitFor((f) => f.type === FrameType.close && f.channel === greedy.channel);
    agent.send(FrameType.stdout, other.channel, Buffer.from('fine'), FLAG_FIN);
    agent.send(FrameType.stderr, other.channel, Buffer.alloc(0), FLAG_FIN);
    agent.send(FrameType.exit, other.channel, encodeExit({ kind: 'exited', code: 0 }));
    expect(await collect(other.stdout)).toBe('fine');
    await expect(other.exit).resolves.toEqual({ kind: 'exited', code: 0 });
    client.close();
  });

  it('treats a stdin window beyond 2^31-1 as a violation of that session', async () => {
    const { agent, client } = await connected();
    autoStart(agent);
    const run = await client.exec({ argv: ['cat'] });
    agent.send(
      FrameType.window,
      run.channel,
      encodeWindow({ stream: AgentStream.stdin, increment: 0x7fffffff }),
    );
    await expect(run.exit).rejects.toMatchObject({ code: 'operation_failed' });
    client.close();
  });

  it('sends stdin only within the granted window, then FIN', async () => {
    const { agent, client } = await connected();
    autoStart(agent);
    const run = await client.exec({ argv: ['cat'] });
    const total = AGENT_INITIAL_WINDOW + 44 * 1024;
    run.stdin.write(Buffer.alloc(total, 0x61));
    run.stdin.end();
    const stdinBytes = (): number =>
      agent.framesOf(FrameType.stdin, run.channel).reduce((n, f) => n + f.payload.length, 0);
    await vi.waitFor(() => expect(stdinBytes()).toBe(AGENT_INITIAL_WINDOW));
    await sleep(20);
    expect(stdinBytes()).toBe(AGENT_INITIAL_WINDOW);
    expect(
      agent
        .framesOf(FrameType.stdin, run.channel)
        .every((f) => f.payload.length <= AGENT_MAX_PAYLOAD),
    ).toBe(true);
    agent.send(
      FrameType.window,
      run.channel,
      encodeWindow({ stream: AgentStream.stdin, increment: 64 * 1024 }),
    );
    await vi.waitFor(() => expect(stdinBytes()).toBe(total));
    const fin = await agent.waitFor(
      (f) => f.type === FrameType.stdin && (f.flags & FLAG_FIN) !== 0,
    );
    expect(fin.payload.length).toBe(0);
    client.close();
  });
});

describe('connection health', () => {
  it('rejects running sessions with unavailable when the stream ends', async () => {
    const { agent, client } = await connected();
    autoStart(agent);
    const run = await client.exec({ argv: ['sleep', '1000'] });
    const out = collect(run.stdout);
    agent.end();
    await expect(run.exit).rejects.toMatchObject({ code: 'unavailable' });
    await client.closed;
    expect(await out).toBe('');
    expect(client.closeReason?.code).toBe('unavailable');
    await expect(client.exec({ argv: ['true'] })).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('treats garbage after the handshake as a corrupted stream', async () => {
    const { agent, client } = await connected();
    agent.sendRaw(Buffer.from('definitely not a frame'));
    await client.closed;
    expect(client.closeReason).toMatchObject({ code: 'operation_failed' });
  });

  it('ignores frames for unknown channels and unknown control frames', async () => {
    const { agent, client } = await connected();
    agent.send(FrameType.stdout, 77, Buffer.from('late'));
    agent.send(0x7e, 0, Buffer.from('future'));
    agent.send(FrameType.exit, 0, Buffer.alloc(1)); // malformed, on the control channel
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
    expect(client.closeReason).toBeUndefined();
    client.close();
  });

  it('closes with unavailable when the agent restarted (NO_SESSION)', async () => {
    const { agent, client } = await connected();
    agent.send(
      FrameType.error,
      0,
      encodeError({
        code: AgentErrorCode.noSession,
        refType: FrameType.ping,
        message: 'no session',
      }),
    );
    await client.closed;
    expect(client.closeReason?.message).toMatch(/restarted/);
  });

  it('answers pings from the agent and measures its own', async () => {
    const { agent, client } = await connected();
    agent.send(FrameType.ping, 0, Buffer.from('12345678'));
    const pong = await agent.waitFor((f) => f.type === FrameType.pong);
    expect(pong.payload.toString()).toBe('12345678');
    const rtt = client.ping({ timeoutMs: 1000 });
    await expect(rtt).resolves.toBeGreaterThanOrEqual(0);
    client.close();
  });

  it('times out a ping the agent never answers', async () => {
    const { agent, client } = await connected();
    agent.answerPing = false;
    const ping = client.ping({ timeoutMs: 30 });
    await agent.waitFor((f) => f.type === FrameType.ping);
    await expect(ping).rejects.toMatchObject({ code: 'timeout' });
    client.close();
  });

  it('shuts down: resolves on the acknowledgement', async () => {
    const { agent, client } = await connected();
    const done = client.shutdown('poweroff');
    const request = await agent.waitFor((f) => f.type === FrameType.shutdown);
    expect(decodeShutdown(request.payload)).toBe('poweroff');
    agent.send(FrameType.shutdownAck, 0, encodeShutdown('poweroff'));
    await expect(done).resolves.toBeUndefined();
    client.close();
  });

  it('shuts down: resolves when the VM goes away instead', async () => {
    const { agent, client } = await connected();
    const done = client.shutdown('reboot');
    await agent.waitFor((f) => f.type === FrameType.shutdown);
    agent.end();
    await expect(done).resolves.toBeUndefined();
  });

  it('close() sends CLOSE for a session the caller gives up on, and exit still resolves', async () => {
    const { agent, client } = await connected();
    autoStart(agent);
    const run = await client.exec({ argv: ['sleep', '1000'] });
    run.close();
    await agent.waitFor((f) => f.type === FrameType.close && f.channel === run.channel);
    agent.send(
      FrameType.exit,
      run.channel,
      encodeExit({ kind: 'signaled', signal: 9, coreDumped: false }),
    );
    await expect(run.exit).resolves.toEqual({
      kind: 'signaled',
      signal: 'SIGKILL',
      coreDumped: false,
    });
    client.close();
  });
});
