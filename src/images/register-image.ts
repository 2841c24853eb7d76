/**
 * Registers a user's ext4 file as an image: checked (regular file, ext4 superblock), copied
 * sparsely into a scratch directory, banger's guest programs injected into the copy with
 * debugfs, hashed. The user's file is only ever read.
 */
import { promises as fs } from 'node:fs';
import { badRequest, notFound, run, sha256File, type ProgressSink } from '../base/index.js';
import { throwIfCanceled } from './abort.js';
import { listDirInExt4, statInExt4 } from './ext4.js';
import { injectGuestProgramsIntoExt4 } from './ext4-inject.js';
import { readExt4Superblock } from './ext4-superblock.js';
import type { GuestProgramFile } from './guest-programs.js';
import { createTimer, type StepTimings } from './step-timer.js';

export interface RegisterInput {
  name: string;
  /** The user's file, absolute. */
  source: string;
  /** Where the copy goes (inside the scratch directory). */
  image: string;
  guestPrograms: readonly GuestProgramFile[];
  guestDir: string;
  onProgress: ProgressSink;
  signal?: AbortSignal;
}

export interface RegisterOutput {
  sizeBytes: number;
  sha256: string;
  guestDir: string;
  sshHostKeys: 'absent' | 'present';
  timings: StepTimings;
}

/** Refuses a missing, unreadable, non-regular or non-ext4 file (before anything is copied). */
export async function checkRootfsFile(file: string): Promise<void> {
  let st;
  try {
    st = await fs.stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw notFound(`rootfs file ${file} does not exist`, { cause: err });
    throw badRequest(`cannot read rootfs file ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (!st.isFile()) throw badRequest(`rootfs file ${file} is not a regular file`);
  try {
    await readExt4Superblock(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('E')) {
      throw badRequest(`cannot read rootfs file ${file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    throw err;
  }
}

export async function registerImageFile(input: RegisterInput): Promise<RegisterOutput> {
  const { onProgress, signal } = input;
  const opt = signal === undefined ? {} : { signal };
  const timer = createTimer();

  timer.start('copy');
  onProgress({ step: 'copy', message: `copying ${input.source} (sparse)` });
  // `--` : the source is the user's path; nothing in it may read as an option.
  await run('cp', ['--sparse=always', '--reflink=auto', '--', input.source, input.image], opt);
  await fs.chmod(input.image, 0o600);
  // The user's file may have changed since we checked it: what counts is the copy.
  await readExt4Superblock(input.image);
  throwIfCanceled(signal, `registering image ${input.name}`);

  timer.start('inject');
  onProgress({
    step: 'inject',
    message: `writing ${input.guestPrograms.map((p) => p.name).join(', ')} into the copy (debugfs)`,
  });
  const guestDir = await injectGuestProgramsIntoExt4(input.image, input.guestPrograms, {
    guestDir: input.guestDir,
    ...opt,
  });
  const sshHostKeys = (await hasSshHostKeys(input.image, opt)) ? 'present' : 'absent';
  throwIfCanceled(signal, `registering image ${input.name}`);

  timer.start('checksum');
  onProgress({ step: 'checksum', message: 'sha256 of rootfs.ext4' });
  const sha256 = await sha256File(input.image);
  const sizeBytes = (await fs.stat(input.image)).size;
  return { sizeBytes, sha256, guestDir, sshHostKeys, timings: timer.finish() };
}

async function hasSshHostKeys(image: string, opt: { signal?: AbortSignal }): Promise<boolean> {
  const st = await statInExt4(image, '/etc/ssh', opt);
  if (st?.type !== 'directory') return false;
  const entries = await listDirInExt4(image, '/etc/ssh', opt);
  return entries.some((e) => e.name.startsWith('ssh_host_') && e.name.endsWith('_key'));
}
