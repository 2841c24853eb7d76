/**
 * PAX extended headers ("%d key=value\n" records). Only the keys banger uses are kept; GNU
 * sparse keys are refused outright, because a sparse entry is how a tiny archive claims a
 * huge file (and banger never writes sparse tar entries itself).
 */
import { badRequest } from '../../base/index.js';

export interface PaxRecords {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  devMajor?: number;
  devMinor?: number;
  /** Extended attributes seen (SCHILY.xattr.*): counted, not applied. */
  xattrs: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parsePax(data: Buffer, where: string): PaxRecords {
  const out: PaxRecords = { xattrs: 0 };
  let offset = 0;
  while (offset < data.length) {
    if (data[offset] === 0) break;
    const space = data.indexOf(0x20, offset);
    if (space === -1 || space - offset > 20) throw badRequest(`${where}: malformed PAX record`);
    const lengthText = data.subarray(offset, space).toString('latin1');
    if (!/^[1-9][0-9]*$/.test(lengthText)) throw badRequest(`${where}: malformed PAX record`);
    const length = Number(lengthText);
    const end = offset + length;
    if (end > data.length || data[end - 1] !== 0x0a) {
      throw badRequest(`${where}: PAX record runs past its header`);
    }
    const record = data.subarray(space + 1, end - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw badRequest(`${where}: PAX record without a key`);
    const key = record.subarray(0, eq).toString('latin1');
    const raw = record.subarray(eq + 1);
    apply(out, key, raw, where);
    offset = end;
  }
  return out;
}

function apply(out: PaxRecords, key: string, raw: Buffer, where: string): void {
  if (key.startsWith('GNU.sparse.')) {
    throw badRequest(
      `${where}: sparse file entries (${key}) are refused: a sparse entry can claim a file far larger than the archive`,
    );
  }
  if (key.startsWith('SCHILY.xattr.') || key.startsWith('LIBARCHIVE.xattr.')) {
    out.xattrs++;
    return;
  }
  const text = (): string => {
    try {
      return utf8.decode(raw);
    } catch {
      throw badRequest(`${where}: PAX ${key} is not valid UTF-8`);
    }
  };
  switch (key) {
    case 'path':
      out.path = text();
      break;
    case 'linkpath':
      out.linkpath = text();
      break;
    case 'size':
      out.size = integer(text(), key, where);
      break;
    case 'uid':
      out.uid = integer(text(), key, where);
      break;
    case 'gid':
      out.gid = integer(text(), key, where);
      break;
    case 'SCHILY.devmajor':
      out.devMajor = integer(text(), key, where);
      break;
    case 'SCHILY.devminor':
      out.devMinor = integer(text(), key, where);
      break;
    case 'mtime': {
      const t = text();
      if (!/^-?[0-9]{1,20}(\.[0-9]{0,20})?$/.test(t)) {
        throw badRequest(`${where}: PAX mtime ${JSON.stringify(t)} is not a number`);
      }
      out.mtime = Math.floor(Number(t));
      break;
    }
    default:
      // atime, ctime, uname, gname, comment, charset, SCHILY.* and the like change nothing here.
      break;
  }
}

function integer(text: string, key: string, where: string): number {
  if (!/^[0-9]{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw badRequest(`${where}: PAX ${key} ${JSON.stringify(text)} is not a non-negative integer`);
  }
  return Number(text);
}
