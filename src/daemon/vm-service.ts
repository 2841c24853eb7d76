/**
 * The VM lifecycle: create, start, exec, stop, kill, delete, run, and adoption of VMs a
 * previous daemon started. Calls on one VM are serialised; different VMs run in parallel.
 * Every mutation either completes or undoes what it did.
 */
import {
  BangerError,
  newId,
  removeIfExists,
  withUndo,
  type Logger,
  type ProgressSink,
} from '../base/index.js';
import type { Writable } from 'node:stream';
import type { BangerConfig, Layout } from '../config/index.js';
import type {
  ExecSpec,
  ExitStatusInfo,
  SavedInfo,
  VmCreateParams,
  VmInfo,
  VmRunParams,
  VmNetworkInfo,
  VmRunResult,
  VmmKind,
} from '../protocol/index.js';
import { dnsLabelProblem } from '../network/index.js';
import type { VmRecord, VmRecords } from '../store/index.js';
import type { VmmBackend } from '../vmm/index.js';
import { RefusingBackend } from './vmm-choice.js';
import { KeyedMutex } from './keyed-mutex.js';
import type {
  AccelChooser,
  AgentConnector,
  AgentSession,
  ImageSource,
  KernelSource,
  VmLifecycleHooks,
  VmNetworkPort,
} from './ports.js';
import { bootVm, type LiveVm } from './vm-boot.js';
import { VmHooks } from './vm-hooks.js';
import { clockOnly, restoreVm } from './vm-restore.js';
import type { WarmPick, WarmService, TemplateBooter, WarmContext } from './warm-service.js';
import { runExec, type ExecIo } from './vm-exec.js';
import {
  createWorkDisk,
  makeVmDirs,
  preserveConsoleLog,
  readHandles,
  removeRuntimeDir,
  removeVmFiles,
  vmPaths,
  type VmPaths,
} from './vm-files.js';
import { generateVmName } from './vm-names.js';
import { streamFile } from './log-follow.js';
import { sampleUsage, type VmUsage } from './vm-stats.js';

export interface VmServiceDeps {
  layout: Layout;
  /** The current config (re-read when the file changes). */
  config: () => BangerConfig;
  records: VmRecords;
  kernels: KernelSource;
  images: ImageSource;
  /** The backend new VMs get (config `vmm`). */
  backend: VmmBackend;
  /** The backend of each kind: a VM keeps the kind it was made with (default: just `backend`). */
  backends?: Partial<Record<VmmKind, VmmBackend>> | undefined;
  agents: AgentConnector;
  chooseAccel: AccelChooser;
  logger: Logger;
  /** Parts of the daemon that follow every VM's life (ssh keys, forwards, network, DNS). */
  hooks?: readonly VmLifecycleHooks[] | undefined;
  /** Addresses, taps and NAT (VmNetwork; also registered among the hooks). */
  network?: VmNetworkPort | undefined;
  /** Warm templates and snapshots (docs/warm-start.md); absent: every VM boots. */
  warm?: WarmService | undefined;
}

export interface CallContext {
  progress: ProgressSink;
  /** One-line messages for the user (the CLI prints them on stderr). */
  notice?: ((message: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface RunOptions {
  /** Runs between the boot and the command (workspace mode ships the repository here). A
   * failure removes the VM this run created, kept or not. */
  beforeExec?: ((vm: VmRecord) => Promise<void>) | undefined;
}

interface LiveEntry extends LiveVm {
  /** Set when banger itself stops or kills the VM, so the exit watcher stays quiet. */
  stopping: boolean;
  /** The saved guest this run was restored from ("warm template ID", "snapshot NAME"). */
  restoredFrom?: string | undefined;
}

const STOP_TIMEOUT_MS = 30_000;

export class VmService implements TemplateBooter {
  private readonly live = new Map<string, LiveEntry>();
  private readonly locks = new KeyedMutex();
  /** Saved guests chosen at create for a VM's first start. */
  private readonly pending = new Map<string, WarmPick>();

  private readonly hooks: VmHooks;

  constructor(private readonly deps: VmServiceDeps) {
    this.hooks = new VmHooks(deps.hooks ?? [], deps.logger);
  }

  // ---- queries ---------------------------------------------------------------------------

  list(): VmInfo[] {
    return this.deps.records.list().map((vm) => this.info(vm));
  }

  show(ref: string): VmInfo {
    return this.info(this.resolve(ref));
  }

  /** A name, or an unambiguous id prefix. */
  resolve(ref: string): VmRecord {
    const byName = this.deps.records.byName(ref);
    if (byName) return byName;
    const matches = /^[0-9a-f]{1,12}$/.test(ref) ? this.deps.records.byIdPrefix(ref) : [];
    if (matches.length === 1 && matches[0]) return matches[0];
    if (matches.length > 1) {
      throw new BangerError(
        'bad_request',
        `"${ref}" matches several VMs: ${matches.map((m) => m.name).join(', ')}`,
        {
          hint: 'use the full name or a longer id prefix',
        },
      );
    }
    throw new BangerError('not_found', `no VM named "${ref}" (and no VM id starts with it)`, {
      hint: 'list VMs with `banger vm list`',
    });
  }

  info(vm: VmRecord): VmInfo {
    const live = this.live.get(vm.id);
    return {
      id: vm.id,
      name: vm.name,
      state: vm.state,
      image: vm.image,
      kernel: vm.kernel,
      backend: vm.backend,
      vcpu: vm.vcpus,
      memoryMib: vm.memoryMib,
      diskBytes: vm.diskBytes,
      createdAt: vm.createdAt,
      startedAt: vm.startedAt,
      stoppedAt: vm.stoppedAt,
      pid: live ? live.instance.handles.pid : null,
      bootId: vm.bootId,
      lastError: vm.lastError,
      ...this.networkInfo(vm),
      ...(live?.restoredFrom !== undefined ? { restoredFrom: live.restoredFrom } : {}),
    };
  }

  private networkInfo(vm: VmRecord): { network?: VmNetworkInfo } {
    const network = this.deps.network?.describe(vm);
    return network ? { network } : {};
  }

  // ---- lifecycle -------------------------------------------------------------------------

  /**
   * Creates a VM's record and disks; starts it when asked. A VM that starts now starts from a
   * saved guest when one fits (a warm template of its image and size, or `fromSnapshot`):
   * its disks are then copies of the saved guest's frozen ones.
   */
  async create(
    params: VmCreateParams,
    ctx: CallContext,
    options: { ephemeral?: boolean; forRun?: boolean } = {},
  ): Promise<VmRecord> {
    const { records } = this.deps;
    const config = this.deps.config();
    const ephemeral = options.ephemeral ?? false;
    // `--vmm` picks a backend; one that cannot run here refuses before anything is made.
    const backend = params.vmm === undefined ? this.deps.backend : this.backendOf(params.vmm);
    if (backend instanceof RefusingBackend) backend.refuse();
    const snapshot =
      params.fromSnapshot === undefined
        ? undefined
        : await this.requireWarm().pick(
            {
              image: params.image ?? config.defaultImage,
              vcpus: 0,
              memoryMib: 0,
              workDiskBytes: 0,
              ephemeral,
              cold: false,
              fromSnapshot: params.fromSnapshot,
            },
            ctx,
          );
    if (snapshot) checkSnapshotShape(params, snapshot);
    const imageName = snapshot?.entry.manifest.image.name ?? params.image ?? config.defaultImage;
    const image = await this.deps.images.rootfs(imageName);
    await this.deps.kernels.bootFiles(image.kernel);
    if (params.name !== undefined && records.byName(params.name)) {
      throw new BangerError('already_exists', `a VM named "${params.name}" already exists`, {
        hint: `pick another --name, or remove it with \`banger vm delete ${params.name}\``,
      });
    }
    const name = params.name ?? generateVmName((n) => records.byName(n) !== undefined);
    const labelProblem = dnsLabelProblem(name);
    if (labelProblem !== undefined) {
      // The name becomes <name>.vm and the guest's hostname.
      throw new BangerError(
        'bad_request',
        `VM name "${name}" is not a valid DNS label: it ${labelProblem}`,
      );
    }
    const vcpus = snapshot?.shape.vcpus ?? params.vcpu ?? config.vmDefaults.vcpu;
    const memoryMib = snapshot?.shape.memoryMib ?? params.memoryMib ?? config.vmDefaults.memoryMib;
    // A snapshot without a work disk (of a `vm run --rm` VM) leaves the usual size on record.
    const diskBytes =
      snapshot !== undefined && snapshot.shape.workDiskBytes > 0
        ? snapshot.shape.workDiskBytes
        : (params.diskBytes ?? config.vmDefaults.diskSizeBytes);
    const startsNow = params.start || options.forRun === true;
    // Warm templates are made by (and for) the default backend.
    const pick =
      snapshot ??
      (startsNow && this.deps.warm && backend === this.deps.backend
        ? await this.deps.warm.pick(
            {
              image: image.name,
              vcpus,
              memoryMib,
              workDiskBytes: ephemeral ? 0 : diskBytes,
              ephemeral,
              cold: params.cold ?? false,
            },
            ctx,
          )
        : undefined);
    const id = newId();
    const paths = vmPaths(this.deps.layout, id);

    const vm = await withUndo(
      async (undo) => {
        const record = records.insert({
          id,
          name,
          state: 'creating',
          image: image.name,
          kernel: image.kernel,
          backend: backend.kind,
          vcpus,
          memoryMib,
          diskBytes,
          autoRemove: ephemeral,
        });
        undo.push('remove VM record', () => records.remove(id));
        if (this.deps.network) {
          this.deps.network.reserve(record, { nat: params.nat ?? false });
          undo.push('release network lease', () => this.deps.network?.release(id));
        }
        undo.push('remove VM files', () => removeVmFiles(paths));
        await makeVmDirs(paths);
        ctx.progress({ step: 'disk', message: `creating disks for ${name}` });
        if (pick) await this.requireWarm().copyDisks(pick, paths);
        else await this.makeColdDisks(record, paths, { ephemeral });
        return records.update(id, { state: 'stopped' });
      },
      (label, error) =>
        this.deps.logger.warn('undo failed', { vm: name, step: label, error: String(error) }),
    );
    this.deps.logger.info('vm created', { vm: vm.name, id: vm.id, from: pick?.label });
    if (pick) this.pending.set(vm.id, pick);
    if (!params.start) return vm;
    return this.startLocked(vm, ctx);
  }

  /** A fresh root overlay over the image and (unless ephemeral) a work disk seeded with /root. */
  private async makeColdDisks(
    vm: VmRecord,
    paths: VmPaths,
    options: { ephemeral: boolean },
  ): Promise<void> {
    const image = await this.deps.images.rootfs(vm.image);
    await this.backendFor(vm).createRootDisk(
      { path: image.path, format: image.format },
      paths.rootOverlay,
    );
    // An ephemeral VM (`vm run --rm`) keeps /root on its root overlay: no work disk to format.
    if (!options.ephemeral) {
      const seed = await this.deps.images.copyHome(image.name, paths.stateDir);
      try {
        await createWorkDisk(paths.workDisk, vm.diskBytes, seed);
      } finally {
        await removeIfExists(seed);
      }
    }
  }

  private requireWarm(): NonNullable<VmServiceDeps['warm']> {
    if (!this.deps.warm) throw new BangerError('unavailable', 'this daemon has no warm starts');
    return this.deps.warm;
  }

  async start(ref: string, ctx: CallContext): Promise<VmRecord> {
    const vm = this.resolve(ref);
    return this.startLocked(vm, ctx);
  }

  private startLocked(vm: VmRecord, ctx: CallContext): Promise<VmRecord> {
    return this.locks.run(vm.id, async () => {
      const current = this.deps.records.byId(vm.id) ?? vm;
      if (current.state === 'running' && this.live.has(vm.id)) return current;
      const paths = vmPaths(this.deps.layout, vm.id);
      // A saved guest chosen at create is for this first start only.
      const pick = this.pending.get(vm.id);
      this.pending.delete(vm.id);
      this.deps.records.update(vm.id, { state: 'starting', lastError: null });
      let live: LiveVm;
      let restored: { sshHostKey?: { type: string; blob: string } | undefined } | undefined;
      try {
        if (pick) {
          const result = await this.restoreOrBoot(current, paths, pick, ctx);
          live = result;
          if (result.restored) restored = { sshHostKey: result.sshHostKey };
        } else {
          live = await bootVm(current, paths, this.bootDeps(vm), ctx);
        }
      } catch (err) {
        const kept = await preserveConsoleLog(
          this.deps.layout,
          paths,
          `${current.name}-${current.id}`,
        );
        this.deps.records.update(vm.id, { state: 'stopped', lastError: errorText(err) });
        await this.deps.network?.detach(current).catch((netErr: unknown) => {
          this.deps.logger.warn('network cleanup after failed boot failed', {
            vm: current.name,
            error: errorText(netErr),
          });
        });
        throw withConsoleHint(err, paths, kept);
      }
      const entry: LiveEntry = {
        instance: live.instance,
        agent: live.agent,
        stopping: false,
        ...(restored && pick ? { restoredFrom: pick.label } : {}),
      };
      this.live.set(vm.id, entry);
      this.watchExit(vm.id, entry);
      const started = this.deps.records.update(vm.id, {
        state: 'running',
        startedAt: new Date().toISOString(),
        bootId: live.agent.bootId,
      });
      this.deps.logger.info('vm started', {
        vm: started.name,
        pid: live.instance.handles.pid,
        from: entry.restoredFrom,
      });
      if (restored) await this.hooks.restored(started, restored);
      await this.hooks.started(started, live.agent);
      await this.hooks.booted(started, live.agent, ctx);
      return started;
    });
  }

  /**
   * Restores `vm` from the saved guest chosen at create. A warm template that fails to
   * restore is removed and the VM boots cold instead (with fresh disks); a snapshot that
   * fails is an error: the user asked for that guest.
   */
  private async restoreOrBoot(
    vm: VmRecord,
    paths: VmPaths,
    pick: WarmPick,
    ctx: CallContext,
  ): Promise<
    LiveVm & { restored: boolean; sshHostKey?: { type: string; blob: string } | undefined }
  > {
    try {
      const live = await restoreVm(
        vm,
        paths,
        { saved: pick.saved, launch: pick.launch, label: pick.label },
        this.bootDeps(vm),
        ctx,
      );
      return { ...live, restored: true };
    } catch (err) {
      if (pick.kind === 'snapshot' || ctx.signal?.aborted) throw err;
      const reason = errorText(err);
      ctx.notice?.(
        `banger: could not restore ${vm.name} from ${pick.label} (${reason}); booting it instead`,
      );
      await this.deps.warm?.invalidate(pick, reason).catch(() => undefined);
      await this.deps.network?.detach(vm).catch(() => undefined);
      await removeIfExists(paths.rootOverlay);
      await removeIfExists(paths.workDisk);
      await this.makeColdDisks(vm, paths, { ephemeral: vm.autoRemove });
      const live = await bootVm(vm, paths, this.bootDeps(vm), ctx);
      return { ...live, restored: false };
    }
  }

  /** Graceful stop: the guest syncs and powers off; forced after a timeout. */
  async stop(ref: string, options: { timeoutMs?: number } = {}): Promise<VmRecord> {
    const vm = this.resolve(ref);
    const stopped = await this.locks.run(vm.id, async () => {
      const entry = this.live.get(vm.id);
      if (!entry) return this.markStopped(vm.id, null);
      entry.stopping = true;
      // A paused guest cannot hear the shutdown request: let it run first.
      if ((this.deps.records.byId(vm.id) ?? vm).state === 'paused')
        await entry.instance.resume?.().catch(() => undefined);
      this.deps.records.update(vm.id, { state: 'stopping' });
      const timeoutMs = options.timeoutMs ?? STOP_TIMEOUT_MS;
      const exited = await Promise.race([
        (async () => {
          await entry.agent.shutdown('poweroff').catch(() => entry.instance.requestPowerdown());
          await entry.instance.exited;
          return true;
        })().catch(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref()),
      ]);
      if (!exited) {
        this.deps.logger.warn('graceful stop timed out; killing', { vm: vm.name, timeoutMs });
        await entry.instance.kill();
      }
      return this.forget(vm.id, entry, null);
    });
    await this.deps.network?.detach(vm);
    return stopped;
  }

  /** Force-kills the VMM. */
  async kill(ref: string): Promise<VmRecord> {
    const vm = this.resolve(ref);
    const killed = await this.locks.run(vm.id, () => this.killLocked(vm));
    await this.deps.network?.detach(vm);
    return killed;
  }

  private async killLocked(vm: VmRecord): Promise<VmRecord> {
    const entry = this.live.get(vm.id);
    if (!entry) return this.markStopped(vm.id, null);
    entry.stopping = true;
    await entry.instance.kill();
    return this.forget(vm.id, entry, null);
  }

  /** Stops (by force) and removes everything the VM owned. */
  async delete(ref: string): Promise<VmInfo> {
    const vm = this.resolve(ref);
    return this.locks.run(vm.id, async () => {
      const info = this.info(vm);
      this.pending.delete(vm.id);
      // The tap goes while the VMM quits (removing a network device waits on the kernel for
      // ~20 ms); the files go once the VMM no longer holds them.
      await Promise.all([
        this.killLocked(vm).then(() => removeVmFiles(vmPaths(this.deps.layout, vm.id))),
        this.deps.network?.detach(vm),
      ]);
      this.deps.records.remove(vm.id);
      await this.hooks.deleted(vm);
      this.deps.logger.info('vm deleted', { vm: vm.name, id: vm.id });
      return { ...info, state: 'deleted', pid: null };
    });
  }

  async exec(ref: string, spec: ExecSpec, io: ExecIo): Promise<ExitStatusInfo> {
    const vm = this.resolve(ref);
    const entry = this.live.get(vm.id);
    if (vm.state === 'paused') throw pausedError(vm);
    if (!entry || vm.state !== 'running') {
      throw new BangerError(
        'precondition_failed',
        `VM ${vm.name} is not running (state: ${vm.state})`,
        {
          hint: `start it with \`banger vm start ${vm.name}\``,
        },
      );
    }
    return this.execOn(vm, entry, spec, io);
  }

  private async execOn(
    vm: VmRecord,
    entry: LiveEntry,
    spec: ExecSpec,
    io: ExecIo,
  ): Promise<ExitStatusInfo> {
    try {
      return await runExec(entry.agent, spec, io);
    } catch (err) {
      // A lost agent channel usually means the VMM died: say that, not the symptom.
      if (err instanceof BangerError && err.code === 'unavailable') {
        const died = await Promise.race([
          entry.instance.exited.then(() => true),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000).unref()),
        ]);
        if (died) {
          throw new BangerError(
            'unavailable',
            `the VMM of ${vm.name} exited while the command was running`,
            {
              hint: `guest console log: ${vmPaths(this.deps.layout, vm.id).consoleLog}`,
              cause: err,
            },
          );
        }
      }
      throw err;
    }
  }

  /** Create + start + exec, and delete afterwards with `rm`. */
  async run(
    params: VmRunParams,
    io: ExecIo,
    ctx: CallContext,
    options: RunOptions = {},
  ): Promise<VmRunResult> {
    const createParams: VmCreateParams = { start: false };
    if (params.name !== undefined) createParams.name = params.name;
    if (params.image !== undefined) createParams.image = params.image;
    if (params.vcpu !== undefined) createParams.vcpu = params.vcpu;
    if (params.memoryMib !== undefined) createParams.memoryMib = params.memoryMib;
    if (params.diskBytes !== undefined) createParams.diskBytes = params.diskBytes;
    if (params.nat !== undefined) createParams.nat = params.nat;
    if (params.cold) createParams.cold = true;
    if (params.vmm !== undefined) createParams.vmm = params.vmm;

    const t0 = performance.now();
    const vm = await this.create(createParams, ctx, { ephemeral: params.rm, forRun: true });
    try {
      const t1 = performance.now();
      await this.startLocked(vm, ctx);
      const t2 = performance.now();
      if (options.beforeExec) {
        try {
          await options.beforeExec(vm);
        } catch (err) {
          if (!params.rm) await this.delete(vm.id).catch(() => undefined);
          throw err;
        }
      }
      const entry = this.live.get(vm.id);
      if (!entry) throw new BangerError('internal', `VM ${vm.name} is not live after start`);
      const t3 = performance.now();
      const exit = await this.execOn(vm, entry, params.exec, io);
      const t4 = performance.now();
      const timing = (extra: Record<string, number>) =>
        this.deps.logger.info('vm run finished', {
          vm: vm.name,
          createMs: Math.round(t1 - t0),
          startMs: Math.round(t2 - t1),
          execMs: Math.round(t4 - t3),
          ...extra,
        });
      if (params.rm) {
        const info = await this.delete(vm.id);
        timing({ deleteMs: Math.round(performance.now() - t4) });
        return { vm: info, exit, removed: true };
      }
      timing({});
      return { vm: this.info(this.resolve(vm.id)), exit, removed: false };
    } catch (err) {
      if (params.rm) await this.delete(vm.id).catch(() => undefined);
      throw err;
    }
  }

  /** Changes the size of a stopped VM; takes effect at its next start. */
  async set(
    ref: string,
    changes: { vcpu?: number; memoryMib?: number; nat?: boolean },
  ): Promise<VmRecord> {
    const vm = this.resolve(ref);
    const { nat, ...sizes } = changes;
    if (nat !== undefined) {
      const network = this.deps.network;
      if (!network) throw new BangerError('unavailable', 'this daemon has no networking');
      // NAT applies at once, running or not: no need to stop the VM.
      await this.locks.run(vm.id, () => network.setNat(vm, nat));
      if (sizes.vcpu === undefined && sizes.memoryMib === undefined) return this.resolve(vm.id);
    }
    return this.locks.run(vm.id, () => {
      const current = this.deps.records.byId(vm.id) ?? vm;
      if (current.state !== 'stopped') {
        throw new BangerError(
          'precondition_failed',
          `VM ${vm.name} is ${current.state}; vm set changes stopped VMs only`,
          {
            hint: `stop it first: banger vm stop ${vm.name}`,
          },
        );
      }
      const update: { vcpus?: number; memoryMib?: number } = {};
      if (sizes.vcpu !== undefined) update.vcpus = sizes.vcpu;
      if (sizes.memoryMib !== undefined) update.memoryMib = sizes.memoryMib;
      if (Object.keys(update).length === 0) {
        throw new BangerError(
          'bad_request',
          'vm set needs at least one of --vcpu, --memory, --nat/--no-nat',
        );
      }
      return Promise.resolve(this.deps.records.update(vm.id, update));
    });
  }

  /** Deletes the given VMs if they are still not running (what the user confirmed). */
  async prune(ids: readonly string[]): Promise<VmInfo[]> {
    const removed: VmInfo[] = [];
    for (const id of ids) {
      const vm = this.deps.records.byId(id);
      if (!vm || vm.state === 'running' || vm.state === 'starting' || this.live.has(id)) continue;
      removed.push(await this.delete(vm.id));
    }
    return removed;
  }

  /** CPU, memory and disk use of every running VM. */
  async stats(): Promise<(VmUsage & { name: string; id: string })[]> {
    const running = this.deps.records.list().flatMap((vm) => {
      const entry = this.live.get(vm.id);
      return entry ? [{ vm, pid: entry.instance.handles.pid }] : [];
    });
    const paths = running.map(({ vm }) => vmPaths(this.deps.layout, vm.id));
    const usage = await sampleUsage(
      running.map(({ pid }, i) => ({
        pid,
        disks: [paths[i]?.rootOverlay ?? '', paths[i]?.workDisk ?? ''],
      })),
    );
    return running.map(({ vm }, i) => ({
      name: vm.name,
      id: vm.id,
      ...(usage[i] ?? { cpuPercent: 0, memoryBytes: 0, diskBytes: 0 }),
    }));
  }

  /** The guest console log; followed until the caller aborts or the VM is deleted. */
  async logs(
    ref: string,
    out: Writable,
    options: { follow: boolean; signal: AbortSignal },
  ): Promise<void> {
    const vm = this.resolve(ref);
    await streamFile(vmPaths(this.deps.layout, vm.id).consoleLog, out, {
      ...options,
      stillWanted: () => this.deps.records.byId(vm.id) !== undefined,
    });
  }

  // ---- pause, resume, snapshot ------------------------------------------------------------

  /** Freezes a running VM's vCPUs; its memory, processes and connections stay as they are. */
  async pause(ref: string): Promise<VmRecord> {
    const vm = this.resolve(ref);
    return this.locks.run(vm.id, async () => {
      const current = this.deps.records.byId(vm.id) ?? vm;
      if (current.state === 'paused') return current;
      const entry = this.runningEntry(current);
      const pause = entry.instance.pause?.bind(entry.instance);
      const backend = this.backendFor(current);
      if (!backend.capabilities.pause || !pause) {
        throw new BangerError('unavailable', `the ${backend.kind} backend cannot pause VMs`);
      }
      await pause();
      this.deps.logger.info('vm paused', { vm: vm.name });
      return this.deps.records.update(vm.id, { state: 'paused' });
    });
  }

  /** Lets a paused VM run again, its clock set to the host's (it stood still while paused). */
  async resume(ref: string): Promise<VmRecord> {
    const vm = this.resolve(ref);
    return this.locks.run(vm.id, async () => {
      const current = this.deps.records.byId(vm.id) ?? vm;
      const entry = this.live.get(vm.id);
      if (current.state === 'running' && entry) return current;
      if (current.state !== 'paused' || !entry) {
        throw new BangerError(
          'precondition_failed',
          `VM ${vm.name} is not paused (state: ${current.state})`,
        );
      }
      await entry.instance.resume?.();
      await this.syncClock(current, entry);
      this.deps.logger.info('vm resumed', { vm: vm.name });
      return this.deps.records.update(vm.id, { state: 'running' });
    });
  }

  /**
   * Saves a running VM's memory and disks as snapshot `name` (`vm create --from-snapshot`
   * clones it). The VM stops for the save and the copy of its disks, then runs on.
   */
  async snapshot(ref: string, name: string | undefined, ctx: CallContext): Promise<SavedInfo> {
    const vm = this.resolve(ref);
    const warm = this.requireWarm();
    return this.locks.run(vm.id, async () => {
      const current = this.deps.records.byId(vm.id) ?? vm;
      if (current.state === 'paused') throw pausedError(current);
      const entry = this.runningEntry(current);
      const snapshotName = name ?? (await warm.nextSnapshotName(current.name));
      return warm.snapshot(
        {
          vm: current,
          paths: vmPaths(this.deps.layout, vm.id),
          instance: entry.instance,
          agent: entry.agent,
          name: snapshotName,
          afterResume: () => this.syncClock(current, entry),
        },
        ctx,
      );
    });
  }

  /**
   * TemplateBooter: boots a VM of the template's shape (cold, its RAM in `memoryFile`), runs
   * `save` once its agent is ready, then removes the VM (the files `save` moved out stay).
   */
  async bootForSave(
    request: {
      image: string;
      vcpus: number;
      memoryMib: number;
      workDiskBytes: number;
      memoryFile: string;
    },
    save: (vm: VmRecord, live: LiveVm, paths: VmPaths) => Promise<void>,
    ctx: WarmContext,
  ): Promise<void> {
    const vm = await this.create(
      {
        name: `warm-${newId().slice(0, 8)}`,
        image: request.image,
        vcpu: request.vcpus,
        memoryMib: request.memoryMib,
        ...(request.workDiskBytes > 0 ? { diskBytes: request.workDiskBytes } : {}),
        start: false,
        cold: true,
      },
      { progress: ctx.progress, notice: ctx.notice, signal: ctx.signal },
      { ephemeral: request.workDiskBytes === 0 },
    );
    try {
      await this.locks.run(vm.id, async () => {
        const paths = vmPaths(this.deps.layout, vm.id);
        this.deps.records.update(vm.id, { state: 'starting' });
        let live: LiveVm;
        try {
          live = await bootVm(vm, paths, this.bootDeps(vm), {
            progress: ctx.progress,
            signal: ctx.signal,
            // QEMU keeps a template's RAM in a file; Firecracker writes it out when it saves.
            memoryFile:
              this.backendFor(vm).kind === 'qemu'
                ? { path: request.memoryFile, shared: true }
                : undefined,
          });
        } catch (err) {
          // The VM goes with its files: keep its console log where the hint can point.
          const kept = await preserveConsoleLog(this.deps.layout, paths, `${vm.name}-${vm.id}`);
          throw withConsoleHint(err, paths, kept);
        }
        try {
          await save(vm, live, paths);
        } finally {
          live.agent.close();
          await live.instance.kill().catch(() => undefined);
          live.instance.detach();
        }
      });
    } finally {
      await this.delete(vm.id).catch((err: unknown) => {
        this.deps.logger.warn('removing the template VM failed', {
          vm: vm.name,
          error: errorText(err),
        });
      });
    }
  }

  /** Sets the guest clock to the host's (after a pause or a save stopped it for a while). */
  private async syncClock(vm: VmRecord, entry: LiveEntry): Promise<void> {
    if (!(entry.agent.capabilities ?? []).includes('restore')) return;
    await entry.agent.restore?.(clockOnly(), { timeoutMs: 5000 }).catch((err: unknown) => {
      this.deps.logger.warn('could not set the guest clock', {
        vm: vm.name,
        error: errorText(err),
      });
    });
  }

  private runningEntry(vm: VmRecord): LiveEntry {
    const entry = this.live.get(vm.id);
    if (!entry || vm.state !== 'running') {
      throw new BangerError(
        'precondition_failed',
        `VM ${vm.name} is not running (state: ${vm.state})`,
        {
          hint: `start it with \`banger vm start ${vm.name}\``,
        },
      );
    }
    return entry;
  }

  // ---- daemon start and stop -------------------------------------------------------------

  /**
   * Brings records in line with reality after a daemon (re)start: VMs whose VMM still runs are
   * adopted (same guest, same boot id); dead ones are marked stopped and their leftovers
   * removed; half-created ones are deleted.
   */
  async reconcile(): Promise<void> {
    for (const vm of this.deps.records.list()) {
      const paths = vmPaths(this.deps.layout, vm.id);
      if (vm.state === 'creating') {
        await removeVmFiles(paths);
        this.deps.records.remove(vm.id);
        this.deps.logger.info('removed half-created vm', { vm: vm.name });
        continue;
      }
      if (vm.state === 'stopped') {
        await removeRuntimeDir(paths);
        continue;
      }
      const adopted = await this.adopt(vm, paths).catch((err: unknown) => {
        this.deps.logger.warn('adoption failed', { vm: vm.name, error: String(err) });
        return undefined;
      });
      if (adopted) continue;
      await removeRuntimeDir(paths);
      if (vm.autoRemove) {
        await removeVmFiles(paths);
        this.deps.records.remove(vm.id);
      } else {
        this.deps.records.update(vm.id, {
          state: 'stopped',
          stoppedAt: new Date().toISOString(),
          lastError: 'the VM was not running when the daemon started',
        });
      }
    }
  }

  private async adopt(vm: VmRecord, paths: VmPaths): Promise<boolean> {
    const handles = await readHandles(paths);
    if (!handles) return false;
    const instance = await this.backendOf(handles.kind).adopt(handles);
    if (!instance) return false;
    try {
      // A paused guest's agent cannot answer: let it run for the handshake, then pause it again.
      const paused = vm.state === 'paused' && instance.resume !== undefined;
      if (paused) await instance.resume?.();
      const stream = await instance.connectAgent();
      const agent = await this.deps.agents.connect(stream, { timeoutMs: 10_000 });
      if (paused) await instance.pause?.();
      const entry: LiveEntry = { instance, agent, stopping: false };
      this.live.set(vm.id, entry);
      this.watchExit(vm.id, entry);
      const adopted = this.deps.records.update(vm.id, {
        state: paused ? 'paused' : 'running',
        bootId: agent.bootId,
      });
      await this.hooks.started(adopted, agent);
      this.deps.logger.info('adopted running vm', {
        vm: vm.name,
        pid: handles.pid,
        bootId: agent.bootId,
      });
      return true;
    } catch (err) {
      // A VMM we cannot talk to is of no use to anyone: kill it rather than leak it.
      this.deps.logger.warn('adopted VMM has no working agent; killing it', {
        vm: vm.name,
        error: String(err),
      });
      await instance.kill();
      return false;
    }
  }

  /** Daemon shutdown: leave VMs running, just let go of their handles. */
  detachAll(): void {
    for (const entry of this.live.values()) {
      entry.stopping = true;
      entry.agent.close();
      entry.instance.detach();
    }
    this.live.clear();
  }

  // ---- internals -------------------------------------------------------------------------

  /** The backend of a kind: the VM's own, whatever config `vmm` says today. */
  private backendOf(kind: VmmKind): VmmBackend {
    const backend = this.deps.backends?.[kind] ?? this.deps.backend;
    if (backend.kind !== kind) {
      throw new BangerError('unavailable', `this daemon has no ${kind} backend`);
    }
    return backend;
  }

  private backendFor(vm: VmRecord): VmmBackend {
    return this.backendOf(vm.backend === 'firecracker' ? 'firecracker' : 'qemu');
  }

  private bootDeps(vm: VmRecord) {
    return {
      layout: this.deps.layout,
      backend: this.backendFor(vm),
      kernels: this.deps.kernels,
      agents: this.deps.agents,
      chooseAccel: this.deps.chooseAccel,
      logger: this.deps.logger,
      bootTimeoutMs: this.deps.config().bootTimeoutSeconds * 1000,
      network: this.deps.network?.prepareBoot.bind(this.deps.network),
      extraKernelArgs: (vm: VmRecord) => this.hooks.kernelArgs(vm),
    };
  }

  /** When a VMM dies on its own, the record says so and its runtime leftovers go. */
  private watchExit(id: string, entry: LiveEntry): void {
    void entry.instance.exited.then(async (exit) => {
      if (entry.stopping || this.live.get(id) !== entry) return;
      const how =
        exit.kind === 'exited'
          ? `code ${String(exit.code)}, signal ${String(exit.signal)}`
          : 'unknown';
      this.deps.logger.warn('vmm exited unexpectedly', { id, how });
      await this.locks.run(id, async () => {
        if (this.live.get(id) !== entry) return;
        this.forget(id, entry, `the VMM exited unexpectedly (${how})`);
        await removeRuntimeDir(vmPaths(this.deps.layout, id));
      });
    });
  }

  private forget(id: string, entry: LiveEntry, lastError: string | null): VmRecord {
    entry.agent.close();
    entry.instance.detach();
    if (this.live.get(id) === entry) this.live.delete(id);
    void removeRuntimeDir(vmPaths(this.deps.layout, id));
    const stopped = this.markStopped(id, lastError);
    void this.hooks.stopped(stopped);
    return stopped;
  }

  /** The running VM and its agent session; precondition_failed when it is not running. */
  liveAgent(ref: string): { vm: VmRecord; agent: AgentSession } {
    const vm = this.resolve(ref);
    const entry = this.live.get(vm.id);
    if (!entry || vm.state !== 'running') {
      throw new BangerError(
        'precondition_failed',
        `VM ${vm.name} is not running (state: ${vm.state})`,
        { hint: `start it with \`banger vm start ${vm.name}\`` },
      );
    }
    return { vm, agent: entry.agent };
  }

  private markStopped(id: string, lastError: string | null): VmRecord {
    const current = this.deps.records.byId(id);
    if (!current) throw new BangerError('not_found', `VM ${id} no longer exists`);
    if (current.state === 'stopped' && lastError === null) return current;
    return this.deps.records.update(id, {
      state: 'stopped',
      stoppedAt: new Date().toISOString(),
      lastError,
    });
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Points the hint of a boot failure at the console log copy that outlives the VM. */
function withConsoleHint(err: unknown, paths: VmPaths, kept: string | undefined): unknown {
  if (!(err instanceof BangerError) || kept === undefined || err.hint === undefined) return err;
  const hint = err.hint.split(paths.consoleLog).join(kept);
  return new BangerError(err.code, err.message, { hint, cause: err.cause, details: err.details });
}

function pausedError(vm: VmRecord): BangerError {
  return new BangerError('precondition_failed', `VM ${vm.name} is paused`, {
    hint: `resume it with \`banger vm resume ${vm.name}\``,
  });
}

/** `vm create --from-snapshot`: the VM's size is the snapshot's; other flags are refused. */
function checkSnapshotShape(params: VmCreateParams, pick: WarmPick): void {
  const m = pick.entry.manifest;
  const clash: string[] = [];
  if (params.image !== undefined && params.image !== m.image.name)
    clash.push(`image ${m.image.name}`);
  if (params.vcpu !== undefined && params.vcpu !== m.shape.vcpus)
    clash.push(`${String(m.shape.vcpus)} vCPUs`);
  if (params.memoryMib !== undefined && params.memoryMib !== m.shape.memoryMib)
    clash.push(`${String(m.shape.memoryMib)} MiB`);
  if (params.diskBytes !== undefined && params.diskBytes !== m.shape.workDiskBytes)
    clash.push(`a work disk of ${String(m.shape.workDiskBytes)} bytes`);
  if (clash.length > 0) {
    throw new BangerError(
      'bad_request',
      `${pick.label} has ${clash.join(', ')}: a clone has its snapshot's image and size`,
      { hint: 'leave out --image, --vcpu, --memory and --disk-size with --from-snapshot' },
    );
  }
}
