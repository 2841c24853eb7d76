import { describe, expect, it } from 'vitest';
import type { InstallRecord } from '../../protocol/index.js';
import { daemonUnit, helperUnit } from './units.js';

const record: InstallRecord = {
  owner: 'alice',
  uid: 1000,
  gid: 1000,
  version: '0.1.0',
  installedAt: '2025-03-01T10:00:00Z',
  root: '/',
};
const inputs = { record, node: '/usr/bin/node', group: 'alice' };

function directives(unit: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m?.[1] !== undefined) out.set(m[1], [...(out.get(m[1]) ?? []), m[2] ?? '']);
  }
  return out;
}

describe('the systemd units', () => {
  it('never kill running VMs on a stop or restart', () => {
    for (const unit of [helperUnit(inputs), daemonUnit(inputs)]) {
      expect(directives(unit).get('KillMode')).toEqual(['process']);
      expect(directives(unit).get('RuntimeDirectoryPreserve')).toEqual(['yes']);
      expect(directives(unit).get('NoNewPrivileges')).toEqual(['yes']);
      expect(directives(unit).get('UMask')).toEqual(['0077']);
    }
  });

  it('run the daemon as the owner with no capabilities and a read-only system', () => {
    const d = directives(daemonUnit(inputs));
    expect(d.get('User')).toEqual(['alice']);
    expect(d.get('CapabilityBoundingSet')).toEqual(['']);
    expect(d.get('AmbientCapabilities')).toEqual(['']);
    expect(d.get('ProtectSystem')).toEqual(['strict']);
    expect(d.get('ProtectHome')).toEqual(['read-only']);
    expect(d.get('Environment')).toEqual(['BANGER_MODE=system']);
    expect(d.get('ExecStart')).toEqual([
      '/usr/bin/node /usr/local/lib/banger/dist/src/daemon/main.js',
    ]);
  });

  it('give the helper root with a narrow capability set and its socket directory 0711', () => {
    const h = directives(helperUnit(inputs));
    expect(h.get('User')).toBeUndefined();
    const caps = (h.get('CapabilityBoundingSet')?.[0] ?? '').split(' ');
    expect(caps).toContain('CAP_NET_ADMIN');
    expect(caps).not.toContain('CAP_SYS_MODULE');
    expect(caps).not.toContain('CAP_SYS_PTRACE');
    expect(caps.length).toBeLessThanOrEqual(10);
    expect(h.get('RuntimeDirectory')).toEqual(['bangerd-root']);
    expect(h.get('RuntimeDirectoryMode')).toEqual(['0711']);
    expect(h.get('ExecStart')).toEqual([
      '/usr/bin/node /usr/local/lib/banger/dist/src/helper/main.js --install-file /etc/banger/install.toml',
    ]);
  });
});
