import { BangerError } from '../base/index.js';

/** Throws `canceled` when the operation's signal has fired (checked between steps). */
export function throwIfCanceled(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted === true) throw new BangerError('canceled', `${what} was canceled`);
}
