/**
 * A host directory tree as tar entries: directories before their contents, symlinks kept as
 * symlinks (never followed), sockets and FIFOs left out.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { TarEntry } from './tar-writer.js';

export interface WalkedTree {
  entries: TarEntry[];
  /** Bytes of file content in the tree. */
  bytes: number;
  /** Entries that are neither files, directories nor symlinks (relative names). */
  skipped: string[];
}

/**
 * Walks `root`; entry names are `prefix` joined with the path below `root` (the root itself
 * becomes an entry named `prefix` when `includeRoot`).
 */
export async function walkTree(
  root: string,
  options: { prefix: string; includeRoot: boolean },
): Promise<WalkedTree> {
  const out: WalkedTree = { entries: [], bytes: 0, skipped: [] };
  const rootStat = await fs.lstat(root);
  if (options.includeRoot) {
    out.entries.push({
      name: options.prefix,
      kind: 'dir',
      mode: rootStat.mode & 0o7777,
      mtime: Math.floor(rootStat.mtimeMs / 1000),
    });
  }
  await walkDir(root, options.prefix, out);
  return out;
}

async function walkDir(dir: string, prefix: string, out: WalkedTree): Promise<void> {
  const names = (await fs.readdir(dir)).sort();
  for (const name of names) {
    const full = path.join(dir, name);
    const entryName = prefix === '' ? name : `${prefix}/${name}`;
    const st = await fs.lstat(full);
    const common = {
      name: entryName,
      mode: st.mode & 0o7777,
      mtime: Math.floor(st.mtimeMs / 1000),
    };
    if (st.isDirectory()) {
      out.entries.push({ ...common, kind: 'dir' });
      await walkDir(full, entryName, out);
    } else if (st.isFile()) {
      out.entries.push({ ...common, kind: 'file', source: full });
      out.bytes += st.size;
    } else if (st.isSymbolicLink()) {
      out.entries.push({ ...common, kind: 'symlink', linkname: await fs.readlink(full) });
    } else {
      out.skipped.push(entryName);
    }
  }
}
