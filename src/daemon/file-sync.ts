/**
 * `[[file_sync]]`: after each boot, the configured host files and directories are copied
 * into the guest's home in one tar stream over the agent channel. A host path that is
 * missing or unreadable is a warning for the caller, never a failed start.
 */
import { promises as fs } from 'node:fs';
import type { Logger } from '../base/index.js';
import type { BangerConfig, FileSyncEntry } from '../config/index.js';
import { guestOk, tarStream, walkTree, type TarEntry } from '../workspace/index.js';
import type { VmLifecycleHooks } from './ports.js';
import { runExec } from './vm-exec.js';
import { guestShellFor } from './workspace-guest.js';

export interface FileSyncDeps {
  config: () => BangerConfig;
  logger: Logger;
}

export function fileSyncHooks(deps: FileSyncDeps): VmLifecycleHooks {
  return {
    async booted(vm, agent, ctx) {
      const wanted = deps.config().fileSync;
      if (wanted.length === 0) return;
      const warn = (message: string): void => {
        deps.logger.warn('file_sync', { vm: vm.name, message });
        ctx.notice?.(`banger: warning: file_sync: ${message}`);
      };
      const entries: TarEntry[] = [];
      let bytes = 0;
      for (const entry of wanted) {
        const found = await entriesFor(entry, warn);
        entries.push(...found.entries);
        bytes += found.bytes;
      }
      if (entries.length === 0) return;
      ctx.progress({
        step: 'file-sync',
        message: `copying ${String(wanted.length)} file_sync entries`,
      });
      const shell = guestShellFor(
        (spec, io) => runExec(agent, spec, io),
        ctx.signal ?? new AbortController().signal,
      );
      try {
        await guestOk(shell, {
          argv: ['tar', '-x', '-f', '-', '--no-same-owner', '-C', '/'],
          stdin: tarStream(entries, { signal: ctx.signal }),
        });
      } catch (err) {
        warn(`copying into the guest failed: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
      deps.logger.info('file_sync copied', { vm: vm.name, entries: entries.length, bytes });
    },
  };
}

/** Tar entries for one entry (named by its guest path without the leading '/'). */
async function entriesFor(
  entry: FileSyncEntry,
  warn: (message: string) => void,
): Promise<{ entries: TarEntry[]; bytes: number }> {
  const none = { entries: [], bytes: 0 };
  const name = entry.guest.slice(1);
  try {
    // The host path itself may be a symlink (dotfile managers): its target is what is meant.
    const real = await fs.realpath(entry.host);
    const st = await fs.stat(real);
    if (st.isFile()) {
      const mtime = Math.floor(st.mtimeMs / 1000);
      return {
        entries: [{ name, kind: 'file', mode: st.mode & 0o7777, mtime, source: real }],
        bytes: st.size,
      };
    }
    if (st.isDirectory()) {
      const walked = await walkTree(real, { prefix: name, includeRoot: true });
      if (walked.skipped.length > 0) {
        warn(`${entry.host}: skipped ${String(walked.skipped.length)} sockets, FIFOs or devices`);
      }
      return { entries: walked.entries, bytes: walked.bytes };
    }
    warn(`${entry.host} is neither a file nor a directory; not copied to ${entry.guest}`);
    return none;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    warn(
      code === 'ENOENT'
        ? `${entry.host} does not exist; not copied to ${entry.guest}`
        : `cannot read ${entry.host} (${String(code ?? err)}); not copied to ${entry.guest}`,
    );
    return none;
  }
}
