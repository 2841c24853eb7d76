/**
 * A GuestShell (the workspace module's view of a guest) over the daemon's exec path: each
 * command is an agent exec whose stdin is piped with backpressure, whose stdout is collected
 * or streamed, and whose stderr tail is kept for error messages.
 */
import { constants as osConstants } from 'node:os';
import { Readable, Writable } from 'node:stream';
import { toBangerError } from '../base/index.js';
import type { ControlMessage } from '../ipc/index.js';
import type { ExecSpec, ExitStatusInfo } from '../protocol/index.js';
import type { GuestCommand, GuestResult, GuestShell } from '../workspace/index.js';
import type { ExecIo } from './vm-exec.js';

export type ExecFn = (spec: ExecSpec, io: ExecIo) => Promise<ExitStatusInfo>;

/** Collected stdout above this is a bug in the caller (stream it instead). */
const MAX_COLLECTED = 16 * 1024 * 1024;
const STDERR_TAIL = 64 * 1024;

export function guestShellFor(runInGuest: ExecFn, signal: AbortSignal): GuestShell {
  return {
    async run(command: GuestCommand): Promise<GuestResult> {
      const collected: Buffer[] = [];
      let collectedBytes = 0;
      let stderr = '';
      const stdout =
        command.stdout ??
        new Writable({
          write(chunk: Buffer, _encoding, callback) {
            if (collectedBytes < MAX_COLLECTED) collected.push(chunk);
            collectedBytes += chunk.length;
            callback();
          },
        });
      const stderrSink = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL);
          callback();
        },
      });
      const stdin =
        command.stdin === undefined
          ? undefined
          : Buffer.isBuffer(command.stdin)
            ? Readable.from([command.stdin], { objectMode: false })
            : command.stdin;
      const listeners: ((message: ControlMessage) => void)[] = [];
      let stdinError: unknown;
      // A source that fails (a host file unreadable mid-stream) would leave the guest command
      // waiting for more input forever: kill it, then report the source's error.
      stdin?.once('error', (err: unknown) => {
        stdinError = err;
        for (const listener of listeners) listener({ kind: 'signal', signal: 'SIGKILL' });
      });
      const spec: ExecSpec = { argv: command.argv, stdin: stdin !== undefined };
      if (command.env) spec.env = command.env;
      if (command.cwd) spec.cwd = command.cwd;
      const exit = await runInGuest(spec, {
        stdin,
        stdout,
        stderr: stderrSink,
        onControl: (listener) => listeners.push(listener),
        signal,
      });
      if (stdinError !== undefined) throw toBangerError(stdinError);
      return { code: exitCode(exit), stdout: Buffer.concat(collected), stderr };
    },
  };
}

function exitCode(exit: ExitStatusInfo): number {
  if (exit.kind === 'exited') return exit.code;
  const number = (osConstants.signals as Record<string, number | undefined>)[exit.signal];
  return 128 + (number ?? 0);
}
