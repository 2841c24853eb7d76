/**
 * Content-addressed blob cache (`<dir>/blobs/sha256/<hex>`), shared by every image. A blob
 * appears there only after its bytes matched its digest and size; a download that stops half
 * way stays in `<dir>/partial/<hex>` and the next attempt resumes it with a Range request
 * (re-hashing what it already has). Two pulls wanting one blob share one download. `prune`
 * frees what no image references and nothing in flight needs.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants as fsc, createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError, ensurePrivateDir, operationFailed } from '../../base/index.js';
import { DIGEST_PATTERN } from './reference.js';

/** Opens the blob from `offset`; `start` says where the bytes really begin (0 or offset). */
export type BlobSource = (
  offset: number,
  signal: AbortSignal | undefined,
) => Promise<{ start: number; body: AsyncIterable<Buffer> }>;

export interface EnsureOptions {
  /** Bytes as they arrive (and bytes already on disk, when resuming or cached). */
  onBytes?: (bytes: number) => void;
  /** Where the blob comes from, for messages. */
  what: string;
  signal?: AbortSignal;
}

export interface PruneResult {
  dir: string;
  dryRun: boolean;
  /** Blobs (and partial downloads) removed, or that would be. */
  blobs: number;
  freedBytes: number;
}

export class BlobCache {
  private readonly blobsDir: string;
  private readonly partialDir: string;
  private readonly inflight = new Map<string, Promise<string>>();
  private readonly pins = new Map<string, number>();

  constructor(readonly dir: string) {
    this.blobsDir = path.join(dir, 'blobs', 'sha256');
    this.partialDir = path.join(dir, 'partial');
  }

  blobPath(digest: string): string {
    return path.join(this.blobsDir, hexOf(digest));
  }

  /** Keeps `digests` from being pruned until the returned release runs. */
  pin(digests: readonly string[]): () => void {
    for (const d of digests) this.pins.set(d, (this.pins.get(d) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const d of digests) {
        const n = (this.pins.get(d) ?? 1) - 1;
        if (n <= 0) this.pins.delete(d);
        else this.pins.set(d, n);
      }
    };
  }

  /** The path of the verified blob, downloading (or resuming) it when needed. */
  async ensure(
    digest: string,
    size: number,
    source: BlobSource,
    options: EnsureOptions,
  ): Promise<string> {
    hexOf(digest);
    const cached = await this.cachedSize(digest);
    if (cached === size) {
      options.onBytes?.(size);
      return this.blobPath(digest);
    }
    const running = this.inflight.get(digest);
    if (running !== undefined) {
      try {
        const file = await running;
        options.onBytes?.(size);
        return file;
      } catch (err) {
        // The other pull was canceled: this one still wants the blob.
        if (!(err instanceof BangerError && err.code === 'canceled') || options.signal?.aborted)
          throw err;
        return this.ensure(digest, size, source, options);
      }
    }
    const download = this.download(digest, size, source, options);
    this.inflight.set(digest, download);
    try {
      return await download;
    } finally {
      this.inflight.delete(digest);
    }
  }

  /** Reads a small verified blob (a config) into memory. */
  async read(digest: string, maxBytes: number): Promise<Buffer> {
    const data = await fs.readFile(this.blobPath(digest));
    if (data.length > maxBytes)
      throw operationFailed(`cached blob ${digest} is larger than ${String(maxBytes)} bytes`);
    const actual = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    if (actual !== digest) {
      await fs.rm(this.blobPath(digest), { force: true });
      throw operationFailed(`cached blob ${digest} does not match its digest; removed, pull again`);
    }
    return data;
  }

  /**
   * Removes blobs outside `keep` that no pull has pinned, and partial downloads nobody is
   * running. With `dryRun` only counts.
   */
  async prune(keep: ReadonlySet<string>, dryRun: boolean): Promise<PruneResult> {
    const result: PruneResult = { dir: this.dir, dryRun, blobs: 0, freedBytes: 0 };
    const consider = async (dir: string, isPartial: boolean): Promise<void> => {
      const names = await fs.readdir(dir).catch(() => [] as string[]);
      for (const name of names) {
        const digest = `sha256:${name}`;
        if (!isPartial && keep.has(digest)) continue;
        if (this.pins.has(digest) || this.inflight.has(digest)) continue;
        const file = path.join(dir, name);
        const st = await fs.lstat(file).catch(() => undefined);
        if (st === undefined) continue;
        result.blobs++;
        result.freedBytes += st.isFile() ? st.blocks * 512 : 0;
        if (!dryRun) await fs.rm(file, { recursive: true, force: true });
      }
    };
    await consider(this.blobsDir, false);
    await consider(this.partialDir, true);
    return result;
  }

  private async cachedSize(digest: string): Promise<number | undefined> {
    const st = await fs.lstat(this.blobPath(digest)).catch(() => undefined);
    return st?.isFile() === true ? st.size : undefined;
  }

  private async download(
    digest: string,
    size: number,
    source: BlobSource,
    options: EnsureOptions,
  ): Promise<string> {
    await ensurePrivateDir(this.blobsDir);
    await ensurePrivateDir(this.partialDir);
    const partial = path.join(this.partialDir, hexOf(digest));
    const handle = await fs.open(partial, fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600);
    let keepPartial = true;
    try {
      let have = (await handle.stat()).size;
      if (have > size) {
        await handle.truncate(0);
        have = 0;
      }
      let hash = createHash('sha256');
      if (have > 0) await hashPrefix(partial, have, hash);
      const { start, body } = await source(have, options.signal);
      if (start !== have) {
        // The server ignored the range: start over.
        await handle.truncate(0);
        have = 0;
        hash = createHash('sha256');
      }
      options.onBytes?.(have);
      for await (const chunk of body) {
        if (have + chunk.length > size) {
          keepPartial = false;
          throw operationFailed(
            `${options.what}: blob ${digest} is larger than the ${String(size)} bytes its descriptor states; refused`,
          );
        }
        let at = 0;
        while (at < chunk.length) {
          const { bytesWritten } = await handle.write(chunk, at, chunk.length - at, have + at);
          at += bytesWritten;
        }
        hash.update(chunk);
        have += chunk.length;
        options.onBytes?.(chunk.length);
      }
      if (have !== size) {
        throw new BangerError(
          'unavailable',
          `${options.what}: blob ${digest} ended after ${String(have)} of ${String(size)} bytes; pull again to resume`,
        );
      }
      const actual = `sha256:${hash.digest('hex')}`;
      if (actual !== digest) {
        keepPartial = false;
        throw operationFailed(
          `${options.what}: blob ${digest} does not match its digest (got ${actual}); the download is refused`,
          { hint: 'the registry served corrupted or substituted data' },
        );
      }
      await handle.sync();
      await fs.rename(partial, this.blobPath(digest));
      keepPartial = true;
      return this.blobPath(digest);
    } finally {
      await handle.close();
      if (!keepPartial) await fs.rm(partial, { force: true });
    }
  }
}

function hexOf(digest: string): string {
  if (!DIGEST_PATTERN.test(digest))
    throw operationFailed(`not a sha256 digest: ${JSON.stringify(digest)}`);
  return digest.slice('sha256:'.length);
}

async function hashPrefix(file: string, bytes: number, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(file, {
    start: 0,
    end: bytes - 1,
    highWaterMark: 1024 * 1024,
  })) {
    hash.update(chunk as Buffer);
  }
}
