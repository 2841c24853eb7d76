import { describe, expect, it } from 'vitest';
import { parseVmCreateParams, parseVmRunParams } from './rpc-params.js';
import {
  parseImageTemplatesParams,
  parseImageWarmParams,
  parseSnapshotRefParams,
  parseVmSnapshotParams,
} from './warm-params.js';

describe('warm RPC params', () => {
  it('reads image.warm with its size, no-disk and force', () => {
    expect(parseImageWarmParams({ name: 'debian-bookworm' })).toEqual({ name: 'debian-bookworm' });
    expect(
      parseImageWarmParams({ name: 'img', vcpu: 2, memoryMib: 1024, noDisk: true, force: true }),
    ).toEqual({ name: 'img', vcpu: 2, memoryMib: 1024, noDisk: true, force: true });
    expect(() => parseImageWarmParams({ name: '../x' })).toThrow(/params.name must match/);
    expect(() => parseImageWarmParams({ name: 'img', vcpu: 99 })).toThrow(/vcpu/);
    expect(() => parseImageWarmParams({ name: 'img', noDisk: true, diskBytes: 2 ** 30 })).toThrow(
      /noDisk cannot go with diskBytes/,
    );
    expect(() => parseImageWarmParams({ name: 'img', pool: 3 })).toThrow(/pool/);
  });

  it('reads snapshot names with the rules of VM names', () => {
    expect(parseVmSnapshotParams({ ref: 'dev' })).toEqual({ ref: 'dev' });
    expect(parseVmSnapshotParams({ ref: 'dev', name: 'dev-ready' })).toEqual({
      ref: 'dev',
      name: 'dev-ready',
    });
    expect(() => parseVmSnapshotParams({ ref: 'dev', name: 'Dev Ready' })).toThrow(/params.name/);
    expect(parseSnapshotRefParams({ name: 'a-1' })).toEqual({ name: 'a-1' });
    expect(() => parseSnapshotRefParams({ name: '../a' })).toThrow(/params.name/);
    expect(parseImageTemplatesParams(undefined)).toEqual({});
    expect(parseImageTemplatesParams({ name: 'img' })).toEqual({ name: 'img' });
  });

  it('takes --cold on vm run and vm create, and --from-snapshot on a started create only', () => {
    expect(parseVmRunParams({ rm: true, exec: { argv: ['true'] }, cold: true }).cold).toBe(true);
    expect(parseVmRunParams({ exec: { argv: ['true'] } }).cold).toBeUndefined();
    expect(parseVmCreateParams({ cold: true }).cold).toBe(true);
    expect(parseVmCreateParams({ fromSnapshot: 'snap' }).fromSnapshot).toBe('snap');
    expect(() => parseVmCreateParams({ fromSnapshot: 'snap', start: false })).toThrow(
      /start must be true with fromSnapshot/,
    );
    expect(() => parseVmCreateParams({ fromSnapshot: 'snap', cold: true })).toThrow(
      /cold cannot go with fromSnapshot/,
    );
  });
});
