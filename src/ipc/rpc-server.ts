/**
 * The RPC server: one call per unix-socket connection. The handler gets a call context
 * with the params, a cancel signal (client gone or `cancel`), progress/notice emitters,
 * stdout/stderr writables and a stdin readable; its return value or thrown error ends the call.
 */
import net from 'node:net';
import { promises as fs } from 'node:fs';
import { PassThrough, Writable, type Readable } from 'node:stream';
import {
  BangerError,
  newId,
  toBangerError,
  type Logger,
  type ProgressEvent,
} from '../base/index.js';
import { isClientMessage, type ServerMessage } from '../protocol/index.js';
import { FramedSocket } from './framed-socket.js';
import { STDERR, STDOUT, type StreamId } from './frame-codec.js';

export type ControlMessage =
  { kind: 'resize'; rows: number; cols: number } | { kind: 'signal'; signal: string };

export interface RpcCall {
  readonly method: string;
  readonly params: unknown;
  /** Id of this operation, printed with errors so users can find its log lines. */
  readonly opId: string;
  /** Aborted when the client disconnects or sends `cancel`. */
  readonly signal: AbortSignal;
  readonly progress: (event: ProgressEvent) => void;
  readonly notice: (message: string) => void;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Bytes the client sends; ends when the client sends `eof`. */
  readonly stdin: Readable;
  readonly onControl: (listener: (message: ControlMessage) => void) => void;
}

export type RpcHandler = (call: RpcCall) => Promise<unknown>;

export interface RpcServerOptions {
  socketPath: string;
  handler: RpcHandler;
  logger: Logger;
  /** Permission bits of the socket file (default 0o600). */
  mode?: number;
  /**
   * Runs for every connection before any of its bytes is read; a throw refuses the
   * connection with that error (the root helper checks the peer's credentials here).
   */
  authorize?: (socket: net.Socket) => Promise<void>;
}

export class RpcServer {
  private server: net.Server | undefined;
  private readonly active = new Set<FramedSocket>();

  constructor(private readonly options: RpcServerOptions) {}

  async listen(): Promise<void> {
    await fs.rm(this.options.socketPath, { force: true });
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await fs.chmod(this.options.socketPath, this.options.mode ?? 0o600);
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    for (const conn of this.active) conn.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fs.rm(this.options.socketPath, { force: true });
  }

  private accept(socket: net.Socket): void {
    const gate = this.options.authorize;
    if (gate === undefined) {
      this.serve(socket);
      return;
    }
    // Nothing reads the socket until the gate has spoken: bytes wait in the kernel buffer.
    socket.pause();
    socket.on('error', () => undefined);
    gate(socket).then(
      () => {
        this.serve(socket);
        // Paused explicitly above, so a 'data' listener alone would not resume it.
        socket.resume();
      },
      (err: unknown) => {
        const error = toBangerError(err);
        this.options.logger.info('connection refused', { code: error.code, error: error.message });
        const framed = new FramedSocket(socket, {
          json: () => undefined,
          data: () => undefined,
          close: () => undefined,
        });
        framed.sendJson(errorMessage(error));
        framed.end();
      },
    );
  }

  private serve(socket: net.Socket): void {
    const abort = new AbortController();
    const stdin = new PassThrough({ highWaterMark: 256 * 1024 });
    const controlListeners: ((message: ControlMessage) => void)[] = [];
    let started = false;
    let finished = false;

    const framed: FramedSocket = new FramedSocket(socket, {
      json: (message) => {
        if (!isClientMessage(message)) {
          framed.sendJson(
            errorMessage(new BangerError('bad_request', 'malformed request message')),
          );
          framed.end();
          return;
        }
        switch (message.kind) {
          case 'request':
            if (started) return;
            started = true;
            void run(message.method, message.params);
            return;
          case 'eof':
            stdin.end();
            return;
          case 'cancel':
            abort.abort();
            return;
          case 'resize':
          case 'signal':
            for (const listener of controlListeners) listener(message);
            return;
        }
      },
      data: (stream, bytes) => {
        if (stream !== 0 || stdin.writableEnded) return;
        if (!stdin.write(bytes))
          return new Promise<void>((resolve) => stdin.once('drain', resolve));
        return undefined;
      },
      close: () => {
        this.active.delete(framed);
        if (!finished) abort.abort();
        if (!stdin.writableEnded) stdin.end();
      },
    });
    this.active.add(framed);

    const output = (stream: StreamId): Writable =>
      new Writable({
        highWaterMark: 256 * 1024,
        write(chunk: Buffer, _enc, callback) {
          framed.sendData(stream, chunk).then(() => callback(), callback);
        },
      });

    const run = async (method: string, params: unknown): Promise<void> => {
      const opId = newId(4);
      const log = this.options.logger.child({ opId, method });
      const call: RpcCall = {
        method,
        params,
        opId,
        signal: abort.signal,
        progress: (event) =>
          framed.sendJson({ kind: 'progress', ...event } satisfies ServerMessage),
        notice: (message) => framed.sendJson({ kind: 'notice', message } satisfies ServerMessage),
        stdout: output(STDOUT),
        stderr: output(STDERR),
        stdin,
        onControl: (listener) => controlListeners.push(listener),
      };
      log.debug('call started');
      let reply: ServerMessage;
      try {
        const value = await this.options.handler(call);
        await Promise.all([flush(call.stdout), flush(call.stderr)]);
        reply = { kind: 'result', value: value ?? null, opId };
        log.debug('call finished');
      } catch (err) {
        const error = toBangerError(err);
        error.opId = opId;
        if (error.code === 'internal')
          log.error('call failed', { error: error.message, stack: (err as Error).stack });
        else log.info('call failed', { code: error.code, error: error.message });
        reply = errorMessage(error);
      }
      finished = true;
      framed.sendJson(reply);
      framed.end();
    };
  }
}

function errorMessage(error: BangerError): ServerMessage {
  return { kind: 'error', error: error.toJSON() };
}

/** Waits until everything written to `stream` has been handed to the socket. */
function flush(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableFinished) {
      resolve();
      return;
    }
    stream.end(() => resolve());
  });
}
