/**
 * The system-install paths bangerd-root needs, from the install's root prefix. They mirror
 * config/layout.ts (system mode), which the helper may not import; a unit test keeps the two
 * in step.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface HelperPaths {
  stateDir: string;
  cacheDir: string;
  runtimeDir: string;
  /** Root-owned 0711 directory of the helper's socket. */
  helperDir: string;
  socket: string;
}

export function helperPaths(root: string): HelperPaths {
  const at = (relative: string): string => path.join(root, relative);
  return {
    stateDir: at('var/lib/banger'),
    cacheDir: at('var/cache/banger'),
    runtimeDir: at('run/banger'),
    helperDir: at('run/bangerd-root'),
    socket: at('run/bangerd-root/bangerd-root.sock'),
  };
}

/** The build's root (dist/src/helper -> three up; src/helper when run from source -> two up). */
export function buildRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const up = here.includes(`${path.sep}dist${path.sep}`) ? ['..', '..', '..'] : ['..', '..'];
  return path.resolve(here, ...up);
}

/** banger-peercred, built by `make -C src/helper` next to the guest programs. */
export function defaultPeercredBinary(): string {
  return path.join(buildRoot(), 'build', 'helper', 'banger-peercred');
}

/** banger-tapfd: opens a VM's taps as root and execs the VMM with them as fds. */
export function defaultTapfdBinary(): string {
  return path.join(buildRoot(), 'build', 'helper', 'banger-tapfd');
}

/** The DNS relay program the network operations start (the same URL network/ resolves). */
export function relayScriptPath(): string {
  return fileURLToPath(new URL('../network/dns-relay-main.js', import.meta.url));
}

/** The version of the build that runs (its package.json), for doctor's drift row. */
export function runningVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(buildRoot(), 'package.json'), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
