/**
 * Turns a kernel image into the ELF vmlinux that QEMU boots through PVH (slightly faster
 * than a bzImage, HOST-NOTES "Kernel") and that Firecracker requires. An ELF is copied as it
 * is; a bzImage has its compressed payload cut out and fed to the matching decompressor.
 */
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import { BangerError, spawnChild } from '../base/index.js';
import {
  findPayloadCandidates,
  isBzImage,
  type PayloadCandidate,
  type PayloadFormat,
} from './bzimage-payload.js';
import { checkElfVmlinux, ELF_MAGIC, elfHeaderBytesNeeded } from './elf-check.js';

const DECOMPRESSORS: Record<PayloadFormat, { file: string; pkg: string }> = {
  lz4: { file: 'lz4', pkg: 'lz4' },
  gzip: { file: 'gzip', pkg: 'gzip' },
  xz: { file: 'xz', pkg: 'xz-utils' },
  zstd: { file: 'zstd', pkg: 'zstd' },
};

export interface ExtractResult {
  /** How the vmlinux was obtained. */
  from: 'elf' | PayloadFormat;
  offset?: number;
}

/** Writes the ELF vmlinux of `image` to `dest` (created, mode 0644). */
export async function extractVmlinux(options: {
  image: string;
  dest: string;
  signal?: AbortSignal | undefined;
}): Promise<ExtractResult> {
  const bytes = await fs.readFile(options.image);
  if (bytes.subarray(0, 4).equals(ELF_MAGIC)) {
    const why = checkElfVmlinux(bytes.subarray(0, elfHeaderBytesNeeded(bytes)), bytes.length);
    if (why !== undefined) throw notBootable(options.image, why);
    await fs.writeFile(options.dest, bytes, { mode: 0o644, flag: 'wx' });
    return { from: 'elf' };
  }
  if (!isBzImage(bytes)) {
    throw new BangerError(
      'bad_request',
      `${options.image} is neither an ELF vmlinux nor an x86 bzImage`,
      {
        hint: 'give the kernel as vmlinux (ELF) or vmlinuz/bzImage',
      },
    );
  }
  const attempts: string[] = [];
  for (const candidate of findPayloadCandidates(bytes)) {
    options.signal?.throwIfAborted();
    const why = await tryCandidate(bytes, candidate, options.dest, options.signal);
    if (why === undefined) return { from: candidate.format, offset: candidate.offset };
    attempts.push(
      `${candidate.format} at byte ${String(candidate.offset)} (${candidate.via}): ${why}`,
    );
    await fs.rm(options.dest, { force: true });
  }
  throw new BangerError(
    'operation_failed',
    `could not extract an ELF vmlinux from ${options.image}: ${attempts.length === 0 ? 'no lz4, gzip, xz or zstd payload found' : attempts.join('; ')}`,
  );
}

/** Reads just enough of `file` to check it is a complete x86-64 ELF; undefined when it is. */
export async function checkElfFile(file: string): Promise<string | undefined> {
  const handle = await fs.open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    const first = Buffer.alloc(Math.min(size, 64));
    await handle.read(first, 0, first.length, 0);
    const need = Math.min(size, elfHeaderBytesNeeded(first), 1024 * 1024);
    const head = Buffer.alloc(need);
    await handle.read(head, 0, need, 0);
    return checkElfVmlinux(head, size);
  } finally {
    await handle.close();
  }
}

function notBootable(file: string, why: string): BangerError {
  return new BangerError('bad_request', `${file} is not a bootable x86-64 vmlinux: ${why}`);
}

async function tryCandidate(
  image: Buffer,
  candidate: PayloadCandidate,
  dest: string,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  const tool = DECOMPRESSORS[candidate.format];
  const out = await fs.open(dest, 'wx', 0o644);
  let stderr = '';
  let code: number | null;
  try {
    const child = spawnChild(tool.file, ['-dc'], { stdio: ['pipe', out.fd, 'pipe'] });
    const onAbort = (): void => {
      child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2000);
    });
    // The decompressor stops at the end of its stream and may close stdin on the trailing
    // bytes of the bzImage: that EPIPE is expected, the output is what we judge.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(image.subarray(candidate.offset));
    try {
      [code] = (await once(child, 'close')) as [number | null];
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      throw new BangerError(
        'precondition_failed',
        missing ? `program not found: ${tool.file}` : `could not run ${tool.file}: ${String(err)}`,
        { hint: `install the Debian package ${tool.pkg}`, cause: err },
      );
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  } finally {
    await out.close();
  }
  signal?.throwIfAborted();
  // lz4 and gzip exit non-zero on the bzImage's trailing bytes (HOST-NOTES): a complete ELF
  // is the real success criterion.
  const why = await checkElfFile(dest);
  if (why === undefined) return undefined;
  const tail = stderr.trim().split('\n').slice(-2).join(' / ');
  return `${tool.file} exited with ${String(code)}${tail ? ` (${tail})` : ''}; result: ${why}`;
}
