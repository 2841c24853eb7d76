/**
 * Numbered, forward-only schema migrations. Append only: never edit a migration that has
 * shipped; add the next number instead. `PRAGMA user_version` records how far a database is.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'vms table',
    sql: `
      CREATE TABLE vms (
        id            TEXT PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        state         TEXT NOT NULL,
        image         TEXT NOT NULL,
        kernel        TEXT NOT NULL,
        backend       TEXT NOT NULL,
        vcpus         INTEGER NOT NULL,
        memory_mib    INTEGER NOT NULL,
        disk_bytes    INTEGER NOT NULL,
        auto_remove   INTEGER NOT NULL DEFAULT 0,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        started_at    TEXT,
        stopped_at    TEXT,
        boot_id       TEXT,
        last_error    TEXT
      ) STRICT;
    `,
  },
  {
    version: 2,
    description: 'network leases: guest and loopback addresses, MAC and NAT per VM',
    sql: `
      CREATE TABLE vm_network (
        vm_id       TEXT PRIMARY KEY REFERENCES vms(id) ON DELETE CASCADE,
        guest_ip    TEXT NOT NULL UNIQUE,
        host_ip     TEXT NOT NULL UNIQUE,
        mac         TEXT NOT NULL UNIQUE,
        nat         INTEGER NOT NULL DEFAULT 0
      ) STRICT;
    `,
  },
  {
    version: 3,
    description: 'vm_workspaces table: what workspace mode shipped into each VM',
    sql: `
      CREATE TABLE vm_workspaces (
        vm_id             TEXT PRIMARY KEY REFERENCES vms(id) ON DELETE CASCADE,
        host_path         TEXT NOT NULL,
        guest_path        TEXT NOT NULL,
        workdir           TEXT NOT NULL,
        head_commit       TEXT,
        ship_commit       TEXT NOT NULL,
        guest_branch      TEXT,
        from_ref          TEXT,
        include_untracked INTEGER NOT NULL,
        files             INTEGER NOT NULL,
        bytes             INTEGER NOT NULL,
        shipped_at        TEXT NOT NULL
      ) STRICT;
    `,
  },
];
