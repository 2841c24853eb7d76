/**
 * Finds the compressed vmlinux inside a bzImage. The x86 boot header names the payload's
 * offset (boot protocol >= 2.08, Documentation/arch/x86/boot.rst); older or odd images are
 * searched by the compressors' magic numbers. Pure: bytes in, candidate offsets out.
 */
export type PayloadFormat = 'lz4' | 'gzip' | 'xz' | 'zstd';

export interface PayloadCandidate {
  format: PayloadFormat;
  offset: number;
  /** Where the candidate came from, for error messages. */
  via: 'boot-header' | 'magic-scan';
}

/** Magic numbers of the compressed payload formats we can unpack. */
export const PAYLOAD_MAGICS: readonly { format: PayloadFormat; magic: Buffer }[] = [
  // LZ4 legacy frame (what `lz4 -l` and the kernel's KERNEL_LZ4 write).
  { format: 'lz4', magic: Buffer.from([0x02, 0x21, 0x4c, 0x18]) },
  { format: 'gzip', magic: Buffer.from([0x1f, 0x8b, 0x08]) },
  { format: 'xz', magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) },
  { format: 'zstd', magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]) },
];

/** True when the bytes start like an x86 bzImage ("HdrS" boot header at 0x202). */
export function isBzImage(head: Uint8Array): boolean {
  return (
    head.length >= 0x206 && Buffer.from(head.subarray(0x202, 0x206)).toString('latin1') === 'HdrS'
  );
}

/**
 * Candidate payload positions, most trustworthy first: the boot header's payload offset,
 * then the first occurrence of each magic (by offset). At most `limit` candidates.
 */
export function findPayloadCandidates(image: Uint8Array, limit = 6): PayloadCandidate[] {
  const buf = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
  const out: PayloadCandidate[] = [];
  const fromHeader = headerPayloadOffset(buf);
  if (fromHeader !== undefined) {
    const format = formatAt(buf, fromHeader);
    if (format !== undefined) out.push({ format, offset: fromHeader, via: 'boot-header' });
  }
  const scanned: PayloadCandidate[] = [];
  for (const { format, magic } of PAYLOAD_MAGICS) {
    let from = 0;
    // A few occurrences each: a magic can also appear by chance inside another payload.
    for (let n = 0; n < 3; n++) {
      const at = buf.indexOf(magic, from);
      if (at < 0) break;
      if (!out.some((c) => c.offset === at))
        scanned.push({ format, offset: at, via: 'magic-scan' });
      from = at + 1;
    }
  }
  scanned.sort((a, b) => a.offset - b.offset);
  return [...out, ...scanned].slice(0, limit);
}

function headerPayloadOffset(buf: Buffer): number | undefined {
  if (!isBzImage(buf) || buf.length < 0x250) return undefined;
  const version = buf.readUInt16LE(0x206);
  if (version < 0x208) return undefined;
  // setup_sects == 0 means 4 (boot.rst); the protected-mode code starts after the setup.
  const setupSects = buf[0x1f1] === 0 ? 4 : (buf[0x1f1] ?? 4);
  const payloadOffset = buf.readUInt32LE(0x248);
  const at = (setupSects + 1) * 512 + payloadOffset;
  return at < buf.length ? at : undefined;
}

function formatAt(buf: Buffer, offset: number): PayloadFormat | undefined {
  for (const { format, magic } of PAYLOAD_MAGICS) {
    if (buf.subarray(offset, offset + magic.length).equals(magic)) return format;
  }
  return undefined;
}
