/**
 * The real banger-agent across host sessions: backpressure between channels, a host that dies
 * mid-frame and a new one that resynchronises over the same byte stream, raw protocol abuse,
 * and shutdown over the test transport.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/guest/index.js';
import {
  AGENT_INITIAL_WINDOW,
  AgentErrorCode,
  FrameDecoder,
  FrameType,
  decodeError,
  decodeExecStarted,
  decodeHelloAck,
  encodeExec,
  encodeFrame,
  encodeHello,
  syncPreamble,
  type AgentFrame,
} from '../../src/protocol/index.js';
import {
  buildGuestPrograms,
  processExists,
  startAgent,
  view,
  type AgentProcess,
} from './agent-harness.js';

const built = await buildGuestPrograms();

function text(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    stream.on('data', (d: Buffer) => (out += d.toString()));
    stream.on('end', () => resolve(out));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Speaks raw frames to the agent over its socket, for what AgentClient would never send. */
class RawHost {
  readonly frames: AgentFrame[] = [];
  private readonly decoder = new FrameDecoder();
  constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.frames.push(...this.decoder.push(chunk)));
  }
  send(type: number, channel: number, payload?: Buffer, flags = 0): void {
    this.socket.write(encodeFrame({ type, channel, flags, ...(payload ? { payload } : {}) }));
  }
  hello(nonce: Buffer): void {
    this.socket.write(syncPreamble());
    this.send(FrameType.hello, 0, encodeHello({ versionMin: 1, versionMax: 1, nonce }));
  }
  async next(match: (f: AgentFrame) => boolean, what: string): Promise<AgentFrame> {
    await until(() => this.frames.some(match), what);
    return this.frames.find(match)!;
  }
}

describe.skipIf(!built)('banger-agent sessions (real binary)', () => {
  let agent: AgentProcess | undefined;

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
  });

  it('keeps other channels flowing while one consumer is paused', async () => {
    agent = await startAgent();
    const client = await AgentClient.connect(agent.socket, { timeoutMs: 5000 });
    const flood = await client.exec({ argv: ['cat', '/dev/zero'] });
    flood.stdin.end();
    flood.stderr.resume();
    // Nobody reads flood.stdout: the agent must stop at the window.
    await until(() => flood.stdout.readableLength >= AGENT_INITIAL_WINDOW, 'the window to fill');
    await sleep(300);
    expect(flood.stdout.readableLength).toBe(AGENT_INITIAL_WINDOW);

    const started = Date.now();
    const echo = await client.exec({ argv: ['echo', 'still alive'] });
    echo.stdin.end();
    echo.stderr.resume();
    expect(await text(echo.stdout)).toBe('still alive\n');
    expect(await echo.exit).toEqual({ kind: 'exited', code: 0 });
    expect(Date.now() - started).toBeLessThan(2000);

    // Reading again lets the flood continue; then stop it.
    let more = 0;
    flood.stdout.on('data', (d: Buffer) => (more += d.length));
    await until(() => more > 4 * AGENT_INITIAL_WINDOW, 'the flood to resume');
    flood.close();
    expect(await flood.exit).toEqual({ kind: 'signaled', signal: 'SIGKILL', coreDumped: false });
    client.close();
  });

  it('resynchronises after a host died mid-frame, and the new HELLO ends the old session', async () => {
    agent = await startAgent();
    const first = view(agent.socket);
    const old = await AgentClient.connect(first, { timeoutMs: 5000 });
    const sleeper = await old.exec({ argv: ['sleep', '300'] });
    const chatter = await old.exec({ argv: ['cat', '/dev/zero'] });
    chatter.stdin.end();
    expect(processExists(sleeper.pid)).toBe(true);
    await sleep(100);

    // The old host dies in the middle of a frame that promised 60000 bytes...
    const partial = encodeFrame({
      type: FrameType.stdin,
      channel: 1,
      payload: Buffer.alloc(60000, 7),
    });
    agent.socket.write(partial.subarray(0, 777));
    first.detach();

    // ...and a new host connects on the same stream: stale stdout frames come first.
    const second = view(agent.socket);
    const fresh = await AgentClient.connect(second, { timeoutMs: 5000 });
    expect(fresh.bootId).toBe(old.bootId);
    await until(() => !processExists(sleeper.pid), 'the old session process to be killed');

    const session = await fresh.exec({ argv: ['echo', 'fresh'] });
    session.stdin.end();
    session.stderr.resume();
    expect(await text(session.stdout)).toBe('fresh\n');
    expect(await session.exit).toEqual({ kind: 'exited', code: 0 });
    fresh.close();
  });

  it('answers a repeated HELLO with the same nonce without dropping the session', async () => {
    agent = await startAgent();
    const raw = new RawHost(agent.socket);
    const nonce = randomBytes(16);
    raw.hello(nonce);
    await raw.next((f) => f.type === FrameType.helloAck, 'HELLO_ACK');
    raw.send(FrameType.exec, 5, encodeExec({ argv: ['sleep', '300'], env: {} }));
    const started = await raw.next((f) => f.type === FrameType.execStarted, 'EXEC_STARTED');
    const pid = decodeExecStarted(started.payload).pid;
    raw.hello(nonce);
    await until(
      () => raw.frames.filter((f) => f.type === FrameType.helloAck).length === 2,
      'second ack',
    );
    const ack = decodeHelloAck(raw.frames.filter((f) => f.type === FrameType.helloAck)[1]!.payload);
    expect(ack.nonce.equals(nonce)).toBe(true);
    await sleep(100);
    expect(processExists(pid)).toBe(true);
    raw.send(FrameType.close, 5);
    await raw.next((f) => f.type === FrameType.exit && f.channel === 5, 'EXIT after CLOSE');
    expect(processExists(pid)).toBe(false);
  });

  it('announces itself, refuses work (even PING) before HELLO, reports garbage once', async () => {
    agent = await startAgent();
    const raw = new RawHost(agent.socket);
    // A restarted agent tells a host that still believes in the old session at once.
    const announce = await raw.next((f) => f.type === FrameType.error, 'start announcement');
    expect(decodeError(announce.payload)).toMatchObject({
      code: AgentErrorCode.noSession,
      message: expect.stringMatching(/^banger-agent .* started \(pid \d+\)$/) as unknown,
    });
    raw.send(FrameType.ping, 0, Buffer.from('too early'));
    raw.send(FrameType.exec, 1, encodeExec({ argv: ['true'], env: {} }));
    await sleep(200);
    expect(raw.frames.map((f) => f.type)).toEqual([FrameType.error]);

    raw.hello(randomBytes(16));
    await raw.next((f) => f.type === FrameType.helloAck, 'HELLO_ACK');
    agent.socket.write(Buffer.from('this is not a frame'));
    raw.send(FrameType.ping, 0, Buffer.from('after-garbage'));
    await raw.next((f) => f.type === FrameType.pong, 'PONG after garbage');
    const errors = raw.frames
      .filter((f) => f.type === FrameType.error)
      .map((f) => decodeError(f.payload).code);
    expect(errors).toEqual([AgentErrorCode.noSession, AgentErrorCode.badFrame]);
  });

  it('kills a process whose host overruns the stdin window', async () => {
    agent = await startAgent();
    const raw = new RawHost(agent.socket);
    raw.hello(randomBytes(16));
    await raw.next((f) => f.type === FrameType.helloAck, 'HELLO_ACK');
    // `sleep` never reads stdin, so nothing is consumed and no credit comes back.
    raw.send(FrameType.exec, 3, encodeExec({ argv: ['sleep', '300'], env: {} }));
    await raw.next((f) => f.type === FrameType.execStarted, 'EXEC_STARTED');
    // The pipe buffer takes 64 KiB (and that credit comes back); the window is 256 KiB more.
    for (let i = 0; i < 10; i++) raw.send(FrameType.stdin, 3, Buffer.alloc(65536));
    const error = await raw.next(
      (f) => f.type === FrameType.error && decodeError(f.payload).code !== AgentErrorCode.noSession,
      'FLOW_CONTROL error',
    );
    expect(decodeError(error.payload)).toMatchObject({ code: AgentErrorCode.flowControl });
    await raw.next((f) => f.type === FrameType.exit && f.channel === 3, 'EXIT');
  });

  it('takes its processes along when the agent itself is killed', async () => {
    agent = await startAgent();
    const client = await AgentClient.connect(agent.socket, { timeoutMs: 5000 });
    const sleeper = await client.exec({ argv: ['sleep', '300'] });
    expect(processExists(sleeper.pid)).toBe(true);
    agent.child.kill('SIGKILL');
    await client.closed;
    await expect(sleeper.exit).rejects.toMatchObject({ code: 'unavailable' });
    await until(() => !processExists(sleeper.pid), 'the orphan to die');
  });

  it('acknowledges SHUTDOWN and, over the test transport, just exits', async () => {
    agent = await startAgent();
    const client = await AgentClient.connect(agent.socket, { timeoutMs: 5000 });
    await client.shutdown('poweroff');
    expect(await agent.exited).toBe(0);
    await client.closed;
  });
});
