/**
 * `banger vm ssh NAME [-- CMD]`: the system's OpenSSH client, with a ProxyCommand that carries
 * the connection through banger's agent channel (no route to the guest needed), banger's own
 * key and known_hosts. The daemon checks (or, on first use, pins) the guest's host key first,
 * so a changed key is refused with banger's own error naming the VM.
 */
import type { Command } from 'commander';
import { BangerError, spawnChild } from '../../base/index.js';
import type { SshPrepareResult } from '../../protocol/index.js';
import type { CliContext } from '../context.js';
import { exitForSignal } from '../exit-codes.js';
import { sshArgv, type CliInvocation } from '../ssh-command.js';

/** This CLI as a program ssh can run (ProxyCommand). */
export function thisCli(): CliInvocation {
  return { node: process.execPath, script: process.argv[1] ?? '' };
}

export function registerVmSsh(vm: Command, ctx: CliContext): void {
  vm.command('ssh')
    .summary('open an SSH session to a VM (OpenSSH through the agent channel; no route needed)')
    .usage('<vm> [-- <command> [args...]]')
    .argument('<vm>', 'VM name or id prefix')
    .addHelpText(
      'after',
      '\nExamples:\n  banger vm ssh dev\n  banger vm ssh dev -- uname -a\n' +
        '\nThe first connection pins the guest`s host key in banger`s known_hosts; a changed key is refused.\n' +
        'For `ssh dev.vm` from any terminal, see `banger ssh-config --install`.\n',
    )
    .action(async (ref: string) => {
      const target = await ctx.client.call<SshPrepareResult>('vm.ssh-prepare', { ref });
      const argv = sshArgv({
        vm: target.vm,
        hostKeyAlias: target.hostKeyAlias,
        files: { identityFile: target.identityFile, knownHostsFile: target.knownHostsFile },
        cli: thisCli(),
        remote: ctx.guestArgv ?? [],
      });
      ctx.exitCode = await runSsh(argv);
    });
}

/** Runs ssh on this terminal and returns the status to exit with (ssh's own). */
function runSsh(argv: string[]): Promise<number> {
  // ssh owns the terminal: ^C and friends are for it (and the remote side), not for us.
  const ignored: NodeJS.Signals[] = ['SIGINT', 'SIGQUIT', 'SIGTSTP'];
  const ignore = (): void => undefined;
  for (const signal of ignored) process.on(signal, ignore);
  return new Promise<number>((resolve, reject) => {
    const child = spawnChild('ssh', argv, { stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    const passed: [NodeJS.Signals, () => void][] = (['SIGTERM', 'SIGHUP'] as const).map((s) => [
      s,
      forward(s),
    ]);
    for (const [signal, listener] of passed) process.on(signal, listener);
    const cleanup = (): void => {
      for (const signal of ignored) process.off(signal, ignore);
      for (const [signal, listener] of passed) process.off(signal, listener);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      cleanup();
      reject(
        err.code === 'ENOENT'
          ? new BangerError('precondition_failed', 'ssh (the OpenSSH client) is not installed', {
              hint: 'install it (Debian: apt-get install openssh-client), or use `banger vm exec`',
            })
          : new BangerError('operation_failed', `could not start ssh: ${err.message}`),
      );
    });
    child.once('exit', (code, signal) => {
      cleanup();
      resolve(signal ? exitForSignal(signal) : (code ?? 255));
    });
  });
}
