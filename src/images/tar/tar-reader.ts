/**
 * Streams entries out of a tar archive (ustar, GNU long names, PAX). Each entry's body must be
 * read (or is skipped) before the next entry is asked for. Sparse, multi-volume and unknown
 * entry types are refused; names must be UTF-8; meta headers are bounded.
 */
import { badRequest } from '../../base/index.js';
import { ByteSource, TrailingDataError, TruncatedError } from './byte-source.js';
import { parsePax, type PaxRecords } from './pax.js';
import {
  BLOCK,
  ENTRY_TYPES,
  isZeroBlock,
  META_TYPES,
  padding,
  parseHeader,
  type RawHeader,
  type TarEntryType,
} from './tar-header.js';

export interface TarEntry {
  /** 1-based position in the archive, for messages. */
  index: number;
  /** The name as stored (UTF-8), not yet normalised or checked. */
  path: string;
  type: TarEntryType;
  /** Permission and set-id/sticky bits (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Body size; 0 for everything but regular files. */
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Symlink target or hard link target, as stored. */
  linkTarget?: string;
  devMajor: number;
  devMinor: number;
  /** Extended attributes the entry carried (not applied). */
  xattrs: number;
  /** The body; readable once, only for regular files. */
  body(): AsyncIterable<Buffer>;
}

export interface TarReadOptions {
  /** Names the archive in errors ("layer 2 (sha256:ab12...)"). */
  where: string;
  /** Largest PAX or GNU long-name header accepted (default 1 MiB). */
  maxMetaBytes?: number;
  /** Most bytes allowed after the end-of-archive marker (default 16 MiB of padding). */
  maxTrailingBytes?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** Bytes a non-file entry may carry (none in practice; skipping more is wasted work). */
const MAX_NON_FILE_BYTES = 1024 * 1024;

export async function* readTar(
  input: AsyncIterable<Buffer>,
  options: TarReadOptions,
): AsyncGenerator<TarEntry> {
  const source = new ByteSource(input);
  const maxMeta = options.maxMetaBytes ?? 1024 * 1024;
  let index = 0;
  let pending: { pax?: PaxRecords; longName?: Buffer; longLink?: Buffer } = {};
  let bodyLeft = 0;
  let bodyPad = 0;
  try {
    for (;;) {
      if (bodyLeft > 0 || bodyPad > 0) await source.skip(bodyLeft + bodyPad);
      bodyLeft = 0;
      bodyPad = 0;
      const block = await source.readExact(BLOCK);
      if (block === undefined) {
        // No end marker at all: tolerated only where an entry would begin (some writers omit it).
        return;
      }
      if (isZeroBlock(block)) {
        await source.drain(options.maxTrailingBytes ?? 16 * 1024 * 1024);
        return;
      }
      index++;
      const where = `${options.where}, entry ${String(index)}`;
      const raw = parseHeader(block, where);
      if (META_TYPES.has(raw.typeflag)) {
        if (raw.size > maxMeta) {
          throw badRequest(
            `${where}: a ${describeMeta(raw.typeflag)} of ${String(raw.size)} bytes is larger than the ${String(maxMeta)} allowed`,
          );
        }
        const data = await source.readExact(raw.size + padding(raw.size));
        if (data === undefined) throw new TruncatedError(raw.size, 0);
        const body = data.subarray(0, raw.size);
        index--;
        switch (raw.typeflag) {
          case 'x':
            pending.pax = parsePax(body, where);
            break;
          case 'g':
            // Global headers only carry defaults we do not use; parsing still refuses sparse keys.
            parsePax(body, where);
            break;
          case 'L':
            pending.longName = cString(body);
            break;
          case 'K':
            pending.longLink = cString(body);
            break;
        }
        continue;
      }
      const type = ENTRY_TYPES[raw.typeflag];
      if (type === undefined) throw badRequest(`${where}: ${describeType(raw.typeflag)}`);
      const entry = toEntry(raw, type, pending, index, where);
      pending = {};
      // Links, directories and devices may still declare a size; their bytes are skipped.
      const stored = type === 'file' ? entry.size : raw.size;
      if (type !== 'file' && stored > MAX_NON_FILE_BYTES) {
        throw badRequest(`${where}: a ${type} entry declares ${String(stored)} bytes of data`);
      }
      bodyLeft = stored;
      bodyPad = padding(stored);
      let used = false;
      const size = entry.size;
      const body = (): AsyncIterable<Buffer> => {
        if (used || type !== 'file') throw new Error(`${where}: body read twice or not a file`);
        used = true;
        const stream = source.stream(size);
        return {
          [Symbol.asyncIterator]: () => {
            const it = stream[Symbol.asyncIterator]();
            return {
              next: async () => {
                const r = await it.next();
                if (r.done !== true) bodyLeft -= r.value.length;
                return r;
              },
            };
          },
        };
      };
      yield { ...entry, body };
    }
  } catch (err) {
    if (err instanceof TruncatedError) {
      throw badRequest(`${options.where}: the archive is truncated (${err.message})`);
    }
    if (err instanceof TrailingDataError) {
      throw badRequest(`${options.where}: ${err.message}`);
    }
    throw err;
  }
}

function toEntry(
  raw: RawHeader,
  type: TarEntryType,
  pending: { pax?: PaxRecords; longName?: Buffer; longLink?: Buffer },
  index: number,
  where: string,
): Omit<TarEntry, 'body'> {
  const pax = pending.pax;
  const path = pax?.path ?? decode(pending.longName ?? raw.name, 'name', where);
  const link = pax?.linkpath ?? decode(pending.longLink ?? raw.linkname, 'link target', where);
  const size = pax?.size ?? raw.size;
  const entry: Omit<TarEntry, 'body'> = {
    index,
    path,
    type,
    mode: raw.mode & 0o7777,
    uid: pax?.uid ?? raw.uid,
    gid: pax?.gid ?? raw.gid,
    size: type === 'file' ? size : 0,
    mtime: pax?.mtime ?? raw.mtime,
    devMajor: pax?.devMajor ?? raw.devMajor,
    devMinor: pax?.devMinor ?? raw.devMinor,
    xattrs: pax?.xattrs ?? 0,
  };
  if (type === 'symlink' || type === 'hardlink') entry.linkTarget = link;
  if (type !== 'file' && size !== raw.size) {
    throw badRequest(`${where}: a PAX size on a ${type} entry is not supported`);
  }
  return entry;
}

function decode(bytes: Buffer, what: string, where: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw badRequest(`${where}: the ${what} is not valid UTF-8`);
  }
}

function cString(body: Buffer): Buffer {
  const end = body.indexOf(0);
  return end === -1 ? body : body.subarray(0, end);
}

function describeMeta(flag: string): string {
  return flag === 'x' || flag === 'g' ? 'PAX header' : 'GNU long name';
}

function describeType(flag: string): string {
  switch (flag) {
    case 'S':
      return 'GNU sparse entries are refused: a sparse entry can claim a file far larger than the archive';
    case 'M':
    case 'V':
      return 'multi-volume archives are not supported';
    case 'N':
      return 'GNU "old long name" entries are not supported';
    default:
      return `unknown tar entry type ${JSON.stringify(flag)}`;
  }
}
