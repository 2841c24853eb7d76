/**
 * The daemon's view of config.toml: re-read when the file changes, so an edit applies to the
 * next command without a restart. A file that became invalid keeps the last good config and
 * the error is logged (the CLI validates the file itself before every call).
 */
import { statSync } from 'node:fs';
import type { Logger } from '../base/index.js';
import { loadConfig, type BangerConfig } from '../config/index.js';

export function configSource(
  file: string,
  initial: BangerConfig,
  logger: Logger,
): () => BangerConfig {
  let current = initial;
  let seen = mtimeOf(file);
  return () => {
    const mtime = mtimeOf(file);
    if (mtime === seen) return current;
    seen = mtime;
    try {
      current = loadConfig(file);
      logger.info('config reloaded', { file });
    } catch (err) {
      logger.warn('config file is invalid; keeping the previous settings', { error: String(err) });
    }
    return current;
  };
}

function mtimeOf(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
