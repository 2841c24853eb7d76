import type { Command } from 'commander';
import { connectUnix, startCall } from '../../ipc/index.js';
import type { CliContext } from '../context.js';

interface DaemonStatus {
  pid: number;
  version: string;
  startedAt: string;
  socket: string;
  log: string;
  stateDir: string;
}

/** `daemon status` and `daemon stop` never start a daemon: they ask the one that runs, if any. */
export function registerDaemon(program: Command, ctx: CliContext): void {
  const daemon = program.command('daemon').summary('the background daemon (started on demand)');
  daemon
    .command('status')
    .summary('show whether the daemon runs, its pid, socket and log')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  banger daemon status\n')
    .action(async (flags: { json?: boolean }) => {
      const status = await askRunningDaemon<DaemonStatus>(ctx, 'daemon.status');
      if (flags.json) {
        ctx.stdout.write(JSON.stringify(status ?? { running: false }, null, 2) + '\n');
      } else if (!status) {
        ctx.stdout.write(`not running (socket ${ctx.layout.daemonSocket})\n`);
      } else {
        ctx.stdout.write(
          `running: pid ${String(status.pid)}, version ${status.version}, since ${status.startedAt}\n` +
            `socket:  ${status.socket}\nlog:     ${status.log}\nstate:   ${status.stateDir}\n`,
        );
      }
    });
  daemon
    .command('stop')
    .summary('stop the daemon (running VMs keep running and are adopted by the next one)')
    .addHelpText('after', '\nExamples:\n  banger daemon stop\n')
    .action(async () => {
      const stopped = await askRunningDaemon<{ pid: number }>(ctx, 'daemon.stop');
      ctx.stdout.write(
        stopped
          ? `stopped the daemon (pid ${String(stopped.pid)})\n`
          : 'the daemon was not running\n',
      );
    });
}

async function askRunningDaemon<T>(ctx: CliContext, method: string): Promise<T | undefined> {
  let socket;
  try {
    socket = await connectUnix(ctx.layout.daemonSocket);
  } catch {
    return undefined;
  }
  return startCall<T>(socket, { method, params: {} }).result;
}
