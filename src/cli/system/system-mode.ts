/**
 * Which daemon the CLI talks to. BANGER_MODE=user|system decides when set; otherwise a system
 * install (its record exists) means system mode: /run/banger/bangerd.sock, never a user
 * daemon started on the side.
 */
import { existsSync } from 'node:fs';
import { installPaths, systemRootFrom, type InstallMode } from '../../config/index.js';

export function cliMode(env: NodeJS.ProcessEnv): InstallMode {
  if (env.BANGER_MODE === 'user' || env.BANGER_MODE === 'system') return env.BANGER_MODE;
  return existsSync(installPaths(systemRootFrom(env)).installFile) ? 'system' : 'user';
}
