/**
 * A deliberately small DNS codec: enough to read one question from a query and to write an
 * authoritative answer (A records, SOA in the authority section, response codes). Every read
 * is bounds-checked; a packet that is not a well-formed standard query is answered FORMERR
 * or NOTIMP when its header can be trusted, and dropped when it cannot (too short, or itself
 * a response: answering those would let two servers bounce packets forever).
 */
export const TYPE = { A: 1, NS: 2, SOA: 6, AAAA: 28, ANY: 255 } as const;
export const CLASS_IN = 1;
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

const HEADER_BYTES = 12;
const MAX_NAME_BYTES = 255;
const MAX_LABEL_BYTES = 63;

export interface DnsQuestion {
  /** The labels as received (case kept, for the echo), e.g. ["Dev", "vm"]. */
  labels: string[];
  /** Lowercased dotted name without the trailing dot ("" for the root). */
  name: string;
  type: number;
  class: number;
  /** The question's wire bytes, echoed verbatim in the response. */
  wire: Buffer;
}

export interface DnsQuery {
  id: number;
  /** Recursion desired, copied into the response. */
  rd: boolean;
  question: DnsQuestion;
}

export type ParsedQuery =
  | { kind: 'query'; query: DnsQuery }
  /** Answer with this rcode and no question (the header was readable, the rest was not). */
  | { kind: 'error'; id: number; rd: boolean; rcode: number; reason: string }
  /** Not worth an answer. */
  | { kind: 'drop'; reason: string };

export function parseQuery(packet: Buffer): ParsedQuery {
  if (packet.length < HEADER_BYTES) return { kind: 'drop', reason: 'shorter than a DNS header' };
  const id = packet.readUInt16BE(0);
  const flags = packet.readUInt16BE(2);
  const rd = (flags & 0x0100) !== 0;
  if (flags & 0x8000) return { kind: 'drop', reason: 'a response, not a query' };
  const opcode = (flags >> 11) & 0xf;
  const error = (rcode: number, reason: string): ParsedQuery => ({
    kind: 'error',
    id,
    rd,
    rcode,
    reason,
  });
  if (opcode !== 0) return error(RCODE.NOTIMP, `opcode ${String(opcode)} is not supported`);
  const qdcount = packet.readUInt16BE(4);
  const ancount = packet.readUInt16BE(6);
  const nscount = packet.readUInt16BE(8);
  if (qdcount !== 1)
    return error(RCODE.FORMERR, `${String(qdcount)} questions (exactly 1 expected)`);
  if (ancount !== 0 || nscount !== 0)
    return error(RCODE.FORMERR, 'a query with answer or authority records');

  const labels: string[] = [];
  let offset = HEADER_BYTES;
  let nameBytes = 1;
  for (;;) {
    if (offset >= packet.length)
      return error(RCODE.FORMERR, 'the question name runs past the packet');
    const len = packet[offset] ?? 0;
    if (len === 0) {
      offset += 1;
      break;
    }
    // Compression pointers (and the reserved 01/10 label types) have no place in a question.
    if (len > MAX_LABEL_BYTES)
      return error(RCODE.FORMERR, 'a compressed or over-long label in the question');
    nameBytes += len + 1;
    if (nameBytes > MAX_NAME_BYTES) return error(RCODE.FORMERR, 'a question name over 255 bytes');
    if (offset + 1 + len > packet.length)
      return error(RCODE.FORMERR, 'a label runs past the packet');
    labels.push(packet.toString('latin1', offset + 1, offset + 1 + len));
    offset += 1 + len;
  }
  if (offset + 4 > packet.length) return error(RCODE.FORMERR, 'the question has no type and class');
  const type = packet.readUInt16BE(offset);
  const klass = packet.readUInt16BE(offset + 2);
  const wire = Buffer.from(packet.subarray(HEADER_BYTES, offset + 4));
  const name = labels.map((l) => l.toLowerCase()).join('.');
  return { kind: 'query', query: { id, rd, question: { labels, name, type, class: klass, wire } } };
}

export interface SoaData {
  /** Zone apex, e.g. "vm". */
  zone: string;
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
  ttl: number;
}

export interface ResponseSpec {
  id: number;
  rd: boolean;
  rcode: number;
  authoritative: boolean;
  /** The question to echo; absent for answers to unreadable queries. */
  question?: DnsQuestion | undefined;
  /** A records for the question's name: 4-byte addresses. */
  a?: { address: Buffer; ttl: number }[];
  /** An SOA answering the question itself (a query for the apex's SOA). */
  soaAnswer?: SoaData | undefined;
  /** The SOA for the authority section (NXDOMAIN and NODATA answers: negative caching). */
  soaAuthority?: SoaData | undefined;
}

export function encodeName(name: string): Buffer {
  const parts = name === '' ? [] : name.split('.');
  const out: Buffer[] = [];
  for (const part of parts) {
    const bytes = Buffer.from(part, 'latin1');
    if (bytes.length === 0 || bytes.length > MAX_LABEL_BYTES)
      throw new Error(`bad label in ${name}`);
    out.push(Buffer.from([bytes.length]), bytes);
  }
  out.push(Buffer.from([0]));
  return Buffer.concat(out);
}

function rr(name: Buffer, type: number, ttl: number, rdata: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(CLASS_IN, 2);
  fixed.writeUInt32BE(ttl >>> 0, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([name, fixed, rdata]);
}

function soaRecord(soa: SoaData): Buffer {
  const numbers = Buffer.alloc(20);
  [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum].forEach((n, i) =>
    numbers.writeUInt32BE(n >>> 0, i * 4),
  );
  const rdata = Buffer.concat([encodeName(soa.mname), encodeName(soa.rname), numbers]);
  return rr(encodeName(soa.zone), TYPE.SOA, soa.ttl, rdata);
}

export function buildResponse(spec: ResponseSpec): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  const answers: Buffer[] = [];
  // A pointer to the question's name right after the header (offset 12).
  const namePointer = Buffer.from([0xc0, HEADER_BYTES]);
  for (const a of spec.a ?? []) answers.push(rr(namePointer, TYPE.A, a.ttl, a.address));
  if (spec.soaAnswer) answers.push(soaRecord(spec.soaAnswer));
  const authority = spec.soaAuthority ? [soaRecord(spec.soaAuthority)] : [];
  header.writeUInt16BE(spec.id, 0);
  header.writeUInt16BE(
    0x8000 | (spec.authoritative ? 0x0400 : 0) | (spec.rd ? 0x0100 : 0) | (spec.rcode & 0xf),
    2,
  );
  header.writeUInt16BE(spec.question ? 1 : 0, 4);
  header.writeUInt16BE(answers.length, 6);
  header.writeUInt16BE(authority.length, 8);
  header.writeUInt16BE(0, 10);
  return Buffer.concat([header, spec.question?.wire ?? Buffer.alloc(0), ...answers, ...authority]);
}
