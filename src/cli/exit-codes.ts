/**
 * Exit statuses of the banger CLI (documented in docs/cli.md). A guest command's own status
 * passes through `vm run` and `vm exec` unchanged; a command killed by signal N gives 128+N,
 * as shells do; a command that could not be started gives 127 (not found) or 126.
 * banger's own failures use 64-73, so scripts can tell them apart from most programs' codes.
 */
import type { ErrorCode } from '../base/index.js';
import { linuxSignalNumber } from '../protocol/index.js';

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

/** 128 + the signal's number, as a shell reports a command killed by a signal. */
export function exitForSignal(signal: string): number {
  const named = linuxSignalNumber(signal);
  if (named !== undefined) return 128 + named;
  const numeric = /^(?:SIG)?(\d+)$/.exec(signal);
  return numeric?.[1] ? 128 + Number(numeric[1]) : 128 + 15;
}
