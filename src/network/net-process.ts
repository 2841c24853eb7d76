/**
 * Starting and stopping banger's long-lived network processes (DNS relay, NAT uplink):
 * detached in their own session so they outlive the daemon, output appended to a log, and
 * known afterwards by pid + start time (/proc/PID/stat field 22) so a reused pid is never
 * signalled. Kept here rather than borrowed from vmm because the root helper imports network.
 */
import { once } from 'node:events';
import { constants as fsc, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { BangerError, sleep, spawnChild } from '../base/index.js';

export interface ProcessIdentity {
  pid: number;
  startTime: number;
}

/** Start time (clock ticks since boot) of a live, non-zombie process; undefined if gone. */
export async function processStartTime(pid: number): Promise<number | undefined> {
  if (!Number.isSafeInteger(pid) || pid <= 1) return undefined;
  let text: string;
  try {
    text = await fs.readFile(`/proc/${String(pid)}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may itself hold ") ": split after the last one.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
  const start = Number(rest[19]);
  return Number.isSafeInteger(start) ? start : undefined;
}

export async function isSameProcess(id: ProcessIdentity): Promise<boolean> {
  return (await processStartTime(id.pid)) === id.startTime;
}

export async function spawnDetached(options: {
  file: string;
  argv: string[];
  logPath: string;
  /** Opens the log for appending (default: open with O_CREAT|O_NOFOLLOW, 0600). */
  openLog?: ((logPath: string) => Promise<FileHandle>) | undefined;
}): Promise<ProcessIdentity> {
  const flags = fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW;
  const log = await (options.openLog?.(options.logPath) ?? fs.open(options.logPath, flags, 0o600));
  let pid: number | undefined;
  try {
    await log.write(`--- banger: starting ${options.file} at ${new Date().toISOString()}\n`);
    const child = spawnChild(options.file, options.argv, {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
    });
    try {
      await once(child, 'spawn');
    } catch (err) {
      throw new BangerError(
        'precondition_failed',
        `could not start ${options.file}: ${String(err)}`,
        {
          cause: err,
          hint: options.file === 'pasta' ? 'apt-get install passt' : undefined,
        },
      );
    }
    child.unref();
    pid = child.pid;
  } finally {
    await log.close();
  }
  const startTime = pid === undefined ? undefined : await processStartTime(pid);
  if (pid === undefined || startTime === undefined) {
    throw new BangerError('operation_failed', `${options.file} exited at once`, {
      hint: `see ${options.logPath}`,
    });
  }
  return { pid, startTime };
}

/** SIGTERM, then SIGKILL after `graceMs`; a process already gone (or a reused pid) is done. */
export async function stopProcess(id: ProcessIdentity, graceMs = 2000): Promise<void> {
  if (!(await isSameProcess(id))) return;
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(id.pid, sig);
    } catch {
      /* gone */
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!(await isSameProcess(id))) return;
    await sleep(25);
  }
  signal('SIGKILL');
  for (let i = 0; i < 200 && (await isSameProcess(id)); i++) await sleep(25);
}
