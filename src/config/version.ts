import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from './layout.js';

/** banger's version, from package.json: one source of truth for the CLI, daemon and helper. */
export function bangerVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
