/**
 * Tiny runtime validators for untrusted input (RPC params, helper requests, manifests).
 * Hand-written on purpose: the root helper imports protocol and must have no npm deps.
 * Every failure names the field and the rule.
 */
import { BangerError } from '../base/index.js';

export type Fields = Record<string, unknown>;

export function fail(field: string, rule: string, value?: unknown): BangerError {
  const shown = value === undefined ? '' : ` (got ${preview(value)})`;
  return new BangerError('bad_request', `${field} ${rule}${shown}`);
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export function asObject(value: unknown, field: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw fail(field, 'must be an object', value);
  return value as Fields;
}

/** Refuses keys that are not in `allowed`: a typo in a request never silently does nothing. */
export function onlyKeys(obj: Fields, allowed: readonly string[], field: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw fail(`${field}.${key}`, 'is not a known field');
  }
}

export function str(
  obj: Fields,
  key: string,
  field: string,
  pattern?: RegExp,
  rule?: string,
): string {
  const value = obj[key];
  if (typeof value !== 'string') throw fail(`${field}.${key}`, 'must be a string', value);
  if (pattern && !pattern.test(value))
    throw fail(`${field}.${key}`, rule ?? `must match ${String(pattern)}`, value);
  return value;
}

export function optStr(
  obj: Fields,
  key: string,
  field: string,
  pattern?: RegExp,
  rule?: string,
): string | undefined {
  return obj[key] === undefined || obj[key] === null
    ? undefined
    : str(obj, key, field, pattern, rule);
}

export function int(obj: Fields, key: string, field: string, min: number, max: number): number {
  const value = obj[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw fail(
      `${field}.${key}`,
      `must be an integer from ${String(min)} to ${String(max)}`,
      value,
    );
  }
  return value;
}

export function optInt(
  obj: Fields,
  key: string,
  field: string,
  min: number,
  max: number,
): number | undefined {
  return obj[key] === undefined || obj[key] === null ? undefined : int(obj, key, field, min, max);
}

export function bool(obj: Fields, key: string, field: string, fallback: boolean): boolean {
  const value = obj[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw fail(`${field}.${key}`, 'must be true or false', value);
  return value;
}

export function strArray(obj: Fields, key: string, field: string, maxItems: number): string[] {
  const value = obj[key];
  if (
    !Array.isArray(value) ||
    value.length > maxItems ||
    !value.every((v) => typeof v === 'string')
  ) {
    throw fail(`${field}.${key}`, `must be a list of at most ${String(maxItems)} strings`, value);
  }
  return value;
}

export function optStrArray(
  obj: Fields,
  key: string,
  field: string,
  maxItems: number,
): string[] | undefined {
  return obj[key] === undefined || obj[key] === null
    ? undefined
    : strArray(obj, key, field, maxItems);
}

export function strRecord(
  obj: Fields,
  key: string,
  field: string,
): Record<string, string> | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  const record = asObject(value, `${field}.${key}`);
  for (const [k, v] of Object.entries(record)) {
    if (typeof v !== 'string') throw fail(`${field}.${key}.${k}`, 'must be a string', v);
  }
  return record as Record<string, string>;
}
