/**
 * Copies the running build into a system install's library directory: package.json,
 * dist/src, the guest programs, banger-peercred, and the production dependencies (the
 * closure of package.json's `dependencies`, found the way Node resolves them). Every file is
 * root's (the copier's), directories 0755, files 0644 or 0755 when executable: readable by
 * the owner's daemon, writable only by root.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError } from '../../base/index.js';

export interface CopyStats {
  files: number;
  bytes: number;
}

/** What a build must contain before it can be installed. */
export const REQUIRED_BUILD_FILES = [
  'package.json',
  'dist/src/cli/banger.mjs',
  'dist/src/daemon/main.js',
  'dist/src/helper/main.js',
  'dist/src/supervisor/main.js',
  'build/guest/banger-init',
  'build/guest/banger-agent',
  'build/helper/banger-peercred',
  'build/helper/banger-tapfd',
] as const;

export async function checkBuild(source: string): Promise<void> {
  const missing: string[] = [];
  for (const file of REQUIRED_BUILD_FILES) {
    const st = await fs.stat(path.join(source, file)).catch(() => undefined);
    if (!st?.isFile()) missing.push(file);
  }
  if (missing.length > 0) {
    throw new BangerError(
      'precondition_failed',
      `${source} is not a complete build (missing ${missing.join(', ')})`,
      { hint: `build it first: cd ${source} && npm run build` },
    );
  }
}

interface PackageJson {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

async function readPackage(dir: string): Promise<PackageJson | undefined> {
  const text = await fs.readFile(path.join(dir, 'package.json'), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as PackageJson);
}

/** Node's lookup: DIR/node_modules/NAME, then each parent's, up to `top`. */
async function resolvePackage(
  from: string,
  name: string,
  top: string,
): Promise<string | undefined> {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if ((await fs.stat(path.join(candidate, 'package.json')).catch(() => undefined))?.isFile())
      return candidate;
    if (dir === top || dir === path.dirname(dir)) return undefined;
  }
}

/** Package directories (relative to `source`) that the production dependencies need. */
export async function productionPackages(source: string): Promise<string[]> {
  const found = new Set<string>();
  const queue: { from: string; pkg: PackageJson }[] = [];
  const root = await readPackage(source);
  if (root) queue.push({ from: source, pkg: root });
  while (queue.length > 0) {
    const { from, pkg } = queue.shift() ?? { from: source, pkg: {} };
    const names = [
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.optionalDependencies ?? {}),
    ];
    for (const name of names) {
      const dir = await resolvePackage(from, name, source);
      if (dir === undefined) {
        if (pkg.optionalDependencies?.[name] !== undefined) continue;
        throw new BangerError(
          'precondition_failed',
          `dependency ${name} is not installed in ${source}`,
          {
            hint: 'run `npm ci` in the checkout, then `npm run build`',
          },
        );
      }
      const rel = path.relative(source, dir);
      if (found.has(rel)) continue;
      found.add(rel);
      const dep = await readPackage(dir);
      if (dep) queue.push({ from: dir, pkg: dep });
    }
  }
  // A nested package is copied with its parent; keep only the outermost directories.
  return [...found]
    .sort()
    .filter((rel, _i, all) => !all.some((other) => other !== rel && rel.startsWith(`${other}/`)));
}

async function copyTree(from: string, to: string, stats: CopyStats): Promise<void> {
  const st = await fs.lstat(from);
  if (st.isSymbolicLink()) {
    await fs.symlink(await fs.readlink(from), to);
    return;
  }
  if (st.isDirectory()) {
    await fs.mkdir(to, { mode: 0o755 });
    await fs.chmod(to, 0o755);
    for (const name of await fs.readdir(from)) {
      // Object files of the guest build are not part of the install.
      if (name === 'obj' && path.basename(from) === 'guest') continue;
      await copyTree(path.join(from, name), path.join(to, name), stats);
    }
    return;
  }
  if (!st.isFile()) return;
  await fs.copyFile(from, to);
  await fs.chmod(to, (st.mode & 0o111) !== 0 ? 0o755 : 0o644);
  stats.files++;
  stats.bytes += st.size;
}

/** Copies the build at `source` into the empty or missing directory `dest`. */
export async function copyBuild(source: string, dest: string): Promise<CopyStats> {
  await checkBuild(source);
  const stats: CopyStats = { files: 0, bytes: 0 };
  await fs.mkdir(dest, { mode: 0o755 });
  await fs.chmod(dest, 0o755);
  const parts = [
    'package.json',
    'dist/src',
    'build/guest',
    'build/helper',
    ...(await productionPackages(source)),
  ];
  for (const rel of parts) {
    await fs.mkdir(path.dirname(path.join(dest, rel)), { recursive: true, mode: 0o755 });
    await copyTree(path.join(source, rel), path.join(dest, rel), stats);
  }
  // mkdir's recursive parents got the umask's 0700: open them up for the owner's daemon.
  for (const dir of ['dist', 'build', 'node_modules']) {
    await fs.chmod(path.join(dest, dir), 0o755).catch(() => undefined);
  }
  for (const rel of parts) {
    for (let dir = path.dirname(rel); dir !== '.'; dir = path.dirname(dir)) {
      await fs.chmod(path.join(dest, dir), 0o755).catch(() => undefined);
    }
  }
  return stats;
}
