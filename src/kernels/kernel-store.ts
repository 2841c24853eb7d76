/**
 * The kernel store: one directory per kernel under `kernelsDir`, holding manifest.json and
 * the files it lists. A kernel appears atomically: it is built in a private directory under
 * `tmpDir` (same filesystem) and renamed into place, so a half-built kernel is never seen.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  BangerError,
  ensurePrivateDir,
  newId,
  noProgress,
  removeIfExists,
  sha256File,
  silentLogger,
  withUndo,
  writeFileAtomic,
  type Logger,
  type ProgressSink,
} from '../base/index.js';
import { packageRoot } from '../config/index.js';
import { buildFirecrackerKernel } from './build-kernel.js';
import { pullDebianKernel } from './debian-kernel.js';
import { importKernelDir } from './import-kernel.js';
import {
  assertKernelName,
  isKernelName,
  MANIFEST_FILE,
  MANIFEST_SCHEMA,
  parseManifest,
  type BuiltKernel,
  type KernelManifest,
  type KernelSourceInfo,
} from './manifest.js';

export interface KernelStoreOptions {
  /** Where kernels live (layout.kernelsDir). */
  kernelsDir: string;
  /** Scratch space on the same filesystem (layout.tmpDir). */
  tmpDir: string;
  /** Re-creatable downloads (layout.cacheDir); .debs are cached in its debs/ folder. */
  cacheDir: string;
  logger?: Logger;
  /** The kernel config `build` uses (default: the vendored Firecracker 6.1 guest config). */
  firecrackerConfig?: string;
}

export interface KernelOpOptions {
  progress?: ProgressSink;
  signal?: AbortSignal;
}

/** Absolute paths of what a VMM needs to boot a kernel. */
export interface KernelBootPaths {
  name: string;
  dir: string;
  vmlinux: string;
  initrd?: string;
}

const NOT_FOUND_HINT = 'banger kernel pull debian';
const MAX_MANIFEST_BYTES = 1024 * 1024;

export class KernelStore {
  private readonly logger: Logger;

  constructor(private readonly options: KernelStoreOptions) {
    for (const [key, dir] of Object.entries({
      kernelsDir: options.kernelsDir,
      tmpDir: options.tmpDir,
      cacheDir: options.cacheDir,
    })) {
      if (!path.isAbsolute(dir))
        throw new BangerError('bad_request', `kernel store ${key} ${dir} must be absolute`);
    }
    this.logger = options.logger ?? silentLogger;
  }

  /** Fetches Debian's cloud kernel (never installing it on the host) and builds its initramfs. */
  async pullDebian(name = 'debian', options: KernelOpOptions = {}): Promise<KernelManifest> {
    return this.install(name, options, (stage) =>
      pullDebianKernel({
        stage,
        scratchParent: this.options.tmpDir,
        debCacheDir: path.join(this.options.cacheDir, 'debs'),
        progress: options.progress ?? noProgress,
        signal: options.signal,
      }),
    );
  }

  /**
   * Builds a Firecracker-compatible kernel from Debian's linux-source-6.1 with Firecracker's
   * guest config (about 9 minutes on 2 cores; seconds when this machine built it before).
   */
  async build(
    name: string,
    options: KernelOpOptions & { jobs?: number | undefined } = {},
  ): Promise<KernelManifest> {
    return this.install(name, options, (stage) =>
      buildFirecrackerKernel({
        stage,
        scratchParent: this.options.tmpDir,
        debCacheDir: path.join(this.options.cacheDir, 'debs'),
        buildCacheDir: path.join(this.options.cacheDir, 'kernel-builds'),
        configFile:
          this.options.firecrackerConfig ??
          path.join(packageRoot(), 'vendor', 'firecracker', 'microvm-kernel-x86_64-6.1.config'),
        jobs: options.jobs,
        progress: options.progress ?? noProgress,
        signal: options.signal,
      }),
    );
  }

  /**
   * Adds a kernel from a directory holding vmlinux or vmlinuz/bzImage (+ initrd, config).
   * `source` records where the directory came from when it is not the user's (a catalog).
   */
  async import(
    name: string,
    options: KernelOpOptions & { from: string; source?: KernelSourceInfo },
  ): Promise<KernelManifest> {
    return this.install(name, options, async (stage) => {
      const built = await importKernelDir({
        from: options.from,
        stage,
        progress: options.progress ?? noProgress,
        signal: options.signal,
      });
      return options.source === undefined ? built : { ...built, source: options.source };
    });
  }

  /** Every valid kernel, by name. Broken directories are logged and left out. */
  async list(): Promise<KernelManifest[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.options.kernelsDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: KernelManifest[] = [];
    for (const name of names.filter(isKernelName).sort()) {
      try {
        out.push(await this.get(name));
      } catch (err) {
        this.logger.warn('skipping a broken kernel directory', {
          kernel: name,
          error: String(err),
        });
      }
    }
    return out;
  }

  async get(name: string): Promise<KernelManifest> {
    const dir = await this.kernelDir(name);
    const file = path.join(dir, MANIFEST_FILE);
    let text: string;
    try {
      const st = await fs.lstat(file);
      if (!st.isFile() || st.size > MAX_MANIFEST_BYTES)
        throw new Error('not a regular file of at most 1 MiB');
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      throw broken(name, `cannot read ${file}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw broken(name, `${file} is not valid JSON: ${(err as Error).message}`);
    }
    return parseManifest(parsed, name);
  }

  /** Boot files of `name`, checked to be regular files of the size the manifest states. */
  async paths(name: string): Promise<KernelBootPaths> {
    const manifest = await this.get(name);
    const dir = path.join(this.options.kernelsDir, name);
    const check = async (file: string): Promise<string> => {
      const full = path.join(dir, file);
      const entry = manifest.files.find((f) => f.name === file);
      const st = await fs.lstat(full).catch(() => undefined);
      if (!st?.isFile() || st.size !== entry?.size) {
        throw broken(
          name,
          `${full} is missing, not a regular file, or not the size its manifest states`,
        );
      }
      return full;
    };
    const out: KernelBootPaths = { name, dir, vmlinux: await check(manifest.vmlinux) };
    if (manifest.initramfs !== undefined) out.initrd = await check(manifest.initramfs);
    return out;
  }

  /** Re-hashes every file against the manifest (slow: reads the whole kernel). */
  async verify(name: string): Promise<void> {
    const manifest = await this.get(name);
    for (const f of manifest.files) {
      const full = path.join(this.options.kernelsDir, name, f.name);
      const st = await fs.lstat(full).catch(() => undefined);
      if (!st?.isFile() || st.size !== f.size || (await sha256File(full)) !== f.sha256) {
        throw broken(name, `${full} does not match its manifest (size or sha256)`);
      }
    }
  }

  /** Removes a kernel, also a broken one. It disappears at once (renamed away, then deleted). */
  async remove(name: string): Promise<void> {
    const dir = await this.kernelDir(name);
    await ensurePrivateDir(this.options.tmpDir);
    const trash = path.join(this.options.tmpDir, `.removing-kernel-${name}-${newId()}`);
    await fs.rename(dir, trash);
    await removeIfExists(trash);
  }

  private async kernelDir(name: string): Promise<string> {
    assertKernelName(name);
    const dir = path.join(this.options.kernelsDir, name);
    const st = await fs.lstat(dir).catch(() => undefined);
    if (st === undefined) {
      throw new BangerError(
        'not_found',
        `kernel ${name} is not in the kernel store (${this.options.kernelsDir})`,
        {
          hint: NOT_FOUND_HINT,
        },
      );
    }
    if (!st.isDirectory()) throw broken(name, `${dir} is not a directory`);
    return dir;
  }

  private async install(
    name: string,
    options: KernelOpOptions,
    build: (stage: string) => Promise<BuiltKernel>,
  ): Promise<KernelManifest> {
    assertKernelName(name);
    const final = path.join(this.options.kernelsDir, name);
    if (await fs.lstat(final).catch(() => undefined)) throw alreadyExists(name);
    await ensurePrivateDir(this.options.kernelsDir);
    await ensurePrivateDir(this.options.tmpDir);
    return withUndo(
      async (undo) => {
        const stage = await fs.mkdtemp(path.join(this.options.tmpDir, `kernel-${name}-`));
        undo.push(`remove ${stage}`, () => removeIfExists(stage));
        const built = await build(stage);
        options.signal?.throwIfAborted();
        options.progress?.({ step: 'install', message: `hashing and installing kernel ${name}` });
        const files = [];
        for (const file of (await fs.readdir(stage)).sort()) {
          const full = path.join(stage, file);
          files.push({
            name: file,
            size: (await fs.lstat(full)).size,
            sha256: await sha256File(full),
          });
        }
        const manifest: KernelManifest = {
          schema: MANIFEST_SCHEMA,
          name,
          ...built,
          files,
          createdAt: new Date().toISOString(),
        };
        // Round-trip through the validator: never write a manifest we would refuse to read.
        parseManifest(JSON.parse(JSON.stringify(manifest)), name);
        await writeFileAtomic(
          path.join(stage, MANIFEST_FILE),
          `${JSON.stringify(manifest, null, 2)}\n`,
          0o644,
        );
        await fs.chmod(stage, 0o755);
        try {
          await fs.rename(stage, final);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOTEMPTY' || code === 'EEXIST') throw alreadyExists(name);
          throw err;
        }
        return manifest;
      },
      (label, error) => this.logger.warn('undo failed', { label, error: String(error) }),
    );
  }
}

function alreadyExists(name: string): BangerError {
  return new BangerError('already_exists', `kernel ${name} already exists`, {
    hint: `remove it first with \`banger kernel rm ${name}\`, or pick another name`,
  });
}

function broken(name: string, why: string): BangerError {
  return new BangerError('operation_failed', `kernel ${name} is broken: ${why}`, {
    hint: `remove it with \`banger kernel rm ${name}\` and pull or import it again`,
  });
}
