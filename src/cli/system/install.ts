/**
 * `banger system install --owner USER`: the build into /usr/local/lib/banger (root's),
 * `banger` on PATH, the owner's state and cache directories, the root-owned install record,
 * the unit files, and the two services started (systemd when it is PID 1, else banger's
 * supervisor). Every step records its undo: a failed install leaves the host as it was.
 * Running it again upgrades in place (same owner) and restarts the services.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  BangerError,
  exists,
  readRootOwnedFile,
  withUndo,
  writeFileAtomic,
  type UndoStack,
} from '../../base/index.js';
import { installPaths, resolveLayout, UNIT_NAMES, entryPoints } from '../../config/index.js';
import {
  checkRecordLocation,
  formatInstallRecord,
  parseInstallRecord,
  type InstallRecord,
} from '../../protocol/index.js';
import { copyBuild, checkBuild } from './copy-build.js';
import { lookupOwner, type OwnerAccount } from './owner.js';
import { startServices, stopServices, type ServiceManager } from './services.js';
import { daemonUnit, helperUnit } from './units.js';

export interface InstallOptions {
  owner: string;
  /** Prefix of every system path ("/" normally). */
  root: string;
  /** The build to install (this CLI's own package root). */
  source: string;
  /** Start (or restart) the services (default true). */
  start: boolean;
  log: (line: string) => void;
}

export interface InstallResult {
  record: InstallRecord;
  manager?: ServiceManager | undefined;
  files: number;
}

export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new BangerError('precondition_failed', `${what} must run as root`, {
      hint: `sudo banger ${what.replace(/^banger /, '')}`,
    });
  }
}

export function checkRoot(root: string): string {
  if (!path.isAbsolute(root) || path.resolve(root) !== root || /[\x00-\x1f\x7f"\\ ]/.test(root))
    throw new BangerError(
      'bad_request',
      `--root ${JSON.stringify(root)} must be an absolute, normalised path`,
    );
  return root;
}

/** The record of the install under `root`, if there is one (and it can be trusted). */
export async function readInstall(root: string): Promise<InstallRecord | undefined> {
  const file = installPaths(root).installFile;
  if (!(await exists(file))) return undefined;
  const text = await readRootOwnedFile(file, { maxBytes: 4096, what: 'the install record' });
  return checkRecordLocation(parseInstallRecord(text), file);
}

async function sourceVersion(source: string): Promise<string> {
  const pkg = JSON.parse(await fs.readFile(path.join(source, 'package.json'), 'utf8')) as {
    version?: unknown;
  };
  if (typeof pkg.version !== 'string')
    throw new BangerError('precondition_failed', `${source}/package.json has no version`);
  return pkg.version;
}

async function rootDir(dir: string, mode: number, undo: UndoStack): Promise<void> {
  const missing: string[] = [];
  for (let at = dir; !(await exists(at)); at = path.dirname(at)) missing.unshift(at);
  for (const at of missing) {
    // Parents are traversable (0755); the directory itself gets `mode`.
    const want = at === dir ? mode : 0o755;
    await fs.mkdir(at, { mode: want });
    await fs.chmod(at, want);
    undo.push(`remove ${at}`, () => fs.rmdir(at).catch(() => undefined));
  }
  const st = await fs.lstat(dir);
  if (!st.isDirectory() || st.uid !== 0)
    throw new BangerError('precondition_failed', `${dir} must be a directory of root`);
}

/** The owner's state/cache directory: made 0700 for the owner, or checked to be the owner's. */
async function ownerDir(dir: string, owner: OwnerAccount, undo: UndoStack): Promise<void> {
  if (!(await exists(dir))) {
    await fs.mkdir(dir, { mode: 0o700 });
    undo.push(`remove ${dir}`, () => fs.rm(dir, { recursive: true, force: true }));
    await fs.chown(dir, owner.uid, owner.gid);
    return;
  }
  const st = await fs.lstat(dir);
  if (st.isSymbolicLink() || !st.isDirectory() || st.uid !== owner.uid) {
    throw new BangerError(
      'precondition_failed',
      `${dir} exists and is not a directory of ${owner.name} (uid ${String(st.uid)})`,
      { hint: `move it away (it may hold another install's state), then install again` },
    );
  }
}

/** Writes `file` (root's, `mode`), remembering what was there for the undo. */
async function placeFile(file: string, text: string, mode: number, undo: UndoStack): Promise<void> {
  const before = await fs.readFile(file, 'utf8').catch(() => undefined);
  await writeFileAtomic(file, text, mode);
  await fs.chmod(file, mode);
  undo.push(`restore ${file}`, async () => {
    if (before === undefined) await fs.rm(file, { force: true });
    else await writeFileAtomic(file, before, mode);
  });
}

async function placeBuild(options: InstallOptions, undo: UndoStack): Promise<number> {
  const { libDir } = installPaths(options.root);
  const staged = `${libDir}.new`;
  const old = `${libDir}.old`;
  await fs.rm(staged, { recursive: true, force: true });
  await fs.rm(old, { recursive: true, force: true });
  undo.push(`remove ${staged}`, () => fs.rm(staged, { recursive: true, force: true }));
  const stats = await copyBuild(options.source, staged);
  options.log(
    `copied the build (${String(stats.files)} files, ${String(Math.round(stats.bytes / 2 ** 20))} MiB) to ${libDir}`,
  );
  const had = await exists(libDir);
  if (had) await fs.rename(libDir, old);
  await fs.rename(staged, libDir);
  undo.push(`put back the previous ${libDir}`, async () => {
    await fs.rm(libDir, { recursive: true, force: true });
    if (had) await fs.rename(old, libDir);
  });
  return stats.files;
}

async function placeBinLink(options: InstallOptions, undo: UndoStack): Promise<void> {
  const paths = installPaths(options.root);
  const target = entryPoints(paths.libDir).cli;
  const st = await fs.lstat(paths.binLink).catch(() => undefined);
  if (st !== undefined && !st.isSymbolicLink()) {
    throw new BangerError('precondition_failed', `${paths.binLink} exists and is not a symlink`, {
      hint: 'remove it (banger installs `banger` there as a link to its build)',
    });
  }
  const before = st === undefined ? undefined : await fs.readlink(paths.binLink);
  const tmp = `${paths.binLink}.new`;
  await fs.rm(tmp, { force: true });
  await fs.symlink(target, tmp);
  await fs.rename(tmp, paths.binLink);
  undo.push(`restore ${paths.binLink}`, async () => {
    await fs.rm(paths.binLink, { force: true });
    if (before !== undefined) await fs.symlink(before, paths.binLink);
  });
  options.log(`${paths.binLink} -> ${target}`);
}

export async function systemInstall(options: InstallOptions): Promise<InstallResult> {
  requireRoot('banger system install');
  const root = checkRoot(options.root);
  const owner = await lookupOwner(options.owner);
  const existing = await readInstall(root).catch((err: unknown) => {
    throw new BangerError(
      'precondition_failed',
      `an install record exists but cannot be trusted: ${(err as Error).message}`,
      { hint: `remove ${installPaths(root).installFile} after checking it, then install again` },
    );
  });
  if (existing && existing.owner !== owner.name) {
    throw new BangerError(
      'conflict',
      `banger is installed for ${existing.owner}; this install is for ${owner.name}`,
      { hint: 'uninstall first: sudo banger system uninstall' },
    );
  }
  await checkBuild(options.source);
  const paths = installPaths(root);
  const layout = resolveLayout({ mode: 'system', systemRoot: root, env: {} });
  const record: InstallRecord = {
    owner: owner.name,
    uid: owner.uid,
    gid: owner.gid,
    version: await sourceVersion(options.source),
    installedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    root,
  };

  return withUndo(async (undo) => {
    await rootDir(root, 0o755, undo);
    for (const dir of [
      path.dirname(paths.installFile),
      path.dirname(paths.libDir),
      path.dirname(paths.binLink),
      paths.unitDir,
      path.dirname(layout.stateDir),
      path.dirname(layout.cacheDir),
    ]) {
      await rootDir(dir, 0o755, undo);
    }
    await rootDir(paths.logDir, 0o700, undo);
    const files = await placeBuild(options, undo);
    await placeBinLink(options, undo);
    await ownerDir(layout.stateDir, owner, undo);
    await ownerDir(layout.cacheDir, owner, undo);
    await placeFile(paths.installFile, formatInstallRecord(record), 0o644, undo);
    options.log(
      `wrote ${paths.installFile} (owner ${owner.name}, uid ${String(owner.uid)}, version ${record.version})`,
    );
    const units = { record, node: process.execPath, group: owner.group };
    await placeFile(path.join(paths.unitDir, UNIT_NAMES.helper), helperUnit(units), 0o644, undo);
    await placeFile(path.join(paths.unitDir, UNIT_NAMES.daemon), daemonUnit(units), 0o644, undo);
    options.log(`wrote ${UNIT_NAMES.helper} and ${UNIT_NAMES.daemon} in ${paths.unitDir}`);
    if (options.start) undo.push('stop the services', () => stopServices(record));
    const manager = options.start ? await startServices(record) : undefined;
    await fs.rm(`${paths.libDir}.old`, { recursive: true, force: true });
    return { record, manager, files };
  });
}
