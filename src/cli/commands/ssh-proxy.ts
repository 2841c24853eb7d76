/**
 * `banger __ssh-proxy NAME[.vm]` (hidden): the ProxyCommand of `vm ssh` and of banger's
 * ssh_config. Relays its stdin and stdout to the guest's sshd through the daemon, which
 * checks the guest's host key first. Errors go to stderr, where ssh shows them.
 */
import type { Command } from 'commander';
import { BangerError } from '../../base/index.js';
import { VM_NAME_PATTERN } from '../../protocol/index.js';
import type { CliContext } from '../context.js';

export function registerSshProxy(program: Command, ctx: CliContext): void {
  program
    .command('__ssh-proxy', { hidden: true })
    .argument('<host>', 'NAME or NAME.vm')
    .action(async (host: string) => {
      const name = host.toLowerCase().replace(/\.vm\.?$/, '');
      if (!VM_NAME_PATTERN.test(name)) {
        throw new BangerError(
          'bad_request',
          `${JSON.stringify(host)} is not NAME.vm for a VM name`,
        );
      }
      const handle = await ctx.client.start(
        'vm.ssh-proxy',
        { ref: name },
        {
          stdin: process.stdin,
          stdout: process.stdout,
        },
      );
      await handle.result;
    });
}
