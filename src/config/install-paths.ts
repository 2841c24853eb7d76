/**
 * The files of a system install (`banger system install`), beside the service directories
 * that layout.ts names. Every path sits under the install's root prefix ("/" normally).
 */
import path from 'node:path';

export interface InstallPaths {
  root: string;
  /** The installed build: dist/, build/guest, build/helper, package.json, node_modules. */
  libDir: string;
  /** `banger` on PATH: a symlink to libDir's CLI entry point. */
  binLink: string;
  /** The root-owned record of the install (owner, uid, gid, version, time). */
  installFile: string;
  /** Where the unit files are written (and enabled from, when systemd is PID 1). */
  unitDir: string;
  /** Service output when no systemd journal takes it (root, 0700). */
  logDir: string;
  /** The supervisor's pid file and state (root, 0755): hosts without systemd as PID 1. */
  supervisorDir: string;
}

export const UNIT_NAMES = { daemon: 'bangerd.service', helper: 'bangerd-root.service' } as const;

export function installPaths(root: string): InstallPaths {
  const at = (relative: string): string => path.join(root, relative);
  return {
    root,
    libDir: at('usr/local/lib/banger'),
    binLink: at('usr/local/bin/banger'),
    installFile: at('etc/banger/install.toml'),
    unitDir: at('etc/systemd/system'),
    logDir: at('var/log/banger'),
    supervisorDir: at('run/banger-supervisor'),
  };
}

/** Entry points inside an installed (or built) tree. */
export function entryPoints(libDir: string): {
  cli: string;
  daemon: string;
  helper: string;
  supervisor: string;
} {
  const at = (relative: string): string => path.join(libDir, 'dist', 'src', relative);
  return {
    cli: at('cli/banger.mjs'),
    daemon: at('daemon/main.js'),
    helper: at('helper/main.js'),
    supervisor: at('supervisor/main.js'),
  };
}
