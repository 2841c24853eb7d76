/**
 * Unpacks a verified bundle (.tar.zst) into a private directory, accepting exactly the entries
 * the caller names: regular files, each once, at the top level, within a size limit. A path
 * with a directory in it, a link, a device, an unexpected or missing name is refused. Files
 * are written sparsely (runs of zeros become holes): a rootfs is mostly empty space.
 */
import { createHash } from 'node:crypto';
import { constants as fsc, createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { badRequest, operationFailed, spawnChild } from '../../base/index.js';
import { readTar, type TarEntry } from '../tar/tar-reader.js';

export interface BundleEntryRule {
  /** Largest size accepted. */
  maxBytes: number;
  required: boolean;
}

export interface ExtractedFile {
  path: string;
  size: number;
  sha256: string;
}

const ZSTD_MAGIC = 0xfd2fb528;
const BLOCK = 4096;

export async function extractBundle(
  file: string,
  dest: string,
  options: { where: string; entries: Record<string, BundleEntryRule>; signal?: AbortSignal },
): Promise<Record<string, ExtractedFile>> {
  const { where } = options;
  const head = Buffer.alloc(4);
  const fh = await fs.open(file, 'r');
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  if (head.readUInt32LE(0) !== ZSTD_MAGIC)
    throw badRequest(`${where}: not a zstd-compressed bundle`);

  const child = spawnChild('zstd', ['--decompress', '--stdout', '--quiet'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const { stdin, stdout } = child;
  if (stdin === null || stdout === null) throw operationFailed('zstd: no pipes');
  stdin.on('error', () => undefined);
  const feeding = pipeline(createReadStream(file), stdin).catch(() => undefined);
  const out: Record<string, ExtractedFile> = {};
  try {
    for await (const entry of readTar(stdout as AsyncIterable<Buffer>, { where })) {
      options.signal?.throwIfAborted();
      const name = checkEntry(entry, options.entries, out, where);
      out[name] = await writeSparse(path.join(dest, name), entry);
    }
    await feeding;
    const code = await exited;
    if (code !== 0)
      throw badRequest(
        `${where}: the zstd stream is corrupt (zstd exited ${String(code)}): ${stderr.trim()}`,
      );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  for (const [name, rule] of Object.entries(options.entries)) {
    if (rule.required && out[name] === undefined)
      throw badRequest(`${where}: the bundle has no ${name}`);
  }
  return out;
}

function checkEntry(
  entry: TarEntry,
  rules: Record<string, BundleEntryRule>,
  seen: Record<string, ExtractedFile>,
  where: string,
): string {
  const name = entry.path.replace(/^\.\//, '');
  const allowed = Object.keys(rules).join(' and ');
  if (name.includes('/') || name === '' || name === '.' || name === '..') {
    throw badRequest(
      `${where}: entry ${JSON.stringify(entry.path)} is a path, not a top-level file; a bundle holds exactly ${allowed}`,
    );
  }
  const rule = rules[name];
  if (rule === undefined)
    throw badRequest(
      `${where}: unexpected entry ${JSON.stringify(entry.path)}; a bundle holds exactly ${allowed}`,
    );
  if (entry.type !== 'file')
    throw badRequest(`${where}: ${name} is a ${entry.type}, not a regular file`);
  if (seen[name] !== undefined) throw badRequest(`${where}: ${name} appears twice`);
  if (entry.size > rule.maxBytes) {
    throw badRequest(
      `${where}: ${name} is ${String(entry.size)} bytes, more than the ${String(rule.maxBytes)} allowed`,
    );
  }
  return name;
}

/** Writes the entry's body, leaving holes for all-zero 4 KiB blocks, and hashes it. */
async function writeSparse(dest: string, entry: TarEntry): Promise<ExtractedFile> {
  const hash = createHash('sha256');
  const handle = await fs.open(
    dest,
    fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW,
    0o600,
  );
  let pos = 0;
  let carry = Buffer.alloc(0);
  const flush = async (data: Buffer, final: boolean): Promise<void> => {
    let at = 0;
    while (at + BLOCK <= data.length || (final && at < data.length)) {
      const block = data.subarray(at, Math.min(at + BLOCK, data.length));
      if (!isZero(block)) {
        let w = 0;
        while (w < block.length)
          w += (await handle.write(block, w, block.length - w, pos + w)).bytesWritten;
      }
      pos += block.length;
      at += block.length;
    }
    carry = Buffer.from(data.subarray(at));
  };
  try {
    for await (const chunk of entry.body()) {
      hash.update(chunk);
      await flush(carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk, false);
    }
    await flush(carry, true);
    await handle.truncate(entry.size);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { path: dest, size: entry.size, sha256: hash.digest('hex') };
}

function isZero(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}
