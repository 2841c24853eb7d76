import { describe, expect, it } from 'vitest';
import { describeSsh, detectUserland, resolveInImage, type PathLookup } from './userland.js';

function fakeImage(tree: Record<string, string>): PathLookup {
  return (p) => {
    const v = tree[p];
    if (v === undefined) return Promise.resolve(undefined);
    if (v === 'dir' || v === 'file') return Promise.resolve({ type: v });
    return Promise.resolve({ type: 'symlink', linkTarget: v });
  };
}

describe('detectUserland', () => {
  it('finds init, sshd and apt through merged-/usr symlinks', async () => {
    const lookup = fakeImage({
      '/sbin': 'usr/sbin',
      '/usr': 'dir',
      '/usr/sbin': 'dir',
      '/usr/sbin/sshd': 'file',
      '/usr/sbin/init': '../lib/systemd/systemd',
      '/usr/lib': 'dir',
      '/usr/lib/systemd': 'dir',
      '/usr/lib/systemd/systemd': 'file',
      '/usr/bin': 'dir',
      '/usr/bin/apt-get': 'file',
    });
    expect(await detectUserland(lookup)).toEqual({ init: true, sshd: true, packageManager: 'apt' });
  });

  it('reports a bare image: no init, no sshd, no package manager', async () => {
    const userland = await detectUserland(fakeImage({ '/bin': 'dir', '/bin/sh': 'file' }));
    expect(userland).toEqual({ init: false, sshd: false, packageManager: null });
    expect(describeSsh(userland)).toMatch(/no ssh server and no package manager/);
    expect(describeSsh({ ...userland, packageManager: 'apk' })).toMatch(
      /installed at first boot with apk/,
    );
  });

  it('keeps absolute and escaping symlinks inside the image and stops symlink loops', async () => {
    const lookup = fakeImage({
      '/a': '/../../b',
      '/b': 'dir',
      '/b/f': 'file',
      '/loop': '/loop',
    });
    expect(await resolveInImage(lookup, '/a/f')).toBe('file');
    expect(await resolveInImage(lookup, '/loop')).toBeUndefined();
  });
});
