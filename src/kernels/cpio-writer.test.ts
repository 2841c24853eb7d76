import { describe, expect, it } from 'vitest';
import { writeCpio, type CpioEntry } from './cpio-writer.js';

interface Parsed {
  name: string;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  rdevmajor: number;
  rdevminor: number;
  data: Buffer;
}

/** A reader written from the format spec, independent of the writer. */
function parseNewc(buf: Buffer): Parsed[] {
  const out: Parsed[] = [];
  let at = 0;
  const align = (n: number): number => (n + 3) & ~3;
  for (;;) {
    expect(buf.subarray(at, at + 6).toString('ascii')).toBe('070701');
    const field = (i: number): number =>
      parseInt(buf.subarray(at + 6 + i * 8, at + 14 + i * 8).toString('ascii'), 16);
    const namesize = field(11);
    const filesize = field(6);
    const name = buf.subarray(at + 110, at + 110 + namesize - 1).toString('utf8');
    expect(buf[at + 110 + namesize - 1]).toBe(0);
    const dataAt = align(at + 110 + namesize);
    const entry: Parsed = {
      name,
      ino: field(0),
      mode: field(1),
      uid: field(2),
      gid: field(3),
      nlink: field(4),
      mtime: field(5),
      rdevmajor: field(9),
      rdevminor: field(10),
      data: buf.subarray(dataAt, dataAt + filesize),
    };
    at = align(dataAt + filesize);
    if (name === 'TRAILER!!!') {
      expect(at).toBe(buf.length);
      return out;
    }
    out.push(entry);
  }
}

describe('writeCpio', () => {
  it('writes the exact newc bytes for one file: header, NUL-terminated name, 4-byte padding', () => {
    const bytes = writeCpio([{ kind: 'file', path: 'f', data: Buffer.from('hi'), mode: 0o644 }]);
    const expected = Buffer.concat([
      Buffer.from(
        '070701' +
          '00000001' + // ino
          '000081a4' + // S_IFREG | 0644
          '00000000' + // uid
          '00000000' + // gid
          '00000001' + // nlink
          '00000000' + // mtime
          '00000002' + // filesize
          '00000000' + // devmajor
          '00000000' + // devminor
          '00000000' + // rdevmajor
          '00000000' + // rdevminor
          '00000002' + // namesize ("f\0")
          '00000000', // check
        'ascii',
      ),
      Buffer.from('f\0', 'ascii'), // 110 + 2 = 112: already aligned
      Buffer.from('hi\0\0', 'latin1'),
    ]);
    expect(bytes.subarray(0, expected.length).equals(expected)).toBe(true);
    expect(bytes.length % 4).toBe(0);
    expect(bytes.subarray(expected.length + 110, expected.length + 121).toString('ascii')).toBe(
      'TRAILER!!!\0',
    );
  });

  it('writes dirs, files, symlinks and device nodes with uid 0, fixed mtime and sequential inodes', () => {
    const entries: CpioEntry[] = [
      { kind: 'dir', path: 'bin' },
      { kind: 'file', path: 'bin/busybox', data: Buffer.from('\x7fELF...'), mode: 0o755 },
      { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
      { kind: 'dir', path: 'dev' },
      { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    ];
    const parsed = parseNewc(writeCpio(entries, { mtime: 1234 }));
    expect(parsed.map((p) => [p.name, p.ino, p.mode.toString(8), p.nlink])).toEqual([
      ['bin', 1, '40755', 2],
      ['bin/busybox', 2, '100755', 1],
      ['bin/sh', 3, '120777', 1],
      ['dev', 4, '40755', 2],
      ['dev/console', 5, '20600', 1],
    ]);
    expect(parsed.every((p) => p.uid === 0 && p.gid === 0 && p.mtime === 1234)).toBe(true);
    expect(parsed[2]?.data.toString()).toBe('busybox');
    expect([parsed[4]?.rdevmajor, parsed[4]?.rdevminor]).toEqual([5, 1]);
    expect(parsed[1]?.data.toString('latin1')).toBe('\x7fELF...');
  });

  it('is deterministic: the same entries give the same bytes', () => {
    const entries: CpioEntry[] = [
      { kind: 'dir', path: 'a' },
      { kind: 'file', path: 'a/b', data: Buffer.from('x') },
    ];
    expect(writeCpio(entries).equals(writeCpio(entries))).toBe(true);
  });

  it.each([
    ['/abs', 'must be relative'],
    ['a/../b', 'must be relative'],
    ['./a', 'must be relative'],
    ['a//b', 'must be relative'],
    ['a b', 'must be relative'],
    ['TRAILER!!!', 'must be relative'],
    ['', 'must be relative'],
  ])('refuses the path %j', (p, message) => {
    expect(() => writeCpio([{ kind: 'file', path: p, data: Buffer.from('') }])).toThrow(message);
  });

  it('refuses duplicates, children before parents, files as parents and bad modes', () => {
    expect(() =>
      writeCpio([
        { kind: 'dir', path: 'a' },
        { kind: 'dir', path: 'a' },
      ]),
    ).toThrow('appears twice');
    expect(() => writeCpio([{ kind: 'file', path: 'a/b', data: Buffer.from('') }])).toThrow(
      'before its parent',
    );
    expect(() =>
      writeCpio([
        { kind: 'file', path: 'a', data: Buffer.from('') },
        { kind: 'file', path: 'a/b', data: Buffer.from('') },
      ]),
    ).toThrow('before its parent');
    expect(() => writeCpio([{ kind: 'dir', path: 'a', mode: 0o10000 }])).toThrow('permission bits');
    expect(() => writeCpio([{ kind: 'symlink', path: 'a', target: '' }])).toThrow(
      'non-empty target',
    );
    expect(() => writeCpio([{ kind: 'chardev', path: 'c', major: -1, minor: 0 }])).toThrow(
      'major -1',
    );
  });
});
