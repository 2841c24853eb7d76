/** What every command gets: the daemon client, the output streams and a way to set the exit status. */
import type { Layout } from '../config/index.js';
import type { DaemonClient } from './daemon-client.js';
import { ProgressRenderer } from './render.js';

export interface CliContext {
  layout: Layout;
  client: DaemonClient;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  progress: ProgressRenderer;
  /** The status `banger` exits with once the command's action returns. */
  exitCode: number;
  /** Everything after the first `--` on the command line: a guest command, never parsed as flags. */
  guestArgv: string[] | undefined;
}

export function createContext(
  layout: Layout,
  client: DaemonClient,
  guestArgv: string[] | undefined,
): CliContext {
  return {
    layout,
    client,
    stdout: process.stdout,
    stderr: process.stderr,
    progress: new ProgressRenderer(process.stderr),
    exitCode: 0,
    guestArgv,
  };
}

/**
 * Options shared by commands that talk to the daemon with progress; `lines` prints each step
 * even when stderr is not a terminal (for long operations such as builds).
 */
export function progressOptions(ctx: CliContext, options: { lines?: boolean } = {}) {
  return {
    onProgress: (event: Parameters<ProgressRenderer['update']>[0]) =>
      ctx.progress.update(event, options),
    onNotice: (message: string) => {
      ctx.progress.done();
      ctx.stderr.write(`${message}\n`);
    },
  };
}
