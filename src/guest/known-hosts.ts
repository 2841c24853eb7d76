/**
 * banger's own known_hosts file: each guest's SSH host key pinned the first time banger sees
 * it, as `<name>.vm TYPE BASE64` lines that OpenSSH reads with UserKnownHostsFile. A key that
 * differs from the pinned one is refused with an error naming the VM; entries go when the VM
 * is deleted. Writes are atomic (temp file + rename, 0600) and serialised.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import { BangerError, writeFileAtomic } from '../base/index.js';
import { sameKey, sshFingerprint, type SshPublicKey } from './ssh-public-key.js';

export interface HostKeyCheck {
  /** 'pinned': first use, recorded now; 'known': it matched the pinned key. */
  status: 'pinned' | 'known';
  fingerprint: string;
}

const ALIAS = /^[a-z0-9][a-z0-9.-]{0,253}$/;

export class KnownHosts {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  /**
   * Pins `key` for `alias` on first use, accepts it when it matches, and refuses a different
   * key with 'conflict' naming `vmName` and both fingerprints.
   */
  check(options: { alias: string; vmName: string; key: SshPublicKey }): Promise<HostKeyCheck> {
    return this.serial(async () => {
      const { alias, vmName, key } = options;
      checkAlias(alias);
      const lines = await this.readLines();
      const pinned = lines
        .map(parseLine)
        .filter((e) => e?.alias === alias && e.key.type === key.type);
      const fingerprint = sshFingerprint(key);
      if (pinned.length === 0) {
        lines.push(`${alias} ${key.type} ${key.blob}`);
        await this.writeLines(lines);
        return { status: 'pinned', fingerprint };
      }
      if (pinned.some((e) => e && sameKey(e.key, key))) return { status: 'known', fingerprint };
      const old = pinned[0] ? sshFingerprint(pinned[0].key) : 'unknown';
      throw new BangerError(
        'conflict',
        `the SSH host key of VM ${vmName} changed: banger pinned ${old} the first time it connected, the guest now has ${fingerprint}; refusing to connect`,
        {
          hint: `if you changed the guest's host key on purpose, forget the old one: ssh-keygen -R ${alias} -f ${this.file}`,
          details: { vm: vmName, pinned: old, presented: fingerprint },
        },
      );
    });
  }

  /**
   * Pins `key` for `alias` whatever was pinned before: for a key banger itself made and gave
   * the guest (a VM restored from a saved state gets a fresh host key), not for one read
   * from a guest.
   */
  pin(options: { alias: string; key: SshPublicKey }): Promise<void> {
    return this.serial(async () => {
      checkAlias(options.alias);
      const lines = (await this.readLines()).filter(
        (line) => parseLine(line)?.alias !== options.alias,
      );
      lines.push(`${options.alias} ${options.key.type} ${options.key.blob}`);
      await this.writeLines(lines);
    });
  }

  /** Removes every entry for `alias`; true when there was one. */
  remove(alias: string): Promise<boolean> {
    return this.serial(async () => {
      checkAlias(alias);
      const lines = await this.readLines();
      const kept = lines.filter((line) => parseLine(line)?.alias !== alias);
      if (kept.length === lines.length) return false;
      await this.writeLines(kept);
      return true;
    });
  }

  /** Keys pinned for `alias`. */
  async lookup(alias: string): Promise<SshPublicKey[]> {
    const lines = await this.readLines();
    return lines.flatMap((line) => {
      const entry = parseLine(line);
      return entry?.alias === alias ? [entry.key] : [];
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async readLines(): Promise<string[]> {
    try {
      const handle = await fs.open(this.file, fsc.O_RDONLY | fsc.O_NOFOLLOW);
      try {
        return (await handle.readFile('utf8')).split('\n').filter((l) => l.trim() !== '');
      } finally {
        await handle.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  private async writeLines(lines: string[]): Promise<void> {
    await writeFileAtomic(this.file, lines.length ? `${lines.join('\n')}\n` : '', 0o600);
  }
}

function checkAlias(alias: string): void {
  if (!ALIAS.test(alias)) {
    throw new BangerError(
      'bad_request',
      `host key alias ${JSON.stringify(alias)} is not a host name`,
    );
  }
}

/** `ALIAS TYPE BLOB`; anything else (comments, hashed or marked entries) is kept untouched. */
function parseLine(line: string): { alias: string; key: SshPublicKey } | undefined {
  const [alias, type, blob] = line.trim().split(/\s+/);
  if (!alias || !type || !blob || alias.startsWith('#') || alias.startsWith('@')) return undefined;
  return { alias, key: { type, blob } };
}
