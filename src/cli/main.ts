#!/usr/bin/env node
/**
 * `banger`: the thin client. Parses arguments, talks to the daemon, renders results.
 * Everything after the first `--` is a guest command and is never parsed as banger flags.
 */
import { CommanderError } from 'commander';
import { BangerError } from '../base/index.js';
import { resolveLayout } from '../config/index.js';
import { createContext } from './context.js';
import { DaemonClient } from './daemon-client.js';
import {
  EXIT_COMMAND_NOT_EXECUTABLE,
  EXIT_COMMAND_NOT_FOUND,
  EXIT_FOR_CODE,
} from './exit-codes.js';
import { buildProgram } from './program.js';
import { cliMode } from './system/system-mode.js';
import { formatError } from './render.js';

async function main(): Promise<number> {
  process.umask(0o077);
  const argv = process.argv.slice(2);
  const dash = argv.indexOf('--');
  const hostArgs = dash >= 0 ? argv.slice(0, dash) : argv;
  const guestArgv = dash >= 0 ? argv.slice(dash + 1) : undefined;

  const layout = resolveLayout({ mode: cliMode(process.env) });
  const client = new DaemonClient(layout, (message) =>
    process.stderr.write(`banger: ${message}\n`),
  );
  const ctx = createContext(layout, client, guestArgv);
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(hostArgs, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    ctx.progress.done();
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; their text is already printed.
      return err.exitCode === 0 ? 0 : EXIT_FOR_CODE.bad_request;
    }
    process.stderr.write(formatError(err));
    if (err instanceof BangerError) {
      // A guest command that could not be started exits like a shell would say it: 127 or 126.
      if (err.details?.stage === 'exec') {
        const errno = err.details.errno;
        return errno === 'ENOENT' || errno === 'ENOTDIR'
          ? EXIT_COMMAND_NOT_FOUND
          : EXIT_COMMAND_NOT_EXECUTABLE;
      }
      return EXIT_FOR_CODE[err.code];
    }
    return EXIT_FOR_CODE.internal;
  }
}

const code = await main();
// Let stdout drain (a 10 MiB command output may still be in flight) before exiting.
process.stdout.write('', () => process.exit(code));
