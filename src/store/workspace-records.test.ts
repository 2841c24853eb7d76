import { describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { VmRecords } from './vm-records.js';
import { WorkspaceRecords, type WorkspaceRecord } from './workspace-records.js';

const ws = (over: Partial<WorkspaceRecord> = {}): WorkspaceRecord => ({
  vmId: 'abcdef012345',
  hostPath: '/home/me/repo',
  guestPath: '/root/repo',
  workdir: '/root/repo',
  headCommit: 'a'.repeat(40),
  shipCommit: 'b'.repeat(40),
  guestBranch: 'main',
  fromRef: null,
  includeUntracked: false,
  files: 3,
  bytes: 120,
  shippedAt: '2026-11-29T07:00:00.000Z',
  ...over,
});

describe('WorkspaceRecords (real SQLite, in memory)', () => {
  it('stores one workspace per VM, replaces it, and goes with the VM record', () => {
    const db = openDatabase(':memory:');
    const vms = new VmRecords(db);
    const workspaces = new WorkspaceRecords(db);
    vms.insert({
      id: 'abcdef012345',
      name: 'dev',
      state: 'stopped',
      image: 'debian-bookworm',
      kernel: 'debian',
      backend: 'qemu',
      vcpus: 1,
      memoryMib: 512,
      diskBytes: 1024 ** 3,
      autoRemove: false,
    });
    workspaces.put(ws());
    expect(workspaces.byVm('abcdef012345')).toEqual(ws());
    workspaces.put(ws({ includeUntracked: true, headCommit: null, files: 9 }));
    expect(workspaces.byVm('abcdef012345')).toMatchObject({
      includeUntracked: true,
      headCommit: null,
      files: 9,
    });
    vms.remove('abcdef012345');
    expect(workspaces.byVm('abcdef012345')).toBeUndefined();
  });

  it('refuses a workspace for a VM that does not exist', () => {
    const workspaces = new WorkspaceRecords(openDatabase(':memory:'));
    expect(() => workspaces.put(ws({ vmId: 'ffffffffffff' }))).toThrow(/FOREIGN KEY/);
  });
});
