/**
 * Control messages on the daemon socket. One call per connection: the client sends a
 * `request`, may then send stdin data, `eof`, `resize`, `signal` or `cancel`; the daemon
 * answers with `progress`/`notice` events, stdout/stderr data, and exactly one final
 * `result` or `error`, then closes.
 */
import type { SerializedError } from '../base/index.js';

export interface ProgressMessage {
  kind: 'progress';
  step: string;
  message: string;
  fraction?: number;
}

export type ClientMessage =
  | { kind: 'request'; method: string; params: unknown }
  | { kind: 'eof' }
  | { kind: 'resize'; rows: number; cols: number }
  | { kind: 'signal'; signal: string }
  | { kind: 'cancel' };

export type ServerMessage =
  | ProgressMessage
  | { kind: 'notice'; message: string }
  | { kind: 'result'; value: unknown; opId: string }
  | { kind: 'error'; error: SerializedError };

export function isClientMessage(value: unknown): value is ClientMessage {
  if (typeof value !== 'object' || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  switch (kind) {
    case 'request':
      return typeof (value as { method?: unknown }).method === 'string';
    case 'eof':
    case 'cancel':
      return true;
    case 'resize': {
      const v = value as { rows?: unknown; cols?: unknown };
      return isDimension(v.rows) && isDimension(v.cols);
    }
    case 'signal':
      return typeof (value as { signal?: unknown }).signal === 'string';
    default:
      return false;
  }
}

export function isServerMessage(value: unknown): value is ServerMessage {
  if (typeof value !== 'object' || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  return kind === 'progress' || kind === 'notice' || kind === 'result' || kind === 'error';
}

function isDimension(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 10000;
}
