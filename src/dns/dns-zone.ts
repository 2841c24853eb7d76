/**
 * The `.vm` zone: one A record per running VM, in two views. The host view is what the
 * developer's machine should connect to (the VM's loopback address in isolated mode, its
 * guest address in bridged mode); the guest view is what other guests connect to (always the
 * guest address on the bridge).
 */
import { BangerError } from '../base/index.js';
import { ipv4Bytes, parseIpv4 } from '../network/index.js';
import { RCODE, TYPE, buildResponse, parseQuery, type SoaData } from './dns-codec.js';

export type DnsView = 'host' | 'guest';

export interface VmAddresses {
  host: string;
  guest: string;
}

export const ZONE = 'vm';
/** Names come and go with VMs: answers are not cached (TTL 0, negative TTL 0). */
export const RECORD_TTL = 0;

export class DnsZone {
  private readonly records = new Map<string, { host: Buffer; guest: Buffer }>();
  private serial = Math.floor(Date.now() / 1000) >>> 0;

  /** Adds or replaces `<name>.vm`. */
  set(name: string, addresses: VmAddresses): void {
    const host = parseIpv4(addresses.host);
    const guest = parseIpv4(addresses.guest);
    if (host === undefined || guest === undefined || !/^[a-z0-9-]{1,63}$/.test(name)) {
      throw new BangerError(
        'bad_request',
        `bad DNS record ${name}.${ZONE} -> ${JSON.stringify(addresses)}`,
      );
    }
    this.records.set(name, { host: ipv4Bytes(host), guest: ipv4Bytes(guest) });
    this.bump();
  }

  delete(name: string): void {
    if (this.records.delete(name)) this.bump();
  }

  has(name: string): boolean {
    return this.records.has(name);
  }

  /** Names with a record (without the zone). */
  names(): string[] {
    return [...this.records.keys()].sort();
  }

  soa(): SoaData {
    return {
      zone: ZONE,
      mname: `ns.${ZONE}`,
      rname: `hostmaster.${ZONE}`,
      serial: this.serial,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: RECORD_TTL,
      ttl: RECORD_TTL,
    };
  }

  /** The wire answer to a query packet, or undefined when it deserves none. */
  answer(packet: Buffer, view: DnsView): Buffer | undefined {
    const parsed = parseQuery(packet);
    if (parsed.kind === 'drop') return undefined;
    if (parsed.kind === 'error') {
      return buildResponse({
        id: parsed.id,
        rd: parsed.rd,
        rcode: parsed.rcode,
        authoritative: false,
      });
    }
    const { id, rd, question } = parsed.query;
    const base = { id, rd, question };
    if (question.class !== 1 && question.class !== 255) {
      return buildResponse({ ...base, rcode: RCODE.REFUSED, authoritative: false });
    }
    const labels = question.name === '' ? [] : question.name.split('.');
    if (labels.at(-1) !== ZONE) {
      // Not ours: banger is no recursive resolver (guests fall through to the next nameserver).
      return buildResponse({ ...base, rcode: RCODE.REFUSED, authoritative: false });
    }
    const soa = this.soa();
    if (labels.length === 1) {
      if (question.type === TYPE.SOA || question.type === TYPE.ANY) {
        return buildResponse({
          ...base,
          rcode: RCODE.NOERROR,
          authoritative: true,
          soaAnswer: soa,
        });
      }
      return buildResponse({
        ...base,
        rcode: RCODE.NOERROR,
        authoritative: true,
        soaAuthority: soa,
      });
    }
    const record = labels.length === 2 ? this.records.get(labels[0] ?? '') : undefined;
    if (!record) {
      return buildResponse({
        ...base,
        rcode: RCODE.NXDOMAIN,
        authoritative: true,
        soaAuthority: soa,
      });
    }
    if (question.type === TYPE.A || question.type === TYPE.ANY) {
      return buildResponse({
        ...base,
        rcode: RCODE.NOERROR,
        authoritative: true,
        a: [{ address: view === 'host' ? record.host : record.guest, ttl: RECORD_TTL }],
      });
    }
    // The name exists but has no record of this type (AAAA, MX, ...): NODATA.
    return buildResponse({ ...base, rcode: RCODE.NOERROR, authoritative: true, soaAuthority: soa });
  }

  private bump(): void {
    this.serial = (this.serial + 1) >>> 0;
  }
}
