/** `banger image warm NAME`: save a warm template of an image (docs/warm-start.md). */
import type { Command } from 'commander';
import type { ImageWarmResult, SavedInfo } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { progressOptions } from '../context.js';
import { humanBytes } from '../render.js';
import { addVmSizeOptions } from '../vm-shape-options.js';

interface WarmFlags {
  vcpu?: number;
  memory?: number;
  diskSize?: number;
  disk: boolean;
  force?: boolean;
  remove?: boolean;
  json?: boolean;
}

export function registerImageWarm(image: Command, ctx: CliContext): void {
  addVmSizeOptions(
    image
      .command('warm')
      .summary('boot an image once and save it, so that VMs of its size start from there')
      .argument('<name>', 'image name'),
  )
    .option('--no-disk', 'a template without a work disk (for `vm run --rm` only)')
    .option('--force', 'build a new template even when a valid one exists')
    .option('--remove', "remove the image's templates instead")
    .option('--json', 'print the template as JSON')
    .addHelpText(
      'after',
      '\nA warm template serves `vm run` and `vm create` of the same image, vCPUs, memory and\n' +
        'work disk size (`vm run --rm` takes any work disk, or none). Defaults: config vm_defaults.\n' +
        '\nExamples:\n  banger image warm debian-bookworm\n' +
        '  banger image warm debian-bookworm --vcpu 2 --memory 1024\n' +
        '  banger image warm debian-bookworm --no-disk     # the lightest, for vm run --rm\n' +
        '  banger image warm debian-bookworm --remove\n',
    )
    .action(async (name: string, flags: WarmFlags) => {
      if (flags.remove) {
        const gone = await ctx.client.call<SavedInfo[]>('image.unwarm', { name });
        if (flags.json) ctx.stdout.write(JSON.stringify(gone, null, 2) + '\n');
        else ctx.stdout.write(`removed ${String(gone.length)} warm template(s) of ${name}\n`);
        return;
      }
      const params: Record<string, unknown> = { name };
      if (flags.vcpu !== undefined) params.vcpu = flags.vcpu;
      if (flags.memory !== undefined) params.memoryMib = flags.memory;
      if (flags.diskSize !== undefined) params.diskBytes = flags.diskSize;
      if (!flags.disk) params.noDisk = true;
      if (flags.force) params.force = true;
      const result = await ctx.client.call<ImageWarmResult>(
        'image.warm',
        params,
        progressOptions(ctx, { lines: true }),
      );
      ctx.progress.done();
      if (flags.json) {
        ctx.stdout.write(JSON.stringify(result, null, 2) + '\n');
        return;
      }
      const t = result.template;
      const shape = `${String(t.vcpu)} vCPU, ${String(t.memoryMib)} MiB, ${t.diskBytes > 0 ? `${humanBytes(t.diskBytes)} work disk` : 'no work disk'}`;
      ctx.stdout.write(
        `${result.built ? 'saved' : 'already warm:'} template ${t.id} of ${t.image} (${shape})\n`,
      );
    });
}
