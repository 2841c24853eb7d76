import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export function registerVmLogs(vm: Command, ctx: CliContext): void {
  vm.command('logs')
    .summary("print a VM's guest console log")
    .argument('<vm>', 'VM name or id prefix')
    .option('-f, --follow', 'keep printing new output until interrupted or the VM is deleted')
    .addHelpText('after', '\nExamples:\n  banger vm logs dev\n  banger vm logs -f dev\n')
    .action(async (ref: string, flags: { follow?: boolean }) => {
      const handle = await ctx.client.start(
        'vm.logs',
        { ref, follow: flags.follow ?? false },
        { stdout: ctx.stdout },
      );
      const stop = (): void => handle.cancel();
      process.once('SIGINT', stop);
      try {
        await handle.result;
      } catch (err) {
        // Ctrl-C while following is the normal way out.
        if ((err as { code?: string }).code !== 'canceled') throw err;
      } finally {
        process.off('SIGINT', stop);
      }
    });
}
