/**
 * Exit statuses of the banger CLI (documented in docs/cli.md). A guest command's own status
 * passes through `vm run` and `vm exec` unchanged; a command killed by signal N gives 128+N,
 * as shells do; a command that could not be started gives 127 (not found) or 126.
 * banger's own failures use 64-73, so scripts can tell them apart from most programs' codes.
 */
import type { ErrorCode } from '../base/index.js';

export const EXIT_FOR_CODE: Record<ErrorCode, number> = {
  bad_request: 64,
  not_found: 65,
  already_exists: 66,
  conflict: 67,
  precondition_failed: 68,
  unauthorized: 69,
  unavailable: 70,
  timeout: 71,
  operation_failed: 72,
  internal: 73,
  canceled: 130,
};

export const EXIT_COMMAND_NOT_FOUND = 127;
export const EXIT_COMMAND_NOT_EXECUTABLE = 126;

const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGXCPU: 24,
  SIGXFSZ: 25,
};

/** 128 + the signal's number, as a shell reports a command killed by a signal. */
export function exitForSignal(signal: string): number {
  const direct = SIGNAL_NUMBERS[signal];
  if (direct !== undefined) return 128 + direct;
  const numeric = /^(?:SIG)?(\d+)$/.exec(signal);
  return numeric?.[1] ? 128 + Number(numeric[1]) : 128 + 15;
}
