/**
 * `banger vm run --rm -- true` started from a warm template (docs/warm-start.md) vs the cold
 * raw boot of the same VM. The template is made first, untimed, and removed afterwards so
 * that the other metrics boot cold.
 */
import { compare } from '../harness/compare.js';
import { IMAGE } from '../harness/provision.js';
import { sizeFlags, type BenchContext, type Metric } from './metric.js';

/** Saves a warm template of the bench image at the bench's VM size (untimed). */
export async function warmTemplate(ctx: BenchContext, options: { disk: boolean }): Promise<void> {
  ctx.log(`warming ${IMAGE} (${options.disk ? 'with' : 'without'} a work disk)`);
  await ctx.home.ok(
    ['image', 'warm', IMAGE, ...sizeFlags(ctx.vm), ...(options.disk ? [] : ['--no-disk'])],
    { signal: ctx.signal, timeoutMs: 600_000 },
  );
}

export async function removeTemplates(ctx: BenchContext): Promise<void> {
  await ctx.home.cli(['image', 'warm', IMAGE, '--remove']);
}

export const runTrueWarm: Metric = {
  name: 'run-true-warm',
  banger:
    'wall time of `banger vm run --rm -- true` restored from a warm template of the image (made once, untimed): CLI, RPC, disk copy, restore, new identity, exec, teardown',
  baseline: 'the raw boot of run-true: QEMU by hand, same VM, to the marker and power-off',
  async run(ctx) {
    await warmTemplate(ctx, { disk: false });
    try {
      return [
        await compare(ctx, {
          name: 'run-true-warm',
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
    } finally {
      await removeTemplates(ctx);
    }
  },
};
