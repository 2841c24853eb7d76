import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { progressOptions } from '../context.js';
import { parseIntOption } from '../parse-options.js';
import { printKernel, type KernelView } from './kernel-view.js';

export function registerKernelBuild(kernel: Command, ctx: CliContext): void {
  kernel
    .command('build')
    .summary('build a Firecracker-compatible kernel from source')
    .description(
      "Build a vmlinux from Debian's linux-source-6.1 with Firecracker's guest config: virtio,\n" +
        'ext4 and vsock built in, no initramfs. It boots under Firecracker and QEMU alike.\n' +
        'Takes about 9 minutes on 2 cores (seconds when this machine built it before) and\n' +
        'needs: build-essential bison flex bc dwarves libelf-dev libssl-dev.',
    )
    .argument('<name>', 'name to store it under')
    .option(
      '-j, --jobs <n>',
      'parallel compile jobs (default: one per CPU)',
      parseIntOption('--jobs', 1, 256),
    )
    .addHelpText('after', '\nExamples:\n  banger kernel build firecracker-6.1\n')
    .action(async (name: string, flags: { jobs?: number }) => {
      const info = await ctx.client.call<KernelView>(
        'kernel.build',
        flags.jobs === undefined ? { name } : { name, jobs: flags.jobs },
        progressOptions(ctx, { lines: true }),
      );
      ctx.progress.done();
      printKernel(ctx, info);
    });
}
