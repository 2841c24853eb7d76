/**
 * The Firecracker backend: raw copy-on-write root disks (the strategy chosen per host), a
 * launch through the privileged ops (firecracker, or jailer + firecracker, from the pure
 * launch plan), the boot as named API steps, vsock for the agent channel, pause/resume and
 * full snapshots. A failed launch leaves nothing behind: no process, socket, jail or cgroup,
 * and its error names the step that failed, Firecracker's fault message and its last words.
 */
import { promises as fs } from 'node:fs';
import {
  BangerError,
  silentLogger,
  sleep,
  toBangerError,
  withUndo,
  type Logger,
} from '../../base/index.js';
import type { DiskSpec, VmLaunchSpec, VmmHandles } from '../../protocol/index.js';
import type { SavedVmState, VmmBackend, VmmCapabilities } from '../backend.js';
import type { VmmOps } from '../in-process-vmm-ops.js';
import { checkLaunchSpec, checkPath } from '../launch-spec-rules.js';
import { tailLog } from '../log-tail.js';
import { isProcessAlive, readProcCmdline } from '../proc-stat.js';
import { VMM_LOG_MARKER } from '../spawn-vmm.js';
import { FirecrackerApiClient } from './api-client.js';
import { bootRequests, restoreRequests, type BootRequest } from './boot-requests.js';
import { createCowDisk, type CowChoice } from './disk-cow.js';
import {
  FirecrackerInstance,
  removeSockets,
  type InstanceLayout,
  type SnapshotTarget,
} from './firecracker-instance.js';
import {
  buildFirecrackerLaunchPlan,
  FIRECRACKER_FILES,
  type FirecrackerHostInfo,
  type FirecrackerVmLayout,
} from './launch-plan.js';
import { checkFirecrackerVersion, firecrackerHasAcpi } from './version.js';

export interface FirecrackerBackendOptions {
  ops: VmmOps;
  /** The same host facts the ops launch with (binary, jailer): both derive the VM layout from them. */
  host: FirecrackerHostInfo;
  /** How VM root disks are copied from their base image (see chooseCowStrategy). */
  cow: CowChoice;
  logger?: Logger;
  /** How long Firecracker may take to answer on its API socket (default 10 s). */
  startTimeoutMs?: number;
  /** How long connectAgent waits for the guest agent (default 60 s). */
  agentTimeoutMs?: number;
}

export class FirecrackerBackend implements VmmBackend {
  readonly kind = 'firecracker' as const;
  readonly capabilities: VmmCapabilities = {
    pause: true,
    snapshot: true,
    vsock: true,
    balloon: false,
  };
  private readonly ops: VmmOps;
  private readonly logger: Logger;

  constructor(private readonly options: FirecrackerBackendOptions) {
    this.ops = options.ops;
    this.logger = options.logger ?? silentLogger;
  }

  /** How this backend copies root disks on this host (doctor shows it). */
  get cowChoice(): CowChoice {
    return this.options.cow;
  }

  /** A raw copy-on-write copy of `base` at `dest` (Firecracker has no qcow2). */
  async createRootDisk(
    base: { path: string; format: 'raw' | 'qcow2' },
    dest: string,
  ): Promise<DiskSpec> {
    checkPath(base.path, 'base.path');
    checkPath(dest, 'dest');
    if (base.format !== 'raw') {
      throw new BangerError(
        'bad_request',
        `firecracker boots raw disks only; base image ${base.path} is ${base.format as string}`,
      );
    }
    await createCowDisk({ base: base.path, dest, strategy: this.options.cow.strategy });
    return { id: 'root', path: dest, format: 'raw', readOnly: false };
  }

  async launch(
    spec: VmLaunchSpec,
    options: { signal?: AbortSignal } = {},
  ): Promise<FirecrackerInstance> {
    checkLaunchSpec(spec);
    // The pure plan refuses what Firecracker cannot run (qcow2, TCG, > 32 vCPUs) before any I/O.
    const layout = buildFirecrackerLaunchPlan(spec, this.options.host).layout;
    return this.start(
      spec,
      layout,
      (api) => this.runSteps(api, bootRequests(spec, layout), spec, layout),
      options.signal,
    );
  }

  /**
   * Starts a new Firecracker from a full snapshot taken by FirecrackerInstance.createSnapshot.
   * The spec must describe the same disks (same ids) and vsock as the saved VM.
   */
  async restore(
    spec: VmLaunchSpec,
    snapshot: SnapshotTarget,
    options: { signal?: AbortSignal; resume?: boolean } = {},
  ): Promise<FirecrackerInstance> {
    checkLaunchSpec(spec);
    checkPath(snapshot.statePath, 'snapshot.statePath');
    checkPath(snapshot.memoryPath, 'snapshot.memoryPath');
    // The pure plan refuses what Firecracker cannot run (qcow2, TCG, > 32 vCPUs) before any I/O.
    const layout = buildFirecrackerLaunchPlan(spec, this.options.host).layout;
    return this.start(
      spec,
      layout,
      async (api) => {
        let files = { statePath: snapshot.statePath, memoryPath: snapshot.memoryPath };
        if (layout.chrootDir !== undefined) {
          // Firecracker reads only inside its chroot: link the saved files in.
          const state = `/${FIRECRACKER_FILES.snapshotState}`;
          const memory = `/${FIRECRACKER_FILES.snapshotMemory}`;
          await fs.link(snapshot.statePath, `${layout.chrootDir}${state}`);
          await fs.link(snapshot.memoryPath, `${layout.chrootDir}${memory}`);
          files = { statePath: state, memoryPath: memory };
        }
        await this.runSteps(
          api,
          restoreRequests(layout, files, { resume: options.resume ?? true }),
          spec,
          layout,
        );
      },
      options.signal,
    );
  }

  /** The VmmBackend view of restore(): a state saved by FirecrackerInstance.saveState. */
  async restoreState(
    spec: VmLaunchSpec,
    saved: SavedVmState,
    options: { signal?: AbortSignal } = {},
  ): Promise<FirecrackerInstance> {
    if (saved.backend !== 'firecracker' || saved.memoryFile === undefined) {
      throw new BangerError(
        'bad_request',
        `cannot restore a ${saved.backend} state without a memory file with firecracker`,
      );
    }
    return this.restore(
      spec,
      { statePath: saved.stateFile, memoryPath: saved.memoryFile },
      { ...options, resume: true },
    );
  }

  async adopt(raw: VmmHandles): Promise<FirecrackerInstance | undefined> {
    if (raw.kind !== 'firecracker') {
      throw new BangerError(
        'bad_request',
        `cannot adopt a ${raw.kind} VMM with the firecracker backend`,
      );
    }
    if (!Number.isSafeInteger(raw.pid) || raw.pid <= 1 || !Number.isSafeInteger(raw.startTime)) {
      throw new BangerError('bad_request', 'VMM handles have an invalid pid or start time');
    }
    checkPath(raw.controlSocket, 'handles.controlSocket');
    checkPath(raw.agentSocket, 'handles.agentSocket');
    const argv = await readProcCmdline(raw.pid);
    const vmId = raw.vmId ?? vmIdFromArgv(argv);
    if (!(await isProcessAlive(raw.pid, raw.startTime))) {
      // It died while no daemon watched: what it left on the host goes now.
      if (vmId !== undefined) await this.release(vmId, [raw.controlSocket, raw.agentSocket]);
      return undefined;
    }
    if (vmId === undefined) {
      throw new BangerError(
        'operation_failed',
        `cannot tell which VM firecracker pid ${String(raw.pid)} runs`,
      );
    }
    if (argv !== undefined && !argv.some((a) => a.includes(`banger-${vmId}`))) {
      this.logger.warn('adopt: pid is not the firecracker of these handles', { pid: raw.pid });
      return undefined;
    }
    // Everything of the VM's layout an instance uses sits next to its API socket.
    const dir = raw.controlSocket.replace(/\/[^/]+$/, '');
    const layout: InstanceLayout = {
      fcId: `banger-${vmId}`,
      apiSocket: raw.controlSocket,
      vsockSocket: raw.agentSocket,
      logFile: `${dir}/${FIRECRACKER_FILES.log}`,
      chrootDir: this.options.host.jailer === undefined ? undefined : dir,
    };
    const api = new FirecrackerApiClient(raw.controlSocket);
    try {
      await api.describeInstance({ timeoutMs: 5000 });
    } catch (err) {
      if (!(await isProcessAlive(raw.pid, raw.startTime))) return undefined;
      throw new BangerError(
        'unavailable',
        `firecracker pid ${String(raw.pid)} is alive but its API socket does not answer`,
        { cause: err, hint: `check ${raw.controlSocket}` },
      );
    }
    const handles = { ...raw, kind: 'firecracker' as const, vmId };
    return new FirecrackerInstance({
      handles,
      api,
      layout,
      ops: this.ops,
      logger: this.logger,
      agentTimeoutMs: this.options.agentTimeoutMs,
    });
  }

  private async start(
    spec: VmLaunchSpec,
    layout: FirecrackerVmLayout,
    configure: (api: FirecrackerApiClient) => Promise<void>,
    signal: AbortSignal | undefined,
  ): Promise<FirecrackerInstance> {
    await fs.mkdir(spec.runDir, { recursive: true, mode: 0o700 });
    // A stale socket from an earlier run would look like a live Firecracker below.
    await removeSockets([layout.apiSocket, layout.vsockSocket]);
    const timeoutMs = this.options.startTimeoutMs ?? 10_000;
    return withUndo(
      async (undo) => {
        undo.push('release the jail', () =>
          this.release(spec.vmId, [layout.apiSocket, layout.vsockSocket]),
        );
        const started = await this.ops.launchVmm({ backend: 'firecracker', spec });
        const handles = {
          kind: 'firecracker' as const,
          vmId: spec.vmId,
          pid: started.pid,
          startTime: started.startTime,
          controlSocket: layout.apiSocket,
          agentSocket: layout.vsockSocket,
        };
        undo.push('kill the VMM', () =>
          this.ops.killVmm({ vmId: spec.vmId, pid: started.pid, startTime: started.startTime }),
        );
        const api = new FirecrackerApiClient(layout.apiSocket);
        let version: string;
        try {
          await this.waitForApi(api, handles, timeoutMs, signal);
          version = checkFirecrackerVersion((await api.version()).firecracker_version).version;
          await configure(api);
        } catch (err) {
          throw await this.launchError(spec, layout, handles, err);
        }
        if (!firecrackerHasAcpi(version)) {
          this.logger.warn(
            'firecracker < 1.8 finds virtio devices only through kernel command-line devices (CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES)',
            { vmId: spec.vmId, version },
          );
        }
        this.logger.info('firecracker started', { vmId: spec.vmId, pid: started.pid, version });
        return new FirecrackerInstance({
          handles,
          api,
          layout,
          ops: this.ops,
          vmmLogPath: spec.vmmLogPath,
          version,
          logger: this.logger,
          agentTimeoutMs: this.options.agentTimeoutMs,
        });
      },
      (label, error) =>
        this.logger.warn('undo after failed launch failed', { label, error: String(error) }),
    );
  }

  /** Runs named requests in order; a failure names its step. */
  private async runSteps(
    api: FirecrackerApiClient,
    requests: BootRequest[],
    spec: VmLaunchSpec,
    layout: FirecrackerVmLayout,
  ): Promise<void> {
    for (const r of requests) {
      try {
        await api.call(r.operation, r.input);
      } catch (err) {
        const base = toBangerError(err);
        throw new BangerError(
          base.code,
          `firecracker boot step "${r.step}" failed: ${base.message}`,
          {
            cause: err,
            details: { ...base.details, step: r.step, vmId: spec.vmId, jail: layout.jailDir },
          },
        );
      }
    }
  }

  /** Waits for the API to answer, failing fast if the process dies first. */
  private async waitForApi(
    api: FirecrackerApiClient,
    handles: { pid: number; startTime: number; controlSocket: string },
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      signal?.throwIfAborted();
      if (!(await isProcessAlive(handles.pid, handles.startTime))) {
        throw new BangerError('operation_failed', 'firecracker exited while starting', {
          cause: lastError,
        });
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new BangerError(
          'timeout',
          `firecracker did not open its API socket ${handles.controlSocket} within ${String(timeoutMs)} ms`,
          { cause: lastError },
        );
      }
      const st = await fs.lstat(handles.controlSocket).catch(() => undefined);
      if (st?.isSocket()) {
        try {
          await api.describeInstance({ timeoutMs: Math.min(remaining, 2000), signal });
          return;
        } catch (err) {
          if (
            !(err instanceof BangerError) ||
            (err.code !== 'unavailable' && err.code !== 'timeout')
          )
            throw err;
          lastError = err;
        }
      }
      await sleep(10, signal);
    }
  }

  /** The error for a failed launch: the cause, then what Firecracker (and its log) said last. */
  private async launchError(
    spec: VmLaunchSpec,
    layout: FirecrackerVmLayout,
    handles: { pid: number; startTime: number },
    err: unknown,
  ): Promise<BangerError> {
    const base = toBangerError(err);
    if (base.code === 'canceled') return base;
    // Give a dying Firecracker a moment to finish writing its last words.
    for (let i = 0; i < 25 && (await isProcessAlive(handles.pid, handles.startTime)); i++) {
      if (base.code !== 'operation_failed' || base.details?.step !== undefined) break;
      await sleep(20);
    }
    const died = !(await isProcessAlive(handles.pid, handles.startTime));
    const stderr = await tailLog(spec.vmmLogPath, { lines: 8, since: VMM_LOG_MARKER });
    const fcLog = await tailLog(layout.logFile, { lines: 6 });
    const said = [stderr, fcLog].filter((t) => t.trim() !== '').join('\n');
    const message =
      died && base.details?.step === undefined ? 'firecracker exited while starting' : base.message;
    return new BangerError(
      died ? 'operation_failed' : base.code,
      `${message}${said ? `:\n${said}` : ''}`,
      {
        cause: err,
        hint: base.hint ?? `see ${spec.vmmLogPath}`,
        details: { ...base.details, vmId: spec.vmId },
      },
    );
  }

  /** Removes sockets and (through the privileged ops) the jail and cgroup of a gone VMM. */
  private async release(vmId: string, sockets: string[]): Promise<void> {
    await removeSockets(sockets);
    await this.ops.releaseVmm?.({ backend: 'firecracker', vmId });
  }
}

function vmIdFromArgv(argv: string[] | undefined): string | undefined {
  for (const [i, a] of (argv ?? []).entries()) {
    const inline = /^--id=banger-([0-9a-f]{12})$/.exec(a)?.[1];
    if (inline !== undefined) return inline;
    if (a === '--id') {
      const next = /^banger-([0-9a-f]{12})$/.exec(argv?.[i + 1] ?? '')?.[1];
      if (next !== undefined) return next;
    }
  }
  return undefined;
}
