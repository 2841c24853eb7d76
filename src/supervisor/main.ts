#!/usr/bin/env node
/**
 * `banger-supervisor` (root): runs a system install's services where systemd is not PID 1.
 * Started by `banger system install` and `banger system restart`; see index.ts.
 *
 * argv: --install-file PATH
 * signals: SIGHUP restarts both services (helper first); SIGTERM/SIGINT stops them and exits.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  BangerError,
  createLogger,
  ensurePrivateDir,
  makeDirs,
  readRootOwnedFile,
  run,
} from '../base/index.js';
import { installPaths, packageRoot, resolveLayout } from '../config/index.js';
import { checkRecordLocation, parseInstallRecord } from '../protocol/index.js';
import { serviceSpecs } from './service-specs.js';
import { Supervisor } from './supervisor.js';

async function ownerHome(owner: string): Promise<string> {
  const result = await run('getent', ['passwd', owner], { okCodes: [0, 2] });
  const home = result.stdout.toString('utf8').split(':')[5];
  return home !== undefined && path.isAbsolute(home) ? home : '/';
}

async function main(argv: readonly string[]): Promise<void> {
  process.umask(0o077);
  if (process.getuid?.() !== 0)
    throw new BangerError('precondition_failed', 'banger-supervisor must run as root');
  const i = argv.indexOf('--install-file');
  const file = i >= 0 ? argv[i + 1] : undefined;
  if (file === undefined || argv.length !== 2)
    throw new BangerError('bad_request', 'usage: banger-supervisor --install-file PATH');
  const record = checkRecordLocation(
    parseInstallRecord(
      await readRootOwnedFile(file, { maxBytes: 4096, what: 'the install record' }),
    ),
    file,
  );
  const paths = installPaths(record.root);
  const layout = resolveLayout({ mode: 'system', systemRoot: record.root, env: {} });
  await makeDirs(path.dirname(paths.logDir));
  await ensurePrivateDir(paths.logDir, { uid: 0 });
  await makeDirs(path.dirname(paths.supervisorDir));
  await ensurePrivateDir(paths.supervisorDir, { mode: 0o755, uid: 0 });
  const logger = createLogger((line) => process.stderr.write(line), 'info', {
    pid: process.pid,
    service: 'banger-supervisor',
  });
  const specs = serviceSpecs(record, {
    node: process.execPath,
    home: await ownerHome(record.owner),
    libDir: packageRoot(),
  });
  const supervisor = new Supervisor(specs, {
    stateFile: path.join(paths.supervisorDir, 'state.json'),
    logger,
    beforeStart: async (spec) => {
      // The daemon's runtime directory is the owner's, in root's /run: made here, as a unit's
      // RuntimeDirectory= would be, and refused if someone else owns it or it is a symlink.
      if (spec.name !== 'bangerd') return;
      await makeDirs(path.dirname(layout.runtimeDir));
      const created = await fs.mkdir(layout.runtimeDir, { mode: 0o700 }).then(
        () => true,
        (err: unknown) => {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
          throw err;
        },
      );
      if (created) await fs.chown(layout.runtimeDir, record.uid, record.gid);
      await ensurePrivateDir(layout.runtimeDir, { uid: record.uid });
    },
  });

  let queue = Promise.resolve();
  const serially = (what: () => Promise<void>): void => {
    queue = queue.then(what).catch((err: unknown) => {
      logger.error('supervisor step failed', { error: String(err) });
    });
  };
  process.on('SIGHUP', () => {
    logger.info('restarting the services (SIGHUP)');
    serially(() => supervisor.restartAll());
  });
  const stop = (signal: string): void => {
    logger.info('stopping the services; VMs keep running', { signal });
    serially(async () => {
      await supervisor.stopAll();
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  serially(() => supervisor.startAll());
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`banger-supervisor: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
