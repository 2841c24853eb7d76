import { describe, expect, it } from 'vitest';
import { findPayloadCandidates, isBzImage } from './bzimage-payload.js';
import { checkElfVmlinux, elfHeaderBytesNeeded } from './elf-check.js';

/** A fake bzImage: boot header with setup_sects and payload_offset, magic bytes at the payload. */
function fakeBzImage(options: {
  setupSects: number;
  payloadOffset: number;
  magic: number[];
  version?: number;
}): Buffer {
  const buf = Buffer.alloc(0x4000);
  buf[0x1f1] = options.setupSects;
  buf.write('HdrS', 0x202, 'latin1');
  buf.writeUInt16LE(options.version ?? 0x20f, 0x206);
  buf.writeUInt32LE(options.payloadOffset, 0x248);
  const at =
    ((options.setupSects === 0 ? 4 : options.setupSects) + 1) * 512 + options.payloadOffset;
  Buffer.from(options.magic).copy(buf, at);
  return buf;
}

describe('findPayloadCandidates', () => {
  it('trusts the boot header payload offset first (lz4 legacy, as in the Debian kernel)', () => {
    const img = fakeBzImage({
      setupSects: 3,
      payloadOffset: 0x100,
      magic: [0x02, 0x21, 0x4c, 0x18],
    });
    // A gzip magic earlier in the file, by chance.
    Buffer.from([0x1f, 0x8b, 0x08]).copy(img, 0x300);
    expect(isBzImage(img)).toBe(true);
    const c = findPayloadCandidates(img);
    expect(c[0]).toEqual({ format: 'lz4', offset: 4 * 512 + 0x100, via: 'boot-header' });
    expect(c.slice(1)).toEqual([{ format: 'gzip', offset: 0x300, via: 'magic-scan' }]);
  });

  it('treats setup_sects 0 as 4 (boot protocol rule)', () => {
    const img = fakeBzImage({
      setupSects: 0,
      payloadOffset: 0x10,
      magic: [0x28, 0xb5, 0x2f, 0xfd],
    });
    expect(findPayloadCandidates(img)[0]).toEqual({
      format: 'zstd',
      offset: 5 * 512 + 0x10,
      via: 'boot-header',
    });
  });

  it('falls back to scanning for magics (xz, gzip, zstd, lz4) when the header is old or absent', () => {
    const img = fakeBzImage({
      setupSects: 1,
      payloadOffset: 0x20,
      magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
      version: 0x207,
    });
    expect(findPayloadCandidates(img)).toEqual([
      { format: 'xz', offset: 2 * 512 + 0x20, via: 'magic-scan' },
    ]);
    const raw = Buffer.alloc(64);
    Buffer.from([0x1f, 0x8b, 0x08]).copy(raw, 40);
    Buffer.from([0x02, 0x21, 0x4c, 0x18]).copy(raw, 10);
    expect(isBzImage(raw)).toBe(false);
    expect(findPayloadCandidates(raw).map((c) => [c.format, c.offset])).toEqual([
      ['lz4', 10],
      ['gzip', 40],
    ]);
  });

  it('finds nothing in bytes without any payload magic', () => {
    expect(findPayloadCandidates(Buffer.alloc(1000))).toEqual([]);
  });
});

function elf(options: { segments: [number, number][]; machine?: number; cls?: number }): Buffer {
  const phoff = 64;
  const buf = Buffer.alloc(phoff + 56 * options.segments.length);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, options.cls ?? 2, 1, 1]).copy(buf, 0);
  buf.writeUInt16LE(2, 0x10);
  buf.writeUInt16LE(options.machine ?? 62, 0x12);
  buf.writeBigUInt64LE(BigInt(phoff), 0x20);
  buf.writeUInt16LE(56, 0x36);
  buf.writeUInt16LE(options.segments.length, 0x38);
  options.segments.forEach(([offset, size], i) => {
    const at = phoff + i * 56;
    buf.writeUInt32LE(1, at);
    buf.writeBigUInt64LE(BigInt(offset), at + 8);
    buf.writeBigUInt64LE(BigInt(size), at + 32);
  });
  return buf;
}

describe('checkElfVmlinux', () => {
  it('accepts a complete x86-64 executable', () => {
    const head = elf({
      segments: [
        [0x1000, 0x2000],
        [0x3000, 0x100],
      ],
    });
    expect(elfHeaderBytesNeeded(head)).toBe(64 + 2 * 56);
    expect(checkElfVmlinux(head, 0x3100)).toBeUndefined();
  });

  it('spots a truncated decompression, wrong machine, 32-bit and non-ELF bytes', () => {
    expect(checkElfVmlinux(elf({ segments: [[0x1000, 0x2000]] }), 0x2fff)).toMatch(/truncated/);
    expect(checkElfVmlinux(elf({ segments: [[0, 1]], machine: 183 }), 100)).toMatch(
      /not an x86-64/,
    );
    expect(checkElfVmlinux(elf({ segments: [[0, 1]], cls: 1 }), 100)).toMatch(/not a 64-bit/);
    expect(checkElfVmlinux(Buffer.from('MZ'.padEnd(64, '\0')), 64)).toMatch(/ELF magic/);
    expect(checkElfVmlinux(elf({ segments: [] }), 64)).toMatch(/no program headers/);
  });
});
