/**
 * Runs services as child processes and keeps them running: a service that exits is started
 * again after a backoff (1 s, doubling to 30 s; back to 1 s once it has run for a minute).
 * Services start in order, each once the previous one's socket exists. Stopping sends SIGTERM
 * to the service's pid only (never its process group), then SIGKILL after a grace period.
 * The state (pids, start times, restart counts) is written to a JSON file after each change.
 */
import { once } from 'node:events';
import { constants as fsc, promises as fs } from 'node:fs';
import { sleep, spawnChild, writeFileAtomic, type Logger } from '../base/index.js';
import type { ServiceSpec } from './service-specs.js';

type ChildProcess = ReturnType<typeof spawnChild>;

export interface SupervisorState {
  pid: number;
  startedAt: string;
  services: Record<string, { pid?: number; startedAt?: string; restarts: number }>;
}

interface Running {
  spec: ServiceSpec;
  child?: ChildProcess | undefined;
  startedAt?: number;
  restarts: number;
  backoffMs: number;
  timer?: NodeJS.Timeout | undefined;
}

const GRACE_MS = 15_000;
const READY_WAIT_MS = 15_000;

export class Supervisor {
  private readonly services: Running[];
  private stopping = false;
  private readonly startedAt = new Date().toISOString();

  constructor(
    specs: readonly ServiceSpec[],
    private readonly options: {
      stateFile: string;
      logger: Logger;
      /** Runs before each start of a service (e.g. making its runtime directory). */
      beforeStart?: (spec: ServiceSpec) => Promise<void>;
    },
  ) {
    this.services = specs.map((spec) => ({ spec, restarts: 0, backoffMs: 1000 }));
  }

  /** Starts every service in order, each once the one before answers. */
  async startAll(): Promise<void> {
    for (const service of this.services) {
      await this.start(service);
      await this.waitForSocket(service);
    }
  }

  /** Stops every service (last first), then starts them again in order. */
  async restartAll(): Promise<void> {
    await this.stopAll();
    this.stopping = false;
    await this.startAll();
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    for (const service of [...this.services].reverse()) {
      if (service.timer) clearTimeout(service.timer);
      await this.stop(service);
    }
    await this.saveState();
  }

  private async start(service: Running): Promise<void> {
    const { spec } = service;
    try {
      await this.options.beforeStart?.(spec);
      const log = await fs.open(
        spec.logFile,
        fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW,
        0o600,
      );
      try {
        await log.write(`--- supervisor: starting ${spec.name} at ${new Date().toISOString()}\n`);
        const child = spawnChild(spec.file, spec.argv, {
          cwd: '/',
          env: spec.env,
          stdio: ['ignore', log.fd, log.fd],
        });
        await once(child, 'spawn');
        service.child = child;
        service.startedAt = Date.now();
        child.once('exit', (code, signal) => this.exited(service, child, code, signal));
      } finally {
        await log.close();
      }
      this.options.logger.info('service started', { service: spec.name, pid: service.child.pid });
    } catch (err) {
      this.options.logger.error('service did not start', {
        service: spec.name,
        error: err instanceof Error ? err.message : String(err),
      });
      this.scheduleRestart(service);
    }
    await this.saveState();
  }

  private exited(
    service: Running,
    child: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    if (service.child !== child) return;
    service.child = undefined;
    this.options.logger.warn('service exited', { service: service.spec.name, code, signal });
    if (this.stopping) return;
    const ranFor = Date.now() - (service.startedAt ?? 0);
    if (ranFor > 60_000) service.backoffMs = 1000;
    this.scheduleRestart(service);
    void this.saveState();
  }

  private scheduleRestart(service: Running): void {
    if (this.stopping) return;
    const delay = service.backoffMs;
    service.backoffMs = Math.min(service.backoffMs * 2, 30_000);
    service.timer = setTimeout(() => {
      service.timer = undefined;
      service.restarts++;
      void this.start(service);
    }, delay);
  }

  private async stop(service: Running): Promise<void> {
    const child = service.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), GRACE_MS);
    await gone;
    clearTimeout(timer);
  }

  private async waitForSocket(service: Running): Promise<void> {
    const deadline = Date.now() + READY_WAIT_MS;
    while (Date.now() < deadline && service.child) {
      const st = await fs.lstat(service.spec.socket).catch(() => undefined);
      if (st?.isSocket()) return;
      await sleep(50);
    }
    this.options.logger.warn('service socket did not appear', {
      service: service.spec.name,
      socket: service.spec.socket,
    });
  }

  private async saveState(): Promise<void> {
    const state: SupervisorState = {
      pid: process.pid,
      startedAt: this.startedAt,
      services: Object.fromEntries(
        this.services.map((s) => [
          s.spec.name,
          {
            ...(s.child?.pid === undefined ? {} : { pid: s.child.pid }),
            ...(s.startedAt === undefined || !s.child
              ? {}
              : { startedAt: new Date(s.startedAt).toISOString() }),
            restarts: s.restarts,
          },
        ]),
      ),
    };
    try {
      await writeFileAtomic(this.options.stateFile, `${JSON.stringify(state, null, 2)}\n`);
      // Readable by the owner's `banger system status` (pids only; the umask made it 0600).
      await fs.chmod(this.options.stateFile, 0o644);
    } catch (err) {
      this.options.logger.warn('cannot write the state file', { error: String(err) });
    }
  }
}
