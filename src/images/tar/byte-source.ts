/**
 * Exact-length reads over a stream of chunks (a decompressed layer): the tar reader asks for
 * 512-byte headers and bounded bodies, never for "whatever arrived".
 */
export class ByteSource {
  private readonly iterator: AsyncIterator<Buffer>;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;

  constructor(input: AsyncIterable<Buffer>) {
    this.iterator = input[Symbol.asyncIterator]();
  }

  /** Reads exactly `n` bytes; undefined at a clean end (nothing buffered); throws when cut short. */
  async readExact(n: number): Promise<Buffer | undefined> {
    while (this.buffered < n && !this.ended) await this.pull();
    if (this.buffered === 0 && this.ended) return undefined;
    if (this.buffered < n) throw new TruncatedError(n, this.buffered);
    return this.take(n);
  }

  /** Yields the next `n` bytes in chunks as they arrive; throws when the stream ends early. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buffered === 0) {
        if (this.ended) throw new TruncatedError(n, n - left);
        await this.pull();
        continue;
      }
      const chunk = this.take(Math.min(left, this.chunks[0]?.length ?? 0));
      left -= chunk.length;
      yield chunk;
    }
  }

  /** Discards `n` bytes. */
  async skip(n: number): Promise<void> {
    const it = this.stream(n);
    while ((await it.next()).done !== true) {
      // discarded
    }
  }

  /** Reads and discards the rest of the stream, refusing more than `limit` bytes. */
  async drain(limit: number): Promise<number> {
    let total = this.buffered;
    this.chunks = [];
    this.buffered = 0;
    while (!this.ended) {
      const next = await this.iterator.next();
      if (next.done === true) this.ended = true;
      else total += next.value.length;
      if (total > limit) throw new TrailingDataError(limit);
    }
    return total;
  }

  private async pull(): Promise<void> {
    const next = await this.iterator.next();
    if (next.done === true) {
      this.ended = true;
      return;
    }
    if (next.value.length > 0) {
      this.chunks.push(next.value);
      this.buffered += next.value.length;
    }
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const chunk = this.chunks[0];
      if (chunk === undefined) break;
      const used = Math.min(chunk.length, n - at);
      chunk.copy(out, at, 0, used);
      at += used;
      if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    this.buffered -= n;
    return out;
  }
}

export class TruncatedError extends Error {
  constructor(wanted: number, got: number) {
    super(`stream ended after ${String(got)} of ${String(wanted)} bytes`);
  }
}

export class TrailingDataError extends Error {
  constructor(limit: number) {
    super(`more than ${String(limit)} bytes follow the end of the archive`);
  }
}
