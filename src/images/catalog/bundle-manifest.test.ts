import { describe, expect, it } from 'vitest';
import { parseBundleManifest } from './bundle-manifest.js';

const base = {
  schema: 1,
  kind: 'image',
  name: 'img',
  arch: 'amd64',
  kernel: 'debian',
  files: [{ name: 'rootfs.ext4', size: 1, sha256: 'a'.repeat(64) }],
  createdAt: '2026-01-01T00:00:00.000Z',
};

describe('parseBundleManifest', () => {
  it('reads an image bundle manifest', () => {
    expect(
      parseBundleManifest(
        JSON.stringify({ ...base, userland: { init: false, sshd: false, packageManager: 'apk' } }),
        'image',
        'b',
      ),
    ).toMatchObject({
      name: 'img',
      kernel: 'debian',
      userland: { packageManager: 'apk' },
    });
  });

  it.each([
    [{ kind: 'kernel' }, /kind must be "image"/],
    [{ arch: 'arm64' }, /arch must be "amd64"/],
    [
      { files: [{ name: '../rootfs.ext4', size: 1, sha256: 'a'.repeat(64) }] },
      /name must be one of rootfs.ext4/,
    ],
    [{ files: [] }, /1 to 1 files/],
    [{ name: '../x' }, /name is not a valid name/],
    [{ userland: { init: 'yes' } }, /userland/],
  ])('refuses %j', (patch, message) => {
    expect(() => parseBundleManifest(JSON.stringify({ ...base, ...patch }), 'image', 'b')).toThrow(
      message,
    );
  });

  it('requires vmlinux in a kernel bundle', () => {
    const kernel = {
      ...base,
      kind: 'kernel',
      files: [{ name: 'config', size: 1, sha256: 'a'.repeat(64) }],
    };
    expect(() => parseBundleManifest(JSON.stringify(kernel), 'kernel', 'b')).toThrow(
      /must list vmlinux/,
    );
  });
});
