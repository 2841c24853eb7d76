/**
 * The guest side of a ship. The staged `.git` streams as one tar through the agent into a
 * scratch directory next to the destination; git checks out the shipped tree there and
 * moves its index to HEAD; modes git cannot represent are restored; then the scratch
 * directory replaces the destination. A failure leaves the previous copy as it was.
 * An existing copy is replaced only if it is a banger workspace without changes of its own
 * (or when forced); any other existing, non-empty directory is refused.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError, type ProgressSink } from '../base/index.js';
import { walkTree } from './dir-walk.js';
import { GUEST_GIT_ENV, guestOk, type GuestShell } from './guest-shell.js';
import { guestHasChanges, guestTreeOf, SHIPPED_REF } from './guest-tree.js';
import type { StagedHistory } from './history-stage.js';
import { tarStream, type TarEntry } from './tar-writer.js';
import type { WorkspacePlan } from './workspace-plan.js';

export interface ShipOptions {
  /** Replace a guest copy even if it has changes since it was shipped. */
  force: boolean;
  signal?: AbortSignal | undefined;
  progress?: ProgressSink | undefined;
  /** The VM's name, for hints. */
  vmName?: string | undefined;
}

export interface ShipResult {
  /** Bytes that went over the agent channel (tar streams). */
  sentBytes: number;
  /** Milliseconds spent streaming, checking out in the guest, and in everything else. */
  timings: { transferMs: number; checkoutMs: number; otherMs: number };
}

const TAR_EXTRACT = ['tar', '-x', '-f', '-', '--no-same-owner', '-C'];

export async function shipToGuest(
  shell: GuestShell,
  plan: WorkspacePlan,
  staged: StagedHistory,
  options: ShipOptions,
): Promise<ShipResult> {
  const dest = plan.guestPath;
  const parent = path.posix.dirname(dest);
  const base = path.posix.basename(dest);
  const incoming = `${parent}/.${base}.banger-incoming`;
  const old = `${parent}/.${base}.banger-old`;
  const progress = options.progress ?? (() => undefined);
  const started = Date.now();
  let transferMs = 0;
  let checkoutMs = 0;
  const timed = async <T>(work: () => Promise<T>, add: (ms: number) => void): Promise<T> => {
    const t0 = Date.now();
    try {
      return await work();
    } finally {
      add(Date.now() - t0);
    }
  };

  await guestOk(shell, { argv: ['git', '--version'] });
  const existing = await checkDestination(shell, dest, {
    force: options.force,
    vmName: options.vmName ?? 'VM',
  });

  await guestOk(shell, { argv: ['rm', '-rf', '--', incoming, old] });
  await guestOk(shell, { argv: ['mkdir', '-p', '--', incoming] });
  let sentBytes = 0;
  try {
    const history = await walkTree(staged.gitDir, { prefix: '.git', includeRoot: true });
    sentBytes += await timed(
      () =>
        sendTar(shell, incoming, history.entries.map(ordinaryMode), {
          total: history.bytes,
          what: 'history',
          progress,
          signal: options.signal,
        }),
      (ms) => (transferMs += ms),
    );
    progress({
      step: 'workspace',
      message: `checking out ${String(plan.selection.files.length)} files in the guest`,
    });
    const gitIn = (args: string[]) =>
      guestOk(shell, { argv: ['git', '-C', incoming, ...args], env: GUEST_GIT_ENV });
    const head = plan.from?.commit ?? plan.repo.head;
    await timed(
      async () => {
        await gitIn(['read-tree', '--reset', '-u', SHIPPED_REF]);
        await gitIn(head === null ? ['read-tree', '--empty'] : ['reset', '-q']);
      },
      (ms) => (checkoutMs += ms),
    );
    for (const [mode, paths] of staged.modeFixes) {
      await guestOk(shell, {
        argv: ['xargs', '-0', '-r', 'chmod', mode.toString(8), '--'],
        cwd: incoming,
        stdin: Buffer.from(paths.map((p) => `${p}\0`).join('')),
      });
    }
    if (staged.extras.length > 0) {
      const entries = await extraEntries(staged, plan.repo.root);
      sentBytes += await timed(
        () =>
          sendTar(shell, incoming, entries, {
            total: staged.extras.reduce((sum, f) => sum + f.size, 0),
            what: 'submodule files',
            progress,
            signal: options.signal,
          }),
        (ms) => (transferMs += ms),
      );
    }
  } catch (err) {
    await shell.run({ argv: ['rm', '-rf', '--', incoming] }).catch(() => undefined);
    throw err;
  }
  if (existing) await guestOk(shell, { argv: ['mv', '--', dest, old] });
  try {
    await guestOk(shell, { argv: ['mv', '--', incoming, dest] });
  } catch (err) {
    if (existing) await shell.run({ argv: ['mv', '--', old, dest] }).catch(() => undefined);
    await shell.run({ argv: ['rm', '-rf', '--', incoming] }).catch(() => undefined);
    throw err;
  }
  if (existing) await shell.run({ argv: ['rm', '-rf', '--', old] });
  const otherMs = Date.now() - started - transferMs - checkoutMs;
  return { sentBytes, timings: { transferMs, checkoutMs, otherMs } };
}

/**
 * Whether `dest` exists (and so must be moved away), refusing what must not be replaced:
 * a non-empty directory that is not a banger workspace, or a workspace with changes of its
 * own (unless forced).
 */
async function checkDestination(
  shell: GuestShell,
  dest: string,
  options: { force: boolean; vmName: string },
): Promise<boolean> {
  const listing = await shell.run({ argv: ['ls', '-A', '--', dest] });
  if (listing.code !== 0) {
    if (/No such file or directory/.test(listing.stderr)) return false;
    throw new BangerError(
      'operation_failed',
      `cannot look at ${dest} in the guest: ${listing.stderr.trim()}`,
    );
  }
  if (listing.stdout.length === 0) return true;
  const shippedTree = await guestTreeOf(shell, dest, SHIPPED_REF);
  if (shippedTree === undefined) {
    throw new BangerError(
      'precondition_failed',
      `${dest} already exists in the guest and is not a banger workspace (rule: banger replaces only its own workspaces)`,
      { hint: 'pick another --guest-path, or remove it in the guest first' },
    );
  }
  if (!options.force && (await guestHasChanges(shell, dest, shippedTree))) {
    throw new BangerError(
      'precondition_failed',
      `the guest's ${dest} has changes since it was shipped; shipping again would discard them`,
      {
        hint:
          `save them first with \`banger vm workspace export ${options.vmName} -o changes.patch\`, ` +
          'or pass --force to discard them',
      },
    );
  }
  return true;
}

/**
 * The scratch `.git` was made under the daemon's umask 077; in the guest it gets the modes
 * `git init` gives (0755 directories, 0644 files, read-only packs stay read-only).
 */
function ordinaryMode(entry: TarEntry): TarEntry {
  if (entry.kind === 'dir') return { ...entry, mode: 0o755 };
  if (entry.kind === 'file') return { ...entry, mode: entry.mode & 0o200 ? 0o644 : 0o444 };
  return entry;
}

/** Submodule files as tar entries, read from the host's work tree. */
async function extraEntries(staged: StagedHistory, root: string): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  for (const file of staged.extras) {
    const source = path.join(root, file.path);
    entries.push(
      file.kind === 'symlink'
        ? {
            name: file.path,
            kind: 'symlink',
            mode: 0o777,
            mtime: 0,
            linkname: await fs.readlink(source),
          }
        : { name: file.path, kind: 'file', mode: file.mode, mtime: 0, source },
    );
  }
  return entries;
}

async function sendTar(
  shell: GuestShell,
  into: string,
  entries: TarEntry[],
  options: { total: number; what: string; progress: ProgressSink; signal: AbortSignal | undefined },
): Promise<number> {
  let sent = 0;
  let lastReport = 0;
  const stream = tarStream(entries, {
    signal: options.signal,
    onProgress: ({ bytes }) => {
      sent = bytes;
      const now = Date.now();
      if (now - lastReport < 1000) return;
      lastReport = now;
      options.progress({
        step: 'workspace',
        message: `shipping ${options.what}: ${mib(Math.min(bytes, options.total))} of ${mib(options.total)}`,
        ...(options.total > 0 ? { fraction: Math.min(1, bytes / options.total) } : {}),
      });
    },
  });
  await guestOk(shell, { argv: [...TAR_EXTRACT, into], stdin: stream });
  return sent;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
