/**
 * IPv4 addresses and CIDR blocks as plain numbers: parsing that refuses anything ambiguous
 * (leading zeros, out-of-range octets, host bits set in a network), containment and overlap.
 * Pure: the root helper validates its requests with these.
 */
import { BangerError } from '../base/index.js';

export interface Cidr {
  /** Network address as an unsigned 32-bit number (host bits zero). */
  network: number;
  prefix: number;
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** Parses a dotted quad strictly ("010.0.0.1" and "1.2.3" are refused); undefined if invalid. */
export function parseIpv4(text: string): number | undefined {
  if (typeof text !== 'string' || text.length > 15) return undefined;
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!OCTET.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** The address as four bytes (DNS A records). */
export function ipv4Bytes(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out;
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses "A.B.C.D/N"; with `strict` (the default) host bits must be zero. */
export function parseCidr(text: string, options: { strict?: boolean } = {}): Cidr | undefined {
  if (typeof text !== 'string') return undefined;
  const match = /^([0-9.]{7,15})\/(0|[1-9][0-9]?)$/.exec(text);
  if (!match?.[1] || !match[2]) return undefined;
  const address = parseIpv4(match[1]);
  const prefix = Number(match[2]);
  if (address === undefined || prefix > 32) return undefined;
  const network = (address & maskOf(prefix)) >>> 0;
  if ((options.strict ?? true) && network !== address) return undefined;
  return { network, prefix };
}

/** Parses a CIDR or throws bad_request naming `what` and the rule. */
export function requireCidr(text: string, what: string): Cidr {
  const cidr = parseCidr(text);
  if (!cidr) {
    throw new BangerError(
      'bad_request',
      `${what} ${JSON.stringify(text)} is not an IPv4 network in CIDR form (A.B.C.D/N, host bits zero)`,
    );
  }
  return cidr;
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIpv4(cidr.network)}/${String(cidr.prefix)}`;
}

export function cidrSize(cidr: Cidr): number {
  return 2 ** (32 - cidr.prefix);
}

export function cidrContains(cidr: Cidr, address: number): boolean {
  return (address & maskOf(cidr.prefix)) >>> 0 === cidr.network;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  const mask = maskOf(prefix);
  return (a.network & mask) >>> 0 === (b.network & mask) >>> 0;
}

/** The n-th address of the block (0 = the network address). */
export function cidrHost(cidr: Cidr, index: number): number {
  return (cidr.network + index) >>> 0;
}
