/** `banger vm run --rm -- true` end to end vs the raw boot of the same VM to the marker. */
import { compare } from '../harness/compare.js';
import { sizeFlags, type Metric } from './metric.js';

export const runTrue: Metric = {
  name: 'run-true',
  banger:
    'wall time of `banger vm run --rm -- true` (the real CLI: RPC, overlay, boot, agent ready, exec, teardown)',
  baseline:
    'QEMU started by hand, same VM, booted to banger-marker-init printing its marker and powering off, until QEMU exits',
  async run(ctx) {
    return [
      await compare(ctx, {
        name: 'run-true',
        unit: 's',
        banger: async () => {
          const r = await ctx.home.ok(['vm', 'run', '--rm', ...sizeFlags(ctx.vm), '--', 'true'], {
            signal: ctx.signal,
          });
          return r.seconds;
        },
        baseline: () => ctx.raw.bootToMarker(ctx.vm, { signal: ctx.signal }),
      }),
    ];
  },
};
