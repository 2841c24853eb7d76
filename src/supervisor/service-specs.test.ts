import { describe, expect, it } from 'vitest';
import type { InstallRecord } from '../protocol/index.js';
import { serviceSpecs } from './service-specs.js';

const record: InstallRecord = {
  owner: 'alice',
  uid: 1000,
  gid: 1001,
  version: '0.1.0',
  installedAt: '2025-03-01T10:00:00Z',
  root: '/tmp/bgsys-1',
};

describe('the supervised services', () => {
  const [helper, daemon] = serviceSpecs(record, { node: '/usr/bin/node', home: '/home/alice' });

  it('start the helper first, as root, with the install record', () => {
    expect(helper?.name).toBe('bangerd-root');
    expect(helper?.file).toBe('/usr/bin/node');
    expect(helper?.argv).toEqual([
      '/tmp/bgsys-1/usr/local/lib/banger/dist/src/helper/main.js',
      '--install-file',
      '/tmp/bgsys-1/etc/banger/install.toml',
    ]);
    expect(helper?.socket).toBe('/tmp/bgsys-1/run/bangerd-root/bangerd-root.sock');
  });

  it('start the daemon as the owner, with no capabilities and no new privileges', () => {
    expect(daemon?.name).toBe('bangerd');
    expect(daemon?.file).toBe('setpriv');
    expect(daemon?.argv).toEqual([
      '--reuid=1000',
      '--regid=1001',
      '--init-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs',
      '--',
      '/usr/bin/node',
      '/tmp/bgsys-1/usr/local/lib/banger/dist/src/daemon/main.js',
    ]);
    expect(daemon?.env).toMatchObject({
      BANGER_MODE: 'system',
      BANGER_SYSTEM_ROOT: '/tmp/bgsys-1',
      HOME: '/home/alice',
      USER: 'alice',
    });
    expect(daemon?.socket).toBe('/tmp/bgsys-1/run/banger/bangerd.sock');
  });
});
