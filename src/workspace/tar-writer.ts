/**
 * A streaming tar writer (POSIX ustar, with a PAX header when a name, link target or size
 * does not fit). Files are read from the host while the archive streams, so memory stays at
 * one chunk whatever the tree's size; the returned Readable honours backpressure.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import { BangerError } from '../base/index.js';

const BLOCK = 512;
const CHUNK = 256 * 1024;
/** Largest size an 11-digit octal field holds (8 GiB - 1). */
const MAX_OCTAL_11 = 0o77777777777;

export interface TarEntry {
  /** Path inside the archive: relative, '/'-separated, no trailing '/'. */
  name: string;
  kind: 'file' | 'dir' | 'symlink';
  /** Permission bits (0o7777 at most). */
  mode: number;
  /** Modification time, seconds since the epoch (files: read when the file is opened). */
  mtime: number;
  /** Target of a symlink. */
  linkname?: string;
  /** Absolute host path of a file's content (opened without following a final symlink). */
  source?: string;
}

export interface TarProgress {
  entries: number;
  bytes: number;
}

export interface TarStreamOptions {
  signal?: AbortSignal | undefined;
  /** Called after each entry and each chunk of file content. */
  onProgress?: ((progress: TarProgress) => void) | undefined;
}

/** The archive as a byte stream: entries in the order given, then the end-of-archive marker. */
export function tarStream(
  entries: Iterable<TarEntry> | AsyncIterable<TarEntry>,
  options: TarStreamOptions = {},
): Readable {
  return Readable.from(generate(entries, options), { objectMode: false, highWaterMark: CHUNK });
}

async function* generate(
  entries: Iterable<TarEntry> | AsyncIterable<TarEntry>,
  options: TarStreamOptions,
): AsyncGenerator<Buffer> {
  const progress: TarProgress = { entries: 0, bytes: 0 };
  for await (const entry of entries) {
    checkAborted(options.signal);
    if (entry.kind === 'file') {
      yield* fileEntry(entry, progress, options);
    } else {
      const header = tarHeader({
        name: entry.name,
        kind: entry.kind,
        mode: entry.mode,
        mtime: entry.mtime,
        size: 0,
        linkname: entry.linkname ?? '',
      });
      progress.bytes += header.length;
      yield header;
    }
    progress.entries++;
    options.onProgress?.({ ...progress });
  }
  yield Buffer.alloc(2 * BLOCK);
}

async function* fileEntry(
  entry: TarEntry,
  progress: TarProgress,
  options: TarStreamOptions,
): AsyncGenerator<Buffer> {
  if (entry.source === undefined) {
    throw new BangerError('internal', `tar entry ${entry.name} has no source file`);
  }
  // O_NOFOLLOW: a file swapped for a symlink after it was listed is refused, not followed.
  const handle = await fs
    .open(entry.source, fsc.O_RDONLY | fsc.O_NOFOLLOW)
    .catch((err: unknown) => {
      throw new BangerError(
        'operation_failed',
        `cannot read ${entry.source ?? ''}: ${String(err)}`,
        {
          cause: err,
        },
      );
    });
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      throw new BangerError(
        'operation_failed',
        `${entry.source} is no longer a regular file; it changed while it was being shipped`,
      );
    }
    const size = st.size;
    const header = tarHeader({
      name: entry.name,
      kind: 'file',
      mode: entry.mode,
      mtime: Math.floor(st.mtimeMs / 1000),
      size,
      linkname: '',
    });
    progress.bytes += header.length;
    yield header;
    let offset = 0;
    while (offset < size) {
      checkAborted(options.signal);
      const want = Math.min(CHUNK, size - offset);
      const buffer = Buffer.allocUnsafe(want);
      const { bytesRead } = await handle.read(buffer, 0, want, offset);
      if (bytesRead === 0) {
        throw new BangerError(
          'operation_failed',
          `${entry.source} shrank while it was being shipped (${String(offset)} of ${String(size)} bytes read)`,
          { hint: 'try again once nothing writes to the repository' },
        );
      }
      offset += bytesRead;
      progress.bytes += bytesRead;
      yield bytesRead === want ? buffer : buffer.subarray(0, bytesRead);
      options.onProgress?.({ ...progress });
    }
    const pad = padding(size);
    if (pad > 0) {
      progress.bytes += pad;
      yield Buffer.alloc(pad);
    }
  } finally {
    await handle.close();
  }
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new BangerError('canceled', 'shipping files was canceled');
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

export interface TarHeaderFields {
  name: string;
  kind: 'file' | 'dir' | 'symlink';
  mode: number;
  mtime: number;
  size: number;
  linkname: string;
}

const TYPEFLAG = { file: '0', symlink: '2', dir: '5' } as const;

/** The header block(s) of one entry: a PAX extended header first when ustar cannot hold it. */
export function tarHeader(fields: TarHeaderFields): Buffer {
  const name = fields.kind === 'dir' ? `${fields.name}/` : fields.name;
  const nameBytes = Buffer.from(name, 'utf8');
  const linkBytes = Buffer.from(fields.linkname, 'utf8');
  const split = splitUstarName(nameBytes);
  const pax: [string, string][] = [];
  if (split === undefined) pax.push(['path', name]);
  if (linkBytes.length > 100) pax.push(['linkpath', fields.linkname]);
  if (fields.size > MAX_OCTAL_11) pax.push(['size', String(fields.size)]);
  const mtime = Math.min(Math.max(0, Math.floor(fields.mtime)), MAX_OCTAL_11);

  const main = ustarBlock({
    name: split?.name ?? ascii(`banger-long-name-${String(nameBytes.length)}`),
    prefix: split?.prefix ?? Buffer.alloc(0),
    mode: fields.mode & 0o7777,
    size: fields.kind === 'file' && fields.size <= MAX_OCTAL_11 ? fields.size : 0,
    mtime,
    typeflag: TYPEFLAG[fields.kind],
    linkname: linkBytes.length > 100 ? linkBytes.subarray(0, 100) : linkBytes,
  });
  if (pax.length === 0) return main;
  const body = paxBody(pax);
  const paxHeader = ustarBlock({
    name: ascii('PaxHeaders/banger'),
    prefix: Buffer.alloc(0),
    mode: 0o644,
    size: body.length,
    mtime,
    typeflag: 'x',
    linkname: Buffer.alloc(0),
  });
  return Buffer.concat([paxHeader, body, Buffer.alloc(padding(body.length)), main]);
}

/** ustar keeps names up to 100 bytes, or 255 split at a '/' into prefix (155) + name (100). */
function splitUstarName(bytes: Buffer): { name: Buffer; prefix: Buffer } | undefined {
  if (bytes.length <= 100) return { name: bytes, prefix: Buffer.alloc(0) };
  if (bytes.length > 256) return undefined;
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] !== 0x2f) continue;
    const prefix = bytes.subarray(0, i);
    const name = bytes.subarray(i + 1);
    if (prefix.length <= 155 && name.length <= 100 && name.length > 0) return { name, prefix };
    if (prefix.length <= 155) return undefined;
  }
  return undefined;
}

/** PAX records "%d key=value\n", where %d counts the whole record including itself. */
function paxBody(records: [string, string][]): Buffer {
  const parts = records.map(([key, value]) => {
    const rest = ` ${key}=${value}\n`;
    const restLength = Buffer.byteLength(rest, 'utf8');
    let length = restLength + 1;
    while (String(length).length + restLength !== length)
      length = String(length).length + restLength;
    return Buffer.from(`${String(length)}${rest}`, 'utf8');
  });
  return Buffer.concat(parts);
}

function ustarBlock(fields: {
  name: Buffer;
  prefix: Buffer;
  mode: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: Buffer;
}): Buffer {
  const block = Buffer.alloc(BLOCK);
  fields.name.copy(block, 0);
  octal(block, 100, 8, fields.mode);
  octal(block, 108, 8, 0); // uid: the guest extracts as root with --no-same-owner
  octal(block, 116, 8, 0); // gid
  octal(block, 124, 12, fields.size);
  octal(block, 136, 12, fields.mtime);
  block.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  block.write(fields.typeflag, 156, 'latin1');
  fields.linkname.copy(block, 157);
  block.write('ustar\u000000', 257, 'latin1');
  block.write('root', 265, 'latin1');
  block.write('root', 297, 'latin1');
  fields.prefix.copy(block, 345);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
  return block;
}

function octal(block: Buffer, offset: number, width: number, value: number): void {
  block.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, offset, 'latin1');
}

function ascii(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}
