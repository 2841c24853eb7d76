import { describe, expect, it } from 'vitest';
import { openDatabase, migrate } from './database.js';
import { VmRecords, type NewVm } from './vm-records.js';

const vm = (over: Partial<NewVm> = {}): NewVm => ({
  id: 'abcdef012345',
  name: 'devbox',
  state: 'creating',
  image: 'debian-bookworm',
  kernel: 'debian',
  backend: 'qemu',
  vcpus: 1,
  memoryMib: 512,
  diskBytes: 4 * 1024 ** 3,
  autoRemove: false,
  ...over,
});

describe('VmRecords (real SQLite, in memory)', () => {
  it('inserts, finds by name, id and id prefix, updates and removes', () => {
    const records = new VmRecords(openDatabase(':memory:'));
    records.insert(vm());
    records.insert(vm({ id: 'abc999999999', name: 'other' }));
    expect(records.byName('devbox')?.id).toBe('abcdef012345');
    expect(records.byIdPrefix('abcd').map((r) => r.name)).toEqual(['devbox']);
    expect(records.byIdPrefix('abc').length).toBe(2);
    expect(records.byIdPrefix('%').length).toBe(0);
    const updated = records.update('abcdef012345', {
      state: 'running',
      bootId: 'b-1',
      autoRemove: true,
    });
    expect(updated.state).toBe('running');
    expect(updated.autoRemove).toBe(true);
    expect(updated.bootId).toBe('b-1');
    records.remove('abcdef012345');
    expect(records.byName('devbox')).toBeUndefined();
  });

  it('refuses a duplicate name with already_exists naming it', () => {
    const records = new VmRecords(openDatabase(':memory:'));
    records.insert(vm());
    expect(() => records.insert(vm({ id: '111111111111' }))).toThrow(
      /a VM named "devbox" already exists/,
    );
  });

  it('refuses a database from a newer banger', () => {
    const db = openDatabase(':memory:');
    db.pragma('user_version = 99');
    expect(() => migrate(db)).toThrow(/newer than this banger understands/);
  });
});
