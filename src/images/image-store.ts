/**
 * The image store: one directory per image under `imagesDir`, holding rootfs.ext4 and
 * manifest.json. Images appear atomically (built in a scratch directory under `tmpDir`, then
 * renamed into place) and a failed or canceled build leaves nothing behind.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import {
  BangerError,
  badRequest,
  ensurePrivateDir,
  newId,
  noProgress,
  notFound,
  preconditionFailed,
  writeFileAtomic,
  type ProgressSink,
} from '../base/index.js';
import { GUEST_PROGRAMS, type Layout } from '../config/index.js';
import { throwIfCanceled } from './abort.js';
import { buildDebianImage } from './debian-build.js';
import { DEBIAN_BOOKWORM, DEBIAN_BOOKWORM_PACKAGES } from './debian-bookworm-packages.js';
import { loadGuestPrograms, type GuestProgramFile } from './guest-programs.js';
import { IMAGE_NAME_PATTERN, validateImageName, validateKernelName } from './image-name.js';
import {
  MANIFEST_FILE,
  MANIFEST_MAX_BYTES,
  MANIFEST_SCHEMA,
  ROOTFS_FILE,
  parseManifest,
  validateManifest,
  type ImageManifest,
  type ImageSource,
} from './manifest.js';
import { parseLock } from './package-lock.js';
import { checkRootfsFile, registerImageFile } from './register-image.js';
import { createScratchDir, publishDir, removeScratchDir } from './scratch-dir.js';
import type { StepTimings } from './step-timer.js';
import { describeSsh, type Userland } from './userland.js';
import { BlobCache } from './oci/blob-cache.js';
import {
  checkCredentials,
  dockerConfigFile,
  lookupDockerConfig,
  type Credentials,
} from './oci/credentials.js';
import { DEFAULT_LAYER_LIMITS, type LayerLimits } from './oci/layer-policy.js';
import { pullOciImage } from './oci/oci-pull.js';
import {
  defaultImageName,
  isLoopbackRegistry,
  parseImageReference,
  type ImageReference,
} from './oci/reference.js';
import type { CatalogEntry } from './catalog/catalog-index.js';
import { installImageBundle } from './catalog/catalog-pull.js';
import { httpSource } from './catalog/http-source.js';
import { exportImage, type ExportResult } from './image-export.js';
import { promoteImage } from './image-promote.js';

/** The recipes `build` knows, by image name. */
export const BUILD_RECIPES = ['debian-bookworm'] as const;
export type BuildRecipe = (typeof BUILD_RECIPES)[number];
/** The kernel an image boots with unless told otherwise (a name in the kernel store). */
export const DEFAULT_KERNEL = 'debian';
/** What `get` suggests when an image is missing. */
export const BUILD_HINT = 'banger image build debian-bookworm';

/** Names of the store's own entries in the shared tmp dir (see `sweepScratch`). */
const SCRATCH_PREFIX = {
  build: 'image-build-',
  register: 'image-register-',
  pull: 'image-pull-',
  promote: 'image-promote-',
} as const;
type ScratchKind = keyof typeof SCRATCH_PREFIX;
const REMOVED_PREFIX = 'removed-image-';
const SCRATCH_PREFIXES = [...Object.values(SCRATCH_PREFIX), REMOVED_PREFIX];
/** Where OCI and catalog images carry banger's programs: the kernel command line runs /sbin/banger-init. */
const PULLED_GUEST_DIR = '/sbin';

export interface ImageStoreOptions {
  layout: Pick<Layout, 'imagesDir' | 'tmpDir' | 'guestBinDir'> &
    Partial<Pick<Layout, 'ociCacheDir' | 'bundleCacheDir'>>;
  /** Where the built guest programs are (default layout.guestBinDir). */
  guestBinDir?: string;
  /** Clock for createdAt and the default SOURCE_DATE_EPOCH (tests). */
  now?: () => Date;
}

export interface ImageRecord {
  name: string;
  dir: string;
  rootfsPath: string;
  manifest: ImageManifest;
}

export interface ImageListing {
  images: ImageRecord[];
  /** Image directories whose manifest or files failed validation (never used, shown to the user). */
  broken: { name: string; error: BangerError }[];
}

export interface BuildOptions {
  /** Which recipe (default: the image name, which must then be a recipe's name). */
  recipe?: string;
  kernel?: string;
  /** `name=version` pins the build must install exactly (e.g. a previous build's packages). */
  lock?: readonly string[];
  mirror?: string;
  securityMirror?: string;
  /** SOURCE_DATE_EPOCH for the build (default: now, whole seconds). */
  sourceDateEpoch?: number;
  onProgress?: ProgressSink;
  signal?: AbortSignal;
}

export interface RegisterOptions {
  /** The user's raw ext4 file; copied, never modified. */
  rootfs: string;
  kernel?: string;
  onProgress?: ProgressSink;
  signal?: AbortSignal;
}

export interface OciPullOptions {
  /** An image reference: python:3.12, ghcr.io/org/app@sha256:... */
  ref: string;
  /** Image name (default: from the reference, e.g. python-3.12). */
  name?: string;
  kernel?: string;
  /** Explicit credentials; otherwise the Docker config is searched. */
  credentials?: Credentials;
  /** Docker config to search (default $DOCKER_CONFIG/config.json or ~/.docker/config.json). */
  dockerConfigFile?: string;
  /** Registries reached over plain HTTP besides loopback ones. */
  insecureRegistries?: readonly string[];
  limits?: Partial<LayerLimits>;
  onProgress?: ProgressSink;
  signal?: AbortSignal;
}

export interface CatalogPullOptions {
  entry: CatalogEntry;
  catalogUrl: string;
  /** Image name (default: the entry's). */
  name?: string;
  /** Kernel (default: the entry's, else the default kernel). */
  kernel?: string;
  onProgress?: ProgressSink;
  signal?: AbortSignal;
}

export interface CachePruneResult {
  dryRun: boolean;
  /** Cached blobs and bundles removed (or that would be). */
  blobs: number;
  freedBytes: number;
  dirs: string[];
}

export interface ImageResult {
  image: ImageRecord;
  /** How long each step took (ms): build time is reported, not guessed. */
  timings: StepTimings;
}

export class ImageStore {
  readonly imagesDir: string;
  readonly tmpDir: string;
  readonly guestBinDir: string;
  /** OCI blobs shared by every pulled image. */
  readonly blobs: BlobCache;
  /** Downloaded catalog bundles (kernel bundles too), by sha256. */
  readonly bundles: BlobCache;
  private readonly now: () => Date;
  /** Pulls in flight, by name and reference: a second identical pull joins the first. */
  private readonly pulls = new Map<string, Promise<ImageResult>>();

  constructor(options: ImageStoreOptions) {
    this.imagesDir = options.layout.imagesDir;
    this.tmpDir = options.layout.tmpDir;
    this.guestBinDir = options.guestBinDir ?? options.layout.guestBinDir;
    this.now = options.now ?? (() => new Date());
    const cacheRoot = path.join(path.dirname(this.tmpDir), 'cache');
    this.blobs = new BlobCache(options.layout.ociCacheDir ?? path.join(cacheRoot, 'oci'));
    this.bundles = new BlobCache(options.layout.bundleCacheDir ?? path.join(cacheRoot, 'bundles'));
  }

  /**
   * Pulls an OCI image (linux/amd64) from its registry into image `name`. Concurrent pulls of
   * the same reference under the same name share one pull; blobs are shared across all pulls.
   */
  async pullOci(options: OciPullOptions): Promise<ImageResult> {
    const ref = parseImageReference(options.ref);
    const name = validateImageName(options.name ?? defaultImageName(ref));
    const key = `${name}\0${ref.canonical}`;
    const running = this.pulls.get(key);
    if (running !== undefined) {
      options.onProgress?.({
        step: 'resolve',
        message: `joining the pull of ${ref.canonical} already running`,
      });
      return running;
    }
    const pull = this.doPullOci(name, ref, options);
    this.pulls.set(key, pull);
    try {
      return await pull;
    } finally {
      this.pulls.delete(key);
    }
  }

  private async doPullOci(
    name: string,
    ref: ImageReference,
    options: OciPullOptions,
  ): Promise<ImageResult> {
    const kernel = validateKernelName(options.kernel ?? DEFAULT_KERNEL);
    await this.refuseExisting(name);
    const guestPrograms = await loadGuestPrograms(this.guestBinDir);
    let credentials =
      options.credentials === undefined ? undefined : checkCredentials(options.credentials);
    let helper: string | undefined;
    if (credentials === undefined) {
      const found = await lookupDockerConfig(
        ref.registry,
        options.dockerConfigFile ?? dockerConfigFile(),
      );
      credentials = found.credentials;
      helper = found.helper;
    }
    const onProgress = options.onProgress ?? noProgress;
    const limits = { ...DEFAULT_LAYER_LIMITS, ...options.limits };
    return this.inScratch(name, 'pull', options.signal, async (scratch, image) => {
      const out = await pullOciImage({
        name,
        ref,
        scratchDir: scratch,
        image,
        cache: this.blobs,
        ...(credentials === undefined ? {} : { credentials }),
        plainHttp:
          isLoopbackRegistry(ref.registry) ||
          (options.insecureRegistries ?? []).includes(ref.registry),
        limits,
        guestPrograms,
        guestDir: PULLED_GUEST_DIR,
        sourceDateEpoch: Math.floor(this.now().getTime() / 1000),
        onProgress,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      }).catch((err: unknown) => {
        if (err instanceof BangerError && err.code === 'unauthorized' && helper !== undefined) {
          throw new BangerError('unauthorized', err.message, {
            hint: `your Docker config hands ${ref.registry} to the credential helper "${helper}", which banger does not run: pass --username USER --password-stdin`,
          });
        }
        throw err;
      });
      onProgress({ step: 'userland', message: describeSsh(out.userland) });
      const manifest = this.manifestFor(name, {
        sizeBytes: out.sizeBytes,
        sha256: out.sha256,
        kernel,
        source: out.source,
        guestDir: out.guestDir,
        guestPrograms,
        sshHostKeys: 'absent',
        userland: out.userland,
      });
      return { manifest, timings: out.timings, onProgress };
    });
  }

  /** Pulls a catalog bundle: download (resumable, sha256-checked), unpack, guest programs, publish. */
  async pullCatalog(options: CatalogPullOptions): Promise<ImageResult> {
    const { entry } = options;
    const name = validateImageName(options.name ?? entry.name);
    const kernel = validateKernelName(options.kernel ?? entry.kernel ?? DEFAULT_KERNEL);
    await this.refuseExisting(name);
    const guestPrograms = await loadGuestPrograms(this.guestBinDir);
    const onProgress = options.onProgress ?? noProgress;
    const digest = `sha256:${entry.sha256}`;
    const release = this.bundles.pin([digest]);
    try {
      let got = 0;
      let last = 0;
      const bundle = await this.bundles.ensure(digest, entry.size, httpSource(entry.url), {
        what: entry.url,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        onBytes: (n) => {
          got += n;
          if (Date.now() - last < 250 && got < entry.size) return;
          last = Date.now();
          onProgress({
            step: 'download',
            message: `downloading ${entry.name}: ${(got / 2 ** 20).toFixed(1)} / ${(entry.size / 2 ** 20).toFixed(1)} MiB`,
            fraction: Math.min(1, got / entry.size),
          });
        },
      });
      return await this.inScratch(name, 'pull', options.signal, async (scratch, image) => {
        const out = await installImageBundle({
          bundle,
          where: `bundle ${entry.url}`,
          scratchDir: scratch,
          image,
          guestPrograms,
          guestDir: PULLED_GUEST_DIR,
          onProgress,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
        if (out.userland !== undefined)
          onProgress({ step: 'userland', message: describeSsh(out.userland) });
        const manifest = this.manifestFor(name, {
          sizeBytes: out.sizeBytes,
          sha256: out.sha256,
          kernel,
          source: {
            kind: 'catalog',
            catalog: options.catalogUrl,
            entry: entry.name,
            bundleUrl: entry.url,
            bundleSha256: entry.sha256,
            bundleSize: entry.size,
          },
          guestDir: out.guestDir,
          guestPrograms,
          sshHostKeys: out.sshHostKeys,
          ...(out.userland === undefined ? {} : { userland: out.userland }),
        });
        return { manifest, timings: out.timings, onProgress };
      });
    } finally {
      release();
    }
  }

  /** Writes image `name` as a bundle (.tar.zst of manifest.json + rootfs.ext4) at `output`. */
  async export(
    name: string,
    options: { output: string; onProgress?: ProgressSink; signal?: AbortSignal },
  ): Promise<ExportResult> {
    const image = await this.get(name);
    return exportImage(image, {
      output: options.output,
      now: this.now(),
      onProgress: options.onProgress ?? noProgress,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  }

  /**
   * Makes a registered image a managed one: its bytes re-checked against the manifest, baked-in
   * ssh host keys removed (each VM makes its own), its userland recorded. The caller (the
   * daemon) checks first that no VM uses it: the rootfs is replaced.
   */
  async promote(
    name: string,
    options: { onProgress?: ProgressSink; signal?: AbortSignal } = {},
  ): Promise<ImageResult> {
    const record = await this.get(name);
    const onProgress = options.onProgress ?? noProgress;
    return this.inScratch(
      name,
      'promote',
      options.signal,
      async (scratch, image) => {
        const out = await promoteImage(record, {
          scratchDir: scratch,
          image,
          onProgress,
          now: this.now(),
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
        return { manifest: out.manifest, timings: out.timings, onProgress };
      },
      { replace: true },
    );
  }

  /** Frees cached blobs no image references (and downloaded bundles); `dryRun` only counts. */
  async pruneCache(options: { dryRun: boolean }): Promise<CachePruneResult> {
    const keep = new Set<string>();
    for (const image of (await this.list()).images) {
      const source = image.manifest.source;
      if (source.kind !== 'oci') continue;
      keep.add(source.configDigest);
      for (const layer of source.layers) keep.add(layer.digest);
    }
    const oci = await this.blobs.prune(keep, options.dryRun);
    const bundles = await this.bundles.prune(new Set(), options.dryRun);
    return {
      dryRun: options.dryRun,
      blobs: oci.blobs + bundles.blobs,
      freedBytes: oci.freedBytes + bundles.freedBytes,
      dirs: [oci.dir, bundles.dir],
    };
  }

  /** Builds image `name` from its recipe (today: debian-bookworm via mmdebstrap). Needs root. */
  async build(name: string, options: BuildOptions = {}): Promise<ImageResult> {
    validateImageName(name);
    const recipe = options.recipe ?? name;
    if (!(BUILD_RECIPES as readonly string[]).includes(recipe)) {
      throw badRequest(
        `no build recipe named ${JSON.stringify(recipe)}: known recipes are ${BUILD_RECIPES.join(', ')}`,
        {
          hint: BUILD_HINT,
        },
      );
    }
    const kernel = validateKernelName(options.kernel ?? DEFAULT_KERNEL);
    const lock = parseLock(options.lock ?? []);
    const sourceDateEpoch = options.sourceDateEpoch ?? Math.floor(this.now().getTime() / 1000);
    if (!Number.isSafeInteger(sourceDateEpoch) || sourceDateEpoch < 0) {
      throw badRequest(
        `sourceDateEpoch ${String(sourceDateEpoch)} must be a non-negative integer (seconds)`,
      );
    }
    const mirror = validateMirror(options.mirror ?? DEBIAN_BOOKWORM.mirror, 'mirror');
    const securityMirror = validateMirror(
      options.securityMirror ?? DEBIAN_BOOKWORM.securityMirror,
      'securityMirror',
    );
    await this.refuseExisting(name);
    const guestPrograms = await loadGuestPrograms(this.guestBinDir);
    if (process.getuid?.() !== 0) {
      throw preconditionFailed(`building image ${name} needs root: mmdebstrap runs in root mode`, {
        hint: 'build as root, or build the ext4 file elsewhere and `banger image register` it',
      });
    }
    const onProgress = options.onProgress ?? noProgress;

    return this.inScratch(name, 'build', options.signal, async (scratch, image) => {
      const out = await buildDebianImage({
        name,
        scratchDir: scratch,
        image,
        suite: DEBIAN_BOOKWORM.suite,
        mirror,
        securityMirror,
        packages: DEBIAN_BOOKWORM_PACKAGES,
        lock,
        sourceDateEpoch,
        guestPrograms,
        guestDir: GUEST_PROGRAMS.guestDir,
        onProgress,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      const manifest = this.manifestFor(name, {
        sizeBytes: out.sizeBytes,
        sha256: out.sha256,
        kernel,
        source: out.source,
        guestDir: GUEST_PROGRAMS.guestDir,
        guestPrograms,
        sshHostKeys: 'absent',
      });
      return { manifest, timings: out.timings, onProgress };
    });
  }

  /** Registers a user's raw ext4 file as image `name` (copy + guest programs injected into the copy). */
  async register(name: string, options: RegisterOptions): Promise<ImageResult> {
    validateImageName(name);
    const kernel = validateKernelName(options.kernel ?? DEFAULT_KERNEL);
    if (
      typeof options.rootfs !== 'string' ||
      options.rootfs === '' ||
      options.rootfs.includes('\0')
    ) {
      throw badRequest(`rootfs must be a file path, got ${JSON.stringify(options.rootfs)}`);
    }
    const source = path.resolve(options.rootfs);
    await this.refuseExisting(name);
    const guestPrograms = await loadGuestPrograms(this.guestBinDir);
    await checkRootfsFile(source);
    const onProgress = options.onProgress ?? noProgress;

    return this.inScratch(name, 'register', options.signal, async (scratch, image) => {
      const out = await registerImageFile({
        name,
        source,
        image,
        guestPrograms,
        guestDir: GUEST_PROGRAMS.guestDir,
        onProgress,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      const manifest = this.manifestFor(name, {
        sizeBytes: out.sizeBytes,
        sha256: out.sha256,
        kernel,
        source: { kind: 'register', from: source },
        guestDir: out.guestDir,
        guestPrograms,
        sshHostKeys: out.sshHostKeys,
      });
      return { manifest, timings: out.timings, onProgress };
    });
  }

  /** Every valid image, plus the directories that failed validation. */
  async list(): Promise<ImageListing> {
    let names: string[];
    try {
      names = await fs.readdir(this.imagesDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { images: [], broken: [] };
      throw err;
    }
    const listing: ImageListing = { images: [], broken: [] };
    for (const name of names.filter((n) => IMAGE_NAME_PATTERN.test(n)).sort()) {
      try {
        listing.images.push(await this.get(name));
      } catch (err) {
        if (!(err instanceof BangerError) || err.code === 'not_found') continue;
        listing.broken.push({ name, error: err });
      }
    }
    return listing;
  }

  /** Image `name`, validated (manifest, files); `not_found` with a build hint when absent. */
  async get(name: string): Promise<ImageRecord> {
    validateImageName(name);
    const dir = path.join(this.imagesDir, name);
    const st = await fs.lstat(dir).catch(() => undefined);
    if (st === undefined) throw notFound(`image ${name} not found`, { hint: BUILD_HINT });
    if (!st.isDirectory()) {
      throw preconditionFailed(
        `image ${name}: ${dir} is not a directory (a symlink or file is never followed)`,
        {
          hint: `remove ${dir}`,
        },
      );
    }
    const manifest = parseManifest(
      await readManifestText(path.join(dir, MANIFEST_FILE), name),
      name,
    );
    const rootfsPath = path.join(dir, manifest.rootfs);
    const rst = await fs.lstat(rootfsPath).catch(() => undefined);
    if (rst === undefined || !rst.isFile()) {
      throw preconditionFailed(
        `image ${name}: ${rootfsPath} is ${rst === undefined ? 'missing' : 'not a regular file'}`,
        {
          hint: `remove the image (banger image rm ${name}) and build or register it again`,
        },
      );
    }
    if (rst.size !== manifest.sizeBytes) {
      throw preconditionFailed(
        `image ${name}: ${rootfsPath} has ${String(rst.size)} bytes, its manifest says ${String(manifest.sizeBytes)}`,
        { hint: `remove the image (banger image rm ${name}) and build or register it again` },
      );
    }
    return { name, dir, rootfsPath, manifest };
  }

  /** Path of image `name`'s root filesystem (validated through `get`). */
  async rootfsPath(name: string): Promise<string> {
    return (await this.get(name)).rootfsPath;
  }

  /**
   * Removes image `name`. The caller (the daemon) checks first that no VM uses it. The directory
   * is renamed out of the store first, so the image disappears at once even if deleting is slow.
   */
  async remove(name: string): Promise<void> {
    validateImageName(name);
    const dir = path.join(this.imagesDir, name);
    const st = await fs.lstat(dir).catch(() => undefined);
    if (st === undefined) throw notFound(`image ${name} not found`);
    if (!st.isDirectory()) {
      await fs.rm(dir, { force: true });
      return;
    }
    await ensurePrivateDir(this.tmpDir);
    const doomed = path.join(this.tmpDir, `${REMOVED_PREFIX}${name}-${newId()}`);
    try {
      await fs.rename(dir, doomed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await fs.rm(dir, { recursive: true, force: true });
      return;
    }
    await fs.rm(doomed, { recursive: true, force: true });
  }

  /**
   * Removes scratch directories a crashed build, register or remove left in the tmp dir. Only
   * for when no image operation is running (the daemon calls it at start-up).
   */
  async sweepScratch(): Promise<string[]> {
    const names = await fs.readdir(this.tmpDir).catch(() => [] as string[]);
    const stale = names.filter((n) => SCRATCH_PREFIXES.some((p) => n.startsWith(p)));
    for (const n of stale) await removeScratchDir(path.join(this.tmpDir, n));
    return stale;
  }

  private async refuseExisting(name: string): Promise<void> {
    const st = await fs.lstat(path.join(this.imagesDir, name)).catch(() => undefined);
    if (st !== undefined) {
      throw new BangerError('already_exists', `image ${name} already exists`, {
        hint: `remove it first (banger image rm ${name}) or pick another name`,
      });
    }
  }

  /**
   * Runs `body` in a fresh scratch directory, writes the manifest next to the rootfs, publishes
   * the image directory with one rename and removes the scratch directory whatever happened.
   */
  private async inScratch(
    name: string,
    kind: ScratchKind,
    signal: AbortSignal | undefined,
    body: (
      scratch: string,
      image: string,
    ) => Promise<{ manifest: ImageManifest; timings: StepTimings; onProgress: ProgressSink }>,
    publish: { replace?: boolean } = {},
  ): Promise<ImageResult> {
    await ensurePrivateDir(this.imagesDir);
    await ensurePrivateDir(this.tmpDir);
    const scratch = await createScratchDir(this.tmpDir, `${SCRATCH_PREFIX[kind]}${name}`);
    let failed = true;
    try {
      const staged = path.join(scratch, 'image');
      await fs.mkdir(staged, { mode: 0o700 });
      const { manifest, timings, onProgress } = await body(scratch, path.join(staged, ROOTFS_FILE));
      validateManifest(manifest, name);
      await syncFile(path.join(staged, ROOTFS_FILE));
      await writeFileAtomic(
        path.join(staged, MANIFEST_FILE),
        `${JSON.stringify(manifest, null, 2)}\n`,
      );
      throwIfCanceled(signal, `${VERBS[kind]} image ${name}`);
      if (publish.replace === true) await this.replaceDir(name, staged);
      else {
        await publishDir({
          src: staged,
          dest: path.join(this.imagesDir, name),
          what: `image ${name}`,
        });
      }
      failed = false;
      const image = await this.get(name);
      onProgress({
        step: 'done',
        message: `image ${name} ready in ${(timings.totalMs / 1000).toFixed(1)} s (${timings.steps
          .map((s) => `${s.step} ${(s.ms / 1000).toFixed(1)} s`)
          .join(', ')})`,
        fraction: 1,
      });
      return { image, timings };
    } finally {
      await removeScratchDir(scratch).catch((err: unknown) => {
        // On failure the original error matters more; on success a leftover is worth failing loudly.
        if (!failed) throw err;
      });
    }
  }

  /** Swaps image `name`'s directory for `staged`: old one renamed away, new one in, old removed. */
  private async replaceDir(name: string, staged: string): Promise<void> {
    const dest = path.join(this.imagesDir, name);
    const doomed = path.join(this.tmpDir, `${REMOVED_PREFIX}${name}-${newId()}`);
    await fs.rename(dest, doomed);
    try {
      await fs.rename(staged, dest);
    } catch (err) {
      await fs.rename(doomed, dest);
      throw err;
    }
    await fs.rm(doomed, { recursive: true, force: true });
  }

  private manifestFor(
    name: string,
    parts: {
      sizeBytes: number;
      sha256: string;
      kernel: string;
      source: ImageSource;
      guestDir: string;
      guestPrograms: readonly GuestProgramFile[];
      sshHostKeys: 'absent' | 'present';
      userland?: Userland;
    },
  ): ImageManifest {
    return {
      schema: MANIFEST_SCHEMA,
      name,
      format: 'raw',
      rootfs: ROOTFS_FILE,
      sizeBytes: parts.sizeBytes,
      sha256: parts.sha256,
      kernel: parts.kernel,
      source: parts.source,
      guestPrograms: {
        dir: parts.guestDir,
        files: parts.guestPrograms.map((p) => ({ name: p.name, sha256: p.sha256 })),
      },
      sshHostKeys: parts.sshHostKeys,
      ...(parts.userland === undefined ? {} : { userland: parts.userland }),
      createdAt: this.now().toISOString(),
    };
  }
}

const VERBS: Record<ScratchKind, string> = {
  build: 'building',
  register: 'registering',
  pull: 'pulling',
  promote: 'promoting',
};

/** Flushes the rootfs to disk before the rename makes it visible: a crash must not publish holes. */
async function syncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads manifest.json without following a symlink, refusing anything but a small regular file. */
async function readManifestText(file: string, name: string): Promise<string> {
  let handle;
  try {
    handle = await fs.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw preconditionFailed(
      `image ${name}: cannot open ${file}${code === 'ELOOP' ? ' (it is a symlink)' : code === 'ENOENT' ? ' (missing)' : ''}`,
      {
        cause: err,
        hint: `remove the image (banger image rm ${name}) and build or register it again`,
      },
    );
  }
  try {
    const st = await handle.stat();
    if (!st.isFile() || st.size > MANIFEST_MAX_BYTES) {
      throw preconditionFailed(
        `image ${name}: ${file} is not a regular file of at most ${String(MANIFEST_MAX_BYTES)} bytes`,
      );
    }
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

function validateMirror(value: string, what: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (
    url === undefined ||
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    /[\s\0]/.test(value)
  ) {
    throw badRequest(`${what} ${JSON.stringify(value)} must be an http(s) URL`);
  }
  return value.replace(/\/+$/, '');
}
