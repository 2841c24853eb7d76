/**
 * Network leases: the guest address, the host loopback address, the MAC and the NAT choice of
 * each VM. A lease lives as long as its VM (deleted with it, by cascade as well), and the
 * UNIQUE constraints make sure no address is ever handed to two VMs at once.
 */
import { BangerError } from '../base/index.js';
import type { Db } from './database.js';

export interface NetworkLease {
  vmId: string;
  guestIp: string;
  hostIp: string;
  mac: string;
  nat: boolean;
}

interface Row {
  vm_id: string;
  guest_ip: string;
  host_ip: string;
  mac: string;
  nat: number;
}

function fromRow(row: Row): NetworkLease {
  return {
    vmId: row.vm_id,
    guestIp: row.guest_ip,
    hostIp: row.host_ip,
    mac: row.mac,
    nat: row.nat !== 0,
  };
}

export class NetworkLeases {
  constructor(private readonly db: Db) {}

  /**
   * Inserts a lease whose addresses `pick` chooses from the ones in use, in one transaction
   * (two VMs created at once never get the same address).
   */
  allocate(
    vmId: string,
    pick: (used: { guest: Set<string>; host: Set<string> }) => Omit<NetworkLease, 'vmId'>,
  ): NetworkLease {
    return this.db.transaction(() => {
      const rows = this.db.prepare('SELECT * FROM vm_network').all() as Row[];
      const lease = {
        vmId,
        ...pick({
          guest: new Set(rows.filter((r) => r.vm_id !== vmId).map((r) => r.guest_ip)),
          host: new Set(rows.filter((r) => r.vm_id !== vmId).map((r) => r.host_ip)),
        }),
      };
      try {
        this.db
          .prepare(
            // Upsert on the VM only: any other UNIQUE collision must fail, never steal a lease.
            'INSERT INTO vm_network (vm_id, guest_ip, host_ip, mac, nat) VALUES (?, ?, ?, ?, ?) ' +
              'ON CONFLICT(vm_id) DO UPDATE SET guest_ip = excluded.guest_ip, ' +
              'host_ip = excluded.host_ip, mac = excluded.mac, nat = excluded.nat',
          )
          .run(lease.vmId, lease.guestIp, lease.hostIp, lease.mac, lease.nat ? 1 : 0);
      } catch (err) {
        if ((err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) {
          throw new BangerError(
            'conflict',
            `address lease for VM ${vmId} collides: ${String(err)}`,
          );
        }
        throw err;
      }
      return lease;
    })();
  }

  get(vmId: string): NetworkLease | undefined {
    const row = this.db.prepare('SELECT * FROM vm_network WHERE vm_id = ?').get(vmId) as
      Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  list(): NetworkLease[] {
    return (this.db.prepare('SELECT * FROM vm_network ORDER BY guest_ip').all() as Row[]).map(
      fromRow,
    );
  }

  setNat(vmId: string, nat: boolean): NetworkLease {
    const info = this.db
      .prepare('UPDATE vm_network SET nat = ? WHERE vm_id = ?')
      .run(nat ? 1 : 0, vmId);
    const lease = this.get(vmId);
    if (info.changes === 0 || !lease)
      throw new BangerError('not_found', `VM ${vmId} has no network lease`);
    return lease;
  }

  release(vmId: string): void {
    this.db.prepare('DELETE FROM vm_network WHERE vm_id = ?').run(vmId);
  }
}
