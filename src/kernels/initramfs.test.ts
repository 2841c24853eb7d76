import { describe, expect, it } from 'vitest';
import { buildInitramfs } from './initramfs.js';
import { initramfsInitScript } from './initramfs-init.js';

describe('initramfs', () => {
  it('loads the modules in the given order and falls back to the documented defaults', () => {
    const script = initramfsInitScript(['virtio_ring', 'virtio', 'virtio_mmio']);
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain('for m in virtio_ring virtio virtio_mmio; do');
    expect(script).toContain('root=/dev/vda\n');
    expect(script).toContain('rootfstype=ext4\n');
    expect(script).toContain('init=/sbin/banger-init\n');
    expect(script).toContain('set -f');
    expect(script).toContain('exec switch_root /newroot "$init" "$@"');
    expect(script).toMatch(/fail\(\) \{\n\techo "banger-initramfs: \$\*"\n\tpoweroff -f/);
  });

  it('refuses module names that are not plain identifiers', () => {
    expect(() => initramfsInitScript(['virtio; reboot'])).toThrow(/is not/);
  });

  it('is deterministic and carries /dev/console before init runs', () => {
    const input = {
      busybox: Buffer.from('bb'),
      modules: [{ name: 'virtio', data: Buffer.from('ko') }],
    };
    const a = buildInitramfs(input);
    expect(a.equals(buildInitramfs(input))).toBe(true);
    const text = a.toString('latin1');
    for (const name of [
      'bin/busybox',
      'bin/sh',
      'bin/switch_root',
      'dev/console',
      'lib/modules/virtio.ko',
      'init',
    ]) {
      expect(text).toContain(`${name}\0`);
    }
  });
});
