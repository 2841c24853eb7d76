/**
 * Writes a bundle: a tar of manifest.json and the named files, compressed with zstd, written
 * to a temporary file beside the output and renamed into place. Returns the bundle's sha256
 * and size, which is what a catalog entry needs.
 */
import { createHash } from 'node:crypto';
import { constants as fsc, createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { newId, operationFailed, spawnChild } from '../../base/index.js';
import { TAR_END, tarHeader, tarPadding } from '../tar/tar-writer.js';
import { BUNDLE_MANIFEST, type BundleManifest } from './bundle-manifest.js';

export interface WrittenBundle {
  file: string;
  sha256: string;
  size: number;
}

export async function writeBundle(
  output: string,
  content: { manifest: BundleManifest; files: { name: string; path: string }[] },
  options: { signal?: AbortSignal } = {},
): Promise<WrittenBundle> {
  const manifestBytes = Buffer.from(`${JSON.stringify(content.manifest, null, 2)}\n`);
  const mtime = Math.floor(Date.parse(content.manifest.createdAt) / 1000);
  const sizes = await Promise.all(content.files.map(async (f) => (await fs.stat(f.path)).size));

  async function* tarStream(): AsyncGenerator<Buffer> {
    yield tarHeader({ name: BUNDLE_MANIFEST, size: manifestBytes.length, mode: 0o644, mtime });
    yield manifestBytes;
    yield tarPadding(manifestBytes.length);
    for (const [i, f] of content.files.entries()) {
      const size = sizes[i] ?? 0;
      yield tarHeader({ name: f.name, size, mode: 0o644, mtime });
      let sent = 0;
      for await (const chunk of createReadStream(f.path, { highWaterMark: 1024 * 1024 })) {
        sent += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      if (sent !== size) throw operationFailed(`${f.path} changed size while it was being bundled`);
      yield tarPadding(size);
    }
    yield TAR_END;
  }

  const tmp = path.join(path.dirname(output), `.${path.basename(output)}.${newId()}.tmp`);
  const out = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o644);
  const hash = createHash('sha256');
  let size = 0;
  const child = spawnChild('zstd', ['--quiet', '-T0', '-3', '--stdout'], {
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
  try {
    const feeding = pipeline(
      Readable.from(tarStream()),
      stdin,
      options.signal ? { signal: options.signal } : {},
    );
    const draining = (async () => {
      for await (const chunk of stdout) {
        const buf = chunk as Buffer;
        hash.update(buf);
        size += buf.length;
        let w = 0;
        while (w < buf.length) w += (await out.write(buf, w, buf.length - w)).bytesWritten;
      }
    })();
    await Promise.all([feeding, draining]);
    const code = await exited;
    if (code !== 0) throw operationFailed(`zstd exited ${String(code)}: ${stderr.trim()}`);
    await out.sync();
    await out.close();
    await fs.rename(tmp, output);
  } catch (err) {
    child.kill('SIGKILL');
    await out.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw err;
  }
  return { file: output, sha256: hash.digest('hex'), size };
}
