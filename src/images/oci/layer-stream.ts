/**
 * Opens a cached layer blob as the tar stream inside it: gzip (zlib), zstd (the zstd program)
 * or plain, recognised by magic bytes rather than trusted media types. Both the compressed
 * bytes and the tar stream are hashed on the way, so the caller checks the layer digest and
 * the config's diff_id after one pass.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { operationFailed, spawnChild } from '../../base/index.js';

export interface LayerStream {
  /** The uncompressed tar bytes; read to the end before `finish`. */
  tar: AsyncIterable<Buffer>;
  /** Waits for the decompressor and returns both digests. */
  finish(): Promise<{ compressed: string; uncompressed: string }>;
  /** Stops everything (after a failure). */
  destroy(): void;
}

export async function openLayer(file: string, where: string): Promise<LayerStream> {
  const head = Buffer.alloc(4);
  const fh = await fs.open(file, 'r');
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  const compressedHash = createHash('sha256');
  const uncompressedHash = createHash('sha256');
  const src = createReadStream(file, { highWaterMark: 1024 * 1024 });
  src.on('data', (chunk) => compressedHash.update(chunk as Buffer));

  let output: AsyncIterable<Buffer>;
  let done: Promise<void>;
  let destroy: () => void;
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const gunzip = zlib.createGunzip({ chunkSize: 256 * 1024 });
    done = pipeline(src, gunzip).catch((err: unknown) => {
      throw operationFailed(`${where}: the gzip stream is corrupt: ${(err as Error).message}`);
    });
    output = gunzip;
    destroy = () => {
      src.destroy();
      gunzip.destroy();
    };
  } else if (head.readUInt32LE(0) === 0xfd2fb528) {
    const child = spawnChild('zstd', ['--decompress', '--stdout', '--quiet'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
    const exited = new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve(code));
    });
    const stdin = child.stdin;
    const stdout = child.stdout;
    if (stdin === null || stdout === null) throw operationFailed('zstd: no pipes');
    stdin.on('error', () => undefined);
    done = Promise.all([
      pipeline(src, stdin).catch(() => undefined),
      exited.then((code) => {
        if (code !== 0) {
          throw operationFailed(
            `${where}: the zstd stream is corrupt (zstd exited ${String(code)}): ${stderr.trim()}`,
          );
        }
      }),
    ]).then(() => undefined);
    output = stdout;
    destroy = () => {
      src.destroy();
      child.kill('SIGKILL');
    };
  } else {
    done = new Promise((resolve, reject) => {
      src.on('end', resolve);
      src.on('error', reject);
    });
    output = src;
    destroy = () => src.destroy();
  }
  // Keep an early failure from being an unhandled rejection; finish() reports it.
  done.catch(() => undefined);

  async function* hashed(): AsyncGenerator<Buffer> {
    for await (const chunk of output) {
      uncompressedHash.update(chunk);
      yield chunk;
    }
  }
  return {
    tar: hashed(),
    async finish() {
      await done;
      return {
        compressed: `sha256:${compressedHash.digest('hex')}`,
        uncompressed: `sha256:${uncompressedHash.digest('hex')}`,
      };
    },
    destroy,
  };
}
