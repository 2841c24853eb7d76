import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { judgeProbeBoot, type ProbeBootResult } from './kvm-probe.js';
import {
  decideKvmVerdict,
  probeCacheKey,
  readCachedVerdict,
  storeVerdict,
  type ProbeOutcome,
} from './kvm-verdict.js';

const KEY = probeCacheKey({
  qemuVersion: '7.2.22',
  kernelSha256: 'ab'.repeat(32),
  hostRelease: '6.18.44',
});

describe('decideKvmVerdict', () => {
  let dir: string;
  let cacheFile: string;
  let probes: number;
  const probe = (outcome: ProbeOutcome) => (): Promise<ProbeOutcome> => {
    probes++;
    return Promise.resolve(outcome);
  };

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kvm-verdict-'));
    cacheFile = path.join(dir, 'sub', 'host-probe.json');
    probes = 0;
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('probes once, then answers from the cache', async () => {
    const now = (): Date => new Date('2025-01-02T03:04:05.000Z');
    const first = await decideKvmVerdict({
      key: KEY,
      cacheFile,
      now,
      probe: probe({ accel: 'tcg', reason: 'no /dev/kvm', elapsedMs: 0 }),
    });
    expect(first).toEqual({
      accel: 'tcg',
      reason: 'no /dev/kvm',
      elapsedMs: 0,
      probedAt: '2025-01-02T03:04:05.000Z',
      key: KEY,
      cached: false,
    });
    const second = await decideKvmVerdict({
      key: KEY,
      cacheFile,
      probe: probe({ accel: 'kvm', reason: 'x', elapsedMs: 1 }),
    });
    expect(second).toEqual({ ...first, cached: true });
    expect(probes).toBe(1);
  });

  it('probes again when forced, or when anything in the key changed', async () => {
    await decideKvmVerdict({
      key: KEY,
      cacheFile,
      probe: probe({ accel: 'tcg', reason: 'a', elapsedMs: 0 }),
    });
    const forced = await decideKvmVerdict({
      key: KEY,
      cacheFile,
      force: true,
      probe: probe({ accel: 'kvm', reason: 'b', elapsedMs: 5 }),
    });
    expect(forced).toMatchObject({ accel: 'kvm', cached: false });
    const otherKey = probeCacheKey({
      qemuVersion: '8.0.0',
      kernelSha256: 'ab'.repeat(32),
      hostRelease: '6.18.44',
    });
    await decideKvmVerdict({
      key: otherKey,
      cacheFile,
      probe: probe({ accel: 'tcg', reason: 'c', elapsedMs: 0 }),
    });
    expect(probes).toBe(3);
    const file = JSON.parse(await fs.readFile(cacheFile, 'utf8')) as {
      kvm: Record<string, unknown>;
    };
    expect(Object.keys(file.kvm)).toEqual([KEY, otherKey]);
  });

  it('treats a corrupt or hostile cache file as empty and keeps unrelated keys', async () => {
    await fs.mkdir(path.dirname(cacheFile), { recursive: true });
    await fs.writeFile(cacheFile, '{not json');
    await decideKvmVerdict({
      key: KEY,
      cacheFile,
      probe: probe({ accel: 'tcg', reason: 'a', elapsedMs: 0 }),
    });
    expect(probes).toBe(1);
    const hostile = JSON.stringify({
      doctor: { x: 1 },
      kvm: { [KEY]: { accel: 'rm -rf', reason: 1 } },
    });
    expect(readCachedVerdict(hostile, KEY)).toBeUndefined();
    expect(readCachedVerdict('[]', KEY)).toBeUndefined();
    const text = storeVerdict(hostile, {
      accel: 'kvm',
      reason: 'ok',
      probedAt: 'now',
      elapsedMs: 3,
      key: KEY,
      cached: false,
    });
    expect(JSON.parse(text)).toEqual({
      doctor: { x: 1 },
      kvm: { [KEY]: { accel: 'kvm', reason: 'ok', probedAt: 'now', elapsedMs: 3 } },
    });
  });

  it('keeps at most 16 verdicts, dropping the oldest', () => {
    let text: string | undefined;
    for (let i = 0; i < 20; i++) {
      text = storeVerdict(text, {
        accel: 'tcg',
        reason: 'r',
        probedAt: 'p',
        elapsedMs: 0,
        key: `k${String(i)}`,
        cached: false,
      });
    }
    const keys = Object.keys((JSON.parse(text!) as { kvm: object }).kvm);
    expect(keys).toHaveLength(16);
    expect(keys[0]).toBe('k4');
  });
});

describe('judgeProbeBoot', () => {
  const base: ProbeBootResult = {
    sawMarker: false,
    timedOut: false,
    exitCode: 1,
    elapsedMs: 200,
    stderrTail: '',
    timeoutMs: 10_000,
  };
  it('says kvm only when the marker appeared', () => {
    expect(judgeProbeBoot({ ...base, sawMarker: true, elapsedMs: 900 })).toEqual({
      accel: 'kvm',
      reason: 'a probe boot under KVM reached init in 0.9 s',
      elapsedMs: 900,
    });
  });
  it.each([
    [
      'qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69\nqemu: kvm.c:2893: kvm_buf_set_msrs: Assertion failed',
      /failed to set MSR 0x10a to 0x69$/,
    ],
    [
      'KVM internal error. Suberror: 1\nemulation failure\nRAX=0',
      /KVM internal error\. Suberror: 1$/,
    ],
    ['Could not access KVM kernel module: Permission denied', /Could not access KVM kernel module/],
  ])('names a known failure: %j', (stderr, reason) => {
    const out = judgeProbeBoot({ ...base, stderrTail: stderr });
    expect(out.accel).toBe('tcg');
    expect(out.reason).toMatch(reason);
  });
  it('explains a timeout and an unexplained exit', () => {
    expect(judgeProbeBoot({ ...base, timedOut: true, exitCode: null }).reason).toMatch(
      /did not reach init within 10\.0 s/,
    );
    expect(judgeProbeBoot({ ...base, stderrTail: 'line1\nsomething odd' }).reason).toBe(
      'KVM probe boot ended (exit 1) without reaching init: line1 / something odd',
    );
  });
});
