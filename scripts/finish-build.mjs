// After tsc: make the entry points executable so `banger` works from a symlink on PATH.
import { chmodSync, existsSync } from 'node:fs';

for (const entry of [
  'dist/src/cli/main.js',
  'dist/src/cli/banger.mjs',
  'dist/src/daemon/main.js',
  'dist/src/helper/main.js',
  'dist/src/supervisor/main.js',
]) {
  if (existsSync(entry)) chmodSync(entry, 0o755);
}
