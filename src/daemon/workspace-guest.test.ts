import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ControlMessage } from '../ipc/index.js';
import type { ExecSpec, ExitStatusInfo } from '../protocol/index.js';
import type { ExecIo } from './vm-exec.js';
import { guestShellFor } from './workspace-guest.js';

/** A fake exec: echoes stdin to stdout, writes argv to stderr, exits with argv's length. */
async function echoExec(spec: ExecSpec, io: ExecIo): Promise<ExitStatusInfo> {
  io.stderr.write(spec.argv.join(' '));
  if (spec.stdin && io.stdin) for await (const chunk of io.stdin) io.stdout.write(chunk as Buffer);
  return { kind: 'exited', code: spec.argv.length };
}

describe('guestShellFor', () => {
  it('passes stdin bytes, collects stdout and the stderr tail, reports the exit code', async () => {
    const seen: ExecSpec[] = [];
    const shell = guestShellFor(async (spec, io) => {
      seen.push(spec);
      return echoExec(spec, io);
    }, new AbortController().signal);
    const result = await shell.run({
      argv: ['tar', '-x'],
      cwd: '/root',
      env: { A: '1' },
      stdin: Buffer.from('payload'),
    });
    expect(result).toEqual({ code: 2, stdout: Buffer.from('payload'), stderr: 'tar -x' });
    expect(seen[0]).toEqual({ argv: ['tar', '-x'], stdin: true, cwd: '/root', env: { A: '1' } });
    const noInput = await shell.run({ argv: ['true'] });
    expect(noInput.stdout.length).toBe(0);
  });

  it('streams stdout to a given writable instead of collecting it', async () => {
    const shell = guestShellFor(echoExec, new AbortController().signal);
    const out = new PassThrough();
    const got: Buffer[] = [];
    out.on('data', (c: Buffer) => got.push(c));
    const result = await shell.run({
      argv: ['cat'],
      stdin: Buffer.from('to the stream'),
      stdout: out,
    });
    expect(result.stdout.length).toBe(0);
    expect(Buffer.concat(got).toString()).toBe('to the stream');
  });

  it('gives 128+N for a signal, and kills the command when its stdin source fails', async () => {
    const signaled = guestShellFor(
      () => Promise.resolve({ kind: 'signaled', signal: 'SIGKILL', coreDumped: false }),
      new AbortController().signal,
    );
    expect((await signaled.run({ argv: ['x'] })).code).toBe(137);

    let killed: string | undefined;
    const shell = guestShellFor(
      (_spec, io) =>
        new Promise((resolve) => {
          io.onControl((message: ControlMessage) => {
            if (message.kind === 'signal') {
              killed = message.signal;
              resolve({ kind: 'signaled', signal: message.signal, coreDumped: false });
            }
          });
          io.stdin?.resume();
        }),
      new AbortController().signal,
    );
    const failing = new Readable({
      read() {
        this.destroy(new Error('host file vanished'));
      },
    });
    await expect(shell.run({ argv: ['tar', '-x'], stdin: failing })).rejects.toThrow(
      'host file vanished',
    );
    expect(killed).toBe('SIGKILL');
  });
});
