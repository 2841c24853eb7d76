/**
 * VM records: the durable facts about each VM. Live handles (pids, sockets) are not here;
 * they sit in a per-VM file and are verified against the OS.
 */
import { BangerError } from '../base/index.js';
import type { Db } from './database.js';

export const VM_STATES = [
  'creating',
  'stopped',
  'starting',
  'running',
  'stopping',
  'error',
  // vCPUs frozen by `vm pause` (the VMM process lives on).
  'paused',
] as const;
export type VmState = (typeof VM_STATES)[number];

export interface VmRecord {
  id: string;
  name: string;
  state: VmState;
  image: string;
  kernel: string;
  backend: string;
  vcpus: number;
  memoryMib: number;
  diskBytes: number;
  autoRemove: boolean;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  stoppedAt: string | null;
  bootId: string | null;
  lastError: string | null;
}

interface Row {
  id: string;
  name: string;
  state: string;
  image: string;
  kernel: string;
  backend: string;
  vcpus: number;
  memory_mib: number;
  disk_bytes: number;
  auto_remove: number;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  stopped_at: string | null;
  boot_id: string | null;
  last_error: string | null;
}

const COLUMNS: Record<keyof VmRecord, keyof Row> = {
  id: 'id',
  name: 'name',
  state: 'state',
  image: 'image',
  kernel: 'kernel',
  backend: 'backend',
  vcpus: 'vcpus',
  memoryMib: 'memory_mib',
  diskBytes: 'disk_bytes',
  autoRemove: 'auto_remove',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  startedAt: 'started_at',
  stoppedAt: 'stopped_at',
  bootId: 'boot_id',
  lastError: 'last_error',
};

function fromRow(row: Row): VmRecord {
  return {
    id: row.id,
    name: row.name,
    state: (VM_STATES as readonly string[]).includes(row.state) ? (row.state as VmState) : 'error',
    image: row.image,
    kernel: row.kernel,
    backend: row.backend,
    vcpus: row.vcpus,
    memoryMib: row.memory_mib,
    diskBytes: row.disk_bytes,
    autoRemove: row.auto_remove !== 0,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    startedAt: row.started_at,
    stoppedAt: row.stopped_at,
    bootId: row.boot_id,
    lastError: row.last_error,
  };
}

function toRowValue(value: unknown): unknown {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

export type NewVm = Omit<
  VmRecord,
  'createdAt' | 'updatedAt' | 'startedAt' | 'stoppedAt' | 'bootId' | 'lastError'
>;

export class VmRecords {
  constructor(private readonly db: Db) {}

  insert(vm: NewVm): VmRecord {
    const now = new Date().toISOString();
    const record: VmRecord = {
      ...vm,
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      stoppedAt: null,
      bootId: null,
      lastError: null,
    };
    const keys = Object.keys(COLUMNS) as (keyof VmRecord)[];
    const sql = `INSERT INTO vms (${keys.map((k) => COLUMNS[k]).join(', ')}) VALUES (${keys.map(() => '?').join(', ')})`;
    try {
      this.db.prepare(sql).run(...keys.map((k) => toRowValue(record[k])));
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new BangerError('already_exists', `a VM named "${vm.name}" already exists`, {
          hint: 'pick another --name, or delete it with `banger vm delete ' + vm.name + '`',
        });
      }
      throw err;
    }
    return record;
  }

  update(id: string, changes: Partial<Omit<VmRecord, 'id' | 'createdAt'>>): VmRecord {
    const entries = Object.entries({ ...changes, updatedAt: new Date().toISOString() }) as [
      keyof VmRecord,
      unknown,
    ][];
    const sql = `UPDATE vms SET ${entries.map(([k]) => `${COLUMNS[k]} = ?`).join(', ')} WHERE id = ?`;
    const info = this.db.prepare(sql).run(...entries.map(([, v]) => toRowValue(v)), id);
    if (info.changes === 0) throw new BangerError('not_found', `VM ${id} no longer exists`);
    const updated = this.byId(id);
    if (!updated) throw new BangerError('not_found', `VM ${id} no longer exists`);
    return updated;
  }

  remove(id: string): void {
    this.db.prepare('DELETE FROM vms WHERE id = ?').run(id);
  }

  byId(id: string): VmRecord | undefined {
    const row = this.db.prepare('SELECT * FROM vms WHERE id = ?').get(id) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  byName(name: string): VmRecord | undefined {
    const row = this.db.prepare('SELECT * FROM vms WHERE name = ?').get(name) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** VMs whose id starts with `prefix` (for unambiguous id-prefix lookups). */
  byIdPrefix(prefix: string): VmRecord[] {
    const rows = this.db
      .prepare("SELECT * FROM vms WHERE id LIKE ? ESCAPE '\\' ORDER BY id")
      .all(`${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`) as Row[];
    return rows.map(fromRow);
  }

  list(): VmRecord[] {
    return (this.db.prepare('SELECT * FROM vms ORDER BY created_at, name').all() as Row[]).map(
      fromRow,
    );
  }

  usingImage(image: string): VmRecord[] {
    return (this.db.prepare('SELECT * FROM vms WHERE image = ?').all(image) as Row[]).map(fromRow);
  }

  usingKernel(kernel: string): VmRecord[] {
    return (this.db.prepare('SELECT * FROM vms WHERE kernel = ?').all(kernel) as Row[]).map(
      fromRow,
    );
  }
}
