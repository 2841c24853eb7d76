/** Four `banger vm run --rm -- true` at once vs four raw boots at once. */
import { stopwatch } from '../harness/children.js';
import { compare } from '../harness/compare.js';
import { sizeFlags, type Metric } from './metric.js';

const COUNT = 4;

export const parallel4: Metric = {
  name: 'parallel-4',
  banger: `wall time until all of ${String(COUNT)} \`banger vm run --rm -- true\` started at once have exited`,
  baseline: `${String(COUNT)} raw boots (QEMU by hand, same VM, each on its own overlay) started at once, until the last QEMU exits`,
  async run(ctx) {
    return [
      await compare(ctx, {
        name: 'parallel-4',
        unit: 's',
        banger: async () => {
          const elapsed = stopwatch();
          const args = ['vm', 'run', '--rm', ...sizeFlags(ctx.vm), '--', 'true'];
          const runs = Array.from({ length: COUNT }, () =>
            ctx.home.ok(args, { signal: ctx.signal }),
          );
          const settled = await Promise.allSettled(runs);
          const seconds = elapsed();
          const failed = settled.find((s) => s.status === 'rejected');
          if (failed) throw failed.reason;
          return seconds;
        },
        baseline: () => ctx.raw.bootManyToMarker(COUNT, ctx.vm, { signal: ctx.signal }),
      }),
    ];
  },
};
