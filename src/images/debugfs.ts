/**
 * Runs debugfs (e2fsprogs) against an image file. debugfs exits 0 even when a command fails and
 * reports the failure on stderr, so any stderr line other than its version banner is an error.
 */
import { operationFailed, run } from '../base/index.js';

/**
 * Paths inside an image that we hand to debugfs: absolute, made of characters its command parser
 * takes literally (no spaces or quotes), without `.`/`..` components.
 */
export const IN_IMAGE_PATH_PATTERN = /^\/(?:[A-Za-z0-9_+@:-][A-Za-z0-9._+@:-]*(?:\/|$))*$/;

export interface DebugfsOptions {
  /** Open the filesystem read-write (`-w`). */
  write?: boolean;
  /** Working directory: `write` takes host file names relative to it. */
  cwd?: string;
  signal?: AbortSignal;
  /** Stderr lines (after the banner) matching this are not errors, e.g. "not found" for a probe. */
  tolerate?: RegExp;
  /** Room for stdout (`cat` of a large file); run() keeps 64 MiB by default. */
  maxStdoutBytes?: number;
}

export interface DebugfsResult {
  stdout: Buffer;
  /** Stderr lines other than the banner (only tolerated ones when the call succeeded). */
  messages: string[];
}

/** Runs one debugfs request (`-R`) or a script of requests (`-f -`, one per line). */
export async function debugfs(
  image: string,
  request: { command: string } | { script: readonly string[] },
  options: DebugfsOptions = {},
): Promise<DebugfsResult> {
  const argv: string[] = [];
  if (options.write === true) argv.push('-w');
  let input: string | undefined;
  if ('command' in request) {
    argv.push('-R', request.command);
  } else {
    argv.push('-f', '-');
    input = `${request.script.join('\n')}\n`;
  }
  argv.push('--', image);
  const result = await run('debugfs', argv, {
    // debugfs pipes some outputs (stat) through a pager unless told not to.
    env: { ...process.env, DEBUGFS_PAGER: '__none__', PAGER: 'cat' },
    ...(input === undefined ? {} : { input }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.maxStdoutBytes === undefined ? {} : { maxStdoutBytes: options.maxStdoutBytes }),
  });
  const messages = result.stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^debugfs \d+\.\d+/.test(line));
  const errors = messages.filter(
    (line) => options.tolerate === undefined || !options.tolerate.test(line),
  );
  if (errors.length > 0) {
    const what = 'command' in request ? request.command : request.script.join('; ');
    throw operationFailed(
      `debugfs on ${image} failed (${what}):\n${errors.slice(0, 8).join('\n')}`,
      {
        details: { argv: ['debugfs', ...argv], stderrTail: errors.slice(-20).join('\n') },
      },
    );
  }
  return { stdout: result.stdout, messages };
}
