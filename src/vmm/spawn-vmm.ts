/**
 * Starting and killing VMM processes. A VMM runs detached in its own session (it must
 * outlive the daemon), with stdout/stderr appended to its log, and is known afterwards by
 * pid + start time. This is what an in-process PrivilegedOps (and the root helper) calls.
 */
import { once } from 'node:events';
import { constants as fsc, promises as fs } from 'node:fs';
import { BangerError, sleep, spawnChild } from '../base/index.js';
import type { LaunchVmmResult } from '../protocol/index.js';
import { tailLog } from './log-tail.js';
import { isProcessAlive, readProcCmdline, readProcStat } from './proc-stat.js';
import type { LaunchPlan } from './qemu/launch-plan.js';

/** Written to the VMM log before each start, so error tails show only the latest run. */
export const VMM_LOG_MARKER = '--- banger: starting';

export async function spawnVmm(options: {
  plan: LaunchPlan;
  logPath: string;
  /** Where the VMM's stdout goes instead of the log (Firecracker writes the guest console there). */
  stdoutPath?: string | undefined;
}): Promise<LaunchVmmResult> {
  const flags = fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW;
  const log = await fs.open(options.logPath, flags, 0o600);
  const out =
    options.stdoutPath === undefined ? log : await fs.open(options.stdoutPath, flags, 0o600);
  let pid: number | undefined;
  try {
    await log.write(`${VMM_LOG_MARKER} ${options.plan.file} at ${new Date().toISOString()}\n`);
    const child = spawnChild(options.plan.file, options.plan.argv, {
      detached: true,
      stdio: ['ignore', out.fd, log.fd],
    });
    try {
      await once(child, 'spawn');
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      throw new BangerError(
        missing ? 'precondition_failed' : 'operation_failed',
        missing
          ? `program not found: ${options.plan.file}`
          : `could not start ${options.plan.file}: ${String(err)}`,
        {
          cause: err,
          hint: missing ? missingProgramHint(options.plan.file) : undefined,
        },
      );
    }
    // Node keeps reaping the child when it exits; unref only stops it from holding our event loop.
    child.unref();
    pid = child.pid;
  } finally {
    await log.close();
    if (out !== log) await out.close();
  }
  const stat = pid === undefined ? undefined : await readProcStat(pid);
  if (pid === undefined || stat === undefined) {
    const tail = await tailLog(options.logPath, { since: VMM_LOG_MARKER });
    throw new BangerError('operation_failed', `the VMM exited at once${tail ? `:\n${tail}` : ''}`, {
      hint: `see ${options.logPath}`,
    });
  }
  return { pid, startTime: stat.startTime };
}

export interface KillVmmOptions {
  pid: number;
  startTime: number;
  /** When set, the process's argv must mention this VM id (guards against killing a stranger). */
  vmId?: string | undefined;
  timeoutMs?: number;
}

/**
 * SIGKILLs the VMM (and its process group: helpers it spawned, e.g. a migration `cat`) and
 * waits until it is gone. A process that already exited, or a reused pid, counts as done.
 */
export async function killVmmProcess(options: KillVmmOptions): Promise<void> {
  const { pid, startTime } = options;
  if (!Number.isSafeInteger(pid) || pid <= 1 || !Number.isSafeInteger(startTime) || startTime < 0) {
    throw new BangerError(
      'bad_request',
      `kill: pid ${String(pid)} / start time ${String(startTime)} are not valid`,
    );
  }
  const stat = await readProcStat(pid);
  if (
    stat === undefined ||
    stat.startTime !== startTime ||
    stat.state === 'Z' ||
    stat.state === 'X'
  )
    return;
  if (options.vmId !== undefined) {
    const argv = await readProcCmdline(pid);
    if (argv !== undefined && !argv.some((a) => a.includes(options.vmId ?? ''))) {
      throw new BangerError(
        'precondition_failed',
        `pid ${String(pid)} is not the VMM of VM ${options.vmId}`,
      );
    }
  }
  const signalled = (target: number): boolean => {
    try {
      process.kill(target, 'SIGKILL');
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
      throw err;
    }
  };
  if (!(stat.pgrp === pid && signalled(-pid))) signalled(pid);
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  while (await isProcessAlive(pid, startTime)) {
    if (Date.now() > deadline) {
      throw new BangerError(
        'timeout',
        `VMM pid ${String(pid)} was still alive ${String(options.timeoutMs ?? 10_000)} ms after SIGKILL`,
      );
    }
    await sleep(10);
  }
}

function missingProgramHint(file: string): string {
  if (/firecracker|jailer/.test(file))
    return 'install Firecracker (firecracker and jailer, >= 1.5) or use vmm = "qemu"; see `banger doctor`';
  return 'install qemu-system-x86 (and iproute2 for network namespaces)';
}
