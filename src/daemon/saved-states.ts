/**
 * Where saved guests live on disk: warm templates (`warm/<id>/`) and snapshots
 * (`snapshots/<name>/`), each a directory with the VMM's state, the guest's memory file (if
 * any), its frozen disks and manifest.json. A saved guest is made in a staging directory
 * (`.tmp-<id>`) and appears under its final name in one rename, complete or not at all.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import {
  BangerError,
  ensurePrivateDir,
  newId,
  removeIfExists,
  sha256File,
  writeFileAtomic,
} from '../base/index.js';
import type { Layout } from '../config/index.js';
import type { SavedVmState } from '../vmm/index.js';
import {
  manifestProblem,
  sameFingerprint,
  type FileFingerprint,
  type SavedFile,
  type SavedManifest,
} from './saved-manifest.js';

export const MANIFEST_FILE = 'manifest.json';
const MAX_MANIFEST_BYTES = 1024 * 1024;

export interface SavedEntry {
  dir: string;
  manifest: SavedManifest;
}

/** What the image and kernel are now, for checking a saved guest against them. */
export interface CurrentArtifacts {
  image: { name: string; sha256: string; rootfs: string };
  kernel: { name: string; files: string[]; sha256?: string | undefined };
  backend: string;
  vmmVersion?: string | undefined;
  accel: string;
  bangerVersion: string;
}

export async function fingerprintOf(file: string): Promise<FileFingerprint> {
  const st = await fs.lstat(file, { bigint: true });
  if (!st.isFile()) throw new BangerError('precondition_failed', `${file} is not a regular file`);
  return {
    size: Number(st.size),
    dev: String(st.dev),
    ino: String(st.ino),
    mtimeNs: String(st.mtimeNs),
    ctimeNs: String(st.ctimeNs),
  };
}

/** A file of a saved state (`name` in `dir`), made read-only first, fingerprinted last. */
export async function freezeFile(
  dir: string,
  name: string,
  options: { hash?: boolean; mode?: number } = {},
): Promise<SavedFile> {
  const file = path.join(dir, name);
  // 0600, not 0400: QEMU opens a private memory file read-write (it never writes it back).
  await fs.chmod(file, options.mode ?? 0o400);
  const sha256 = options.hash ? await sha256File(file) : undefined;
  return { path: name, fingerprint: await fingerprintOf(file), ...(sha256 ? { sha256 } : {}) };
}

export async function externalFile(file: string): Promise<SavedFile> {
  return { path: file, fingerprint: await fingerprintOf(file) };
}

export class SavedStates {
  constructor(private readonly layout: Pick<Layout, 'warmDir' | 'snapshotsDir'>) {}

  private root(kind: SavedManifest['kind']): string {
    return kind === 'template' ? this.layout.warmDir : this.layout.snapshotsDir;
  }

  /** A fresh staging directory for a saved state of `kind`. */
  async stage(kind: SavedManifest['kind']): Promise<string> {
    const root = this.root(kind);
    await ensurePrivateDir(root);
    const dir = path.join(root, `.tmp-${newId()}`);
    await fs.mkdir(dir, { mode: 0o700 });
    return dir;
  }

  /** Writes the manifest and moves the staging directory to its final name. */
  async commit(staged: string, manifest: SavedManifest): Promise<SavedEntry> {
    const problem = manifestProblem(manifest);
    if (problem) throw new BangerError('internal', `refusing to save a bad manifest: ${problem}`);
    await writeFileAtomic(
      path.join(staged, MANIFEST_FILE),
      `${JSON.stringify(manifest, null, 2)}\n`,
      0o400,
    );
    const name = manifest.kind === 'template' ? manifest.id : (manifest.name ?? manifest.id);
    const dir = path.join(this.root(manifest.kind), name);
    try {
      // rename() would replace an empty directory of that name: refuse any existing one.
      await fs.mkdir(dir, { mode: 0o700 });
      await fs.rmdir(dir);
      await fs.rename(staged, dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new BangerError('already_exists', `a saved ${manifest.kind} ${name} already exists`);
      }
      throw err;
    }
    return { dir, manifest };
  }

  async templates(): Promise<SavedEntry[]> {
    return this.read('template');
  }

  async snapshots(): Promise<SavedEntry[]> {
    return this.read('snapshot');
  }

  async snapshot(name: string): Promise<SavedEntry | undefined> {
    return (await this.snapshots()).find((s) => s.manifest.name === name);
  }

  async remove(entry: SavedEntry): Promise<void> {
    // Moved aside first: a half-removed directory never looks like a saved state.
    const trash = path.join(path.dirname(entry.dir), `.tmp-${newId()}`);
    await fs.rename(entry.dir, trash).catch(() => undefined);
    await removeIfExists(trash);
    await removeIfExists(entry.dir);
  }

  /** Removes staging directories a crash left behind. */
  async sweep(): Promise<void> {
    for (const kind of ['template', 'snapshot'] as const) {
      const root = this.root(kind);
      const names = await fs.readdir(root).catch(() => [] as string[]);
      for (const name of names)
        if (name.startsWith('.tmp-')) await removeIfExists(path.join(root, name));
    }
  }

  /** The files a restore reads, as the backend wants them. */
  savedState(entry: SavedEntry): SavedVmState {
    const { manifest, dir } = entry;
    return {
      backend: manifest.backend,
      stateFile: path.join(dir, manifest.state.file.path),
      memoryFile:
        manifest.state.memory === undefined
          ? undefined
          : path.join(dir, manifest.state.memory.path),
      compression: manifest.state.compression,
    };
  }

  /**
   * Why `entry` cannot be restored now (undefined: it can): another banger, VMM or
   * accelerator, another image or kernel, or a file of it changed since it was saved.
   */
  async staleReason(entry: SavedEntry, now: CurrentArtifacts): Promise<string | undefined> {
    const m = entry.manifest;
    if (m.bangerVersion !== now.bangerVersion)
      return `it was saved by banger ${m.bangerVersion}, this is ${now.bangerVersion}`;
    if (m.backend !== now.backend) return `it was saved by ${m.backend}, the VMM is ${now.backend}`;
    if (
      m.vmmVersion !== undefined &&
      now.vmmVersion !== undefined &&
      m.vmmVersion !== now.vmmVersion
    )
      return `it was saved by ${m.vmmVersion}, the VMM is now ${now.vmmVersion}`;
    if (m.accel !== now.accel)
      return `it was saved under ${m.accel}, VMs now run under ${now.accel}`;
    if (m.image.name !== now.image.name || m.image.sha256 !== now.image.sha256)
      return `image ${m.image.name} changed since it was saved`;
    if (m.image.rootfs.path !== now.image.rootfs)
      return `image ${m.image.name} moved since it was saved`;
    if (m.kernel.name !== now.kernel.name)
      return `its kernel is ${m.kernel.name}, not ${now.kernel.name}`;
    if (
      m.kernel.sha256 !== undefined &&
      now.kernel.sha256 !== undefined &&
      m.kernel.sha256 !== now.kernel.sha256
    )
      return `kernel ${m.kernel.name} changed since it was saved`;
    const kernelFiles = m.kernel.files.map((f) => f.path);
    if (JSON.stringify(kernelFiles) !== JSON.stringify(now.kernel.files))
      return `kernel ${m.kernel.name} changed since it was saved`;
    const checks: [string, SavedFile][] = [
      [`the rootfs of image ${m.image.name}`, m.image.rootfs],
      ...m.kernel.files.map((f): [string, SavedFile] => [`kernel file ${f.path}`, f]),
    ];
    const own: [string, SavedFile | undefined][] = [
      ['its state file', m.state.file],
      ['its memory file', m.state.memory],
      ['its root disk', m.disks.root],
      ['its work disk', m.disks.work],
    ];
    for (const [what, file] of own)
      if (file) checks.push([what, { ...file, path: path.join(entry.dir, file.path) }]);
    for (const [what, file] of checks) {
      const current = await fingerprintOf(file.path).catch(() => undefined);
      if (!current) return `${what} (${file.path}) is missing`;
      if (!sameFingerprint(current, file.fingerprint))
        return `${what} (${file.path}) changed since it was saved`;
    }
    return undefined;
  }

  private async read(kind: SavedManifest['kind']): Promise<SavedEntry[]> {
    const root = this.root(kind);
    const names = await fs.readdir(root).catch(() => [] as string[]);
    const out: SavedEntry[] = [];
    for (const name of names.sort()) {
      if (name.startsWith('.')) continue;
      const dir = path.join(root, name);
      const manifest = await readManifest(dir);
      if (manifest && manifest.kind === kind) out.push({ dir, manifest });
    }
    return out;
  }
}

/** The manifest in `dir`, or undefined when it is missing or not a valid one. */
export async function readManifest(dir: string): Promise<SavedManifest | undefined> {
  let text: string;
  try {
    const handle = await fs.open(path.join(dir, MANIFEST_FILE), fsc.O_RDONLY | fsc.O_NOFOLLOW);
    try {
      const { size } = await handle.stat();
      if (size > MAX_MANIFEST_BYTES) return undefined;
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
  try {
    const raw: unknown = JSON.parse(text);
    return manifestProblem(raw) === undefined ? (raw as SavedManifest) : undefined;
  } catch {
    return undefined;
  }
}
