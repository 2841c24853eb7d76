/**
 * The one error type that crosses every boundary in banger (RPC, helper, CLI).
 * `code` is stable and machine-readable; `message` names the value and the rule;
 * `hint` tells the user what to run or read next.
 */
export const ERROR_CODES = [
  'bad_request',
  'not_found',
  'already_exists',
  'conflict',
  'precondition_failed',
  'unauthorized',
  'unavailable',
  'timeout',
  'canceled',
  'operation_failed',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface BangerErrorOptions {
  hint?: string | undefined;
  cause?: unknown;
  /** Extra structured detail (argv, exit status, stderr tail...) safe to serialise. */
  details?: Record<string, unknown> | undefined;
}

/** The serialisable form used on the wire. */
export interface SerializedError {
  code: ErrorCode;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
  opId?: string;
}

export class BangerError extends Error {
  override readonly name = 'BangerError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  /** Set by the daemon when the error leaves an operation, so the user can find its log lines. */
  opId: string | undefined;

  constructor(code: ErrorCode, message: string, options: BangerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
    this.opId = undefined;
  }

  toJSON(): SerializedError {
    const out: SerializedError = { code: this.code, message: this.message };
    if (this.hint !== undefined) out.hint = this.hint;
    if (this.details !== undefined) out.details = this.details;
    if (this.opId !== undefined) out.opId = this.opId;
    return out;
  }

  static fromJSON(value: SerializedError): BangerError {
    const err = new BangerError(isErrorCode(value.code) ? value.code : 'internal', value.message, {
      hint: value.hint,
      details: value.details,
    });
    err.opId = value.opId;
    return err;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** Wraps anything thrown into a BangerError, keeping BangerErrors as they are. */
export function toBangerError(err: unknown): BangerError {
  if (err instanceof BangerError) return err;
  if (err instanceof Error && err.name === 'AbortError') {
    return new BangerError('canceled', 'the operation was canceled', { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new BangerError('internal', message, { cause: err });
}

/** Shorthands that read well at call sites: `throw badRequest(...)`. */
export const badRequest = (message: string, options?: BangerErrorOptions): BangerError =>
  new BangerError('bad_request', message, options);
export const notFound = (message: string, options?: BangerErrorOptions): BangerError =>
  new BangerError('not_found', message, options);
export const conflict = (message: string, options?: BangerErrorOptions): BangerError =>
  new BangerError('conflict', message, options);
export const preconditionFailed = (message: string, options?: BangerErrorOptions): BangerError =>
  new BangerError('precondition_failed', message, options);
export const operationFailed = (message: string, options?: BangerErrorOptions): BangerError =>
  new BangerError('operation_failed', message, options);
