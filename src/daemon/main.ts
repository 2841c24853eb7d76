#!/usr/bin/env node
/**
 * `bangerd`: the daemon. Owns the RPC socket, the database, images, kernels and VMs.
 * Started in the background by the CLI (user mode) or by a service manager (system install).
 * Exits 0 at once when another daemon already serves the same runtime directory.
 */
import { createWriteStream } from 'node:fs';
import { promises as fs } from 'node:fs';
import { BangerError, createLogger, ensurePrivateDir, writeFileAtomic } from '../base/index.js';
import { loadConfig, resolveLayout } from '../config/index.js';
import { composeDaemon } from './compose.js';
import { acquireInstanceLock } from './single-instance.js';

async function main(): Promise<void> {
  process.umask(0o077);
  const layout = resolveLayout();
  // A system install's /etc/banger is root's (it holds the install record the helper trusts):
  // the daemon only reads it there.
  const own = [layout.stateDir, layout.cacheDir, layout.runtimeDir];
  for (const dir of layout.mode === 'system' ? own : [...own, layout.configDir]) {
    await ensurePrivateDir(dir);
  }
  try {
    await acquireInstanceLock(layout.runtimeDir, layout.daemonSocket);
  } catch (err) {
    if (err instanceof BangerError && err.code === 'conflict') {
      process.stderr.write(`bangerd: ${err.message}; exiting\n`);
      return;
    }
    throw err;
  }
  await writeFileAtomic(layout.daemonPidFile, `${String(process.pid)}\n`);
  const config = loadConfig(layout.configFile);
  const logStream = createWriteStream(layout.daemonLog, { flags: 'a', mode: 0o600 });
  const logger = createLogger((line) => logStream.write(line), config.logLevel, {
    pid: process.pid,
  });

  const daemon = await composeDaemon({ layout, config, logger });
  await daemon.start();
  logger.info('daemon listening', { socket: layout.daemonSocket });

  const shutdown = (signal: string): void => {
    logger.info('daemon stopping; VMs keep running', { signal });
    void daemon.stop().finally(async () => {
      await fs.rm(layout.daemonPidFile, { force: true });
      logStream.end(() => process.exit(0));
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('uncaughtException', (err) => {
    logger.error('uncaught exception', { error: err.message, stack: err.stack });
  });
  process.on('unhandledRejection', (reason) => {
    logger.error('unhandled rejection', { error: String(reason) });
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`bangerd: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
