/**
 * How workspace code reaches a guest: one command at a time, as an argv (never a shell
 * string), through whatever carries execs to the guest agent. The daemon adapts its VM
 * service to this; tests can pass a fake.
 */
import type { Readable, Writable } from 'node:stream';
import { BangerError, describeArgv } from '../base/index.js';

export interface GuestCommand {
  argv: string[];
  env?: Record<string, string>;
  /** Absolute guest directory (default /root). */
  cwd?: string;
  /** The command's stdin: bytes, or a stream piped with backpressure. Absent: empty stdin. */
  stdin?: Buffer | Readable;
  /** Where stdout goes; without it, stdout is collected into the result. */
  stdout?: Writable;
}

export interface GuestResult {
  /** Exit status; a command killed by signal N gives 128+N. */
  code: number;
  /** Collected stdout (empty when it went to `command.stdout`). */
  stdout: Buffer;
  /** The last part of stderr, as text. */
  stderr: string;
}

export interface GuestShell {
  run(command: GuestCommand): Promise<GuestResult>;
}

/** Git in the guest with no user or system config: checkouts give the same bytes everywhere. */
export const GUEST_GIT_ENV: Record<string, string> = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
};

/** Runs a command and fails (operation_failed, with argv, status and stderr) unless it exits 0. */
export async function guestOk(shell: GuestShell, command: GuestCommand): Promise<GuestResult> {
  const result = await shell.run(command);
  if (result.code === 0) return result;
  throw guestFailure(command, result);
}

export function guestFailure(command: GuestCommand, result: GuestResult): BangerError {
  const [file = '', ...rest] = command.argv;
  if (result.code === 127) {
    return new BangerError(
      'precondition_failed',
      `the guest has no ${file}: workspace mode needs git and tar in the guest image`,
      { hint: 'use an image with git and tar (the default debian-bookworm image has both)' },
    );
  }
  const tail = result.stderr.trimEnd().split('\n').slice(-8).join('\n');
  return new BangerError(
    'operation_failed',
    `in the guest, ${describeArgv(file, rest)} failed with exit status ${String(result.code)}` +
      (tail ? `:\n${tail}` : ''),
    { details: { argv: command.argv, exitCode: result.code, stderrTail: tail } },
  );
}
