/**
 * Starting, stopping and asking about a system install's two services, through systemd when
 * it is PID 1 (and the install is at "/"), else through banger's supervisor (a root process
 * that keeps both running; src/supervisor).
 */
import { existsSync, openSync, closeSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError, ensurePrivateDir, run, sleep, spawnChild } from '../../base/index.js';
import {
  entryPoints,
  installPaths,
  resolveLayout,
  UNIT_NAMES,
  type InstallPaths,
} from '../../config/index.js';
import { call } from '../../ipc/index.js';
import type { HelperHello, InstallRecord } from '../../protocol/index.js';

export type ServiceManager = 'systemd' | 'supervisor';

export interface ServiceStatus {
  name: 'bangerd-root' | 'bangerd';
  running: boolean;
  pid?: number | undefined;
  version?: string | undefined;
  error?: string | undefined;
}

export interface SupervisorState {
  pid: number;
  startedAt: string;
  services: Record<string, { pid?: number; startedAt?: string; restarts: number }>;
}

const READY_TIMEOUT_MS = 60_000;

/** systemd manages the services when it is PID 1 (sd_booted's test) and the install is at "/". */
export function serviceManager(root: string): ServiceManager {
  return root === '/' && existsSync('/run/systemd/system') ? 'systemd' : 'supervisor';
}

function stateFile(paths: InstallPaths): string {
  return path.join(paths.supervisorDir, 'state.json');
}

/** The running supervisor of this install, if any (pid checked against its command line). */
export async function supervisorState(paths: InstallPaths): Promise<SupervisorState | undefined> {
  const text = await fs.readFile(stateFile(paths), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  let state: SupervisorState;
  try {
    state = JSON.parse(text) as SupervisorState;
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(state.pid) || state.pid <= 1) return undefined;
  const cmdline = await fs.readFile(`/proc/${String(state.pid)}/cmdline`).catch(() => undefined);
  const argv = cmdline?.toString('utf8').split('\0') ?? [];
  return argv.includes(entryPoints(paths.libDir).supervisor) && argv.includes(paths.installFile)
    ? state
    : undefined;
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!existsSync(`/proc/${String(pid)}`)) return true;
    const stat = await fs.readFile(`/proc/${String(pid)}/stat`, 'utf8').catch(() => '');
    if (/\) [ZX] /.test(stat)) return true;
    await sleep(50);
  }
  return false;
}

async function startSupervisor(paths: InstallPaths): Promise<number> {
  await ensurePrivateDir(paths.logDir, { uid: 0 });
  const log = openSync(path.join(paths.logDir, 'supervisor.log'), 'a', 0o600);
  try {
    const child = spawnChild(
      process.execPath,
      [entryPoints(paths.libDir).supervisor, '--install-file', paths.installFile],
      {
        detached: true,
        cwd: '/',
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
        stdio: ['ignore', log, log],
      },
    );
    child.unref();
    if (child.pid === undefined)
      throw new BangerError('operation_failed', 'could not start banger-supervisor');
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/** Starts both services (enabling them under systemd); waits until both answer. */
export async function startServices(record: InstallRecord): Promise<ServiceManager> {
  const paths = installPaths(record.root);
  const manager = serviceManager(record.root);
  if (manager === 'systemd') {
    await run('systemctl', ['daemon-reload']);
    await run('systemctl', ['enable', UNIT_NAMES.helper, UNIT_NAMES.daemon]);
    await run('systemctl', ['restart', UNIT_NAMES.helper, UNIT_NAMES.daemon]);
  } else {
    // A new supervisor, so that an upgrade runs the new supervisor code too.
    await stopSupervisor(paths);
    await startSupervisor(paths);
  }
  await waitReady(record, { previous: {} });
  return manager;
}

/** Restarts both services (helper first); running VMs keep running. */
export async function restartServices(record: InstallRecord): Promise<ServiceManager> {
  const paths = installPaths(record.root);
  const manager = serviceManager(record.root);
  const previous = await servicePids(record);
  if (manager === 'systemd') {
    await run('systemctl', ['restart', UNIT_NAMES.helper]);
    await run('systemctl', ['restart', UNIT_NAMES.daemon]);
  } else {
    const running = await supervisorState(paths);
    if (running) process.kill(running.pid, 'SIGHUP');
    else await startSupervisor(paths);
  }
  await waitReady(record, { previous });
  return manager;
}

/** Stops both services (and disables them under systemd); VMs are not touched. */
export async function stopServices(record: InstallRecord): Promise<void> {
  const paths = installPaths(record.root);
  if (serviceManager(record.root) === 'systemd') {
    await run('systemctl', ['disable', '--now', UNIT_NAMES.daemon, UNIT_NAMES.helper], {
      okCodes: [0, 1, 5],
    });
    return;
  }
  await stopSupervisor(paths);
}

async function stopSupervisor(paths: InstallPaths): Promise<void> {
  const running = await supervisorState(paths);
  if (!running) return;
  process.kill(running.pid, 'SIGTERM');
  if (!(await waitGone(running.pid, 40_000))) {
    throw new BangerError(
      'timeout',
      `banger-supervisor (pid ${String(running.pid)}) did not stop within 40 s`,
      { hint: `see ${path.join(paths.logDir, 'supervisor.log')}` },
    );
  }
  await fs.rm(stateFile(paths), { force: true });
}

/** The pids the services run under now, by name. */
async function servicePids(record: InstallRecord): Promise<Record<string, number | undefined>> {
  const statuses = await serviceStatus(record);
  return Object.fromEntries(statuses.map((s) => [s.name, s.pid]));
}

/** Asks each service over its socket: the helper `hello`, the daemon `daemon.status`. */
export async function serviceStatus(record: InstallRecord): Promise<ServiceStatus[]> {
  const layout = resolveLayout({ mode: 'system', systemRoot: record.root, env: {} });
  const helper: ServiceStatus = { name: 'bangerd-root', running: false };
  const daemon: ServiceStatus = { name: 'bangerd', running: false };
  try {
    const hello = await call<HelperHello>(layout.helperSocket, { method: 'hello', params: {} });
    Object.assign(helper, { running: true, pid: hello.pid, version: hello.version });
  } catch (err) {
    helper.error = err instanceof Error ? err.message : String(err);
  }
  try {
    const status = await call<{ pid: number; version: string }>(layout.daemonSocket, {
      method: 'daemon.status',
      params: {},
    });
    Object.assign(daemon, { running: true, pid: status.pid, version: status.version });
  } catch (err) {
    daemon.error = err instanceof Error ? err.message : String(err);
  }
  return [helper, daemon];
}

async function waitReady(
  record: InstallRecord,
  options: { previous: Record<string, number | undefined> },
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last: ServiceStatus[] = [];
  while (Date.now() < deadline) {
    last = await serviceStatus(record);
    // Both answer, and neither is the process that answered before the (re)start.
    if (last.every((s) => s.running && s.pid !== options.previous[s.name])) return;
    await sleep(200);
  }
  const paths = installPaths(record.root);
  throw new BangerError(
    'timeout',
    `the services did not come up within ${String(READY_TIMEOUT_MS / 1000)} s: ${last
      .map((s) => `${s.name} ${s.running ? `pid ${String(s.pid)}` : (s.error ?? 'down')}`)
      .join('; ')}`,
    {
      hint:
        serviceManager(record.root) === 'systemd'
          ? 'journalctl -u bangerd-root -u bangerd'
          : `see ${paths.logDir}/*.log`,
    },
  );
}
