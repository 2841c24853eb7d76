/**
 * Streams a growing file (a guest console log) to a writable: everything so far, then, when
 * following, new bytes as they arrive until the caller aborts or `stillWanted` says stop.
 */
import { promises as fs } from 'node:fs';
import type { Writable } from 'node:stream';
import { sleep } from '../base/index.js';

export interface FollowOptions {
  follow: boolean;
  signal: AbortSignal;
  /** Polled while following; returning false ends the stream (the VM was deleted). */
  stillWanted?: () => boolean;
  pollMs?: number;
}

export async function streamFile(
  file: string,
  out: Writable,
  options: FollowOptions,
): Promise<void> {
  let offset = 0;
  const chunk = Buffer.alloc(64 * 1024);
  for (;;) {
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(file, 'r');
      for (;;) {
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
        if (!out.write(Buffer.from(chunk.subarray(0, bytesRead)))) {
          await new Promise<void>((resolve) => out.once('drain', resolve));
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    } finally {
      await handle?.close();
    }
    if (!options.follow || options.signal.aborted || options.stillWanted?.() === false) return;
    try {
      await sleep(options.pollMs ?? 250, options.signal);
    } catch {
      return;
    }
  }
}
