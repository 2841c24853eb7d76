/**
 * The owner's files, touched by root without being steered. The owner can rename anything in
 * its own directories at any moment, so a path that was checked can point elsewhere when it
 * is used (a symlink planted in place of a directory, a rename between lstat and open). Here
 * every access goes through an open directory descriptor that was proven to be the owner's:
 *
 *  1. the path string is checked (absolute, normalised, no control characters, under one of
 *     banger's roots);
 *  2. its directory is opened with O_DIRECTORY|O_NOFOLLOW and /proc/self/fd/N is read back:
 *     the kernel's own name for what was opened must be exactly the checked path, so no
 *     component was a symlink at open time; the directory must belong to the owner and be
 *     writable by nobody else;
 *  3. the file is then opened as /proc/self/fd/N/NAME with O_NOFOLLOW (the lookup starts at the
 *     directory that was verified, whatever the path names now), O_NONBLOCK (a FIFO cannot
 *     block root) and, when it is created, O_EXCL and fchown to the owner at once.
 *
 * So root only ever creates files inside a directory the owner already owns, hands them to the
 * owner, and opens existing files only when they are the owner's regular files.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { BangerError, isWithin } from '../base/index.js';

export interface OwnerTree {
  /** Canonical directories under which the owner's files live (state, cache, runtime). */
  roots: readonly string[];
  uid: number;
  gid: number;
}

export type OwnerFileMode =
  /** Append; created (0600, the owner's) when missing. */
  | 'append'
  /** Read an existing file of the owner's. */
  | 'read'
  /** Replace with a new empty file (0600, the owner's). */
  | 'fresh';

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function refuse(field: string, rule: string, value?: unknown): BangerError {
  const shown = value === undefined ? '' : ` (got ${JSON.stringify(value)?.slice(0, 120) ?? ''})`;
  return new BangerError('bad_request', `${field} ${rule}${shown}`);
}

/** The string rules: absolute, normalised, printable, inside one of the tree's roots. */
export function checkOwnerPath(value: unknown, field: string, tree: OwnerTree): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 4096)
    throw refuse(field, 'must be a path of 1 to 4096 characters', value);
  if (/[\x00-\x1f\x7f]/.test(value))
    throw refuse(field, 'must not contain control characters or newlines', value);
  if (!path.isAbsolute(value) || path.normalize(value) !== value || value.endsWith('/'))
    throw refuse(
      field,
      'must be an absolute, normalised path (no "..", "//" or trailing "/")',
      value,
    );
  if (!tree.roots.some((root) => isWithin(root, value) && root !== value))
    throw refuse(field, `must lie under banger's directories (${tree.roots.join(', ')})`, value);
  return value;
}

/**
 * Opens `dir` (a checked path) and proves it is the owner's: reached without a symlink,
 * owned by the owner, not writable by group or others.
 */
export async function openOwnerDir(
  tree: OwnerTree,
  dir: string,
  field: string,
): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await fs.open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BangerError(
      code === 'ENOENT' ? 'not_found' : 'bad_request',
      code === 'ELOOP' || code === 'ENOTDIR'
        ? `${field}: refusing ${dir}: it is a symlink or not a directory`
        : `${field}: cannot open directory ${dir}: ${String(code)}`,
    );
  }
  try {
    const real = await fs.readlink(`/proc/self/fd/${String(handle.fd)}`);
    if (real !== dir) {
      throw new BangerError(
        'bad_request',
        `${field}: refusing ${dir}: it is reached through a symlink (it is really ${real})`,
      );
    }
    const st = await handle.stat();
    if (!st.isDirectory() || st.uid !== tree.uid || (st.mode & 0o022) !== 0) {
      throw new BangerError(
        'bad_request',
        `${field}: refusing ${dir}: it must be a directory of uid ${String(tree.uid)} that nobody else can write (uid ${String(st.uid)}, mode ${(st.mode & 0o7777).toString(8)})`,
      );
    }
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Opens the owner's file at `file` (a path under the tree's roots) as `mode` says. */
export async function openOwnerFile(
  tree: OwnerTree,
  options: { file: unknown; field: string; mode: OwnerFileMode },
): Promise<FileHandle> {
  const file = checkOwnerPath(options.file, options.field, tree);
  const name = path.basename(file);
  const dir = await openOwnerDir(tree, path.dirname(file), options.field);
  const at = `/proc/self/fd/${String(dir.fd)}/${name}`;
  try {
    if (options.mode === 'fresh') {
      await fs.unlink(at).catch((err: unknown) => {
        if (errno(err) !== 'ENOENT') throw err;
      });
    }
    const write = fsc.O_WRONLY | fsc.O_APPEND | fsc.O_NOFOLLOW | fsc.O_NONBLOCK;
    if (options.mode !== 'read') {
      const created = await fs
        .open(at, write | fsc.O_CREAT | fsc.O_EXCL, 0o600)
        .catch((err: unknown) => {
          if (errno(err) === 'EEXIST' && options.mode === 'append') return undefined;
          throw err;
        });
      if (created !== undefined) {
        await created.chown(tree.uid, tree.gid);
        return created;
      }
    }
    const flags = options.mode === 'read' ? fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK : write;
    const handle = await fs.open(at, flags).catch((err: unknown) => {
      const code = errno(err);
      throw new BangerError(
        code === 'ENOENT' ? 'not_found' : 'bad_request',
        code === 'ELOOP'
          ? `${options.field}: refusing ${file}: it is a symlink`
          : `${options.field}: cannot open ${file}: ${String(code)}`,
      );
    });
    const st = await handle.stat();
    if (!st.isFile() || st.uid !== tree.uid) {
      await handle.close();
      throw new BangerError(
        'bad_request',
        `${options.field}: refusing ${file}: it must be a regular file of uid ${String(tree.uid)} (uid ${String(st.uid)})`,
      );
    }
    return handle;
  } finally {
    await dir.close();
  }
}

/** Reads at most the last `maxBytes` of the owner's file; '' when it cannot be read. */
export async function readOwnerFileTail(
  tree: OwnerTree,
  options: { file: string; field: string; maxBytes: number },
): Promise<string> {
  const handle = await openOwnerFile(tree, { ...options, mode: 'read' }).catch(() => undefined);
  if (handle === undefined) return '';
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, options.maxBytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}
