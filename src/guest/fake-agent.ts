/**
 * Test double of banger-agent for unit tests: the other end of an in-memory Duplex pair,
 * speaking the frame protocol, scripted by the test. The real agent is exercised by
 * test/integration/agent-*.test.ts.
 */
import { Duplex } from 'node:stream';
import {
  AGENT_PROTOCOL_VERSION,
  FrameDecoder,
  FrameType,
  decodeExec,
  decodeHello,
  decodeWindow,
  encodeFrame,
  encodeHelloAck,
  syncPreamble,
  type AgentFrame,
  type ExecPayload,
} from '../protocol/index.js';

/** Two connected in-memory Duplexes (node:stream's duplexPair needs Node 22). */
export function duplexPair(): [Duplex, Duplex] {
  const make = (peer: () => Duplex): Duplex =>
    new Duplex({
      read() {
        /* data is pushed by the peer */
      },
      write(chunk: Buffer, _encoding, callback) {
        peer().push(chunk);
        callback();
      },
      final(callback) {
        peer().push(null);
        callback();
      },
    });
  const a: Duplex = make(() => b);
  const b: Duplex = make(() => a);
  return [a, b];
}

export class FakeAgent {
  /** Give this end to AgentClient.connect. */
  readonly host: Duplex;
  readonly received: AgentFrame[] = [];
  helloCount = 0;
  /** Decides whether the n-th HELLO (1-based) is answered. */
  answerHello: (n: number) => boolean = () => true;
  protocolVersion = AGENT_PROTOCOL_VERSION;
  answerPing = true;
  /** What HELLO_ACK announces. */
  capabilities = ['exec', 'pty'];
  /** Called for each EXEC; the test answers through send(). */
  onExec: ((channel: number, exec: ExecPayload) => void) | undefined;
  private readonly side: Duplex;
  private readonly decoder = new FrameDecoder();
  private waiters: { match: (f: AgentFrame) => boolean; resolve: (f: AgentFrame) => void }[] = [];

  constructor() {
    [this.host, this.side] = duplexPair();
    this.side.on('data', (chunk: Buffer) => {
      for (const frame of this.decoder.push(chunk)) this.handle(frame);
    });
  }

  send(type: number, channel: number, payload?: Buffer, flags = 0): void {
    this.side.write(encodeFrame({ type, channel, flags, ...(payload ? { payload } : {}) }));
  }

  sendRaw(bytes: Buffer): void {
    this.side.write(bytes);
  }

  /** Ends the agent's side of the stream (the VM died). */
  end(): void {
    this.side.end();
  }

  /** The first received frame (past or future) that matches. */
  waitFor(match: (frame: AgentFrame) => boolean): Promise<AgentFrame> {
    const seen = this.received.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  framesOf(type: number, channel?: number): AgentFrame[] {
    return this.received.filter(
      (f) => f.type === type && (channel === undefined || f.channel === channel),
    );
  }

  /** Total credit the host granted on a channel's stream. */
  granted(channel: number, stream: number): number {
    return this.framesOf(FrameType.window, channel)
      .map((f) => decodeWindow(f.payload))
      .filter((w) => w.stream === stream)
      .reduce((sum, w) => sum + w.increment, 0);
  }

  private handle(frame: AgentFrame): void {
    this.received.push(frame);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(frame)) return true;
      w.resolve(frame);
      return false;
    });
    if (frame.type === FrameType.hello) {
      this.helloCount += 1;
      if (!this.answerHello(this.helloCount)) return;
      const hello = decodeHello(frame.payload);
      this.sendRaw(syncPreamble());
      this.send(
        FrameType.helloAck,
        0,
        encodeHelloAck({
          protocolVersion: this.protocolVersion,
          nonce: hello.nonce,
          agentVersion: 'fake-1',
          bootId: 'boot-1234',
          kernel: '6.1.0-fake',
          hostname: 'fakebox',
          capabilities: this.capabilities,
        }),
      );
    } else if (frame.type === FrameType.ping && this.answerPing) {
      this.send(FrameType.pong, frame.channel, frame.payload);
    } else if (frame.type === FrameType.exec) {
      this.onExec?.(frame.channel, decodeExec(frame.payload));
    }
  }
}
