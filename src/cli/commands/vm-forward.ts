import type { Command } from 'commander';
import { parseForwardSpec, type ForwardInfo, type VmForwardParams } from '../../protocol/index.js';
import type { CliContext } from '../context.js';

export function registerVmForward(vm: Command, ctx: CliContext): void {
  vm.command('forward')
    .summary('forward a host TCP port into a running VM (through the agent channel)')
    .argument('<vm>', 'VM name or id prefix')
    .argument('<spec>', '[HOST_ADDR:]HOST_PORT:GUEST_PORT (host address 127.0.0.1 by default)')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  banger vm forward dev 8080:80          # http://127.0.0.1:8080 reaches port 80 in dev\n' +
        '  banger vm forward dev 127.0.0.2:5432:5432\n' +
        '\nThe forward lasts until the VM stops; `banger vm ports dev` lists it.\n',
    )
    .action(async (ref: string, spec: string, flags: { json?: boolean }) => {
      const params: VmForwardParams = { ref, ...parseForwardSpec(spec) };
      const forward = await ctx.client.call<ForwardInfo>('vm.forward', params);
      if (flags.json) ctx.stdout.write(JSON.stringify(forward, null, 2) + '\n');
      else ctx.stdout.write(`${forward.endpoint} -> ${ref}:${String(forward.guestPort)}\n`);
    });
}
