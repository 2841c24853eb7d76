import { describe, expect, it } from 'vitest';
import { RCODE, TYPE, encodeName, parseQuery } from './dns-codec.js';
import { DnsZone } from './dns-zone.js';

function query(
  name: string,
  type: number = TYPE.A,
  options: { id?: number; flags?: number } = {},
): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(options.id ?? 0x1234, 0);
  header.writeUInt16BE(options.flags ?? 0x0100, 2);
  header.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([header, encodeName(name), tail]);
}

interface Decoded {
  id: number;
  flags: number;
  rcode: number;
  qd: number;
  an: number;
  ns: number;
  body: Buffer;
}

function decode(reply: Buffer | undefined): Decoded {
  if (!reply) throw new Error('no reply');
  return {
    id: reply.readUInt16BE(0),
    flags: reply.readUInt16BE(2),
    rcode: reply.readUInt16BE(2) & 0xf,
    qd: reply.readUInt16BE(4),
    an: reply.readUInt16BE(6),
    ns: reply.readUInt16BE(8),
    body: reply,
  };
}

function zone(): DnsZone {
  const z = new DnsZone();
  z.set('dev', { host: '127.64.0.2', guest: '10.213.0.2' });
  return z;
}

describe('DnsZone.answer', () => {
  it('answers A for a running VM in the host and guest views, name case kept', () => {
    const z = zone();
    const host = decode(z.answer(query('Dev.VM'), 'host'));
    expect(host).toMatchObject({ id: 0x1234, rcode: RCODE.NOERROR, qd: 1, an: 1, ns: 0 });
    expect(host.flags & 0x8400).toBe(0x8400); // QR + AA
    expect(host.flags & 0x0100).toBe(0x0100); // RD copied
    expect(host.body.includes(Buffer.from('Dev', 'latin1'))).toBe(true);
    expect([...host.body.subarray(-4)]).toEqual([127, 64, 0, 2]);
    const guest = decode(z.answer(query('dev.vm'), 'guest'));
    expect([...guest.body.subarray(-4)]).toEqual([10, 213, 0, 2]);
  });

  it('says NXDOMAIN with the zone SOA in authority for unknown and deeper names', () => {
    for (const name of ['nope.vm', 'a.dev.vm']) {
      const r = decode(zone().answer(query(name), 'host'));
      expect(r).toMatchObject({ rcode: RCODE.NXDOMAIN, an: 0, ns: 1 });
      expect(r.body.includes(encodeName('hostmaster.vm'))).toBe(true);
    }
  });

  it('answers NODATA (NOERROR, no answer, SOA) for AAAA of an existing name', () => {
    const r = decode(zone().answer(query('dev.vm', TYPE.AAAA), 'host'));
    expect(r).toMatchObject({ rcode: RCODE.NOERROR, an: 0, ns: 1 });
  });

  it('answers the apex SOA and refuses names outside .vm', () => {
    expect(decode(zone().answer(query('vm', TYPE.SOA), 'host'))).toMatchObject({ rcode: 0, an: 1 });
    expect(decode(zone().answer(query('example.com'), 'host')).rcode).toBe(RCODE.REFUSED);
  });

  it('forgets deleted names', () => {
    const z = zone();
    z.delete('dev');
    expect(decode(z.answer(query('dev.vm'), 'host')).rcode).toBe(RCODE.NXDOMAIN);
  });
});

describe('hostile packets', () => {
  const z = zone();
  it('drops what it cannot trust: short packets and responses', () => {
    expect(z.answer(Buffer.alloc(0), 'host')).toBeUndefined();
    expect(z.answer(Buffer.alloc(11), 'host')).toBeUndefined();
    expect(z.answer(query('dev.vm', TYPE.A, { flags: 0x8100 }), 'host')).toBeUndefined();
  });

  it('answers FORMERR or NOTIMP without a question to malformed queries', () => {
    const cases: [Buffer, number][] = [];
    const good = query('dev.vm');
    // Compression pointer in the question (pointing at itself: a loop if followed).
    const loop = Buffer.from(good);
    loop[12] = 0xc0;
    loop[13] = 12;
    cases.push([loop, RCODE.FORMERR]);
    // Label length past the end.
    const long = Buffer.from(good.subarray(0, 14));
    long[12] = 40;
    cases.push([long, RCODE.FORMERR]);
    // No terminating zero / no type and class.
    cases.push([good.subarray(0, good.length - 5), RCODE.FORMERR]);
    cases.push([good.subarray(0, good.length - 2), RCODE.FORMERR]);
    // Two questions, zero questions.
    const two = Buffer.from(good);
    two.writeUInt16BE(2, 4);
    cases.push([two, RCODE.FORMERR]);
    const none = Buffer.from(good);
    none.writeUInt16BE(0, 4);
    cases.push([none, RCODE.FORMERR]);
    // Answer records in a query.
    const an = Buffer.from(good);
    an.writeUInt16BE(1, 6);
    cases.push([an, RCODE.FORMERR]);
    // A name over 255 bytes made of legal labels.
    const huge = query(Array.from({ length: 5 }, () => 'a'.repeat(63)).join('.') + '.vm');
    cases.push([huge, RCODE.FORMERR]);
    // An update (opcode 5).
    cases.push([query('dev.vm', TYPE.A, { flags: 5 << 11 }), RCODE.NOTIMP]);
    for (const [packet, rcode] of cases) {
      const r = decode(z.answer(packet, 'host'));
      expect(r).toMatchObject({ id: 0x1234, rcode, qd: 0, an: 0 });
      expect(r.body.length).toBe(12);
    }
  });

  it('survives random garbage without throwing', () => {
    let seed = 42;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
    for (let i = 0; i < 5000; i++) {
      const packet = Buffer.from(Array.from({ length: rand() % 80 }, rand));
      expect(() => z.answer(packet, 'host')).not.toThrow();
    }
  });

  it('parses a well-formed query exactly', () => {
    const parsed = parseQuery(query('Dev.vm'));
    expect(parsed).toMatchObject({ kind: 'query', query: { id: 0x1234, rd: true } });
    if (parsed.kind === 'query') expect(parsed.query.question.name).toBe('dev.vm');
  });
});
