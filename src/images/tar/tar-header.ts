/**
 * One 512-byte tar header (ustar, GNU and the fields PAX builds on), parsed from hostile bytes:
 * the checksum must match, numbers must be well-formed octal or base-256, and only the entry
 * types banger can represent in an ext4 image come out. Everything else is refused by name.
 */
import { badRequest } from '../../base/index.js';

export const BLOCK = 512;

/** What a raw header says, before PAX/GNU long names are applied. */
export interface RawHeader {
  name: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: Buffer;
  devMajor: number;
  devMinor: number;
}

/** Types that describe the next entry rather than being one. */
export const META_TYPES = new Set(['x', 'g', 'L', 'K']);

/** The entry types banger applies; anything else in a header is refused. */
export const ENTRY_TYPES: Readonly<Record<string, TarEntryType>> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

/** True for an all-zero block (the end-of-archive marker). */
export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** Parses a header block; `where` names it in errors ("entry 12 of layer 3"). */
export function parseHeader(block: Buffer, where: string): RawHeader {
  if (block.length !== BLOCK) throw badRequest(`${where}: truncated tar header`);
  const stored = number(block, 148, 8, `${where}: header checksum`);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed) {
    throw badRequest(`${where}: tar header checksum mismatch (not a tar archive, or corrupted)`);
  }
  const magic = block.subarray(257, 263).toString('latin1');
  const ustar = magic === 'ustar\0';
  const gnu = magic === 'ustar ';
  let name = cString(block, 0, 100);
  if (ustar) {
    // POSIX ustar splits long names: prefix/name. GNU uses that area for other fields.
    const prefix = cString(block, 345, 155);
    if (prefix.length > 0) name = Buffer.concat([prefix, Buffer.from('/'), name]);
  }
  const typeflag = String.fromCharCode(block[156] ?? 0);
  return {
    name,
    mode: number(block, 100, 8, `${where}: mode`),
    uid: number(block, 108, 8, `${where}: uid`),
    gid: number(block, 116, 8, `${where}: gid`),
    size: number(block, 124, 12, `${where}: size`),
    mtime: number(block, 136, 12, `${where}: mtime`),
    typeflag,
    linkname: cString(block, 157, 100),
    devMajor: ustar || gnu ? number(block, 329, 8, `${where}: devmajor`) : 0,
    devMinor: ustar || gnu ? number(block, 337, 8, `${where}: devminor`) : 0,
  };
}

function cString(block: Buffer, offset: number, length: number): Buffer {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return Buffer.from(end === -1 ? field : field.subarray(0, end));
}

/**
 * A numeric field: octal ASCII (space/NUL padded) or GNU base-256 (high bit set). Negative
 * base-256 values and numbers beyond 2^53 are refused rather than wrapped.
 */
export function number(block: Buffer, offset: number, length: number, what: string): number {
  const first = block[offset] ?? 0;
  if (first & 0x80) {
    if (first === 0xff) throw badRequest(`${what} is negative`);
    let value = first & 0x7f;
    for (let i = 1; i < length; i++) {
      value = value * 256 + (block[offset + i] ?? 0);
      if (value > Number.MAX_SAFE_INTEGER) throw badRequest(`${what} is too large`);
    }
    return value;
  }
  const text = block
    .subarray(offset, offset + length)
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^[ \0]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw badRequest(`${what} ${JSON.stringify(text)} is not octal`);
  const value = parseInt(text, 8);
  if (!Number.isSafeInteger(value)) throw badRequest(`${what} is too large`);
  return value;
}

/** Bytes of padding after a body of `size` bytes. */
export function padding(size: number): number {
  const rest = size % BLOCK;
  return rest === 0 ? 0 : BLOCK - rest;
}
