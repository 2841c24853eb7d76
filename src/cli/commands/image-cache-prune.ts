import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { humanBytes } from '../render.js';

interface PruneView {
  dryRun: boolean;
  blobs: number;
  freedBytes: number;
  dirs: string[];
}

/** `image cache prune`: the `cache` sub-noun is made here, with its one verb. */
export function registerImageCachePrune(image: Command, ctx: CliContext): void {
  const cache = image.command('cache').summary('manage the cache of downloaded layers and bundles');
  cache
    .command('prune')
    .summary('free cached blobs that no image needs')
    .description(
      'Remove cached OCI blobs that no image references, downloaded catalog bundles and\n' +
        'partial downloads nothing is resuming. Pulls in progress keep what they use.',
    )
    .option('--dry-run', 'only say what would be freed')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  banger image cache prune --dry-run\n')
    .action(async (flags: { dryRun?: boolean; json?: boolean }) => {
      const result = await ctx.client.call<PruneView>('image.cache.prune', {
        dryRun: flags.dryRun === true,
      });
      if (flags.json === true) {
        ctx.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return;
      }
      const verb = result.dryRun ? 'would free' : 'freed';
      ctx.stdout.write(
        `${verb} ${humanBytes(result.freedBytes)} across ${String(result.blobs)} blob(s) in ${result.dirs.join(', ')}\n`,
      );
    });
}
