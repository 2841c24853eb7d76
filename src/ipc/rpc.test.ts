import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BangerError, silentLogger } from '../base/index.js';
import { call, connectUnix, startCall } from './rpc-client.js';
import { RpcServer, type RpcHandler } from './rpc-server.js';

function collect(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

describe('rpc over a unix socket', () => {
  let dir: string;
  let socketPath: string;
  let server: RpcServer | undefined;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'banger-rpc-'));
    socketPath = path.join(dir, 'd.sock');
  });
  afterEach(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function serve(handler: RpcHandler): Promise<void> {
    server = new RpcServer({ socketPath, handler, logger: silentLogger });
    await server.listen();
  }

  it('returns the result and makes the socket private', async () => {
    await serve(async (c) => Promise.resolve({ echo: c.params, method: c.method }));
    expect(await call(socketPath, { method: 'x.y', params: { a: 1 } })).toEqual({
      echo: { a: 1 },
      method: 'x.y',
    });
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
  });

  it('carries the error code, message and hint across', async () => {
    await serve(() =>
      Promise.reject(
        new BangerError('not_found', 'vm "nope" not found', { hint: 'banger vm list' }),
      ),
    );
    const err = (await call(socketPath, { method: 'vm.show', params: {} }).catch(
      (e: unknown) => e,
    )) as BangerError;
    expect(err).toBeInstanceOf(BangerError);
    expect(err.code).toBe('not_found');
    expect(err.message).toBe('vm "nope" not found');
    expect(err.hint).toBe('banger vm list');
    expect(err.opId).toMatch(/^[0-9a-f]{8}$/);
  });

  it('streams stdout and stderr separately, progress in order, and pipes stdin back', async () => {
    await serve(async (c) => {
      c.progress({ step: 'boot', message: 'booting' });
      c.stderr.write('to-stderr');
      for await (const chunk of c.stdin) c.stdout.write(chunk as Buffer);
      return 'done';
    });
    const out = collect();
    const err = collect();
    const progress: string[] = [];
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const value = await call(
      socketPath,
      { method: 'echo', params: null },
      {
        stdout: out.stream,
        stderr: err.stream,
        stdin: Readable.from([big, Buffer.from('tail')]),
        onProgress: (e) => progress.push(e.message),
      },
    );
    expect(value).toBe('done');
    expect(out.text().length).toBe(big.length + 4);
    expect(out.text().endsWith('tail')).toBe(true);
    expect(err.text()).toBe('to-stderr');
    expect(progress).toEqual(['booting']);
  });

  it('aborts the handler when the client cancels', async () => {
    let aborted = false;
    await serve(
      (c) =>
        new Promise((_resolve, reject) => {
          c.signal.addEventListener('abort', () => {
            aborted = true;
            reject(new BangerError('canceled', 'canceled'));
          });
        }),
    );
    const socket = await connectUnix(socketPath);
    const handle = startCall(
      socket,
      { method: 'slow', params: null },
      { stdin: new PassThrough() },
    );
    setTimeout(() => handle.cancel(), 50);
    await expect(handle.result).rejects.toMatchObject({ code: 'canceled' });
    expect(aborted).toBe(true);
  });

  it('reports a missing daemon as unavailable', async () => {
    await expect(
      call(path.join(dir, 'none.sock'), { method: 'x', params: null }),
    ).rejects.toMatchObject({
      code: 'unavailable',
    });
  });
});
