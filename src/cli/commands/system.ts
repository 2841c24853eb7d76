import type { Command } from 'commander';
import { BangerError } from '../../base/index.js';
import { bangerVersion, installPaths, packageRoot, systemRootFrom } from '../../config/index.js';
import type { CliContext } from '../context.js';
import { EXIT_FOR_CODE } from '../exit-codes.js';
import { readInstall, systemInstall } from '../system/install.js';
import {
  restartServices,
  serviceManager,
  serviceStatus,
  supervisorState,
} from '../system/services.js';
import { requireRoot, checkRoot } from '../system/install.js';
import { systemUninstall } from '../system/uninstall.js';

interface RootFlag {
  root?: string;
}

function rootOf(flags: RootFlag): string {
  return checkRoot(flags.root ?? systemRootFrom(process.env));
}

const ROOT_HELP = 'prefix of every system path (default "/"; for tests and packaging)';

/** `banger system ...`: the system install (bangerd as the owner, bangerd-root as root). */
export function registerSystem(program: Command, ctx: CliContext): void {
  const system = program
    .command('system')
    .summary('install banger as system services (bangerd as a user, bangerd-root as root)');
  const log = (line: string): void => {
    ctx.stderr.write(`banger: ${line}\n`);
  };

  system
    .command('install')
    .summary('install this build as system services owned by USER (as root)')
    .requiredOption('--owner <user>', 'the unprivileged user the daemon runs as')
    .option('--root <dir>', ROOT_HELP)
    .option('--no-start', 'write everything but do not start the services')
    .addHelpText('after', '\nExamples:\n  sudo banger system install --owner alice\n')
    .action(async (flags: RootFlag & { owner: string; start: boolean }) => {
      const result = await systemInstall({
        owner: flags.owner,
        root: rootOf(flags),
        source: packageRoot(),
        start: flags.start,
        log,
      });
      ctx.stdout.write(
        `installed banger ${result.record.version} for ${result.record.owner}` +
          (result.manager === undefined
            ? ' (services not started)\n'
            : `; bangerd and bangerd-root run (${result.manager})\n`),
      );
    });

  system
    .command('status')
    .summary('show the system install and whether its services run')
    .option('--root <dir>', ROOT_HELP)
    .option('--json', 'print JSON')
    .action(async (flags: RootFlag & { json?: boolean }) => {
      const root = rootOf(flags);
      const record = await readInstall(root);
      if (record === undefined) {
        throw new BangerError(
          'not_found',
          `banger is not installed as a system service under ${root}`,
          {
            hint: 'sudo banger system install --owner USER',
          },
        );
      }
      const manager = serviceManager(root);
      const supervisor =
        manager === 'supervisor' ? await supervisorState(installPaths(root)) : undefined;
      const services = await serviceStatus(record);
      const cli = bangerVersion();
      const versions = new Set([
        cli,
        record.version,
        ...services.flatMap((s) => (s.version ? [s.version] : [])),
      ]);
      const status = {
        install: record,
        manager,
        ...(supervisor ? { supervisorPid: supervisor.pid } : {}),
        cliVersion: cli,
        versionDrift: versions.size > 1,
        services,
      };
      if (services.some((s) => !s.running)) ctx.exitCode = EXIT_FOR_CODE.unavailable;
      if (flags.json) {
        ctx.stdout.write(JSON.stringify(status, null, 2) + '\n');
        return;
      }
      const lines = [
        `install:      banger ${record.version} for ${record.owner} (uid ${String(record.uid)}, gid ${String(record.gid)}), ${record.installedAt}${root === '/' ? '' : `, root ${root}`}`,
        `manager:      ${manager}${supervisor ? ` (banger-supervisor pid ${String(supervisor.pid)})` : ''}`,
        ...services.map(
          (s) =>
            `${`${s.name}:`.padEnd(14)}${s.running ? `running, pid ${String(s.pid)}, version ${s.version ?? '?'}` : `not answering (${s.error ?? 'down'})`}`,
        ),
        `cli:          ${cli}${status.versionDrift ? '  (version drift: restart the services on the installed build)' : ''}`,
      ];
      ctx.stdout.write(lines.join('\n') + '\n');
    });

  system
    .command('restart')
    .summary('restart bangerd-root and bangerd (running VMs keep running) (as root)')
    .option('--root <dir>', ROOT_HELP)
    .action(async (flags: RootFlag) => {
      requireRoot('banger system restart');
      const root = rootOf(flags);
      const record = await readInstall(root);
      if (record === undefined)
        throw new BangerError(
          'not_found',
          `banger is not installed as a system service under ${root}`,
        );
      const manager = await restartServices(record);
      ctx.stdout.write(`restarted bangerd-root and bangerd (${manager})\n`);
    });

  system
    .command('uninstall')
    .summary('remove the system install (--purge: and every VM, image, kernel and state) (as root)')
    .option('--root <dir>', ROOT_HELP)
    .option('--purge', 'also delete every VM and remove all state, caches and logs')
    .action(async (flags: RootFlag & { purge?: boolean }) => {
      await systemUninstall({ root: rootOf(flags), purge: flags.purge === true, log });
      ctx.stdout.write(
        flags.purge ? 'uninstalled banger and removed its state\n' : 'uninstalled banger\n',
      );
    });
}
