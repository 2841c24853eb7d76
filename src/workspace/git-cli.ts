/**
 * Running git on the host: always argv through base's run(), with an environment that no
 * inherited GIT_* variable can redirect, and without optional locks, so that looking at a
 * repository never rewrites its index.
 */
import { run, type RunOptions, type RunResult } from '../base/index.js';

export interface GitOptions {
  /** Extra environment (GIT_INDEX_FILE, GIT_OBJECT_DIRECTORY...). */
  env?: Record<string, string>;
  input?: string | Buffer;
  signal?: AbortSignal | undefined;
  okCodes?: readonly number[];
  /** Ignore the user's global and system git config (for banger's own scratch repositories). */
  isolated?: boolean;
}

/** process.env without the variables that change which repository git works on. */
export function cleanGitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('GIT_')) continue;
    env[key] = value;
  }
  env.GIT_OPTIONAL_LOCKS = '0';
  env.GIT_TERMINAL_PROMPT = '0';
  return env;
}

/** `git -C dir ARGS...`; rejects with the argv, status and stderr when git fails. */
export function git(
  dir: string,
  args: readonly string[],
  options: GitOptions = {},
): Promise<RunResult> {
  const env = { ...cleanGitEnv(), ...options.env };
  if (options.isolated) {
    env.GIT_CONFIG_NOSYSTEM = '1';
    env.GIT_CONFIG_GLOBAL = '/dev/null';
  }
  const runOptions: RunOptions = { env };
  if (options.input !== undefined) runOptions.input = options.input;
  if (options.signal !== undefined) runOptions.signal = options.signal;
  if (options.okCodes !== undefined) runOptions.okCodes = options.okCodes;
  return run('git', ['-C', dir, ...args], runOptions);
}

/** stdout of a git command as trimmed text. */
export async function gitText(
  dir: string,
  args: readonly string[],
  options: GitOptions = {},
): Promise<string> {
  return (await git(dir, args, options)).stdout.toString('utf8').trim();
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Splits NUL-terminated git output (`-z`) into names. Names that are not valid UTF-8 cannot
 * cross the JSON RPC boundary intact, so they are returned apart for the caller to refuse.
 */
export function splitNul(output: Buffer): { names: string[]; invalid: Buffer[] } {
  const names: string[] = [];
  const invalid: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < output.length; i++) {
    if (output[i] !== 0) continue;
    const raw = output.subarray(start, i);
    start = i + 1;
    if (raw.length === 0) continue;
    try {
      names.push(strictUtf8.decode(raw));
    } catch {
      invalid.push(Buffer.from(raw));
    }
  }
  return { names, invalid };
}
