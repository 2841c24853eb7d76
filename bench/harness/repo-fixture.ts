/**
 * The repository the `ship-repo` metric ships: 5,000 small text files in 50 directories and
 * one 50 MiB binary of random bytes, committed with git (the workspace issue's test repo).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError } from '../../src/base/index.js';
import type { ChildSet } from './children.js';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@banger.invalid',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@banger.invalid',
  GIT_CONFIG_GLOBAL: '/dev/null',
};

export async function makeShipRepo(children: ChildSet, dir: string): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  for (let d = 0; d < 50; d++) {
    const sub = path.join(dir, `dir-${String(d)}`);
    await fs.mkdir(sub, { recursive: true });
    await Promise.all(
      Array.from({ length: 100 }, (_, f) =>
        fs.writeFile(
          path.join(sub, `file-${String(f)}.txt`),
          `${String(d)}/${String(f)}\n`.repeat(1 + ((d * 100 + f) % 40)),
        ),
      ),
    );
  }
  await fs.writeFile(path.join(dir, 'blob.bin'), randomBytes(50 * 1024 * 1024));
  for (const argv of [
    ['init', '-q'],
    ['add', '-A'],
    ['commit', '-q', '-m', 'ship-repo fixture'],
  ]) {
    const r = await children.run('git', ['-C', dir, ...argv], { env: GIT_ENV });
    if (r.code !== 0)
      throw new BangerError('operation_failed', `git ${argv.join(' ')} failed: ${r.stderr}`);
  }
  return dir;
}
