/**
 * Warm starts (docs/warm-start.md): warm templates (an image booted once, its agent ready,
 * saved) and snapshots of running VMs, and the choice, for each new VM, of the saved guest it
 * starts from. A saved guest is used only when everything it was saved with still holds
 * (SavedStates.staleReason): a stale template is removed and built again, never restored; a
 * stale snapshot is refused. A VM made from a saved guest gets copies of its frozen disks (its
 * own files: it never depends on the template's), and its own identity through the agent
 * (vm-restore.ts).
 */
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError, exists, newId, type Logger } from '../base/index.js';
import type { BangerConfig, Layout } from '../config/index.js';
import { bangerVersion } from '../config/index.js';
import { generateSshHostKey } from '../guest/index.js';
import type { Accel, SavedInfo } from '../protocol/index.js';
import type { VmRecord } from '../store/index.js';
import {
  compressSavedState,
  createCowDisk,
  type SavedVmState,
  type VmmBackend,
  type VmmInstance,
} from '../vmm/index.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { AgentSession, KernelBootFiles } from './ports.js';
import type { SavedFile, SavedManifest, SavedShape } from './saved-manifest.js';
import {
  externalFile,
  freezeFile,
  SavedStates,
  type CurrentArtifacts,
  type SavedEntry,
} from './saved-states.js';
import type { LiveVm } from './vm-boot.js';
import { readLaunchShape, type VmPaths } from './vm-files.js';
import { requireRestore } from './vm-restore.js';

/** The image and kernel of a VM as a saved guest needs them (with their digests). */
export interface ArtifactDigests {
  image(name: string): Promise<{ name: string; sha256: string; rootfs: string; kernel: string }>;
  kernel(
    name: string,
  ): Promise<{ name: string; files: string[]; sha256: string; bootFiles: KernelBootFiles }>;
}

/** What the VM service does for a template build: boot a VM of the shape, let `save` run. */
export interface TemplateBooter {
  bootForSave(
    request: {
      image: string;
      vcpus: number;
      memoryMib: number;
      workDiskBytes: number;
      memoryFile: string;
    },
    save: (vm: VmRecord, live: LiveVm, paths: VmPaths) => Promise<void>,
    ctx: WarmContext,
  ): Promise<void>;
}

export interface WarmContext {
  progress: (event: { step: string; message: string }) => void;
  notice?: ((message: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

/** A saved guest a new VM starts from. */
export interface WarmPick {
  kind: 'template' | 'snapshot';
  entry: SavedEntry;
  saved: SavedVmState;
  /** "warm template 3fa9c2d1e0aa" or "snapshot NAME", for messages. */
  label: string;
  shape: SavedShape;
  launch: string;
}

export interface WarmPickRequest {
  image: string;
  vcpus: number;
  memoryMib: number;
  /** The work disk the VM gets (0: none, a `vm run --rm` VM). */
  workDiskBytes: number;
  /** `vm run --rm`: any template of the image and size will do, with or without a work disk. */
  ephemeral: boolean;
  cold: boolean;
  fromSnapshot?: string | undefined;
}

export interface WarmServiceDeps {
  layout: Layout;
  config: () => BangerConfig;
  backend: VmmBackend;
  artifacts: ArtifactDigests;
  chooseAccel: (kernel: KernelBootFiles) => Promise<Accel>;
  /** The VMM's version (QEMU's migration format follows it); undefined when unknown. */
  vmmVersion: () => Promise<string | undefined>;
  booter: () => TemplateBooter;
  logger: Logger;
}

const MEMORY_FILE = 'memory';
const ROOT_FILE = 'root.qcow2';
const ROOT_RAW_FILE = 'root.raw';
const WORK_FILE = 'work.ext4';
/** Template builds per shape run one at a time; restores never wait for anything else. */
const PREPARE_SAVE_TIMEOUT_MS = 20_000;

export class WarmService {
  readonly store: SavedStates;
  private readonly builds = new KeyedMutex();

  constructor(private readonly deps: WarmServiceDeps) {
    this.store = new SavedStates(deps.layout);
  }

  get supported(): boolean {
    return this.deps.backend.capabilities.snapshot && this.deps.backend.restoreState !== undefined;
  }

  /** Removes staging directories a crash left behind. */
  async sweep(): Promise<void> {
    await this.store.sweep();
  }

  // ---- choosing ---------------------------------------------------------------------------

  /**
   * The saved guest a new VM of this shape starts from, or undefined for a cold boot. With
   * `warm.auto`, or when the matching template went stale, the template is built first.
   */
  async pick(request: WarmPickRequest, ctx: WarmContext): Promise<WarmPick | undefined> {
    if (request.fromSnapshot !== undefined) return this.pickSnapshot(request.fromSnapshot);
    if (request.cold || !this.supported) return undefined;
    const now = await this.current(request.image);
    let stale = false;
    for (const entry of await this.candidates(request)) {
      const reason = await this.store.staleReason(entry, now);
      if (reason === undefined) return this.toPick(entry);
      stale = true;
      ctx.notice?.(
        `banger: warm template ${entry.manifest.id} of ${request.image} is stale (${reason}): removing it`,
      );
      this.deps.logger.info('stale warm template removed', { id: entry.manifest.id, reason });
      await this.store.remove(entry);
    }
    if (!stale && !this.deps.config().warm.auto) return undefined;
    try {
      const entry = await this.build(
        {
          image: request.image,
          vcpus: request.vcpus,
          memoryMib: request.memoryMib,
          workDiskBytes: request.ephemeral ? 0 : request.workDiskBytes,
        },
        ctx,
      );
      return this.toPick(entry);
    } catch (err) {
      // A template this VM did not ask for must not cost it its start: it boots instead.
      if (ctx.signal?.aborted) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      ctx.notice?.(`banger: could not warm ${request.image} (${reason}); booting instead`);
      this.deps.logger.warn('template build failed', { image: request.image, error: reason });
      return undefined;
    }
  }

  /** Templates of the image and size that fit the request, the best first. */
  private async candidates(request: WarmPickRequest): Promise<SavedEntry[]> {
    const fit = (await this.store.templates()).filter(
      (t) =>
        t.manifest.image.name === request.image &&
        t.manifest.shape.vcpus === request.vcpus &&
        t.manifest.shape.memoryMib === request.memoryMib &&
        (request.ephemeral || t.manifest.shape.workDiskBytes === request.workDiskBytes),
    );
    // An ephemeral VM prefers a template without a work disk (less to copy).
    return fit.sort(
      (a, b) =>
        a.manifest.shape.workDiskBytes - b.manifest.shape.workDiskBytes ||
        b.manifest.createdAt.localeCompare(a.manifest.createdAt),
    );
  }

  private async pickSnapshot(name: string): Promise<WarmPick> {
    if (!this.supported) {
      throw new BangerError(
        'unavailable',
        `the ${this.deps.backend.kind} backend cannot restore snapshots here`,
      );
    }
    const entry = await this.store.snapshot(name);
    if (!entry) {
      throw new BangerError('not_found', `no snapshot named "${name}"`, {
        hint: 'list them with `banger snapshot list`',
      });
    }
    const reason = await this.store.staleReason(
      entry,
      await this.current(entry.manifest.image.name),
    );
    if (reason !== undefined) {
      throw new BangerError(
        'precondition_failed',
        `snapshot ${name} cannot be restored: ${reason}`,
        {
          hint: `delete it with \`banger snapshot delete ${name}\` and take a new one`,
        },
      );
    }
    return this.toPick(entry);
  }

  private toPick(entry: SavedEntry): WarmPick {
    const m = entry.manifest;
    return {
      kind: m.kind,
      entry,
      saved: this.store.savedState(entry),
      label: m.kind === 'template' ? `warm template ${m.id}` : `snapshot ${m.name ?? m.id}`,
      shape: m.shape,
      launch: m.launch,
    };
  }

  /** The image, kernel, VMM and accelerator as they are now. */
  private async current(imageName: string): Promise<CurrentArtifacts> {
    const image = await this.deps.artifacts.image(imageName);
    const kernel = await this.deps.artifacts.kernel(image.kernel);
    return {
      image: { name: image.name, sha256: image.sha256, rootfs: image.rootfs },
      kernel: { name: kernel.name, files: kernel.files, sha256: kernel.sha256 },
      backend: this.deps.backend.kind,
      vmmVersion: await this.deps.vmmVersion(),
      accel: await this.deps.chooseAccel(kernel.bootFiles),
      bangerVersion: bangerVersion(),
    };
  }

  /** Gives a new VM its own copies of the saved guest's frozen disks. */
  async copyDisks(pick: WarmPick, paths: VmPaths): Promise<void> {
    const { manifest, dir } = pick.entry;
    const root = path.join(dir, manifest.disks.root.path);
    if (manifest.disks.root.format === 'qcow2') {
      // The frozen overlay holds only what the saved guest wrote (about a MiB for a
      // template); its copy is an overlay over the same read-only image, like any VM's.
      await fs.copyFile(root, paths.rootOverlay, fsc.COPYFILE_EXCL);
      await fs.chmod(paths.rootOverlay, 0o600);
    } else {
      // A raw root (Firecracker): copied the way the backend copies images (reflink or sparse).
      await this.deps.backend.createRootDisk({ path: root, format: 'raw' }, paths.rootOverlay);
    }
    if (manifest.disks.work !== undefined) {
      await createCowDisk({
        base: path.join(dir, manifest.disks.work.path),
        dest: paths.workDisk,
        strategy: 'sparse-copy',
      });
    }
  }

  /** A template that failed to restore goes, so that the next VM builds a new one. */
  async invalidate(pick: WarmPick, reason: string): Promise<void> {
    if (pick.kind !== 'template') return;
    this.deps.logger.warn('warm template failed to restore; removing it', {
      id: pick.entry.manifest.id,
      reason,
    });
    await this.store.remove(pick.entry);
  }

  // ---- templates --------------------------------------------------------------------------

  /** `banger image warm`: the template of this shape, built unless a valid one exists. */
  async warm(
    request: {
      image: string;
      vcpus: number;
      memoryMib: number;
      workDiskBytes: number;
      force: boolean;
    },
    ctx: WarmContext,
  ): Promise<{ template: SavedInfo; built: boolean }> {
    if (!this.supported) {
      throw new BangerError(
        'unavailable',
        `the ${this.deps.backend.kind} backend cannot save and restore guests here`,
      );
    }
    const now = await this.current(request.image);
    for (const entry of await this.candidates({ ...request, ephemeral: false, cold: false })) {
      const reason = await this.store.staleReason(entry, now);
      if (reason === undefined && !request.force)
        return { template: savedInfo(entry), built: false };
      if (reason !== undefined)
        ctx.notice?.(`banger: removing stale warm template ${entry.manifest.id}: ${reason}`);
      await this.store.remove(entry);
    }
    return { template: savedInfo(await this.build(request, ctx)), built: true };
  }

  async templates(image?: string): Promise<SavedInfo[]> {
    return (await this.store.templates())
      .filter((t) => image === undefined || t.manifest.image.name === image)
      .map(savedInfo);
  }

  /** Removes an image's templates (running VMs made from them are not affected). */
  async removeTemplates(image: string): Promise<SavedInfo[]> {
    const gone: SavedInfo[] = [];
    for (const entry of await this.store.templates()) {
      if (entry.manifest.image.name !== image) continue;
      await this.store.remove(entry);
      gone.push(savedInfo(entry));
    }
    return gone;
  }

  /**
   * Boots the image once with its RAM in a file, lets first-boot work finish, and saves it:
   * state, memory file and frozen disks in one directory, with their fingerprints.
   */
  private build(
    shape: { image: string; vcpus: number; memoryMib: number; workDiskBytes: number },
    ctx: WarmContext,
  ): Promise<SavedEntry> {
    const key = `${shape.image}/${String(shape.vcpus)}/${String(shape.memoryMib)}/${String(shape.workDiskBytes)}`;
    return this.builds.run(key, async () => {
      // Another caller may have built it while this one waited.
      const now = await this.current(shape.image);
      for (const entry of await this.candidates({ ...shape, ephemeral: false, cold: false })) {
        if ((await this.store.staleReason(entry, now)) === undefined) return entry;
      }
      ctx.progress({
        step: 'warm',
        message: `warming ${shape.image} (${String(shape.vcpus)} vCPU, ${String(shape.memoryMib)} MiB): booting it once to save it`,
      });
      const t0 = performance.now();
      const staged = await this.store.stage('template');
      try {
        let manifest: SavedManifest | undefined;
        await this.deps.booter().bootForSave(
          { ...shape, memoryFile: path.join(staged, MEMORY_FILE) },
          async (vm, live, paths) => {
            manifest = await this.saveTemplate(vm, live, paths, staged, now, shape);
          },
          ctx,
        );
        if (!manifest) throw new BangerError('internal', 'the template boot saved nothing');
        // The memory file moves with the directory: its path in a clone's launch is the final one.
        const entry = await this.store.commit(staged, manifest);
        this.deps.logger.info('warm template saved', {
          id: manifest.id,
          image: shape.image,
          ms: Math.round(performance.now() - t0),
        });
        return entry;
      } catch (err) {
        await fs.rm(staged, { recursive: true, force: true });
        throw err;
      }
    });
  }

  private async saveTemplate(
    vm: VmRecord,
    live: LiveVm,
    paths: VmPaths,
    staged: string,
    now: CurrentArtifacts,
    shape: SavedShape & { image: string },
  ): Promise<SavedManifest> {
    const agent = live.agent;
    requireRestore(agent, `image ${shape.image}`);
    await giveThrowawayHostKey(agent, this.deps.logger);
    // Code and libraries of a first command are then in the saved page cache.
    await prewarm(agent);
    await agent.prepareSave?.({ timeoutMs: PREPARE_SAVE_TIMEOUT_MS });
    const launch = await this.launchOf(paths);
    const saveState = live.instance.saveState?.bind(live.instance);
    if (!saveState) throw new BangerError('unavailable', 'this VMM cannot save a running guest');
    const saved = await saveState({ dir: staged });
    await live.instance.kill();
    // The VMM is gone: its disks are exactly what the saved state expects. Move them in.
    const rootName = this.rootFileName();
    await fs.rename(paths.rootOverlay, path.join(staged, rootName));
    const hasWork = shape.workDiskBytes > 0;
    if (hasWork) await fs.rename(paths.workDisk, path.join(staged, WORK_FILE));
    return {
      schema: 1,
      kind: 'template',
      id: newId(),
      createdAt: new Date().toISOString(),
      bangerVersion: now.bangerVersion,
      backend: saved.backend,
      vmmVersion: now.vmmVersion,
      accel: now.accel as Accel,
      image: {
        name: now.image.name,
        sha256: now.image.sha256,
        rootfs: await externalFile(now.image.rootfs),
      },
      kernel: {
        name: now.kernel.name,
        sha256: now.kernel.sha256,
        files: await Promise.all(now.kernel.files.map((f) => externalFile(f))),
      },
      shape: { vcpus: shape.vcpus, memoryMib: shape.memoryMib, workDiskBytes: shape.workDiskBytes },
      launch,
      state: await this.freezeState(staged, saved),
      disks: {
        root: {
          ...(await freezeFile(staged, rootName, { hash: rootName === ROOT_FILE })),
          format: rootName === ROOT_FILE ? 'qcow2' : 'raw',
        },
        ...(hasWork ? { work: await freezeFile(staged, WORK_FILE) } : {}),
      },
      guest: { agentVersion: agent.agentVersion ?? 'unknown', bootId: agent.bootId },
      source: { vm: vm.name, id: vm.id },
    };
  }

  /** Fingerprints the state (and memory) files, read-only from now on. */
  async freezeState(dir: string, saved: SavedVmState): Promise<SavedManifest['state']> {
    const file = await freezeFile(dir, path.basename(saved.stateFile), { hash: true });
    const memory =
      saved.memoryFile === undefined
        ? undefined
        : await freezeFile(dir, path.basename(saved.memoryFile), { mode: 0o600 });
    return { file, compression: saved.compression, ...(memory ? { memory } : {}) };
  }

  async launchOf(paths: VmPaths): Promise<string> {
    const launch = await readLaunchShape(paths);
    if (launch === undefined) {
      throw new BangerError(
        'unavailable',
        'the launch of this VM is not known (started by an older banger?)',
        {
          hint: 'restart the VM and try again',
        },
      );
    }
    return launch;
  }

  // ---- snapshots ---------------------------------------------------------------------------

  /** "<vm>-1", "<vm>-2"...: the first snapshot name of this VM that is free. */
  async nextSnapshotName(vmName: string): Promise<string> {
    const taken = new Set((await this.store.snapshots()).map((s) => s.manifest.name));
    for (let n = 1; ; n++) {
      const name = `${vmName.slice(0, 56)}-${String(n)}`;
      if (!taken.has(name)) return name;
    }
  }

  /**
   * Saves a running VM as snapshot `name`: its state (RAM included) while it runs, then, while
   * it is stopped at the end of the save, copies of its disks; then it runs on, and its state
   * file is compressed.
   */
  async snapshot(
    request: {
      vm: VmRecord;
      paths: VmPaths;
      instance: VmmInstance;
      agent: AgentSession;
      name: string;
      /** After the VM runs again (its clock is set to the host's there). */
      afterResume: () => Promise<void>;
    },
    ctx: WarmContext,
  ): Promise<SavedInfo> {
    const { vm, paths, instance, agent, name } = request;
    const saveState = instance.saveState?.bind(instance);
    const resume = instance.resume?.bind(instance);
    if (!this.supported || !saveState || !resume) {
      throw new BangerError(
        'unavailable',
        `the ${this.deps.backend.kind} backend cannot snapshot VMs`,
      );
    }
    if (await this.store.snapshot(name)) {
      throw new BangerError('already_exists', `a snapshot named "${name}" already exists`, {
        hint: `pick another --name, or delete it with \`banger snapshot delete ${name}\``,
      });
    }
    const launch = await this.launchOf(paths);
    const now = await this.current(vm.image);
    const rootName = this.rootFileName();
    const hasWork = await exists(paths.workDisk);
    const staged = await this.store.stage('snapshot');
    let stopped = false;
    try {
      ctx.progress({ step: 'snapshot', message: `saving ${vm.name} as snapshot ${name}` });
      const t0 = performance.now();
      let saved = await saveState({
        dir: staged,
        whileStopped: async () => {
          stopped = true;
          // The disks as the saved state expects them: copied before the guest writes again.
          if (rootName === ROOT_FILE) {
            await fs.copyFile(paths.rootOverlay, path.join(staged, ROOT_FILE), fsc.COPYFILE_EXCL);
          } else {
            await createCowDisk({
              base: paths.rootOverlay,
              dest: path.join(staged, rootName),
              strategy: 'sparse-copy',
            });
          }
          if (hasWork) {
            await createCowDisk({
              base: paths.workDisk,
              dest: path.join(staged, WORK_FILE),
              strategy: 'sparse-copy',
            });
          }
        },
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
      await resume();
      stopped = false;
      const pausedMs = Math.round(performance.now() - t0);
      await request.afterResume();
      saved = await compressSavedState(saved, { signal: ctx.signal });
      const files = await this.externalFiles(now);
      const manifest: SavedManifest = {
        schema: 1,
        kind: 'snapshot',
        id: newId(),
        name,
        createdAt: new Date().toISOString(),
        bangerVersion: now.bangerVersion,
        backend: saved.backend,
        vmmVersion: now.vmmVersion,
        accel: now.accel as Accel,
        image: { name: now.image.name, sha256: now.image.sha256, rootfs: files.rootfs },
        kernel: { name: now.kernel.name, sha256: now.kernel.sha256, files: files.kernel },
        shape: {
          vcpus: vm.vcpus,
          memoryMib: vm.memoryMib,
          workDiskBytes: hasWork ? (await fs.stat(paths.workDisk)).size : 0,
        },
        launch,
        state: await this.freezeState(staged, saved),
        disks: {
          root: {
            ...(await freezeFile(staged, rootName)),
            format: rootName === ROOT_FILE ? 'qcow2' : 'raw',
          },
          ...(hasWork ? { work: await freezeFile(staged, WORK_FILE) } : {}),
        },
        guest: { agentVersion: agent.agentVersion ?? 'unknown', bootId: agent.bootId },
        source: { vm: vm.name, id: vm.id },
      };
      const entry = await this.store.commit(staged, manifest);
      this.deps.logger.info('vm snapshot saved', {
        vm: vm.name,
        snapshot: name,
        stoppedMs: pausedMs,
      });
      return savedInfo(entry);
    } catch (err) {
      if (stopped) await resume().catch(() => undefined);
      await fs.rm(staged, { recursive: true, force: true });
      throw err;
    }
  }

  async snapshotList(): Promise<SavedInfo[]> {
    return (await this.store.snapshots()).map(savedInfo);
  }

  async deleteSnapshot(name: string): Promise<SavedInfo> {
    const entry = await this.store.snapshot(name);
    if (!entry) {
      throw new BangerError('not_found', `no snapshot named "${name}"`, {
        hint: 'list them with `banger snapshot list`',
      });
    }
    await this.store.remove(entry);
    return savedInfo(entry);
  }

  /** QEMU root disks are qcow2 overlays, Firecracker's raw copies: the backend made them. */
  private rootFileName(): string {
    return this.deps.backend.kind === 'qemu' ? ROOT_FILE : ROOT_RAW_FILE;
  }

  /** The current image/kernel facts for a manifest (snapshots use them too). */
  async artifactsNow(image: string): Promise<CurrentArtifacts> {
    return this.current(image);
  }

  async externalFiles(now: CurrentArtifacts): Promise<{ rootfs: SavedFile; kernel: SavedFile[] }> {
    return {
      rootfs: await externalFile(now.image.rootfs),
      kernel: await Promise.all(now.kernel.files.map((f) => externalFile(f))),
    };
  }
}

/**
 * An SSH host key that no clone keeps: every clone gets its own at restore, and with one of
 * banger's making already in place (same format, same file sizes) it writes its key over the
 * files instead of creating them, the costliest write after a restore (~15 ms emulated).
 */
async function giveThrowawayHostKey(agent: AgentSession, logger: Logger): Promise<void> {
  const key = generateSshHostKey();
  const done = await agent
    .restore?.({ sshHostKey: { privateKey: key.privateKey, publicKey: key.publicLine } })
    .catch((err: unknown) => ({ failures: [String(err)] }));
  // Not worth failing the template for: its clones then create their key files.
  if (done && done.failures.length > 0)
    logger.warn('template host key not written', { failures: done.failures });
}

/** Runs `true` in the guest, so a restored VM's first command finds it in the page cache. */
async function prewarm(agent: AgentSession): Promise<void> {
  try {
    const exec = await agent.exec({ argv: ['true'] });
    exec.stdin.end();
    exec.stdout.resume();
    exec.stderr.resume();
    await exec.exit;
  } catch {
    /* an image without `true` is still worth saving */
  }
}

export function savedInfo(entry: SavedEntry): SavedInfo {
  const m = entry.manifest;
  return {
    kind: m.kind,
    id: m.id,
    ...(m.name !== undefined ? { name: m.name } : {}),
    image: m.image.name,
    kernel: m.kernel.name,
    backend: m.backend,
    vcpu: m.shape.vcpus,
    memoryMib: m.shape.memoryMib,
    diskBytes: m.shape.workDiskBytes,
    createdAt: m.createdAt,
    ...(m.source && m.kind === 'snapshot' ? { sourceVm: m.source.vm } : {}),
    guestBootId: m.guest.bootId,
    dir: entry.dir,
  };
}
