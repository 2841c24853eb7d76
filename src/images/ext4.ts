/**
 * Reading an ext4 image without mounting it (debugfs): stat a path, list a directory, read a
 * file. No loop devices, no root needed beyond reading the file.
 */
import path from 'node:path';
import { badRequest, notFound, operationFailed } from '../base/index.js';
import { debugfs, IN_IMAGE_PATH_PATTERN } from './debugfs.js';

export type Ext4FileType = 'regular' | 'directory' | 'symlink' | 'other';

export interface Ext4Stat {
  inode: number;
  type: Ext4FileType;
  /** Permission bits (e.g. 0o755), without the file type. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Target of a symlink, as stored. */
  linkTarget?: string;
}

export interface Ext4DirEntry {
  name: string;
  inode: number;
  type: Ext4FileType;
  mode: number;
  uid: number;
  gid: number;
}

const NOT_FOUND = /File not found by ext2_lookup/;

/** Checks an in-image path before it goes into a debugfs command line. */
export function assertInImagePath(p: string): string {
  if (!IN_IMAGE_PATH_PATTERN.test(p) || p.length > 1024) {
    throw badRequest(
      `invalid path inside an image ${JSON.stringify(p)}: it must be absolute, without spaces, quotes, "." or ".." components`,
    );
  }
  return p;
}

/** Stats `p` inside `image` without following a final symlink; undefined when it does not exist. */
export async function statInExt4(
  image: string,
  p: string,
  options: { signal?: AbortSignal } = {},
): Promise<Ext4Stat | undefined> {
  assertInImagePath(p);
  const { stdout, messages } = await debugfs(
    image,
    { command: `stat ${p}` },
    { ...options, tolerate: NOT_FOUND },
  );
  if (messages.some((m) => NOT_FOUND.test(m))) return undefined;
  const st = parseDebugfsStat(stdout.toString('utf8'), p);
  if (st.type === 'symlink' && st.linkTarget === undefined) {
    // Targets of 60 bytes or more live in a data block that `stat` does not print.
    const target = await debugfs(image, { command: `cat <${String(st.inode)}>` }, options);
    st.linkTarget = target.stdout.toString('utf8').slice(0, st.size);
  }
  return st;
}

/** Reads a regular file out of `image`; `not_found` when missing, `bad_request` when not a regular file. */
export async function readFileFromExt4(
  image: string,
  p: string,
  options: { signal?: AbortSignal } = {},
): Promise<Buffer> {
  const st = await statInExt4(image, p, options);
  if (st === undefined) throw notFound(`${p} does not exist in ${image}`);
  if (st.type !== 'regular')
    throw badRequest(`${p} in ${image} is ${describeType(st.type)}, not a regular file`);
  const { stdout } = await debugfs(
    image,
    { command: `cat <${String(st.inode)}>` },
    { ...options, maxStdoutBytes: st.size + 1 },
  );
  if (stdout.length !== st.size) {
    throw operationFailed(
      `reading ${p} from ${image} gave ${String(stdout.length)} bytes, expected ${String(st.size)}`,
    );
  }
  return stdout;
}

/** Lists directory `p` inside `image` (without `.` and `..`). */
export async function listDirInExt4(
  image: string,
  p: string,
  options: { signal?: AbortSignal } = {},
): Promise<Ext4DirEntry[]> {
  const st = await statInExt4(image, p, options);
  if (st === undefined) throw notFound(`${p} does not exist in ${image}`);
  if (st.type !== 'directory')
    throw badRequest(`${p} in ${image} is ${describeType(st.type)}, not a directory`);
  const { stdout } = await debugfs(image, { command: `ls -p <${String(st.inode)}>` }, options);
  return parseDebugfsLs(stdout.toString('utf8'));
}

/** Parses `debugfs stat` output (the first lines: inode, type, mode, owner, size). */
export function parseDebugfsStat(text: string, p = 'path'): Ext4Stat {
  const head = /Inode:\s+(\d+)\s+Type:\s+([a-z ]+?)\s+Mode:\s+([0-7]+)/.exec(text);
  const owner = /User:\s+(\d+)\s+Group:\s+(\d+)/.exec(text);
  const size = /Size:\s+(\d+)/.exec(text);
  if (!head || !owner || !size) throw badRequest(`could not read debugfs stat output for ${p}`);
  const st: Ext4Stat = {
    inode: Number(head[1]),
    type: fileType(head[2] ?? ''),
    mode: parseInt(head[3] ?? '0', 8) & 0o7777,
    uid: Number(owner[1]),
    gid: Number(owner[2]),
    size: Number(size[1]),
  };
  const link = /Fast link dest:\s+"(.*)"/.exec(text);
  if (st.type === 'symlink' && link) st.linkTarget = link[1] ?? '';
  return st;
}

/** Parses `debugfs ls -p` lines: `/inode/mode/uid/gid/name/size/`. */
export function parseDebugfsLs(text: string): Ext4DirEntry[] {
  const entries: Ext4DirEntry[] = [];
  for (const line of text.split('\n')) {
    const parts = line.trim().split('/');
    if (parts.length !== 8) continue;
    const [, ino, modeText, uid, gid, name] = parts;
    if (name === undefined || name === '' || name === '.' || name === '..') continue;
    const mode = parseInt(modeText ?? '', 8);
    const format = mode & 0o170000;
    entries.push({
      name,
      inode: Number(ino),
      type:
        format === 0o100000
          ? 'regular'
          : format === 0o040000
            ? 'directory'
            : format === 0o120000
              ? 'symlink'
              : 'other',
      mode: mode & 0o7777,
      uid: Number(uid),
      gid: Number(gid),
    });
  }
  return entries;
}

/** "a regular file", "a directory"...: for messages. */
export function describeType(type: Ext4FileType): string {
  return {
    regular: 'a regular file',
    directory: 'a directory',
    symlink: 'a symlink',
    other: 'a special file',
  }[type];
}

function fileType(text: string): Ext4FileType {
  switch (text.trim()) {
    case 'regular':
      return 'regular';
    case 'directory':
      return 'directory';
    case 'symlink':
      return 'symlink';
    default:
      return 'other';
  }
}

/**
 * Copies a directory out of an ext4 image into `dest` (created as `dest/<basename>`), keeping
 * modes and ownership, without mounting: used to seed a VM's work disk with the image's /root.
 */
export async function extractDirFromExt4(
  image: string,
  p: string,
  dest: string,
  options: { signal?: AbortSignal } = {},
): Promise<string> {
  const inImage = assertInImagePath(p);
  await debugfs(
    image,
    { command: `rdump ${inImage} ${dest}` },
    {
      ...(options.signal ? { signal: options.signal } : {}),
      // Not root (a system install's daemon): the copy cannot keep the image's owners; the
      // caller gives them back where it matters (the work disk makes its files root's).
      ...(process.getuid?.() === 0
        ? {}
        : { tolerate: /Operation not permitted while changing ownership/ }),
    },
  );
  return path.join(dest, path.posix.basename(inImage));
}
