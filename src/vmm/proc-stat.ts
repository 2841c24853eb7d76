/**
 * Process identity from /proc/PID/stat: a pid alone can be reused after the VMM dies, so a
 * VMM is "pid + start time" (field 22, clock ticks since boot). A zombie counts as gone: its
 * VMM has exited, only its parent has not collected the status yet.
 */
import { promises as fs } from 'node:fs';

export interface ProcStat {
  /** One-letter state (R, S, D, Z, X, ...). */
  state: string;
  /** Process group id (field 5). */
  pgrp: number;
  /** Start time in clock ticks since boot. */
  startTime: number;
}

/** Parses /proc/PID/stat text. The command name is in parentheses and may itself hold ") ". */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // After ") ": field 3 (state) is index 0, so field 22 (starttime) is index 19.
  const rest = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const state = rest[0];
  const pgrp = Number(rest[2]);
  const startTime = Number(rest[19]);
  if (state === undefined || !/^[A-Za-z]$/.test(state)) return undefined;
  if (!Number.isSafeInteger(startTime) || !Number.isSafeInteger(pgrp)) return undefined;
  return { state, pgrp, startTime };
}

export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    return parseProcStat(await fs.readFile(`/proc/${String(pid)}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** True while the process `pid` that started at `startTime` is running (not a zombie). */
export async function isProcessAlive(pid: number, startTime: number): Promise<boolean> {
  const stat = await readProcStat(pid);
  return (
    stat !== undefined && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X'
  );
}

/** The NUL-separated argv of a process, or undefined when it is gone or unreadable. */
export async function readProcCmdline(pid: number): Promise<string[] | undefined> {
  try {
    const raw = await fs.readFile(`/proc/${String(pid)}/cmdline`, 'utf8');
    return raw.split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
  } catch {
    return undefined;
  }
}
