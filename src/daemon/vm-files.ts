/**
 * A VM's files: its durable directory (disks, console log) and its runtime directory
 * (sockets, live handles). Names come from config/layout so every path is written once.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ensurePrivateDir, removeIfExists, run, writeFileAtomic } from '../base/index.js';
import { VM_FILES, vmRuntimeDir, vmStateDir, type Layout } from '../config/index.js';
import type { VmmHandles } from '../protocol/index.js';

export interface VmPaths {
  stateDir: string;
  runDir: string;
  rootOverlay: string;
  workDisk: string;
  consoleLog: string;
  vmmLog: string;
  handles: string;
}

export function vmPaths(layout: Layout, vmId: string): VmPaths {
  const stateDir = vmStateDir(layout, vmId);
  const runDir = vmRuntimeDir(layout, vmId);
  return {
    stateDir,
    runDir,
    rootOverlay: path.join(stateDir, VM_FILES.rootOverlay),
    workDisk: path.join(stateDir, VM_FILES.workDisk),
    consoleLog: path.join(stateDir, VM_FILES.consoleLog),
    vmmLog: path.join(stateDir, VM_FILES.vmmLog),
    handles: path.join(runDir, VM_FILES.handles),
  };
}

export async function makeVmDirs(paths: VmPaths): Promise<void> {
  await ensurePrivateDir(paths.stateDir);
  await ensurePrivateDir(paths.runDir);
}

/**
 * A sparse ext4 work disk, formatted lazily so creation takes well under a second; seeded
 * with `seedDir` (the image's /root: dotfiles) so mounting it on /root hides nothing.
 */
export async function createWorkDisk(file: string, bytes: number, seedDir?: string): Promise<void> {
  const handle = await fs.open(file, 'wx', 0o600);
  try {
    await handle.truncate(bytes);
  } finally {
    await handle.close();
  }
  await run('mkfs.ext4', [
    '-q',
    '-F',
    '-L',
    'banger-work',
    '-m',
    '0',
    '-E',
    'lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0',
    ...(seedDir === undefined ? [] : ['-d', seedDir]),
    file,
  ]);
  // mkfs -d does not carry the seed directory's own mode over: /root is private.
  const script = ['sif / mode 040700'];
  // Not root (a system install's daemon): the seed's files are the daemon user's on the host,
  // and mkfs -d copied that; in the guest they are root's, as in the image.
  if (seedDir !== undefined && process.getuid?.() !== 0)
    script.push(...(await rootOwnerScript(seedDir)));
  await run('debugfs', ['-w', '-f', '-', file], { input: `${script.join('\n')}\n` });
}

/** debugfs lines that make every file under `dir` (as it lies in the new filesystem) root's. */
async function rootOwnerScript(dir: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      // debugfs takes one request per line and quotes with "..." ("" for a quote).
      if (/[\x00-\x1f\x7f]/.test(child)) continue;
      const quoted = `"${child.replaceAll('"', '""')}"`;
      lines.push(`sif ${quoted} uid 0`, `sif ${quoted} gid 0`);
      if (entry.isDirectory()) await walk(child);
    }
  };
  await walk('');
  return lines;
}

const VM_LAUNCH_SHAPE_FILE = 'launch-shape.json';

/**
 * The launch shape of the running VMM (saved-manifest.ts launchShape), kept beside its handles
 * so that a snapshot taken later (also after a daemon restart) records what it needs.
 */
export async function writeLaunchShape(paths: VmPaths, shape: string): Promise<void> {
  await writeFileAtomic(path.join(paths.runDir, VM_LAUNCH_SHAPE_FILE), shape);
}

export async function readLaunchShape(paths: VmPaths): Promise<string | undefined> {
  try {
    return await fs.readFile(path.join(paths.runDir, VM_LAUNCH_SHAPE_FILE), 'utf8');
  } catch {
    return undefined;
  }
}

export async function writeHandles(paths: VmPaths, handles: VmmHandles): Promise<void> {
  await writeFileAtomic(paths.handles, JSON.stringify(handles));
}

/** The handles a previous daemon recorded, or undefined when missing or unreadable. */
export async function readHandles(paths: VmPaths): Promise<VmmHandles | undefined> {
  try {
    const value = JSON.parse(await fs.readFile(paths.handles, 'utf8')) as Partial<VmmHandles>;
    if (
      (value.kind === 'qemu' || value.kind === 'firecracker') &&
      typeof value.pid === 'number' &&
      typeof value.startTime === 'number' &&
      typeof value.controlSocket === 'string' &&
      typeof value.agentSocket === 'string'
    ) {
      return value as VmmHandles;
    }
  } catch {
    /* no handles: treated as not running */
  }
  return undefined;
}

export async function removeRuntimeDir(paths: VmPaths): Promise<void> {
  await removeIfExists(paths.runDir);
}

export async function removeVmFiles(paths: VmPaths): Promise<void> {
  await removeIfExists(paths.runDir);
  await removeIfExists(paths.stateDir);
}

/** The last `count` lines of a text file ('' when missing), for error messages. */
export async function tailFile(file: string, count: number): Promise<string> {
  try {
    const handle = await fs.open(file, 'r');
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, 16 * 1024);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      return buffer.toString('utf8').trimEnd().split('\n').slice(-count).join('\n');
    } finally {
      await handle.close();
    }
  } catch {
    return '';
  }
}

/** Keeps a failed VM's console log where the user can read it after the VM is gone. */
export async function preserveConsoleLog(
  layout: Layout,
  paths: VmPaths,
  label: string,
): Promise<string | undefined> {
  try {
    await ensurePrivateDir(layout.logsDir);
    const dest = path.join(layout.logsDir, `${label}.console.log`);
    await fs.copyFile(paths.consoleLog, dest);
    return dest;
  } catch {
    return undefined;
  }
}
