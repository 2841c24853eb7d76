/**
 * One running Firecracker, launched by us or adopted after a daemon restart. We may not be
 * its parent, so its end is noticed by an idle connection to its API socket closing (the
 * kernel closes it when the process dies), confirmed by /proc (pid + start time), with a
 * slow /proc poll as the safety net. Once it is gone, what it left on the host (sockets, the
 * jail, the cgroup) is removed, and Firecracker's own log is appended to the VMM log.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { BangerError, silentLogger, sleep, type Logger } from '../../base/index.js';
import type { VmmHandles } from '../../protocol/index.js';
import type { SavedVmState, SaveStateOptions, VmmExit, VmmInstance } from '../backend.js';
import type { VmmOps } from '../in-process-vmm-ops.js';
import { isProcessAlive } from '../proc-stat.js';
import type { FirecrackerApiClient } from './api-client.js';
import type { InstanceInfo } from './generated/api-types.js';
import { AGENT_VSOCK_PORT, FIRECRACKER_FILES, type FirecrackerVmLayout } from './launch-plan.js';
import { connectVsock } from './vsock-connect.js';

/** What an instance needs of its VM's layout (an adopted one knows no more). */
export type InstanceLayout = Pick<
  FirecrackerVmLayout,
  'fcId' | 'apiSocket' | 'vsockSocket' | 'logFile' | 'chrootDir'
>;

export interface FirecrackerInstanceOptions {
  handles: VmmHandles & { vmId: string };
  api: FirecrackerApiClient;
  layout: InstanceLayout;
  ops: VmmOps;
  /** Where Firecracker's own log is appended once it is gone (absent for adopted VMMs). */
  vmmLogPath?: string | undefined;
  /** The Firecracker version the API reported. */
  version?: string | undefined;
  logger?: Logger | undefined;
  /** How long connectAgent waits for the guest agent to listen (default 60 s). */
  agentTimeoutMs?: number | undefined;
}

export interface SnapshotTarget {
  /** Where the VM state file goes (host path). */
  statePath: string;
  /** Where the guest memory file goes (host path). */
  memoryPath: string;
}

const IDLE_POLL_MS = 1000;
const FC_LOG_TAIL_BYTES = 64 * 1024;

export class FirecrackerInstance implements VmmInstance {
  readonly handles: VmmHandles & { vmId: string };
  readonly exited: Promise<VmmExit>;
  readonly layout: InstanceLayout;
  readonly version: string | undefined;
  private readonly api: FirecrackerApiClient;
  private readonly ops: VmmOps;
  private readonly logger: Logger;
  private readonly vmmLogPath: string | undefined;
  private readonly agentTimeoutMs: number;
  private alive = true;
  private detached = false;
  private reason: string | undefined;
  private resolveExited!: (exit: VmmExit) => void;
  private killing: Promise<void> | undefined;
  private cleaned: Promise<void> | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private watch: net.Socket | undefined;

  constructor(options: FirecrackerInstanceOptions) {
    this.handles = options.handles;
    this.api = options.api;
    this.layout = options.layout;
    this.ops = options.ops;
    this.version = options.version;
    this.vmmLogPath = options.vmmLogPath;
    this.logger = options.logger ?? silentLogger;
    this.agentTimeoutMs = options.agentTimeoutMs ?? 60_000;
    this.exited = new Promise((resolve) => {
      this.resolveExited = resolve;
    });
    this.openWatch();
    this.schedulePoll();
  }

  isAlive(): boolean {
    return this.alive;
  }

  /** The agent channel: a vsock connection to the guest's port 1024 through Firecracker's UDS. */
  async connectAgent(options: { signal?: AbortSignal } = {}): Promise<Duplex> {
    return connectVsock(this.layout.vsockSocket, AGENT_VSOCK_PORT, {
      signal: options.signal,
      timeoutMs: this.agentTimeoutMs,
      stillUseful: () => this.alive && isProcessAlive(this.handles.pid, this.handles.startTime),
    });
  }

  /**
   * Ctrl-Alt-Del through the emulated i8042 (x86): the guest's init decides what to do with
   * it, and a guest kernel without the i8042 driver never sees it. `stop()` adds the kill.
   */
  async requestPowerdown(): Promise<void> {
    await this.api.action('SendCtrlAltDel');
  }

  /** Graceful stop: Ctrl-Alt-Del, up to `graceMs` for the guest to end, then kill. */
  async stop(options: { graceMs?: number } = {}): Promise<void> {
    if (this.alive) await this.requestPowerdown().catch(() => undefined);
    const deadline = Date.now() + (options.graceMs ?? 5000);
    while (this.alive && Date.now() < deadline) {
      if (!(await isProcessAlive(this.handles.pid, this.handles.startTime))) break;
      await sleep(20);
    }
    await this.kill();
  }

  async pause(): Promise<void> {
    await this.api.setVmState('Paused');
  }

  async resume(): Promise<void> {
    await this.api.setVmState('Resumed');
  }

  async describe(): Promise<InstanceInfo> {
    return this.api.describeInstance();
  }

  /**
   * A full snapshot (VM state + guest memory) of this VM, which is paused first and stays
   * paused (resume() it, or kill it). Inside a jail Firecracker writes into its chroot; the
   * files are then moved to the requested places.
   */
  async createSnapshot(
    target: SnapshotTarget,
    options: { timeoutMs?: number } = {},
  ): Promise<void> {
    for (const p of [target.statePath, target.memoryPath]) {
      if (await fs.lstat(p).catch(() => undefined))
        throw new BangerError('already_exists', `snapshot file ${p} already exists`);
    }
    const info = await this.api.describeInstance();
    if (info.state !== 'Paused') await this.pause();
    const jailed = this.layout.chrootDir !== undefined;
    const inVmm = jailed
      ? {
          state: `/${FIRECRACKER_FILES.snapshotState}`,
          memory: `/${FIRECRACKER_FILES.snapshotMemory}`,
        }
      : { state: target.statePath, memory: target.memoryPath };
    await this.api.createSnapshot(
      { snapshot_type: 'Full', snapshot_path: inVmm.state, mem_file_path: inVmm.memory },
      { timeoutMs: options.timeoutMs ?? 120_000 },
    );
    if (jailed && this.layout.chrootDir !== undefined) {
      await moveOut(`${this.layout.chrootDir}${inVmm.state}`, target.statePath);
      await moveOut(`${this.layout.chrootDir}${inVmm.memory}`, target.memoryPath);
    }
  }

  /**
   * The VmmInstance view of createSnapshot: a full snapshot into options.dir (state and
   * memory files; the memory file is what a restored VM maps). The VM stays paused.
   */
  async saveState(options: SaveStateOptions): Promise<SavedVmState> {
    const target = {
      statePath: `${options.dir}/${FIRECRACKER_FILES.snapshotState}`,
      memoryPath: `${options.dir}/${FIRECRACKER_FILES.snapshotMemory}`,
    };
    await this.createSnapshot(target);
    try {
      if (options.whileStopped) await options.whileStopped();
    } catch (err) {
      await fs.rm(target.statePath, { force: true });
      await fs.rm(target.memoryPath, { force: true });
      throw err;
    }
    return {
      backend: 'firecracker',
      stateFile: target.statePath,
      memoryFile: target.memoryPath,
      compression: 'none',
    };
  }

  kill(): Promise<void> {
    this.killing ??= this.doKill().finally(() => {
      this.killing = undefined;
    });
    return this.killing;
  }

  detach(): void {
    this.detached = true;
    clearTimeout(this.pollTimer);
    this.watch?.destroy();
  }

  private async doKill(): Promise<void> {
    const { pid, startTime, vmId } = this.handles;
    if (await isProcessAlive(pid, startTime)) {
      this.reason ??= 'killed';
      await this.ops.killVmm({ vmId, pid, startTime });
    }
    await this.watchUntilGone(10);
    await this.cleanup();
  }

  /** Removes what the VMM left (once, after it is gone). */
  private cleanup(): Promise<void> {
    this.cleaned ??= (async () => {
      await this.saveFirecrackerLog().catch((err: unknown) =>
        this.logger.warn('cannot save the firecracker log', { error: String(err) }),
      );
      await removeSockets([this.layout.apiSocket, this.layout.vsockSocket]);
      await this.ops
        .releaseVmm?.({ backend: 'firecracker', vmId: this.handles.vmId })
        .catch((err: unknown) =>
          this.logger.warn('releasing the firecracker jail failed', {
            vmId: this.handles.vmId,
            error: String(err),
          }),
        );
    })();
    return this.cleaned;
  }

  /** Firecracker's log lives in its run dir or jail, which go away: keep its tail in the VMM log. */
  private async saveFirecrackerLog(): Promise<void> {
    if (this.vmmLogPath === undefined) return;
    const handle = await fs
      .open(this.layout.logFile, fsc.O_RDONLY | fsc.O_NOFOLLOW)
      .catch(() => undefined);
    if (handle === undefined) return;
    let text: string;
    try {
      const size = (await handle.stat()).size;
      const len = Math.min(size, FC_LOG_TAIL_BYTES);
      const buf = Buffer.alloc(len);
      await handle.read(buf, 0, len, size - len);
      text = buf.toString('utf8');
    } finally {
      await handle.close();
    }
    if (text.trim() === '') return;
    await fs.appendFile(
      this.vmmLogPath,
      `--- firecracker log (${this.layout.fcId}) ---\n${text}${text.endsWith('\n') ? '' : '\n'}`,
      {
        mode: 0o600,
        flag: fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW,
      },
    );
  }

  /** An idle connection to the API socket: Firecracker's death closes it at once. */
  private openWatch(): void {
    if (this.detached || !this.alive) return;
    const socket = net.createConnection({ path: this.layout.apiSocket });
    this.watch = socket;
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.watch === socket) this.watch = undefined;
      if (this.detached || !this.alive) return;
      void isProcessAlive(this.handles.pid, this.handles.startTime).then((alive) => {
        if (alive) setTimeout(() => this.openWatch(), 500).unref();
        else void this.watchUntilGone(10);
      });
    });
    socket.unref();
  }

  private async watchUntilGone(intervalMs: number): Promise<void> {
    let wait = intervalMs;
    while (this.alive && (await isProcessAlive(this.handles.pid, this.handles.startTime))) {
      if (this.detached) return;
      await sleep(wait);
      wait = Math.min(wait * 2, 500);
    }
    await this.markGone();
  }

  private schedulePoll(): void {
    this.pollTimer = setTimeout(() => {
      void isProcessAlive(this.handles.pid, this.handles.startTime).then((alive) => {
        if (this.detached || !this.alive) return;
        if (alive) this.schedulePoll();
        else void this.markGone();
      });
    }, IDLE_POLL_MS);
    this.pollTimer.unref();
  }

  private async markGone(): Promise<void> {
    if (!this.alive) return;
    this.alive = false;
    clearTimeout(this.pollTimer);
    this.watch?.destroy();
    this.logger.debug('firecracker exited', {
      vmId: this.handles.vmId,
      pid: this.handles.pid,
      reason: this.reason,
    });
    if (!this.detached) await this.cleanup();
    this.resolveExited(
      this.reason === undefined ? { kind: 'unknown' } : { kind: 'unknown', reason: this.reason },
    );
  }
}

/** Removes the VMM's sockets once it is gone (Firecracker leaves them behind when killed). */
export async function removeSockets(paths: readonly string[]): Promise<void> {
  for (const p of paths) {
    const st = await fs.lstat(p).catch(() => undefined);
    if (st?.isSocket()) await fs.rm(p, { force: true });
  }
}

async function moveOut(from: string, to: string): Promise<void> {
  try {
    await fs.rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await fs.copyFile(from, to, fsc.COPYFILE_FICLONE | fsc.COPYFILE_EXCL);
    await fs.rm(from);
  }
  await fs.chmod(to, 0o600);
}
