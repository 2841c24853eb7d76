/**
 * The guest's work tree as a git tree, computed without touching the guest's repository:
 * a scratch index and a scratch object directory (the repository's objects as an
 * alternate) in a directory next to the repository, removed afterwards. Export and the
 * "does the guest copy have changes?" check are both built on it.
 */
import path from 'node:path';
import { Writable } from 'node:stream';
import { BangerError } from '../base/index.js';
import { GUEST_GIT_ENV, guestOk, type GuestShell } from './guest-shell.js';

export const SHIPPED_REF = 'refs/banger/shipped';

const OID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/** The tree of a guest commit-ish; undefined when it does not resolve. */
export async function guestTreeOf(
  shell: GuestShell,
  repoDir: string,
  rev: string,
): Promise<string | undefined> {
  const result = await shell.run({
    argv: [
      'git',
      '-C',
      repoDir,
      'rev-parse',
      '-q',
      '--verify',
      '--end-of-options',
      `${rev}^{tree}`,
    ],
    env: GUEST_GIT_ENV,
  });
  if (result.code === 127) await guestOk(shell, { argv: ['git', '--version'] });
  const oid = result.stdout.toString('utf8').trim();
  return result.code === 0 && OID.test(oid) ? oid : undefined;
}

/** Runs `body` with git pointed at a scratch index and object directory; always cleans up. */
async function withScratch<T>(
  shell: GuestShell,
  repoDir: string,
  body: (env: Record<string, string>) => Promise<T>,
): Promise<T> {
  const made = await guestOk(shell, {
    argv: ['mktemp', '-d', '-p', path.posix.dirname(repoDir), '.banger-scratch.XXXXXX'],
  });
  const scratch = made.stdout.toString('utf8').trim();
  if (!scratch.startsWith('/') || scratch.includes('\n')) {
    throw new BangerError(
      'operation_failed',
      `mktemp in the guest gave ${JSON.stringify(scratch)}`,
    );
  }
  try {
    await guestOk(shell, { argv: ['mkdir', '-p', `${scratch}/objects`] });
    // A copy of the real index only lends its stat data: unchanged files need no re-hashing.
    await shell.run({ argv: ['cp', '-f', `${repoDir}/.git/index`, `${scratch}/index`] });
    return await body({
      ...GUEST_GIT_ENV,
      GIT_INDEX_FILE: `${scratch}/index`,
      GIT_OBJECT_DIRECTORY: `${scratch}/objects`,
      GIT_ALTERNATE_OBJECT_DIRECTORIES: `${repoDir}/.git/objects`,
    });
  } finally {
    await shell.run({ argv: ['rm', '-rf', '--', scratch] }).catch(() => undefined);
  }
}

/** The tree of the work tree as it is now (tracked, plus untracked files not ignored). */
async function worktreeTree(
  shell: GuestShell,
  repoDir: string,
  baseTree: string,
  env: Record<string, string>,
): Promise<string> {
  const gitIn = (args: string[]) => guestOk(shell, { argv: ['git', '-C', repoDir, ...args], env });
  await gitIn(['read-tree', '-m', baseTree]).catch(async () => {
    // No usable index copy (unmerged entries, none at all): start from the tree alone.
    await gitIn(['read-tree', baseTree]);
  });
  await gitIn(['add', '-A']);
  const tree = (await gitIn(['write-tree'])).stdout.toString('utf8').trim();
  if (!OID.test(tree))
    throw new BangerError('operation_failed', `git write-tree in the guest gave ${tree}`);
  return tree;
}

/** True when the guest's work tree differs from the tree of `rev` (default: as shipped). */
export async function guestHasChanges(
  shell: GuestShell,
  repoDir: string,
  baseTree: string,
): Promise<boolean> {
  const tree = await withScratch(shell, repoDir, (env) =>
    worktreeTree(shell, repoDir, baseTree, env),
  );
  return tree !== baseTree;
}

export interface GuestPatchResult {
  baseTree: string;
  bytes: number;
}

/**
 * Writes the binary-safe patch from `base` (a guest commit-ish; default: the work tree as
 * shipped) to the work tree as it is now, for `git apply` on the host.
 */
export async function writeGuestPatch(
  shell: GuestShell,
  repoDir: string,
  options: { base?: string | undefined; out: Writable },
): Promise<GuestPatchResult> {
  const rev = options.base ?? SHIPPED_REF;
  const baseTree = await guestTreeOf(shell, repoDir, rev);
  if (baseTree === undefined) {
    throw new BangerError(
      options.base === undefined ? 'precondition_failed' : 'bad_request',
      options.base === undefined
        ? `${repoDir} in the guest is not a banger workspace (no ${SHIPPED_REF})`
        : `--base-commit ${JSON.stringify(options.base)} does not name a commit in the guest's ${repoDir}`,
    );
  }
  let bytes = 0;
  const { out } = options;
  // Counts what passes; the caller's stream stays open (and keeps its backpressure).
  const counted = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (out.write(chunk)) callback();
      else out.once('drain', () => callback());
    },
  });
  await withScratch(shell, repoDir, async (env) => {
    const tree = await worktreeTree(shell, repoDir, baseTree, env);
    await guestOk(shell, {
      argv: [
        'git',
        '-C',
        repoDir,
        'diff',
        '--binary',
        '--full-index',
        '--no-color',
        '--no-ext-diff',
        '--no-textconv',
        baseTree,
        tree,
      ],
      env,
      stdout: counted,
    });
  });
  // Every chunk handed to `counted` has reached the caller's stream once it finishes.
  await new Promise<void>((resolve) => counted.end(() => resolve()));
  return { baseTree, bytes };
}
