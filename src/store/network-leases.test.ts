import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { NetworkLeases } from './network-leases.js';
import { VmRecords } from './vm-records.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(): { leases: NetworkLeases; records: VmRecords } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bg-lease-'));
  dirs.push(dir);
  const db = openDatabase(path.join(dir, 'db'));
  return { leases: new NetworkLeases(db), records: new VmRecords(db) };
}

function vm(records: VmRecords, id: string): void {
  records.insert({
    id,
    name: `vm-${id}`,
    state: 'stopped',
    image: 'i',
    kernel: 'k',
    backend: 'qemu',
    vcpus: 1,
    memoryMib: 64,
    diskBytes: 1,
    autoRemove: false,
  });
}

describe('NetworkLeases', () => {
  it('shows the picker the addresses in use, refuses duplicates and frees on release and VM delete', () => {
    const { leases, records } = open();
    vm(records, '000000000001');
    vm(records, '000000000002');
    const first = leases.allocate('000000000001', () => ({
      guestIp: '10.0.0.2',
      hostIp: '127.64.0.2',
      mac: '02:00:00:00:00:01',
      nat: true,
    }));
    expect(first.nat).toBe(true);
    let seen: string[] = [];
    expect(() =>
      leases.allocate('000000000002', (used) => {
        seen = [...used.guest];
        return { guestIp: '10.0.0.2', hostIp: '127.64.0.3', mac: '02:00:00:00:00:02', nat: false };
      }),
    ).toThrow('collides');
    expect(seen).toEqual(['10.0.0.2']);
    expect(leases.setNat('000000000001', false).nat).toBe(false);
    leases.release('000000000001');
    expect(leases.list()).toEqual([]);
    leases.allocate('000000000002', () => ({
      guestIp: '10.0.0.2',
      hostIp: '127.64.0.3',
      mac: '02:00:00:00:00:02',
      nat: false,
    }));
    records.remove('000000000002');
    expect(leases.list()).toEqual([]);
  });
});
