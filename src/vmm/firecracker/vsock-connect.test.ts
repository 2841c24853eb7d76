import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectVsock, connectVsockOnce } from './vsock-connect.js';

let dir: string;
let server: net.Server | undefined;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'bgv-'));
});
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** A stand-in for Firecracker's vsock UDS: answers each connection as `answer` says. */
async function fakeUds(answer: (line: string, conn: net.Socket) => void): Promise<string> {
  const sock = path.join(dir, 'v.sock');
  server = net.createServer((conn) => {
    let buf = '';
    conn.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl >= 0 && !conn.readableEnded) {
        conn.removeAllListeners('data');
        answer(buf.slice(0, nl), conn);
      }
    });
    conn.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server!.listen(sock, resolve));
  return sock;
}

describe('the vsock CONNECT handshake', () => {
  it('sends CONNECT <port>, accepts OK <n>, and hands over bytes that came with the reply', async () => {
    let asked = '';
    const sock = await fakeUds((line, conn) => {
      asked = line;
      conn.write('OK 1073741824\nhello');
      conn.on('data', (d: Buffer) => conn.write(d));
    });
    const stream = await connectVsockOnce(sock, 1024);
    expect(asked).toBe('CONNECT 1024');
    const got = await new Promise<string>((resolve) => {
      let text = '';
      stream.on('data', (d: Buffer) => {
        text += d.toString();
        if (text === 'hello ping') resolve(text);
      });
      stream.write(' ping');
    });
    expect(got).toBe('hello ping');
    stream.destroy();
  });

  it('a closed connection means nothing listens yet ("unavailable"); a bad reply is an error', async () => {
    const sock = await fakeUds((line, conn) => conn.end());
    await expect(connectVsockOnce(sock, 1024)).rejects.toMatchObject({ code: 'unavailable' });
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    const bad = await fakeUds((line, conn) => conn.write('NOPE\n'));
    await expect(connectVsockOnce(bad, 1024)).rejects.toMatchObject({
      code: 'operation_failed',
      message: expect.stringContaining('unexpected vsock handshake reply "NOPE"') as string,
    });
  });

  it('retries until the guest listens, and gives up once the VMM is gone', async () => {
    let attempts = 0;
    const sock = await fakeUds((line, conn) => {
      if (++attempts < 3) conn.end();
      else conn.write('OK 5\n');
    });
    const stream = await connectVsock(sock, 1024, { timeoutMs: 5000 });
    expect(attempts).toBe(3);
    stream.destroy();
    await expect(
      connectVsock(path.join(dir, 'gone.sock'), 1024, {
        timeoutMs: 5000,
        stillUseful: () => false,
      }),
    ).rejects.toThrow(/VMM exited before the guest agent answered/);
    await expect(
      connectVsock(path.join(dir, 'gone.sock'), 1024, { timeoutMs: 150 }),
    ).rejects.toMatchObject({
      code: 'timeout',
    });
  });
});
