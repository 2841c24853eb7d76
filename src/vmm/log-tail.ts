/** The last lines of a log file, for error messages ("what did QEMU say before it died?"). */
import { promises as fs } from 'node:fs';

/** Lines after the last line starting with `since` (when given) are all that count. */
export async function tailLog(
  file: string,
  options: { lines?: number; maxBytes?: number; since?: string } = {},
): Promise<string> {
  const lines = options.lines ?? 12;
  const maxBytes = options.maxBytes ?? 16 * 1024;
  try {
    const handle = await fs.open(file, 'r');
    try {
      const size = (await handle.stat()).size;
      const len = Math.min(size, maxBytes);
      const buf = Buffer.alloc(len);
      await handle.read(buf, 0, len, size - len);
      let all = buf.toString('utf8').trimEnd().split('\n');
      if (options.since !== undefined) {
        const marker = options.since;
        const last = all.findLastIndex((l) => l.startsWith(marker));
        if (last >= 0) all = all.slice(last + 1);
      }
      return all.slice(-lines).join('\n');
    } finally {
      await handle.close();
    }
  } catch {
    return '';
  }
}
