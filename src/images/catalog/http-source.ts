/**
 * A bundle URL as a resumable blob source for the cache: plain GET, or a Range request from
 * where a previous download stopped. No credentials are ever sent.
 */
import { BangerError, operationFailed } from '../../base/index.js';
import { causeText, streamBody } from '../http-body.js';
import type { BlobSource } from '../oci/blob-cache.js';

export function httpSource(url: string): BlobSource {
  const source: BlobSource = async (offset, signal) => {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const release = (): void => signal?.removeEventListener('abort', onAbort);
    let res: Response;
    try {
      res = await fetch(url, {
        headers: {
          'user-agent': 'banger',
          ...(offset > 0 ? { range: `bytes=${String(offset)}-` } : {}),
        },
        signal: controller.signal,
      });
    } catch (err) {
      release();
      throw new BangerError('unavailable', `cannot download ${url}: ${causeText(err)}`, {
        cause: err,
      });
    }
    let start = 0;
    if (res.status === 416 && offset > 0) {
      // What we have is no prefix of this file any more: start over.
      release();
      await res.body?.cancel();
      return source(0, signal);
    }
    if (res.status === 206) {
      const m = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      start = Number(m?.[1] ?? NaN);
      if (start !== offset) {
        release();
        await res.body?.cancel();
        throw operationFailed(`${url}: a ranged download came back from the wrong offset`);
      }
    } else if (!res.ok) {
      release();
      await res.body?.cancel();
      throw new BangerError(
        res.status === 404 ? 'not_found' : 'unavailable',
        `${url} answered HTTP ${String(res.status)}`,
      );
    }
    return { start, body: streamBody(res, controller, { stallMs: 60_000, release }) };
  };
  return source;
}
