/**
 * A typed client for Firecracker's REST API on its unix socket (HTTP/1.1, one connection per
 * request, JSON bodies with an explicit Content-Length: Firecracker's HTTP server takes no
 * chunked bodies). Every body is checked against the spec before it leaves, every answer
 * after it arrives: an error status becomes a BangerError carrying Firecracker's
 * `fault_message`, and a body that is not the shape the spec describes is refused by name.
 */
import http from 'node:http';
import { BangerError } from '../../base/index.js';
import {
  FIRECRACKER_OPERATIONS,
  type OperationSchema,
  type SchemaNode,
} from './generated/api-schema.js';
import type {
  Drive,
  FirecrackerOperationId,
  FirecrackerOperations,
  FirecrackerVersion,
  FullVmConfiguration,
  InstanceActionInfo,
  InstanceInfo,
  Logger as FcLogger,
  MachineConfiguration,
  Metrics,
  NetworkInterface,
  SnapshotCreateParams,
  SnapshotLoadParams,
  Vm,
  Vsock,
  BootSource,
  EntropyDevice,
} from './generated/api-types.js';
import { schemaErrors, schemaName } from './schema-check.js';

type Ops = FirecrackerOperations;

/** What a call needs besides the operation: path parameters and/or a body, as the spec says. */
export type OperationInput<K extends FirecrackerOperationId> = ([Ops[K]['pathParams']] extends [
  Record<string, never>,
]
  ? { pathParams?: undefined }
  : { pathParams: Ops[K]['pathParams'] }) &
  ([Ops[K]['body']] extends [undefined] ? { body?: undefined } : { body: Ops[K]['body'] });

export interface FirecrackerCallOptions {
  signal?: AbortSignal | undefined;
  /** Per-request deadline (default: the client's, 10 s). */
  timeoutMs?: number | undefined;
}

/** The bytes of one HTTP exchange, as the transport saw them (for tests and error details). */
export interface RawExchange {
  method: string;
  path: string;
  body: string | undefined;
}

/** Largest response body accepted: Firecracker's answers are a few KiB at most. */
const MAX_RESPONSE_BYTES = 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 10_000;

export class FirecrackerApiClient {
  private readonly timeoutMs: number;
  private readonly onRequest: ((exchange: RawExchange) => void) | undefined;

  constructor(
    readonly socketPath: string,
    options: { timeoutMs?: number; onRequest?: (exchange: RawExchange) => void } = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.onRequest = options.onRequest;
  }

  /** Calls one operation of the spec by its operationId. */
  async call<K extends FirecrackerOperationId>(
    operationId: K,
    input: OperationInput<K>,
    options: FirecrackerCallOptions = {},
  ): Promise<Ops[K]['response']> {
    const op: OperationSchema = FIRECRACKER_OPERATIONS[operationId];
    const urlPath = fillPath(op, input.pathParams);
    const label = `${op.method} ${urlPath}`;
    let body: string | undefined;
    if (input.body !== undefined) {
      if (op.body === undefined)
        throw new BangerError('internal', `firecracker: ${operationId} takes no body`);
      const errors = schemaErrors(op.body.schema, input.body, 'body', 'request');
      if (errors.length > 0) {
        throw new BangerError(
          'internal',
          `firecracker: refusing to send ${label}: ${errors.slice(0, 4).join('; ')}`,
          { details: { operation: operationId } },
        );
      }
      body = JSON.stringify(input.body);
    } else if (op.body?.required === true) {
      throw new BangerError('internal', `firecracker: ${operationId} needs a body`);
    }
    this.onRequest?.({ method: op.method, path: urlPath, body });
    const reply = await exchange(this.socketPath, {
      method: op.method,
      path: urlPath,
      body,
      timeoutMs: options.timeoutMs ?? this.timeoutMs,
      signal: options.signal,
    });
    return interpret(operationId, op, label, reply) as Ops[K]['response'];
  }

  describeInstance(options?: FirecrackerCallOptions): Promise<InstanceInfo> {
    return this.call('describeInstance', {}, options);
  }

  version(options?: FirecrackerCallOptions): Promise<FirecrackerVersion> {
    return this.call('getFirecrackerVersion', {}, options);
  }

  vmConfig(options?: FirecrackerCallOptions): Promise<FullVmConfiguration> {
    return this.call('getExportVmConfig', {}, options);
  }

  putLogger(body: FcLogger, options?: FirecrackerCallOptions): Promise<undefined> {
    return this.call('putLogger', { body }, options);
  }

  putMetrics(body: Metrics, options?: FirecrackerCallOptions): Promise<undefined> {
    return this.call('putMetrics', { body }, options);
  }

  putMachineConfig(
    body: MachineConfiguration,
    options?: FirecrackerCallOptions,
  ): Promise<undefined> {
    return this.call('putMachineConfiguration', { body }, options);
  }

  putBootSource(body: BootSource, options?: FirecrackerCallOptions): Promise<undefined> {
    return this.call('putGuestBootSource', { body }, options);
  }

  putDrive(body: Drive, options?: FirecrackerCallOptions): Promise<undefined> {
    return this.call(
      'putGuestDriveByID',
      { pathParams: { drive_id: body.drive_id }, body },
      options,
    );
  }

  putNetworkInterface(
    body: NetworkInterface,
    options?: FirecrackerCallOptions,
  ): Promise<undefined> {
    return this.call(
      'putGuestNetworkInterfaceByID',
      { pathParams: { iface_id: body.iface_id }, body },
      options,
    );
  }

  putVsock(body: Vsock, options?: FirecrackerCallOptions): Promise<undefined> {
    return this.call('putGuestVsock', { body }, options);
  }

  putEntropy(body: EntropyDevice, options?: FirecrackerCallOptions): Promise<undefined> {
    return this.call('putEntropyDevice', { body }, options);
  }

  action(
    actionType: InstanceActionInfo['action_type'],
    options?: FirecrackerCallOptions,
  ): Promise<undefined> {
    return this.call('createSyncAction', { body: { action_type: actionType } }, options);
  }

  setVmState(state: Vm['state'], options?: FirecrackerCallOptions): Promise<undefined> {
    return this.call('patchVm', { body: { state } }, options);
  }

  createSnapshot(body: SnapshotCreateParams, options?: FirecrackerCallOptions): Promise<undefined> {
    return this.call('createSnapshot', { body }, options);
  }

  loadSnapshot(body: SnapshotLoadParams, options?: FirecrackerCallOptions): Promise<undefined> {
    return this.call('loadSnapshot', { body }, options);
  }
}

function fillPath(op: OperationSchema, params: Record<string, string> | undefined): string {
  return op.path.replace(/\{([A-Za-z0-9_]+)\}/g, (_m, name: string) => {
    const value = params?.[name];
    if (value === undefined || value === '')
      throw new BangerError('internal', `firecracker: ${op.path} needs path parameter ${name}`);
    return encodeURIComponent(value);
  });
}

interface Reply {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

/** Judges a reply against the operation's responses in the spec. */
function interpret(operationId: string, op: OperationSchema, label: string, reply: Reply): unknown {
  const status = String(reply.status);
  const declared = Object.hasOwn(op.responses, status);
  const schema: SchemaNode | null | undefined = declared
    ? op.responses[status]
    : op.responses.default;
  const text = reply.body.toString('utf8');
  const ok = reply.status >= 200 && reply.status < 300;
  const unknownShape = (why: string): BangerError =>
    new BangerError(
      'operation_failed',
      `firecracker answered ${label} with an unknown response (status ${status}): ${why}`,
      {
        hint: 'is this Firecracker >= 1.5? see `banger doctor`',
        details: { operation: operationId, status: reply.status, body: text.slice(0, 500) },
      },
    );
  if (ok && !declared) throw unknownShape('the spec does not list this status');
  let json: unknown;
  if (schema === null || schema === undefined) {
    if (text.trim() !== '') throw unknownShape('the spec says this response has no body');
  } else {
    try {
      json = JSON.parse(text);
    } catch {
      throw unknownShape(`the body is not JSON: ${JSON.stringify(text.slice(0, 120))}`);
    }
    const errors = schemaErrors(schema, json, schemaName(schema), 'response');
    if (errors.length > 0) throw unknownShape(errors.slice(0, 4).join('; '));
  }
  if (ok) return json;
  const fault =
    typeof json === 'object' && json !== null && 'fault_message' in json
      ? String(json.fault_message)
      : '(no fault_message)';
  throw new BangerError('operation_failed', `firecracker refused ${label} (${status}): ${fault}`, {
    details: { operation: operationId, status: reply.status, faultMessage: fault },
  });
}

function exchange(
  socketPath: string,
  request: {
    method: string;
    path: string;
    body: string | undefined;
    timeoutMs: number;
    signal: AbortSignal | undefined;
  },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    if (request.signal?.aborted) {
      reject(new BangerError('canceled', `canceled before ${request.method} ${request.path}`));
      return;
    }
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (request.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(request.body));
    }
    const req = http.request({
      socketPath,
      method: request.method,
      path: request.path,
      headers,
      agent: false,
    });
    let settled = false;
    const finish = (err: BangerError | undefined, reply?: Reply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      if (err) {
        req.destroy();
        reject(err);
      } else if (reply) resolve(reply);
    };
    const timer = setTimeout(() => {
      finish(
        new BangerError(
          'timeout',
          `firecracker did not answer ${request.method} ${request.path} within ${String(request.timeoutMs)} ms`,
        ),
      );
    }, request.timeoutMs);
    const onAbort = (): void =>
      finish(new BangerError('canceled', `canceled: ${request.method} ${request.path}`));
    request.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const gone = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
      finish(
        new BangerError(
          gone ? 'unavailable' : 'operation_failed',
          `cannot reach the firecracker API socket ${socketPath} (${request.method} ${request.path}): ${err.message}`,
          { cause: err },
        ),
      );
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          finish(
            new BangerError(
              'operation_failed',
              `firecracker's answer to ${request.method} ${request.path} is larger than 1 MiB`,
            ),
          );
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () =>
        finish(undefined, {
          status: res.statusCode ?? 0,
          contentType: res.headers['content-type'],
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', (err) =>
        finish(
          new BangerError(
            'operation_failed',
            `reading firecracker's answer to ${request.method} ${request.path} failed: ${err.message}`,
          ),
        ),
      );
    });
    req.end(request.body);
  });
}
