/**
 * One running QEMU, launched by us or adopted after a daemon restart. The daemon may not be
 * the process's parent, so the end of the VMM is noticed by the QMP socket closing (the kernel
 * closes it when QEMU dies) confirmed by /proc (pid + start time), never by 'exit' events.
 */
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { BangerError, silentLogger, sleep, type Logger } from '../../base/index.js';
import type { MemoryFileSpec, VmmHandles } from '../../protocol/index.js';
import type { SavedVmState, SaveStateOptions, VmmExit, VmmInstance } from '../backend.js';
import type { VmmOps } from '../in-process-vmm-ops.js';
import { isProcessAlive } from '../proc-stat.js';
import { loadQemuState, saveQemuState, type QmpLink } from './qemu-migration.js';
import type { QmpClient } from './qmp-client.js';

export interface QemuInstanceOptions {
  handles: VmmHandles & { vmId: string };
  qmp: QmpClient;
  ops: VmmOps;
  logger?: Logger | undefined;
  /** The guest's RAM file, when it was launched with one (unknown for an adopted VMM). */
  memoryFile?: MemoryFileSpec | undefined;
}

export interface QemuStatus {
  /** QEMU's RunState: running, paused, shutdown, inmigrate, postmigrate, ... */
  status: string;
  running: boolean;
}

/** How long `kill()` lets QEMU quit by itself (QMP quit) before SIGKILL. */
const QUIT_GRACE_MS = 2000;
/** Polling /proc while the QMP socket is still open (a safety net; EOF is the fast path). */
const IDLE_POLL_MS = 1000;

export class QemuInstance implements VmmInstance {
  readonly handles: VmmHandles & { vmId: string };
  readonly exited: Promise<VmmExit>;
  private readonly qmp: QmpClient;
  private readonly ops: VmmOps;
  private readonly logger: Logger;
  private readonly memoryFile: MemoryFileSpec | undefined;
  private alive = true;
  private detached = false;
  private reason: string | undefined;
  private resolveExited!: (exit: VmmExit) => void;
  private killing: Promise<void> | undefined;
  private pollTimer: NodeJS.Timeout | undefined;

  constructor(options: QemuInstanceOptions) {
    this.handles = options.handles;
    this.qmp = options.qmp;
    this.ops = options.ops;
    this.logger = options.logger ?? silentLogger;
    this.memoryFile = options.memoryFile;
    this.exited = new Promise((resolve) => {
      this.resolveExited = resolve;
    });
    this.qmp.onEvent((event) => {
      if (event.event === 'SHUTDOWN' && typeof event.data.reason === 'string')
        this.reason = event.data.reason;
    });
    void this.qmp.closed.then(() => this.watchUntilGone(20));
    this.schedulePoll();
  }

  isAlive(): boolean {
    return this.alive;
  }

  async connectAgent(options: { signal?: AbortSignal } = {}): Promise<Duplex> {
    const socket = net.createConnection({ path: this.handles.agentSocket });
    const onAbort = (): void => {
      socket.destroy(new BangerError('canceled', 'canceled while connecting to the agent channel'));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      return socket;
    } catch (err) {
      socket.destroy();
      if (err instanceof BangerError) throw err;
      throw new BangerError(
        'unavailable',
        `cannot connect to the agent channel ${this.handles.agentSocket}: ${(err as Error).message}`,
        { cause: err },
      );
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async requestPowerdown(): Promise<void> {
    await this.qmp.execute('system_powerdown');
  }

  async pause(): Promise<void> {
    await this.qmp.execute('stop');
  }

  async resume(): Promise<void> {
    await this.qmp.execute('cont');
  }

  async queryStatus(): Promise<QemuStatus> {
    const out = await this.qmp.execute<{ status?: unknown; running?: unknown }>('query-status');
    return { status: String(out.status), running: out.running === true };
  }

  /**
   * Saves the running guest into options.dir (see qemu-migration.ts). A guest launched with a
   * shared memory file (a warm template) leaves its RAM in that file; any other guest's RAM
   * goes into the state file. The guest is stopped afterwards (postmigrate): resume() or kill().
   */
  async saveState(options: SaveStateOptions): Promise<SavedVmState> {
    const shared = this.memoryFile?.shared === true ? this.memoryFile.path : undefined;
    return saveQemuState(this.link(), {
      dir: options.dir,
      memoryFile: shared,
      whileStopped: options.whileStopped,
      signal: options.signal,
    });
  }

  /** Streams a saved guest into this QEMU (launched with `incoming`); resolves once it runs. */
  async loadState(saved: SavedVmState, options: { signal?: AbortSignal } = {}): Promise<void> {
    await loadQemuState(this.link(), saved, { signal: options.signal });
  }

  private link(): QmpLink {
    return {
      qmp: this.qmp,
      runDir: path.dirname(this.handles.controlSocket),
      isAlive: () => this.alive,
    };
  }

  /** Runs any QMP command (snapshots and migration build on this). */
  qmpExecute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    options?: { timeoutMs?: number },
  ): Promise<T> {
    return this.qmp.execute<T>(command, args, options);
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
    this.qmp.close();
  }

  private async doKill(): Promise<void> {
    const { pid, startTime, vmId } = this.handles;
    if (await isProcessAlive(pid, startTime)) {
      // A clean quit lets QEMU flush and close its disks; SIGKILL is the fallback that always works.
      if (!this.qmp.isClosed)
        await this.qmp.execute('quit', undefined, { timeoutMs: 1000 }).catch(() => undefined);
      const deadline = Date.now() + QUIT_GRACE_MS;
      while (Date.now() < deadline && (await isProcessAlive(pid, startTime))) await sleep(5);
      if (await isProcessAlive(pid, startTime)) {
        this.reason ??= 'killed';
        await this.ops.killVmm({ vmId, pid, startTime });
      }
    }
    this.qmp.close();
    await this.watchUntilGone(10);
    await removeSockets([this.handles.controlSocket, this.handles.agentSocket]);
  }

  /** Polls /proc until the process is gone, then settles `exited` (once). */
  private async watchUntilGone(intervalMs: number): Promise<void> {
    let wait = intervalMs;
    while (this.alive && (await isProcessAlive(this.handles.pid, this.handles.startTime))) {
      if (this.detached) return;
      await sleep(wait);
      wait = Math.min(wait * 2, 500);
    }
    this.markGone();
  }

  private schedulePoll(): void {
    this.pollTimer = setTimeout(() => {
      void isProcessAlive(this.handles.pid, this.handles.startTime).then((alive) => {
        if (this.detached || !this.alive) return;
        if (alive) this.schedulePoll();
        else this.markGone();
      });
    }, IDLE_POLL_MS);
    this.pollTimer.unref();
  }

  private markGone(): void {
    if (!this.alive) return;
    this.alive = false;
    clearTimeout(this.pollTimer);
    this.qmp.close();
    this.logger.debug('qemu exited', {
      vmId: this.handles.vmId,
      pid: this.handles.pid,
      reason: this.reason,
    });
    this.resolveExited(
      this.reason === undefined ? { kind: 'unknown' } : { kind: 'unknown', reason: this.reason },
    );
  }
}

/** Removes the VMM's sockets once it is gone (QEMU leaves them behind when killed). */
export async function removeSockets(paths: readonly string[]): Promise<void> {
  for (const p of paths) {
    const st = await fs.lstat(p).catch(() => undefined);
    if (st?.isSocket()) await fs.rm(p, { force: true });
  }
}
