/**
 * Host-initiated vsock connections through Firecracker's unix socket: connect, send
 * `CONNECT <port>\n`, and Firecracker answers `OK <host port>\n` once the guest accepted;
 * from then on the socket is the raw byte stream to the guest port. When nothing listens on
 * the guest port (the agent is not up yet), Firecracker closes the connection instead.
 */
import net from 'node:net';
import { BangerError, sleep } from '../../base/index.js';

/** The longest handshake reply we accept ("OK 4294967295\n" is 14 bytes). */
const MAX_REPLY = 64;

/** One attempt: resolves with the connected stream or rejects with 'unavailable'. */
export function connectVsockOnce(
  udsPath: string,
  port: number,
  options: { signal?: AbortSignal | undefined; timeoutMs?: number } = {},
): Promise<net.Socket> {
  if (!Number.isInteger(port) || port < 0 || port > 0xffffffff)
    throw new BangerError('bad_request', `vsock port ${String(port)} is not a 32-bit port number`);
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ path: udsPath });
    let reply = Buffer.alloc(0);
    let settled = false;
    const finish = (err: BangerError | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      if (err) {
        socket.destroy();
        reject(err);
        return;
      }
      resolve(socket);
    };
    const timer = setTimeout(
      () =>
        finish(
          new BangerError(
            'timeout',
            `no vsock handshake reply on ${udsPath} within ${String(options.timeoutMs ?? 5000)} ms`,
          ),
        ),
      options.timeoutMs ?? 5000,
    );
    const onAbort = (): void =>
      finish(new BangerError('canceled', 'canceled while connecting to the guest over vsock'));
    const onError = (err: NodeJS.ErrnoException): void =>
      finish(
        new BangerError(
          'unavailable',
          `cannot connect to the vsock socket ${udsPath}: ${err.message}`,
          { cause: err },
        ),
      );
    const onEnd = (): void =>
      finish(
        new BangerError(
          'unavailable',
          `nothing listens on guest vsock port ${String(port)} yet (firecracker closed ${udsPath})`,
        ),
      );
    // 'readable' + read(), not 'data': once the handshake listener is gone the stream is
    // neither flowing nor paused, so the guest's first bytes wait in its buffer for the caller.
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while (!settled && (chunk = socket.read() as Buffer | null) !== null) {
        reply = Buffer.concat([reply, chunk]);
        const nl = reply.indexOf(0x0a);
        if (nl < 0) {
          if (reply.length > MAX_REPLY)
            finish(
              new BangerError(
                'operation_failed',
                `vsock handshake reply is too long on ${udsPath}`,
              ),
            );
          continue;
        }
        const line = reply.subarray(0, nl).toString('latin1');
        if (!/^OK [0-9]{1,10}$/.test(line)) {
          finish(
            new BangerError(
              'operation_failed',
              `unexpected vsock handshake reply ${JSON.stringify(line.slice(0, 40))} on ${udsPath}`,
            ),
          );
          return;
        }
        // Whatever followed the reply is already the guest's: hand it back to the stream.
        const rest = reply.subarray(nl + 1);
        finish(undefined);
        if (rest.length > 0) socket.unshift(rest);
        return;
      }
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('connect', () => socket.write(`CONNECT ${String(port)}\n`));
  });
}

/**
 * Connects as soon as the guest listens: retries while `stillUseful()` says the VMM lives,
 * until `timeoutMs` or the signal. The guest agent starts a second or two after the VMM.
 */
export async function connectVsock(
  udsPath: string,
  port: number,
  options: {
    signal?: AbortSignal | undefined;
    timeoutMs: number;
    stillUseful?: () => Promise<boolean> | boolean;
  },
): Promise<net.Socket> {
  const deadline = Date.now() + options.timeoutMs;
  let wait = 10;
  let last: unknown;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      return await connectVsockOnce(udsPath, port, {
        signal: options.signal,
        timeoutMs: Math.max(100, Math.min(5000, deadline - Date.now())),
      });
    } catch (err) {
      if (
        err instanceof BangerError &&
        (err.code === 'canceled' || err.code === 'operation_failed')
      )
        throw err;
      last = err;
    }
    if (options.stillUseful !== undefined && !(await options.stillUseful())) {
      throw new BangerError(
        'unavailable',
        'the VMM exited before the guest agent answered on vsock',
        {
          cause: last,
        },
      );
    }
    if (Date.now() + wait > deadline) {
      throw new BangerError(
        'timeout',
        `the guest did not accept a vsock connection on port ${String(port)} within ${String(options.timeoutMs)} ms`,
        { cause: last },
      );
    }
    await sleep(wait, options.signal);
    wait = Math.min(wait * 2, 200);
  }
}
