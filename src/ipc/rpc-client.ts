/**
 * The RPC client: connects, sends one request, relays progress, notices and output to the
 * caller, forwards stdin and control messages, and resolves with the result (or rejects
 * with the daemon's BangerError, code intact).
 */
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { BangerError, type ProgressEvent } from '../base/index.js';
import { isServerMessage, type ClientMessage } from '../protocol/index.js';
import { FramedSocket } from './framed-socket.js';
import { STDIN } from './frame-codec.js';

export interface CallOptions {
  onProgress?: (event: ProgressEvent) => void;
  onNotice?: (message: string) => void;
  stdout?: Writable;
  stderr?: Writable;
  /** Forwarded as the call's stdin; its end becomes `eof`. */
  stdin?: Readable;
  signal?: AbortSignal;
}

export interface CallHandle<T> {
  readonly result: Promise<T>;
  /** Sends a control message (resize, signal) while the call runs. */
  control(message: Extract<ClientMessage, { kind: 'resize' | 'signal' }>): void;
  /** Tells the daemon to cancel the call. */
  cancel(): void;
}

/** Opens a connection to `socketPath`; rejects with 'unavailable' when nobody listens. */
export function connectUnix(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new BangerError(
          'unavailable',
          `cannot connect to ${socketPath}: ${err.code ?? err.message}`,
          { cause: err },
        ),
      );
    });
  });
}

export function startCall<T = unknown>(
  socket: net.Socket,
  request: { method: string; params: unknown },
  options: CallOptions = {},
): CallHandle<T> {
  let settle: { resolve: (v: T) => void; reject: (e: BangerError) => void } | undefined;
  const result = new Promise<T>((resolve, reject) => {
    settle = { resolve, reject };
  });
  let done = false;
  const finish = (fn: () => void): void => {
    if (done) return;
    done = true;
    fn();
  };

  const framed = new FramedSocket(socket, {
    json: (message) => {
      if (!isServerMessage(message)) return;
      switch (message.kind) {
        case 'progress':
          options.onProgress?.(
            message.fraction === undefined
              ? { step: message.step, message: message.message }
              : { step: message.step, message: message.message, fraction: message.fraction },
          );
          return;
        case 'notice':
          options.onNotice?.(message.message);
          return;
        case 'result':
          finish(() => settle?.resolve(message.value as T));
          return;
        case 'error':
          finish(() => settle?.reject(BangerError.fromJSON(message.error)));
          return;
      }
    },
    data: (stream, bytes) => {
      const target = stream === 1 ? options.stdout : stream === 2 ? options.stderr : undefined;
      if (!target) return undefined;
      if (!target.write(bytes))
        return new Promise<void>((resolve) => target.once('drain', resolve));
      return undefined;
    },
    close: (error) => {
      finish(() =>
        settle?.reject(
          error ??
            new BangerError('unavailable', 'the daemon closed the connection before answering'),
        ),
      );
    },
  });

  framed.sendJson({
    kind: 'request',
    method: request.method,
    params: request.params,
  } satisfies ClientMessage);

  if (options.stdin) {
    const stdin = options.stdin;
    const pump = async (): Promise<void> => {
      for await (const chunk of stdin) {
        if (done || framed.isClosed) return;
        await framed.sendData(
          STDIN,
          typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer),
        );
      }
      if (!done) framed.sendJson({ kind: 'eof' } satisfies ClientMessage);
    };
    pump().catch(() => undefined);
  }

  const cancel = (): void => framed.sendJson({ kind: 'cancel' } satisfies ClientMessage);
  options.signal?.addEventListener('abort', cancel, { once: true });
  void result
    .finally(() => {
      options.signal?.removeEventListener('abort', cancel);
      framed.destroy();
    })
    .catch(() => undefined);

  return {
    result,
    control: (message) => framed.sendJson(message),
    cancel,
  };
}

/** Connects and runs one call to completion. */
export async function call<T = unknown>(
  socketPath: string,
  request: { method: string; params: unknown },
  options: CallOptions = {},
): Promise<T> {
  const socket = await connectUnix(socketPath);
  return startCall<T>(socket, request, options).result;
}
