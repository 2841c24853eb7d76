/**
 * Which files ship: git-tracked files as they are in the work tree (edits included, deleted
 * ones absent), untracked files that are not ignored when asked, never ignored files. The
 * files of checked-out submodules ship as plain files. With `from`, the tracked files are
 * those of that commit instead of the work tree.
 */
import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { BangerError } from '../base/index.js';
import { git, splitNul } from './git-cli.js';
import type { RepoFacts } from './repo-facts.js';

export type ShipOrigin = 'tracked' | 'untracked' | 'submodule' | 'commit';

export interface ShipFile {
  /** Path relative to the repository's top level, '/'-separated. */
  path: string;
  kind: 'file' | 'symlink';
  /** Permission bits as the guest will have them. */
  mode: number;
  /** Bytes of content (a symlink: the length of its target). */
  size: number;
  origin: ShipOrigin;
}

export interface Selection {
  /** Everything that lands in the guest's work tree, in byte order of the path. */
  files: ShipFile[];
  /** Tracked paths missing from the work tree: absent in the guest too (git shows them deleted). */
  removed: string[];
  skipped: {
    /** Untracked, not ignored files left behind (without includeUntracked). */
    untracked: number;
    /** Ignored paths (a wholly ignored directory counts once). */
    ignored: number;
    /** Untracked directories that are repositories of their own. */
    nestedRepos: string[];
    /** Sockets, FIFOs and device nodes. */
    special: string[];
  };
}

export interface SelectOptions {
  includeUntracked: boolean;
  /** Ship the tracked files of this commit instead of the work tree's. */
  fromCommit?: string | undefined;
  signal?: AbortSignal | undefined;
}

const STAT_BATCH = 128;

export async function selectFiles(repo: RepoFacts, options: SelectOptions): Promise<Selection> {
  const { signal } = options;
  const lister = (args: string[]) => listNames(repo.root, args, signal);
  const untracked = await lister(['ls-files', '-z', '--others', '--exclude-standard']);
  const ignored = await lister([
    'ls-files',
    '-z',
    '--others',
    '--ignored',
    '--exclude-standard',
    '--directory',
  ]);
  const selection: Selection = {
    files: [],
    removed: [],
    skipped: { untracked: 0, ignored: ignored.length, nestedRepos: [], special: [] },
  };
  const stats = new StatCache(repo.root);

  if (options.fromCommit !== undefined) {
    selection.files.push(...(await commitFiles(repo.root, options.fromCommit, signal)));
  } else {
    const gitlinks = await submodulePaths(repo.root, signal);
    const tracked = await lister(['ls-files', '-z', '--cached', '--recurse-submodules']);
    const unique = [...new Set(tracked)];
    const looked = await stats.lookAll(unique);
    unique.forEach((name, i) => {
      if (gitlinks.includes(name)) return; // a submodule not recursed into: git's business
      const inSubmodule = gitlinks.some((link) => name.startsWith(`${link}/`));
      const st = looked[i];
      const file = st ? toShipFile(name, st, inSubmodule ? 'submodule' : 'tracked') : undefined;
      if (file) selection.files.push(file);
      else if (st && !st.isDirectory()) selection.skipped.special.push(name);
      if (!file && !inSubmodule) selection.removed.push(name);
    });
  }

  const nested = untracked.filter((name) => name.endsWith('/'));
  selection.skipped.nestedRepos = nested.map((name) => name.slice(0, -1));
  const plainUntracked = untracked.filter((name) => !name.endsWith('/'));
  if (options.includeUntracked) {
    const looked = await stats.lookAll(plainUntracked);
    plainUntracked.forEach((name, i) => {
      const st = looked[i];
      const file = st ? toShipFile(name, st, 'untracked') : undefined;
      if (file) selection.files.push(file);
      else if (st && !st.isDirectory()) selection.skipped.special.push(name);
    });
  } else {
    selection.skipped.untracked = plainUntracked.length;
  }
  selection.files.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  return selection;
}

function toShipFile(name: string, st: Stats, origin: ShipOrigin): ShipFile | undefined {
  if (st.isFile())
    return { path: name, kind: 'file', mode: st.mode & 0o7777, size: st.size, origin };
  if (st.isSymbolicLink())
    return { path: name, kind: 'symlink', mode: 0o777, size: st.size, origin };
  return undefined;
}

async function listNames(
  root: string,
  args: string[],
  signal: AbortSignal | undefined,
): Promise<string[]> {
  const result = await git(root, args, { signal });
  const { names, invalid } = splitNul(result.stdout);
  if (invalid.length > 0) {
    const shown = invalid.slice(0, 3).map((raw) => JSON.stringify(raw.toString('latin1')));
    throw new BangerError(
      'bad_request',
      `${root} has file names that are not valid UTF-8: ${shown.join(', ')} ` +
        '(rule: workspace file names must be UTF-8)',
      { hint: 'rename them (git mv), or add them to .gitignore if they need not ship' },
    );
  }
  return names;
}

/** Paths of submodules (gitlinks) in the index. */
async function submodulePaths(root: string, signal: AbortSignal | undefined): Promise<string[]> {
  const stage = await listNames(root, ['ls-files', '-z', '--stage'], signal);
  return stage
    .filter((line) => line.startsWith('160000 '))
    .map((line) => line.split('\t')[1] ?? '');
}

/** Files of a commit's tree (`git ls-tree -r -l`); submodule entries stay git's business. */
async function commitFiles(
  root: string,
  commit: string,
  signal: AbortSignal | undefined,
): Promise<ShipFile[]> {
  const lines = await listNames(root, ['ls-tree', '-r', '-l', '-z', '--full-tree', commit], signal);
  const files: ShipFile[] = [];
  for (const line of lines) {
    const tab = line.indexOf('\t');
    const [mode, type, , size] = line.slice(0, tab).split(/ +/);
    const name = line.slice(tab + 1);
    if (type !== 'blob') continue;
    const bytes = Number(size);
    if (mode === '120000') {
      files.push({ path: name, kind: 'symlink', mode: 0o777, size: bytes, origin: 'commit' });
    } else {
      const exec = mode === '100755';
      files.push({
        path: name,
        kind: 'file',
        mode: exec ? 0o755 : 0o644,
        size: bytes,
        origin: 'commit',
      });
    }
  }
  return files;
}

/**
 * lstat of work-tree paths that refuses to look through a symlinked parent directory: a
 * tracked `dir/file` under a `dir` that became a symlink is gone as far as git is concerned,
 * and reading through it could ship files from outside the repository.
 */
class StatCache {
  private readonly dirs = new Map<string, Promise<boolean>>();

  constructor(private readonly root: string) {}

  async lookAll(names: readonly string[]): Promise<(Stats | undefined)[]> {
    const out: (Stats | undefined)[] = [];
    for (let i = 0; i < names.length; i += STAT_BATCH) {
      out.push(...(await Promise.all(names.slice(i, i + STAT_BATCH).map((n) => this.look(n)))));
    }
    return out;
  }

  private async look(name: string): Promise<Stats | undefined> {
    const parent = path.posix.dirname(name);
    if (parent !== '.' && !(await this.realDir(parent))) return undefined;
    return fs.lstat(path.join(this.root, name)).catch(() => undefined);
  }

  private realDir(dir: string): Promise<boolean> {
    let known = this.dirs.get(dir);
    if (!known) {
      known = (async () => {
        const parent = path.posix.dirname(dir);
        if (parent !== '.' && !(await this.realDir(parent))) return false;
        const st = await fs.lstat(path.join(this.root, dir)).catch(() => undefined);
        return st?.isDirectory() ?? false;
      })();
      this.dirs.set(dir, known);
    }
    return known;
  }
}
