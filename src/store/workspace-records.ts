/**
 * Workspace records: what workspace mode last shipped into a VM (host repository, guest
 * path, the host HEAD it came from, the guest commit holding the work tree as shipped).
 * One per VM; removed with the VM's record (ON DELETE CASCADE).
 */
import type { Db } from './database.js';

export interface WorkspaceRecord {
  vmId: string;
  hostPath: string;
  guestPath: string;
  /** Where commands run in the guest (the guest path, or a directory below it). */
  workdir: string;
  headCommit: string | null;
  shipCommit: string;
  guestBranch: string | null;
  fromRef: string | null;
  includeUntracked: boolean;
  files: number;
  bytes: number;
  shippedAt: string;
}

interface Row {
  vm_id: string;
  host_path: string;
  guest_path: string;
  workdir: string;
  head_commit: string | null;
  ship_commit: string;
  guest_branch: string | null;
  from_ref: string | null;
  include_untracked: number;
  files: number;
  bytes: number;
  shipped_at: string;
}

function fromRow(row: Row): WorkspaceRecord {
  return {
    vmId: row.vm_id,
    hostPath: row.host_path,
    guestPath: row.guest_path,
    workdir: row.workdir,
    headCommit: row.head_commit,
    shipCommit: row.ship_commit,
    guestBranch: row.guest_branch,
    fromRef: row.from_ref,
    includeUntracked: row.include_untracked !== 0,
    files: row.files,
    bytes: row.bytes,
    shippedAt: row.shipped_at,
  };
}

export class WorkspaceRecords {
  constructor(private readonly db: Db) {}

  /** Records a ship, replacing the VM's previous one. */
  put(record: WorkspaceRecord): WorkspaceRecord {
    this.db
      .prepare(
        `INSERT INTO vm_workspaces (vm_id, host_path, guest_path, workdir, head_commit, ship_commit,
           guest_branch, from_ref, include_untracked, files, bytes, shipped_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (vm_id) DO UPDATE SET host_path = excluded.host_path,
           guest_path = excluded.guest_path, workdir = excluded.workdir,
           head_commit = excluded.head_commit, ship_commit = excluded.ship_commit,
           guest_branch = excluded.guest_branch, from_ref = excluded.from_ref,
           include_untracked = excluded.include_untracked, files = excluded.files,
           bytes = excluded.bytes, shipped_at = excluded.shipped_at`,
      )
      .run(
        record.vmId,
        record.hostPath,
        record.guestPath,
        record.workdir,
        record.headCommit,
        record.shipCommit,
        record.guestBranch,
        record.fromRef,
        record.includeUntracked ? 1 : 0,
        record.files,
        record.bytes,
        record.shippedAt,
      );
    return record;
  }

  byVm(vmId: string): WorkspaceRecord | undefined {
    const row = this.db.prepare('SELECT * FROM vm_workspaces WHERE vm_id = ?').get(vmId) as
      Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  remove(vmId: string): void {
    this.db.prepare('DELETE FROM vm_workspaces WHERE vm_id = ?').run(vmId);
  }
}
