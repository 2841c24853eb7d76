/**
 * Runs one RPC per VM name in parallel (stop a b c) and reports each outcome on its own
 * line; the exit status is that of the first failure, in argument order.
 */
import type { BangerError } from '../../base/index.js';
import type { CliContext } from '../context.js';
import { EXIT_FOR_CODE } from '../exit-codes.js';
import { formatError } from '../render.js';

export async function forEachVm<T>(
  ctx: CliContext,
  names: string[],
  action: (name: string) => Promise<T>,
  describe: (name: string, result: T) => string,
): Promise<void> {
  const outcomes = await Promise.allSettled(names.map((name) => action(name)));
  outcomes.forEach((outcome, index) => {
    const name = names[index] ?? '';
    if (outcome.status === 'fulfilled') {
      ctx.stdout.write(`${describe(name, outcome.value)}\n`);
    } else {
      ctx.stderr.write(formatError(outcome.reason));
      if (ctx.exitCode === 0) {
        const code = (outcome.reason as Partial<BangerError>).code;
        ctx.exitCode = code ? EXIT_FOR_CODE[code] : EXIT_FOR_CODE.internal;
      }
    }
  });
}
