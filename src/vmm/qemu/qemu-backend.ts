/**
 * The QEMU microvm backend: qcow2 overlays over a read-only base, launch through the
 * privileged ops (which build argv with the pure launch plan), QMP for control, the
 * virtio-serial chardev socket as the agent channel. A failed launch leaves nothing running
 * and reports the tail of the VMM's log.
 */
import { promises as fs } from 'node:fs';
import {
  BangerError,
  run,
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
import { qemuOptValue, qemuSocketPaths } from './launch-plan.js';
import { QemuInstance, removeSockets } from './qemu-instance.js';
import { QmpClient } from './qmp-client.js';

export interface QemuBackendOptions {
  ops: VmmOps;
  /** qemu-img for overlays (default "qemu-img"). */
  qemuImgBinary?: string;
  logger?: Logger;
  /** How long QEMU may take to open its QMP socket (default 15 s). */
  startTimeoutMs?: number;
}

export class QemuBackend implements VmmBackend {
  readonly kind = 'qemu' as const;
  readonly capabilities: VmmCapabilities = {
    pause: true,
    snapshot: true,
    vsock: false,
    balloon: false,
  };
  private readonly ops: VmmOps;
  private readonly logger: Logger;

  constructor(private readonly options: QemuBackendOptions) {
    this.ops = options.ops;
    this.logger = options.logger ?? silentLogger;
  }

  /** A qcow2 overlay at `dest` over `base`, which QEMU only ever opens read-only. */
  async createRootDisk(
    base: { path: string; format: 'raw' | 'qcow2' },
    dest: string,
  ): Promise<DiskSpec> {
    checkPath(base.path, 'base.path');
    checkPath(dest, 'dest');
    if (base.format !== 'raw' && base.format !== 'qcow2') {
      throw new BangerError(
        'bad_request',
        `base image format ${String(base.format)} must be raw or qcow2`,
      );
    }
    const st = await fs.stat(base.path).catch(() => undefined);
    if (!st?.isFile()) throw new BangerError('not_found', `base image ${base.path} is not a file`);
    if (await fs.lstat(dest).catch(() => undefined)) {
      throw new BangerError('already_exists', `root disk ${dest} already exists`);
    }
    try {
      await run(this.options.qemuImgBinary ?? 'qemu-img', [
        'create',
        '-q',
        '-f',
        'qcow2',
        '-b',
        base.path,
        '-F',
        base.format,
        dest,
      ]);
      await fs.chmod(dest, 0o600);
    } catch (err) {
      await fs.rm(dest, { force: true });
      throw err;
    }
    return { id: 'root', path: dest, format: 'qcow2', readOnly: false };
  }

  async launch(spec: VmLaunchSpec, options: { signal?: AbortSignal } = {}): Promise<QemuInstance> {
    checkLaunchSpec(spec);
    const sockets = qemuSocketPaths(spec.runDir);
    await fs.mkdir(spec.runDir, { recursive: true, mode: 0o700 });
    // A stale socket from an earlier run would look like a live QEMU to the wait below.
    await removeSockets([sockets.qmp, sockets.agent]);
    const timeoutMs = this.options.startTimeoutMs ?? 15_000;

    return withUndo(
      async (undo) => {
        const started = await this.ops.launchVmm({ backend: 'qemu', spec });
        const handles = {
          kind: 'qemu' as const,
          vmId: spec.vmId,
          pid: started.pid,
          startTime: started.startTime,
          controlSocket: sockets.qmp,
          agentSocket: sockets.agent,
        };
        undo.push('remove sockets', () => removeSockets([sockets.qmp, sockets.agent]));
        undo.push('kill the VMM', () =>
          this.ops.killVmm({ vmId: spec.vmId, pid: started.pid, startTime: started.startTime }),
        );
        let qmp: QmpClient;
        try {
          qmp = await this.connectWhileAlive(handles, timeoutMs, options.signal);
          // A reply proves the main loop runs: QEMU got past loading the kernel and devices.
          await qmp.execute('query-status', undefined, { timeoutMs });
        } catch (err) {
          throw await this.launchError(spec, handles, err);
        }
        this.logger.info('qemu started', { vmId: spec.vmId, pid: started.pid });
        return new QemuInstance({
          handles,
          qmp,
          ops: this.ops,
          logger: this.logger,
          memoryFile: spec.memoryFile,
        });
      },
      (label, error) =>
        this.logger.warn('undo after failed launch failed', { label, error: String(error) }),
    );
  }

  /**
   * A new QEMU with the saved guest streamed in (qemu-migration.ts): `spec` as for a boot, with
   * this VM's disks, tap and sockets; the saved RAM file, if any, is mapped privately.
   */
  async restoreState(
    spec: VmLaunchSpec,
    saved: SavedVmState,
    options: { signal?: AbortSignal } = {},
  ): Promise<QemuInstance> {
    if (saved.backend !== 'qemu') {
      throw new BangerError('bad_request', `cannot restore a ${saved.backend} state with qemu`);
    }
    checkPath(saved.stateFile, 'saved.stateFile');
    if (saved.memoryFile !== undefined) checkPath(saved.memoryFile, 'saved.memoryFile');
    const instance = await this.launch(
      {
        ...spec,
        incoming: true,
        memoryFile:
          saved.memoryFile === undefined ? undefined : { path: saved.memoryFile, shared: false },
      },
      options,
    );
    try {
      await instance.loadState(saved, options);
    } catch (err) {
      const error = await this.launchError(spec, instance.handles, err);
      await instance.kill().catch((killError: unknown) => {
        this.logger.warn('kill after a failed restore failed', { error: String(killError) });
      });
      throw error;
    }
    this.logger.info('qemu restored', { vmId: spec.vmId, pid: instance.handles.pid });
    return instance;
  }

  async adopt(raw: VmmHandles): Promise<QemuInstance | undefined> {
    if (raw.kind !== 'qemu')
      throw new BangerError('bad_request', `cannot adopt a ${raw.kind} VMM with the qemu backend`);
    if (!Number.isSafeInteger(raw.pid) || raw.pid <= 1 || !Number.isSafeInteger(raw.startTime)) {
      throw new BangerError('bad_request', `VMM handles have an invalid pid or start time`);
    }
    checkPath(raw.controlSocket, 'handles.controlSocket');
    checkPath(raw.agentSocket, 'handles.agentSocket');
    if (!(await isProcessAlive(raw.pid, raw.startTime))) return undefined;

    const argv = await readProcCmdline(raw.pid);
    const vmId = raw.vmId ?? vmIdFromArgv(argv);
    // The pid and start time match, but make sure it is the QEMU that owns this control socket.
    if (
      argv !== undefined &&
      !argv.some((a) => a.includes(`path=${qemuOptValue(raw.controlSocket)},`))
    ) {
      this.logger.warn('adopt: pid is not the QEMU of these handles', { pid: raw.pid });
      return undefined;
    }
    if (vmId === undefined) {
      throw new BangerError(
        'operation_failed',
        `cannot tell which VM QEMU pid ${String(raw.pid)} runs`,
      );
    }
    const handles = { ...raw, kind: 'qemu' as const, vmId };
    let qmp: QmpClient;
    try {
      qmp = await this.connectWhileAlive(handles, 5000, undefined);
    } catch (err) {
      if (!(await isProcessAlive(raw.pid, raw.startTime))) return undefined;
      throw new BangerError(
        'unavailable',
        `QEMU pid ${String(raw.pid)} is alive but its QMP socket does not answer`,
        {
          cause: err,
          hint: `is another client connected to ${raw.controlSocket}?`,
        },
      );
    }
    return new QemuInstance({ handles, qmp, ops: this.ops, logger: this.logger });
  }

  /** Connects to QMP as soon as the socket answers, failing fast if the process dies first. */
  private async connectWhileAlive(
    handles: { pid: number; startTime: number; controlSocket: string },
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      signal?.throwIfAborted();
      if (!(await isProcessAlive(handles.pid, handles.startTime))) {
        throw new BangerError('operation_failed', 'QEMU exited while starting', {
          cause: lastError,
        });
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new BangerError(
          'timeout',
          `QEMU did not open its QMP socket within ${String(timeoutMs)} ms`,
          {
            cause: lastError,
          },
        );
      }
      const st = await fs.lstat(handles.controlSocket).catch(() => undefined);
      if (st?.isSocket()) {
        try {
          return await QmpClient.connect(handles.controlSocket, { timeoutMs: remaining, signal });
        } catch (err) {
          lastError = err;
        }
      }
      // QEMU opens its socket ~30 ms after it starts: a short poll is most of a restore's wait.
      await sleep(3, signal);
    }
  }

  /** The error for a failed launch: what QEMU said last (its log), and where the full log is. */
  private async launchError(
    spec: VmLaunchSpec,
    handles: { pid: number; startTime: number },
    err: unknown,
  ): Promise<BangerError> {
    const base = toBangerError(err);
    if (base.code === 'canceled') return base;
    // Give a dying QEMU a moment to finish writing its last words.
    for (let i = 0; i < 25 && (await isProcessAlive(handles.pid, handles.startTime)); i++)
      await sleep(20);
    const tail = await tailLog(spec.vmmLogPath, { lines: 8, since: VMM_LOG_MARKER });
    const died = !(await isProcessAlive(handles.pid, handles.startTime));
    return new BangerError(
      died ? 'operation_failed' : base.code,
      `${died ? 'QEMU exited while starting' : base.message}${tail ? `:\n${tail}` : ''}`,
      { cause: err, hint: `see ${spec.vmmLogPath}`, details: { vmId: spec.vmId } },
    );
  }
}

function vmIdFromArgv(argv: string[] | undefined): string | undefined {
  const i = argv?.indexOf('-name') ?? -1;
  const name = i >= 0 ? argv?.[i + 1] : undefined;
  return /^banger-([0-9a-f]{12})$/.exec(name ?? '')?.[1];
}
