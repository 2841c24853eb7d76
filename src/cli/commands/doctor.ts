import type { Command } from 'commander';
import type { CheckResult } from '../../protocol/index.js';
import { bangerVersion } from '../../config/index.js';
import type { CliContext } from '../context.js';

export function registerDoctor(program: Command, ctx: CliContext): void {
  program
    .command('doctor')
    .summary('check that this host can run banger (exit 1 only when a check fails)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  banger doctor\n')
    .action(async (flags: { json?: boolean }) => {
      const checks = [
        await versionDrift(ctx),
        ...(await ctx.client.call<CheckResult[]>('doctor', {})),
      ];
      if (flags.json) {
        ctx.stdout.write(JSON.stringify(checks, null, 2) + '\n');
      } else {
        const color = ctx.stdout.isTTY && !process.env.NO_COLOR;
        const paint = (status: CheckResult['status']): string => {
          const label = status.toUpperCase().padEnd(4);
          if (!color) return label;
          const code = status === 'pass' ? 32 : status === 'warn' ? 33 : 31;
          return `\x1b[${String(code)}m${label}\x1b[0m`;
        };
        const width = Math.max(...checks.map((c) => c.name.length));
        for (const check of checks) {
          ctx.stdout.write(
            `${paint(check.status)}  ${check.name.padEnd(width)}  ${check.detail}\n`,
          );
          if (check.hint && check.status !== 'pass')
            ctx.stdout.write(`      ${' '.repeat(width)}  hint: ${check.hint}\n`);
        }
      }
      if (checks.some((c) => c.status === 'fail')) ctx.exitCode = 1;
    });
}

/** The CLI against the daemon it talks to (a system install's services, or the user daemon). */
async function versionDrift(ctx: CliContext): Promise<CheckResult> {
  const cli = bangerVersion();
  const daemon = await ctx.client.call<{ version: string }>('daemon.status', {});
  const same = daemon.version === cli;
  return {
    name: 'cli version',
    status: same ? 'pass' : 'warn',
    detail: `banger ${cli}, bangerd ${daemon.version}${ctx.layout.mode === 'system' ? ' (system install)' : ''}`,
    ...(same
      ? {}
      : {
          hint:
            ctx.layout.mode === 'system'
              ? 'restart the services on the installed build: sudo banger system restart (or install this build: sudo banger system install)'
              : 'restart the daemon on this build: banger daemon stop',
        }),
  };
}
