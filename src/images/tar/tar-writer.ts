/**
 * Writes tar headers (ustar, with a PAX header in front when a name or size does not fit).
 * Used to write image bundles; tests use it to make archives, hostile ones included.
 */
import { BLOCK, padding } from './tar-header.js';

export interface TarHeaderInput {
  name: string;
  type?: 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';
  size?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkname?: string;
  devMajor?: number;
  devMinor?: number;
  /** Extra PAX records (tests: hostile keys). */
  pax?: Record<string, string>;
  /** Raw type flag, overriding `type` (tests: types banger refuses). */
  typeflag?: string;
}

const TYPEFLAGS = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
} as const;

/** 1 KiB of zeros: the end-of-archive marker. */
export const TAR_END = Buffer.alloc(2 * BLOCK);

/** The header block(s) for one entry; the body (for files) follows, then `tarPadding(size)`. */
export function tarHeader(input: TarHeaderInput): Buffer {
  const size = input.size ?? 0;
  const name = Buffer.from(input.name, 'utf8');
  const link = Buffer.from(input.linkname ?? '', 'utf8');
  const pax: Record<string, string> = { ...input.pax };
  if (name.length > 100) pax.path = input.name;
  if (link.length > 100) pax.linkpath = input.linkname ?? '';
  if (size > 0o77777777777) pax.size = String(size);
  const blocks: Buffer[] = [];
  if (Object.keys(pax).length > 0) {
    const body = paxBody(pax);
    blocks.push(
      ustar(
        { name: Buffer.from('PaxHeader'), typeflag: 'x', size: body.length, link: Buffer.alloc(0) },
        input,
      ),
      body,
      Buffer.alloc(padding(body.length)),
    );
  }
  blocks.push(
    ustar(
      {
        name: name.length > 100 ? name.subarray(0, 100) : name,
        typeflag: input.typeflag ?? TYPEFLAGS[input.type ?? 'file'],
        size: size > 0o77777777777 ? 0 : size,
        link: link.length > 100 ? link.subarray(0, 100) : link,
      },
      input,
    ),
  );
  return Buffer.concat(blocks);
}

/** Zero bytes that pad a body of `size` bytes to a whole block. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc(padding(size));
}

function ustar(
  fields: { name: Buffer; typeflag: string; size: number; link: Buffer },
  input: TarHeaderInput,
): Buffer {
  const block = Buffer.alloc(BLOCK);
  fields.name.copy(block, 0);
  octal(block, 100, 8, input.mode ?? 0o644);
  octal(block, 108, 8, input.uid ?? 0);
  octal(block, 116, 8, input.gid ?? 0);
  octal(block, 124, 12, fields.size);
  octal(block, 136, 12, input.mtime ?? 0);
  block.fill(0x20, 148, 156);
  block.write(fields.typeflag, 156, 'latin1');
  fields.link.copy(block, 157);
  block.write('ustar\x0000', 257, 'latin1');
  octal(block, 329, 8, input.devMajor ?? 0);
  octal(block, 337, 8, input.devMinor ?? 0);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

function octal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, 'latin1');
}

function paxBody(records: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of Object.entries(records)) {
    const payload = ` ${key}=${value}\n`;
    const payloadBytes = Buffer.byteLength(payload);
    let length = payloadBytes + 1;
    while (String(length).length + payloadBytes !== length)
      length = String(length).length + payloadBytes;
    parts.push(Buffer.from(`${String(length)}${payload}`, 'utf8'));
  }
  return Buffer.concat(parts);
}
