/**
 * The two services of a system install as commands, from the install record: the same users,
 * environment and arguments the systemd units give them (cli/system/units.ts). Pure.
 */
import path from 'node:path';
import { entryPoints, installPaths, resolveLayout } from '../config/index.js';
import type { InstallRecord } from '../protocol/index.js';

export interface ServiceSpec {
  name: 'bangerd-root' | 'bangerd';
  file: string;
  argv: string[];
  env: Record<string, string>;
  /** Appended with the service's stdout and stderr (root's log directory). */
  logFile: string;
  /** The socket that answers once the service is up. */
  socket: string;
}

export const SERVICE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Runs a command as `owner`: its uid, gid and groups; no capabilities, none to gain. */
export function asOwner(owner: Pick<InstallRecord, 'uid' | 'gid'>, setpriv = 'setpriv'): string[] {
  return [
    setpriv,
    `--reuid=${String(owner.uid)}`,
    `--regid=${String(owner.gid)}`,
    '--init-groups',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--no-new-privs',
    '--',
  ];
}

export function serviceSpecs(
  record: InstallRecord,
  options: { node: string; home: string; libDir?: string },
): ServiceSpec[] {
  const paths = installPaths(record.root);
  const entry = entryPoints(options.libDir ?? paths.libDir);
  const layout = resolveLayout({ mode: 'system', systemRoot: record.root, env: {} });
  const daemon = [...asOwner(record), options.node, entry.daemon];
  return [
    {
      name: 'bangerd-root',
      file: options.node,
      argv: [entry.helper, '--install-file', paths.installFile],
      env: { PATH: SERVICE_PATH, LANG: 'C.UTF-8' },
      logFile: path.join(paths.logDir, 'bangerd-root.log'),
      socket: layout.helperSocket,
    },
    {
      name: 'bangerd',
      file: daemon[0] ?? 'setpriv',
      argv: daemon.slice(1),
      env: {
        PATH: SERVICE_PATH,
        LANG: 'C.UTF-8',
        HOME: options.home,
        USER: record.owner,
        LOGNAME: record.owner,
        BANGER_MODE: 'system',
        ...(record.root === '/' ? {} : { BANGER_SYSTEM_ROOT: record.root }),
      },
      logFile: path.join(paths.logDir, 'bangerd.log'),
      socket: layout.daemonSocket,
    },
  ];
}
