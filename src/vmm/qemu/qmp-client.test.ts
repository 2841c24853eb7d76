import { Duplex, PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BangerError } from '../../base/index.js';
import { QmpClient, type QmpEvent } from './qmp-client.js';

/** An in-memory QMP server: reads client lines, answers through `reply`. */
class FakeQmp {
  readonly received: Record<string, unknown>[] = [];
  readonly client: Duplex;
  private readonly toClient = new PassThrough();
  private readonly fromClient = new PassThrough();
  onCommand: (msg: Record<string, unknown>) => void = (msg) => {
    this.send({ return: {}, id: msg.id });
  };

  constructor() {
    this.client = Duplex.from({ readable: this.toClient, writable: this.fromClient });
    let buf = '';
    this.fromClient.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
        buf = buf.slice(nl + 1);
        this.received.push(msg);
        this.onCommand(msg);
      }
    });
  }

  send(value: unknown): void {
    this.toClient.write(`${JSON.stringify(value)}\r\n`);
  }

  raw(text: string): void {
    this.toClient.write(text);
  }

  greet(): void {
    this.send({
      QMP: {
        version: { qemu: { major: 7, minor: 2, micro: 22 }, package: '' },
        capabilities: ['oob'],
      },
    });
  }

  hangUp(): void {
    this.toClient.end();
  }
}

async function connected(fake: FakeQmp): Promise<QmpClient> {
  fake.greet();
  return QmpClient.handshake(fake.client, { timeoutMs: 1000 });
}

describe('QmpClient', () => {
  it('reads the greeting and negotiates capabilities first', async () => {
    const fake = new FakeQmp();
    const qmp = await connected(fake);
    expect(qmp.greeting.version?.qemu).toEqual({ major: 7, minor: 2, micro: 22 });
    expect(fake.received).toEqual([{ execute: 'qmp_capabilities', id: 'banger-1' }]);
  });

  it('matches replies to commands by id, even out of order', async () => {
    const fake = new FakeQmp();
    const qmp = await connected(fake);
    const held: Record<string, unknown>[] = [];
    fake.onCommand = (msg) => {
      held.push(msg);
      if (held.length === 2) {
        fake.send({ return: { second: true }, id: held[1]!.id });
        fake.send({ return: { status: 'running', running: true }, id: held[0]!.id });
      }
    };
    const a = qmp.execute('query-status');
    const b = qmp.execute('migrate', { uri: 'exec:cat' });
    expect(await a).toEqual({ status: 'running', running: true });
    expect(await b).toEqual({ second: true });
    expect(fake.received[2]).toEqual({
      execute: 'migrate',
      arguments: { uri: 'exec:cat' },
      id: 'banger-3',
    });
  });

  it('turns QMP errors into BangerError with the class in details', async () => {
    const fake = new FakeQmp();
    const qmp = await connected(fake);
    fake.onCommand = (msg) =>
      fake.send({
        error: { class: 'CommandNotFound', desc: 'The command nope has not been found' },
        id: msg.id,
      });
    const err = await qmp.execute('nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BangerError);
    expect(err).toMatchObject({
      code: 'operation_failed',
      details: { qmpClass: 'CommandNotFound', command: 'nope' },
    });
    expect((err as Error).message).toBe('QMP nope failed: The command nope has not been found');
  });

  it('delivers asynchronous events, also ones that arrive between replies and split across chunks', async () => {
    const fake = new FakeQmp();
    const qmp = await connected(fake);
    const events: QmpEvent[] = [];
    qmp.onEvent((e) => events.push(e));
    const line = JSON.stringify({
      event: 'SHUTDOWN',
      data: { guest: true, reason: 'guest-shutdown' },
      timestamp: { seconds: 1, microseconds: 2 },
    });
    fake.raw(line.slice(0, 10));
    fake.raw(`${line.slice(10)}\r\n{"event": "STOP"}\n`);
    await qmp.execute('query-status');
    expect(events).toEqual([
      {
        event: 'SHUTDOWN',
        data: { guest: true, reason: 'guest-shutdown' },
        timestamp: { seconds: 1, microseconds: 2 },
      },
      { event: 'STOP', data: {} },
    ]);
  });

  it('fails pending commands when the connection closes, but counts it as success for quit', async () => {
    const fake = new FakeQmp();
    const qmp = await connected(fake);
    fake.onCommand = () => undefined;
    const status = qmp.execute('query-status');
    const quit = qmp.execute('quit');
    fake.hangUp();
    await expect(status).rejects.toMatchObject({ code: 'unavailable' });
    await expect(quit).resolves.toBeUndefined();
    await qmp.closed;
    expect(qmp.isClosed).toBe(true);
    await expect(qmp.execute('cont')).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('times out a command with no reply', async () => {
    const fake = new FakeQmp();
    const qmp = await connected(fake);
    fake.onCommand = () => undefined;
    await expect(qmp.execute('query-status', undefined, { timeoutMs: 30 })).rejects.toMatchObject({
      code: 'timeout',
    });
  });

  it('refuses a peer that does not greet, or hangs up first', async () => {
    const silent = new FakeQmp();
    await expect(QmpClient.handshake(silent.client, { timeoutMs: 50 })).rejects.toMatchObject({
      code: 'timeout',
    });
    const wrong = new FakeQmp();
    wrong.send({ hello: 'world' });
    await expect(QmpClient.handshake(wrong.client, { timeoutMs: 500 })).rejects.toThrow(
      /not a QMP greeting/,
    );
    const gone = new FakeQmp();
    gone.hangUp();
    await expect(QmpClient.handshake(gone.client, { timeoutMs: 500 })).rejects.toMatchObject({
      code: 'unavailable',
    });
  });
});
