import { describe, expect, it } from 'vitest';
import { BangerError } from '../base/index.js';
import { assertKernelName, parseManifest } from './manifest.js';

const SHA = 'a'.repeat(64);
const good = (): Record<string, unknown> => ({
  schema: 1,
  name: 'debian',
  kernelVersion: '6.1.0-56-cloud-amd64',
  source: {
    kind: 'debian',
    package: 'linux-image-6.1.0-56-cloud-amd64',
    packageVersion: '6.1.192-2',
  },
  files: [
    { name: 'vmlinux', size: 53243444, sha256: SHA },
    { name: 'initramfs.cpio', size: 2495360, sha256: SHA },
    { name: 'config', size: 10, sha256: SHA },
  ],
  vmlinux: 'vmlinux',
  initramfs: 'initramfs.cpio',
  config: 'config',
  backends: ['qemu'],
  createdAt: '2025-01-01T00:00:00.000Z',
});

describe('parseManifest', () => {
  it('accepts a good manifest as it is', () => {
    expect(parseManifest(good(), 'debian')).toEqual(good());
    const imported = {
      ...good(),
      source: { kind: 'import', from: '/home/me/k' },
      backends: ['qemu', 'firecracker'],
    };
    expect(parseManifest(imported, 'debian').source).toEqual({
      kind: 'import',
      from: '/home/me/k',
    });
  });

  const hostile: [string, (m: Record<string, unknown>) => void, RegExp][] = [
    ['not an object', (m) => Object.assign(m, { files: 'x' }), /files must be a list/],
    ['name of another dir', (m) => (m.name = 'other'), /name must equal the directory name debian/],
    [
      'path traversal in a file name',
      (m) => ((m.files as { name: string }[])[0]!.name = '../../etc/passwd'),
      /files\[0\]\.name/,
    ],
    ['absolute vmlinux', (m) => (m.vmlinux = '/etc/shadow'), /field vmlinux must match/],
    [
      'vmlinux not listed',
      (m) => (m.vmlinux = 'other'),
      /vmlinux must name a file listed in files/,
    ],
    ['initramfs not listed', (m) => (m.initramfs = 'nope'), /initramfs must name a file listed/],
    [
      'manifest.json as a file',
      (m) => ((m.files as { name: string }[])[2]!.name = 'manifest.json'),
      /must not be manifest.json/,
    ],
    [
      'negative size',
      (m) => ((m.files as { size: number }[])[0]!.size = -1),
      /size must be a non-negative integer/,
    ],
    [
      'fractional size',
      (m) => ((m.files as { size: number }[])[0]!.size = 1.5),
      /size must be a non-negative integer/,
    ],
    [
      'bad sha256',
      (m) => ((m.files as { sha256: string }[])[0]!.sha256 = 'ABC'),
      /sha256 must match/,
    ],
    [
      'duplicate file',
      (m) => ((m.files as { name: string }[])[1]!.name = 'vmlinux'),
      /must not list a file twice/,
    ],
    ['unknown backend', (m) => (m.backends = ['qemu', 'xen']), /backends must list qemu/],
    ['no qemu backend', (m) => (m.backends = ['firecracker']), /backends must include qemu/],
    ['duplicate backend', (m) => (m.backends = ['qemu', 'qemu']), /each once/],
    ['unknown source kind', (m) => (m.source = { kind: 'http', url: 'x' }), /source.kind must be/],
    [
      'relative import path',
      (m) => (m.source = { kind: 'import', from: 'rel' }),
      /source.from must be an absolute path/,
    ],
    ['extra field', (m) => (m.evil = true), /manifest.evil is not a known field/],
    [
      'extra file field',
      (m) => ((m.files as Record<string, unknown>[])[0]!.mode = 0o4755),
      /files\[0\]\.mode is not a known/,
    ],
    ['wrong schema', (m) => (m.schema = 2), /schema must be 1/],
    ['shell in a version', (m) => (m.kernelVersion = '6.1; rm -rf /'), /kernelVersion must match/],
    ['bad date', (m) => (m.createdAt = 'yesterday'), /createdAt must be an ISO date/],
    [
      'too many files',
      (m) =>
        (m.files = Array.from({ length: 17 }, (_, i) => ({
          name: `f${String(i)}`,
          size: 1,
          sha256: SHA,
        }))),
      /1 to 16 files/,
    ],
  ];
  it.each(hostile)('refuses a manifest with %s', (_label, mutate, message) => {
    const m = good();
    mutate(m);
    const err = (() => {
      try {
        parseManifest(m, 'debian');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(BangerError);
    expect((err as BangerError).code).toBe('operation_failed');
    expect((err as BangerError).message).toMatch(message);
    expect((err as BangerError).hint).toMatch(/banger kernel rm debian/);
  });

  it('refuses non-objects', () => {
    expect(() => parseManifest(null, 'debian')).toThrow(/manifest must be an object/);
    expect(() => parseManifest([], 'debian')).toThrow(/manifest must be an object/);
  });
});

describe('kernel names', () => {
  it.each(['debian', 'a', '6.1-cloud', 'x_y.z'])('accepts %s', (n) =>
    expect(() => assertKernelName(n)).not.toThrow(),
  );
  it.each(['', 'Debian', '-x', '.x', 'a/b', 'a'.repeat(65), '../x'])('refuses %j', (n) =>
    expect(() => assertKernelName(n)).toThrow(/must match/),
  );
});
