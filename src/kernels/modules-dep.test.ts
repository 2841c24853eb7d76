import { describe, expect, it } from 'vitest';
import { moduleName, parseModulesDep, resolveModuleOrder } from './modules-dep.js';

// An excerpt of the Debian 6.1 cloud kernel's modules.dep (depmod output).
const DEP = `kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
`;

describe('modules.dep ordering', () => {
  it('loads every dependency before its user, each module once (the Debian cloud kernel set)', () => {
    const order = resolveModuleOrder(parseModulesDep(DEP), [
      'virtio_mmio',
      'virtio_blk',
      'virtio_net',
      'virtio_console',
      'virtio-rng',
    ]);
    expect(order.map((m) => m.name)).toEqual([
      'virtio_ring',
      'virtio',
      'virtio_mmio',
      'virtio_blk',
      'failover',
      'net_failover',
      'virtio_net',
      'virtio_console',
      'virtio_rng',
    ]);
    expect(order.find((m) => m.name === 'virtio_rng')?.path).toBe(
      'kernel/drivers/char/hw_random/virtio-rng.ko',
    );
  });

  it('does not depend on the order depmod wrote each line in', () => {
    const shuffled = DEP.replace(
      'kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
      'kernel/drivers/virtio/virtio_ring.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/net/net_failover.ko',
    );
    const names = resolveModuleOrder(parseModulesDep(shuffled), ['virtio_net']).map((m) => m.name);
    for (const [before, after] of [
      ['virtio_ring', 'virtio'],
      ['failover', 'net_failover'],
      ['net_failover', 'virtio_net'],
      ['virtio', 'virtio_net'],
    ] as const) {
      expect(names.indexOf(before)).toBeLessThan(names.indexOf(after));
    }
  });

  it('leaves out built-in modules and refuses unknown ones', () => {
    const builtin = 'kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_ring.ko\n';
    const dep = 'kernel/drivers/block/virtio_blk.ko:\n';
    expect(
      resolveModuleOrder(parseModulesDep(dep, builtin), ['virtio', 'virtio_blk']).map(
        (m) => m.name,
      ),
    ).toEqual(['virtio_blk']);
    expect(() => resolveModuleOrder(parseModulesDep(dep), ['vsock'])).toThrow(
      /vsock is neither in modules.dep nor built in/,
    );
    expect(() => resolveModuleOrder(parseModulesDep('a.ko: b.ko\n'), ['a'])).toThrow(
      /module b \(needed by a\) is neither/,
    );
  });

  it('detects cycles and malformed lines', () => {
    expect(() => resolveModuleOrder(parseModulesDep('a.ko: b.ko\nb.ko: a.ko\n'), ['a'])).toThrow(
      /cycle: a -> b -> a/,
    );
    expect(() => parseModulesDep('no colon here\n')).toThrow(/line 1/);
  });

  it('normalises names: dashes, directories and compressed suffixes', () => {
    expect(moduleName('kernel/drivers/char/hw_random/virtio-rng.ko')).toBe('virtio_rng');
    expect(moduleName('kernel/fs/x.ko.xz')).toBe('x');
    expect(moduleName('virtio-rng')).toBe('virtio_rng');
  });
});
