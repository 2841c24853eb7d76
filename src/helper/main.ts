#!/usr/bin/env node
/**
 * `bangerd-root`: banger's root helper. Serves a closed table of typed operations (op-table.ts)
 * on a unix socket that only the install's owner can reach (0600, the owner's, in a root 0711
 * directory), checks every connection's peer credentials (root or the owner's uid, from the
 * root-owned install record), and answers one request per connection.
 *
 * argv: [--install-file PATH] [--peercred PATH]
 *   --install-file  the install record (default /etc/banger/install.toml)
 *   --peercred      the banger-peercred binary (default: build/helper/ of this build)
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError, createLogger, ensurePrivateDir, makeDirs } from '../base/index.js';
import { RpcServer } from '../ipc/index.js';
import { createInProcessNetworkOps, netnsNameFor } from '../network/index.js';
import { readInstallFile } from './install-file.js';
import { createOpTable, dispatcher, type HelperContext } from './op-table.js';
import { openOwnerFile, type OwnerTree } from './owner-files.js';
import {
  defaultPeercredBinary,
  defaultTapfdBinary,
  helperPaths,
  relayScriptPath,
  runningVersion,
} from './helper-paths.js';
import { peerGate } from './peer-cred.js';
import { hostTscKhz } from './tsc.js';

function option(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const value = argv[i + 1];
  if (value === undefined || value.startsWith('--'))
    throw new BangerError('bad_request', `${name} needs a value`);
  return value;
}

async function main(argv: readonly string[]): Promise<void> {
  process.umask(0o077);
  for (const arg of argv) {
    if (arg.startsWith('--') && arg !== '--install-file' && arg !== '--peercred')
      throw new BangerError('bad_request', `unknown option ${arg}`);
  }
  if (process.getuid?.() !== 0)
    throw new BangerError('precondition_failed', 'bangerd-root must run as root');
  const record = await readInstallFile(
    option(argv, '--install-file') ?? '/etc/banger/install.toml',
  );
  const paths = helperPaths(record.root);
  const logger = createLogger((line) => process.stderr.write(line), 'info', {
    pid: process.pid,
    service: 'bangerd-root',
  });

  // The owner's directories must be named canonically: the symlink checks compare the
  // kernel's name for an opened directory with the path, component for component.
  const roots = [paths.stateDir, paths.cacheDir, paths.runtimeDir];
  for (const root of roots) {
    const real = await fs.realpath(root).catch(() => root);
    if (real !== root)
      throw new BangerError(
        'precondition_failed',
        `${root} is reached through a symlink (${real})`,
      );
  }
  const tree: OwnerTree = { roots, uid: record.uid, gid: record.gid };
  const netns = netnsNameFor(paths.stateDir);
  const relayScript = relayScriptPath();
  const ctx: HelperContext = {
    hello: {
      version: runningVersion(),
      installedVersion: record.version,
      pid: process.pid,
      owner: record.owner,
      ownerUid: record.uid,
      ownerGid: record.gid,
    },
    tree,
    netns,
    relayScript,
    network: createInProcessNetworkOps({
      roots,
      tapOwnerUid: record.uid,
      relayUser: { uid: record.uid, gid: record.gid },
      openLog: (file, mode) => openOwnerFile(tree, { file, field: 'logPath', mode }),
    }),
    vmm: {
      tree,
      netns,
      binaries: {
        ip: 'ip',
        setpriv: 'setpriv',
        qemu: 'qemu-system-x86_64',
        firecracker: 'firecracker',
        tapfd: defaultTapfdBinary(),
      },
      tscKhz: hostTscKhz,
    },
  };
  const dispatch = dispatcher(createOpTable(ctx));

  // Root's own directory: 0711 lets the owner reach the socket by name, not list or add to it.
  await makeDirs(path.dirname(paths.helperDir));
  await ensurePrivateDir(paths.helperDir, { mode: 0o711, uid: 0 });
  const server = new RpcServer({
    socketPath: paths.socket,
    logger,
    mode: 0o600,
    authorize: peerGate({
      ownerUid: record.uid,
      peercredBinary: option(argv, '--peercred') ?? defaultPeercredBinary(),
    }),
    handler: async (call) => {
      // Refusals and failures are logged by the server with their code and message.
      const started = Date.now();
      const result = await dispatch(call.method, call.params);
      logger.info('op done', { op: call.method, ms: Date.now() - started });
      return result;
    },
  });
  await server.listen();
  await fs.chown(paths.socket, record.uid, record.gid);
  logger.info('bangerd-root listening', {
    socket: paths.socket,
    owner: record.owner,
    uid: record.uid,
    version: record.version,
  });

  const stop = (signal: string): void => {
    logger.info('bangerd-root stopping; VMs keep running', { signal });
    void server.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`bangerd-root: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
