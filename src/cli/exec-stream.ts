/**
 * The terminal side of `vm run` and `vm exec`: forwards stdin (when asked or piped), puts a
 * local terminal in raw mode for a pty session, relays window size changes and signals,
 * and turns the guest's exit status into banger's own.
 */
import type { ExecSpec, ExitStatusInfo, TtySpec } from '../protocol/index.js';
import type { CliContext } from './context.js';
import { progressOptions } from './context.js';
import { exitForSignal } from './exit-codes.js';

export interface ExecFlags {
  tty?: boolean;
  interactive?: boolean;
  env?: Record<string, string>;
  workdir?: string;
}

/** Builds the exec spec from flags; an empty argv asks for an interactive shell. */
export function execSpecFrom(argv: string[], flags: ExecFlags): ExecSpec {
  const stdinIsTty = process.stdin.isTTY;
  const wantsShell = argv.length === 0;
  const tty = flags.tty ?? (wantsShell && stdinIsTty);
  const spec: ExecSpec = {
    argv,
    // A piped stdin is forwarded (like ssh); a terminal only with -i or -t (like docker).
    stdin: flags.interactive === true || tty || !stdinIsTty,
  };
  if (flags.env) spec.env = flags.env;
  if (flags.workdir) spec.cwd = flags.workdir;
  if (tty) spec.tty = currentTty();
  return spec;
}

function currentTty(): TtySpec {
  const tty: TtySpec = { rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 };
  const term = process.env.TERM;
  if (term && /^[A-Za-z0-9._+-]{1,64}$/.test(term)) tty.term = term;
  return tty;
}

export interface ExecOutcome<T> {
  result: T;
  exitCode: number;
}

/** Runs a streaming exec-like call and returns its result plus the exit status to use. */
export async function streamExec<T extends { exit: ExitStatusInfo }>(
  ctx: CliContext,
  method: string,
  params: { exec: ExecSpec } & Record<string, unknown>,
): Promise<ExecOutcome<T>> {
  const raw = params.exec.tty !== undefined && process.stdin.isTTY;
  const handle = await ctx.client.start<T>(method, params, {
    ...progressOptions(ctx),
    stdout: process.stdout,
    stderr: process.stderr,
    ...(params.exec.stdin ? { stdin: process.stdin } : {}),
  });

  const forwardSignal = (signal: NodeJS.Signals) => () =>
    handle.control({ kind: 'signal', signal });
  const signals: [NodeJS.Signals, () => void][] = (
    ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const
  ).map((s) => [s, forwardSignal(s)]);
  for (const [signal, listener] of signals) process.on(signal, listener);
  const onResize = (): void => {
    handle.control({
      kind: 'resize',
      rows: process.stdout.rows || 24,
      cols: process.stdout.columns || 80,
    });
  };
  if (params.exec.tty) process.stdout.on('resize', onResize);
  if (raw) process.stdin.setRawMode(true);
  try {
    const result = await handle.result;
    ctx.progress.done();
    return { result, exitCode: exitStatusToCode(result.exit) };
  } finally {
    if (raw) process.stdin.setRawMode(false);
    process.stdout.off('resize', onResize);
    for (const [signal, listener] of signals) process.off(signal, listener);
    if (params.exec.stdin) process.stdin.pause();
  }
}

export function exitStatusToCode(exit: ExitStatusInfo): number {
  return exit.kind === 'exited' ? exit.code : exitForSignal(exit.signal);
}
