/**
 * `banger vm create` started from a warm template (with a work disk, as `vm create` makes
 * one) vs the cold raw boot of the same VM; the VM is deleted afterwards, untimed.
 */
import { compare } from '../harness/compare.js';
import { sizeFlags, type Metric } from './metric.js';
import { removeTemplates, warmTemplate } from './run-true-warm.js';

export const createWarm: Metric = {
  name: 'create-warm',
  banger:
    'wall time of `banger vm create` restored from a warm template (made once, untimed) until it returns with the agent ready; the VM is deleted afterwards, untimed',
  baseline: 'the raw boot of run-true: QEMU by hand, same VM, to the marker and power-off',
  async run(ctx) {
    await warmTemplate(ctx, { disk: true });
    let n = 0;
    try {
      return [
        await compare(ctx, {
          name: 'create-warm',
          unit: 's',
          banger: async () => {
            const name = `bench-cw-${String(++n)}`;
            try {
              const r = await ctx.home.ok(['vm', 'create', '--name', name, ...sizeFlags(ctx.vm)], {
                signal: ctx.signal,
              });
              return r.seconds;
            } finally {
              await ctx.home.cli(['vm', 'delete', name]);
            }
          },
          baseline: () => ctx.raw.bootToMarker(ctx.vm, { signal: ctx.signal }),
        }),
      ];
    } finally {
      await removeTemplates(ctx);
    }
  },
};
