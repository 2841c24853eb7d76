/**
 * Reading HTTP response bodies from servers banger does not trust: whole bodies with a size
 * limit, and streamed bodies that give up when the server goes quiet.
 */
import { BangerError, badRequest } from '../base/index.js';

export function causeText(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

/** Reads a whole body, refusing more than `max` bytes (declared or actual). */
export async function readLimited(res: Response, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel();
    throw badRequest(`${what} is ${String(declared)} bytes, more than the ${String(max)} allowed`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  if (res.body === null) return Buffer.alloc(0);
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > max) {
      await res.body.cancel().catch(() => undefined);
      throw badRequest(`${what} is more than the ${String(max)} bytes allowed`);
    }
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return Buffer.concat(chunks);
}

/** The body as Buffers; aborts the request when nothing arrives for `stallMs`. */
export async function* streamBody(
  res: Response,
  controller: AbortController,
  options: { stallMs: number; release?: () => void },
): AsyncGenerator<Buffer> {
  const { stallMs } = options;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(
      () => controller.abort(new Error(`no data for ${String(stallMs)} ms`)),
      stallMs,
    );
  };
  try {
    if (res.body === null) return;
    arm();
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      arm();
      yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
  } catch (err) {
    if (controller.signal.aborted) {
      const reason: unknown = controller.signal.reason;
      throw new BangerError(
        reason instanceof Error && /no data/.test(reason.message) ? 'timeout' : 'canceled',
        `download stopped: ${reason instanceof Error ? reason.message : 'canceled'}`,
      );
    }
    throw new BangerError('unavailable', `download interrupted: ${causeText(err)}`, { cause: err });
  } finally {
    clearTimeout(timer);
    options.release?.();
    await res.body?.cancel().catch(() => undefined);
  }
}
