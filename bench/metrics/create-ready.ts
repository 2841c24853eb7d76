/** `banger vm create` (returns once the agent is ready) vs the raw boot to the marker. */
import { compare } from '../harness/compare.js';
import { sizeFlags, type Metric } from './metric.js';

export const createReady: Metric = {
  name: 'create-ready',
  banger:
    'wall time of `banger vm create` until it returns (VM created and started, agent ready); the VM is deleted afterwards, untimed',
  baseline: 'the raw boot of run-true: QEMU by hand, same VM, to the marker and power-off',
  async run(ctx) {
    let n = 0;
    return [
      await compare(ctx, {
        name: 'create-ready',
        unit: 's',
        banger: async () => {
          const name = `bench-cr-${String(++n)}`;
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
  },
};
