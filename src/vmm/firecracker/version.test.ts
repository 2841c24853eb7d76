import { describe, expect, it } from 'vitest';
import { parseCgroupMounts } from './jail.js';
import { checkFirecrackerVersion, firecrackerHasAcpi, parseFirecrackerVersion } from './version.js';

describe('Firecracker versions', () => {
  it('reads the forms Firecracker prints', () => {
    expect(parseFirecrackerVersion('1.7.0')).toEqual([1, 7, 0]);
    expect(parseFirecrackerVersion('v1.17.0-dev')).toEqual([1, 17, 0]);
    expect(parseFirecrackerVersion('nonsense')).toBeUndefined();
  });

  it('accepts 1.5 to 1.17, warns above, refuses below with what to do', () => {
    expect(checkFirecrackerVersion('1.5.0')).toEqual({ version: '1.5.0' });
    expect(checkFirecrackerVersion('1.17.3')).toEqual({ version: '1.17.3' });
    expect(checkFirecrackerVersion('1.18.0').warning).toMatch(/newer than the tested 1.17.x/);
    expect(checkFirecrackerVersion('2.0.0').warning).toBeDefined();
    expect(() => checkFirecrackerVersion('1.4.1')).toThrow(/1.4.1 is too old: banger needs >= 1.5/);
    expect(() => checkFirecrackerVersion('')).toThrow(/cannot read a Firecracker version/);
  });

  it('knows from which version devices are found through ACPI', () => {
    expect(firecrackerHasAcpi('1.7.0')).toBe(false);
    expect(firecrackerHasAcpi('1.8.0')).toBe(true);
  });
});

describe('parseCgroupMounts', () => {
  it('finds v1 and v2 hierarchies and unescapes their paths', () => {
    const mounts = [
      'sysfs /sys sysfs rw 0 0',
      'cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0',
      'cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0',
      'cgroup /odd\\040place cgroup rw,cpu 0 0',
    ].join('\n');
    expect(parseCgroupMounts(mounts)).toEqual([
      '/sys/fs/cgroup',
      '/sys/fs/cgroup/memory',
      '/odd place',
    ]);
  });
});
