/**
 * The install's SSH key: one ed25519 key pair per banger install, made with the system's
 * ssh-keygen the first time it is needed and never replaced. It lives in banger's own private
 * directory (0700, key 0600); a user's own keys (~/.ssh) are never read or written.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BangerError, ensurePrivateDir, run } from '../base/index.js';
import { parseSshPublicKey, type SshPublicKey } from './ssh-public-key.js';

export interface InstallKey {
  privateKeyFile: string;
  publicKeyFile: string;
  publicKey: SshPublicKey;
}

/**
 * Returns the install key at `keyFile`, generating it first when there is none. An existing
 * key is kept as it is (only its permissions are tightened to what ssh demands); a missing
 * .pub is derived from it. Fails with 'precondition_failed' when ssh-keygen is missing.
 */
export async function ensureInstallKey(options: {
  keyFile: string;
  signal?: AbortSignal | undefined;
}): Promise<InstallKey> {
  const { keyFile } = options;
  const publicKeyFile = `${keyFile}.pub`;
  await ensurePrivateDir(path.dirname(keyFile));
  const runOptions = options.signal
    ? { signal: options.signal, timeoutMs: 30_000 }
    : { timeoutMs: 30_000 };
  const st = await fs.lstat(keyFile).catch(() => undefined);
  if (!st) {
    await run(
      'ssh-keygen',
      ['-q', '-t', 'ed25519', '-N', '', '-C', `banger@${os.hostname()}`, '-f', keyFile],
      runOptions,
    ).catch((err: unknown) => {
      if (err instanceof BangerError && err.code === 'precondition_failed') {
        throw new BangerError(
          'precondition_failed',
          'ssh-keygen is not installed: banger needs it to make its SSH key',
          {
            hint: 'install OpenSSH (Debian: apt-get install openssh-client)',
            cause: err,
          },
        );
      }
      throw err;
    });
  } else {
    if (!st.isFile()) {
      throw new BangerError(
        'precondition_failed',
        `refusing ${keyFile}: it is not a regular file`,
        {
          hint: `remove it; banger makes a new key the next time it needs one`,
        },
      );
    }
    // ssh refuses a private key others can read.
    if ((st.mode & 0o077) !== 0) await fs.chmod(keyFile, 0o600);
  }
  let publicText = await readNoFollow(publicKeyFile);
  if (publicText === undefined) {
    const derived = await run('ssh-keygen', ['-y', '-f', keyFile], runOptions);
    publicText = derived.stdout.toString('utf8');
    await fs
      .writeFile(publicKeyFile, publicText, { mode: 0o644, flag: 'wx' })
      .catch(() => undefined);
  }
  return {
    privateKeyFile: keyFile,
    publicKeyFile,
    publicKey: parseSshPublicKey(publicText, `banger's public key ${publicKeyFile}`),
  };
}

async function readNoFollow(file: string): Promise<string | undefined> {
  try {
    const handle = await fs.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    try {
      return await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
