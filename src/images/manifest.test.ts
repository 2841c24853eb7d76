import { describe, expect, it } from 'vitest';
import { BangerError } from '../base/index.js';
import {
  isPlainFileName,
  parseManifest,
  validateManifest,
  type ImageManifest,
} from './manifest.js';

const SHA = 'a'.repeat(64);

function good(): ImageManifest {
  return {
    schema: 1,
    name: 'debian-bookworm',
    format: 'raw',
    rootfs: 'rootfs.ext4',
    sizeBytes: 1342177280,
    sha256: SHA,
    kernel: 'debian',
    source: {
      kind: 'debian',
      suite: 'bookworm',
      mirror: 'http://deb.debian.org/debian',
      securityMirror: 'http://deb.debian.org/debian-security',
      packages: [{ name: 'git', version: '1:2.39.5-0+deb12u2' }],
      sourceDateEpoch: 1700000000,
      locked: false,
    },
    guestPrograms: {
      dir: '/usr/sbin',
      files: [
        { name: 'banger-init', sha256: SHA },
        { name: 'banger-agent', sha256: 'b'.repeat(64) },
      ],
    },
    sshHostKeys: 'absent',
    createdAt: '2025-05-20T10:00:00.000Z',
  };
}

/** A deep copy of the good manifest with one change applied. */
function mutate(change: (m: Record<string, unknown>) => void): unknown {
  const m = JSON.parse(JSON.stringify(good())) as Record<string, unknown>;
  change(m);
  return m;
}

function refusal(value: unknown, name = 'debian-bookworm'): BangerError {
  try {
    validateManifest(value, name);
  } catch (err) {
    if (err instanceof BangerError) return err;
    throw err;
  }
  throw new Error('expected the manifest to be refused');
}

describe('validateManifest', () => {
  it('accepts a good manifest and returns an equal copy', () => {
    const value = good();
    const out = validateManifest(value, 'debian-bookworm');
    expect(out).toEqual(value);
    expect(out).not.toBe(value);
  });

  it('accepts a registered image source', () => {
    const value = mutate((m) => {
      m.source = { kind: 'register', from: '/home/me/images/my root.ext4' };
      m.sshHostKeys = 'present';
    });
    expect(validateManifest(value, 'debian-bookworm').source).toEqual({
      kind: 'register',
      from: '/home/me/images/my root.ext4',
    });
  });

  it('drops unknown fields instead of passing them on', () => {
    const value = mutate((m) => {
      m.extra = { evil: true };
    });
    expect(validateManifest(value, 'debian-bookworm')).not.toHaveProperty('extra');
  });

  it.each([
    ['../../etc/shadow'],
    ['/etc/shadow'],
    ['sub/rootfs.ext4'],
    ['..'],
    ['.'],
    [''],
    ['manifest.json'],
    ['root\0fs'],
    ['.hidden'],
  ])('refuses rootfs %j (file names must be plain names)', (rootfs) => {
    const err = refusal(mutate((m) => (m.rootfs = rootfs)));
    expect(err.code).toBe('precondition_failed');
    expect(err.message).toMatch(/^image debian-bookworm: manifest.json is invalid: rootfs/);
    expect(err.hint).toContain('banger image rm debian-bookworm');
  });

  it('refuses a name that does not match its directory', () => {
    expect(refusal(mutate((m) => (m.name = 'other'))).message).toContain(
      'does not match the image directory',
    );
    expect(refusal(mutate((m) => (m.name = '../debian-bookworm'))).message).toContain('name');
  });

  it.each([
    [
      'guest dir with ..',
      (m: Record<string, unknown>) =>
        ((m.guestPrograms as Record<string, unknown>).dir = '/usr/../etc'),
      /guestPrograms.dir/,
    ],
    [
      'relative guest dir',
      (m: Record<string, unknown>) =>
        ((m.guestPrograms as Record<string, unknown>).dir = 'usr/sbin'),
      /guestPrograms.dir/,
    ],
    [
      'unknown guest program',
      (m: Record<string, unknown>) =>
        ((m.guestPrograms as Record<string, unknown>).files = [
          { name: '../../bin/sh', sha256: SHA },
        ]),
      /guestPrograms.files\[0\].name/,
    ],
    ['short sha256', (m: Record<string, unknown>) => (m.sha256 = 'abc'), /sha256/],
    ['upper-case sha256', (m: Record<string, unknown>) => (m.sha256 = 'A'.repeat(64)), /sha256/],
    ['negative size', (m: Record<string, unknown>) => (m.sizeBytes = -1), /sizeBytes/],
    ['fractional size', (m: Record<string, unknown>) => (m.sizeBytes = 1.5), /sizeBytes/],
    ['string size', (m: Record<string, unknown>) => (m.sizeBytes = '100'), /sizeBytes/],
    ['format qcow2', (m: Record<string, unknown>) => (m.format = 'qcow2'), /format/],
    ['schema 2', (m: Record<string, unknown>) => (m.schema = 2), /schema/],
    ['kernel path', (m: Record<string, unknown>) => (m.kernel = '../kernels/x'), /kernel/],
    [
      'unknown source kind',
      (m: Record<string, unknown>) => (m.source = { kind: 'docker-save' }),
      /source.kind/,
    ],
    [
      'relative register source',
      (m: Record<string, unknown>) => (m.source = { kind: 'register', from: 'x.ext4' }),
      /source.from/,
    ],
    [
      'mirror not a URL',
      (m: Record<string, unknown>) =>
        ((m.source as Record<string, unknown>).mirror = 'file:///etc'),
      /source.mirror/,
    ],
    [
      'hostile package name',
      (m: Record<string, unknown>) =>
        ((m.source as Record<string, unknown>).packages = [{ name: 'a/b', version: '1' }]),
      /source.packages\[0\].name/,
    ],
    [
      'ssh host keys unknown',
      (m: Record<string, unknown>) => (m.sshHostKeys = 'maybe'),
      /sshHostKeys/,
    ],
    [
      'createdAt not a date',
      (m: Record<string, unknown>) => (m.createdAt = 'yesterday'),
      /createdAt/,
    ],
  ])('refuses %s', (_label, change, field) => {
    const err = refusal(mutate(change));
    expect(err.code).toBe('precondition_failed');
    expect(err.message).toMatch(field);
  });

  it.each([null, [], 'manifest', 42])('refuses %j as a whole', (value) => {
    expect(refusal(value).message).toContain('the manifest must be an object');
  });
});

describe('parseManifest', () => {
  it('refuses text that is not JSON', () => {
    expect(() => parseManifest('{"schema":', 'x')).toThrow(/manifest.json is not valid JSON/);
  });

  it('parses what it writes', () => {
    expect(parseManifest(JSON.stringify(good()), 'debian-bookworm')).toEqual(good());
  });
});

describe('isPlainFileName', () => {
  it('says yes only to names without directory parts', () => {
    expect(isPlainFileName('rootfs.ext4')).toBe(true);
    for (const bad of ['.', '..', 'a/b', '/a', '', 'a\\0'])
      expect(isPlainFileName(bad)).toBe(false);
  });
});
