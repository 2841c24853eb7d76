/**
 * What the host may ask the agent to run, validated before it goes on the wire: argv, env,
 * cwd and terminal settings must be representable (no NUL bytes, NAME=value env, absolute
 * cwd) and fit in one frame.
 */
import { BangerError } from '../base/index.js';
import { encodeExec, AgentProtocolError } from '../protocol/index.js';

export interface ExecTty {
  rows: number;
  cols: number;
  /** TERM in the guest (default xterm-256color). */
  term?: string | undefined;
}

export interface ExecRequest {
  /** argv[0] is looked up in the request's PATH (or the guest default) when it has no '/'. */
  argv: string[];
  /**
   * Added to the guest defaults (PATH, HOME=/root, USER=root, LOGNAME=root, LANG=C.UTF-8),
   * replacing a default of the same name.
   */
  env?: Record<string, string> | undefined;
  /** Absolute working directory in the guest (default /root). */
  cwd?: string | undefined;
  /** Run on a pseudo-terminal: stdout carries the merged terminal output, stderr stays empty. */
  tty?: ExecTty | undefined;
}

const ENV_NAME = /^[^=\0]+$/;
const TERM_NAME = /^[A-Za-z0-9._+-]{1,64}$/;

function bad(message: string, hint?: string): BangerError {
  return new BangerError('bad_request', message, hint === undefined ? {} : { hint });
}

function checkDimension(value: unknown, name: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw bad(`tty ${name} must be an integer from 1 to 65535, got ${String(value)}`);
  }
}

/** Validates a request and returns its EXEC payload; throws BangerError 'bad_request'. */
export function encodeExecRequest(request: ExecRequest): Buffer {
  const { argv } = request;
  if (!Array.isArray(argv) || argv.length === 0) throw bad('argv must name a command');
  argv.forEach((arg, i) => {
    if (typeof arg !== 'string') throw bad(`argv[${i}] must be a string`);
    if (arg.includes('\0')) throw bad(`argv[${i}] contains a NUL byte`);
  });
  if (argv[0] === '') throw bad('argv[0] must not be empty');
  const env = request.env ?? {};
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name)) {
      throw bad(`environment name ${JSON.stringify(name)} must be non-empty, without '=' or NUL`);
    }
    if (typeof value !== 'string' || value.includes('\0')) {
      throw bad(`environment value of ${name} must be a string without NUL bytes`);
    }
  }
  if (request.cwd !== undefined) {
    if (!request.cwd.startsWith('/') || request.cwd.includes('\0')) {
      throw bad(`cwd ${JSON.stringify(request.cwd)} must be an absolute path in the guest`);
    }
  }
  if (request.tty !== undefined) {
    checkDimension(request.tty.rows, 'rows');
    checkDimension(request.tty.cols, 'cols');
    if (request.tty.term !== undefined && !TERM_NAME.test(request.tty.term)) {
      throw bad(`TERM ${JSON.stringify(request.tty.term)} must match ${TERM_NAME.source}`);
    }
  }
  try {
    return encodeExec({ argv, env, cwd: request.cwd, tty: request.tty });
  } catch (err) {
    if (err instanceof AgentProtocolError) {
      throw bad(err.message, 'pass large data through stdin or a file instead of argv/env');
    }
    throw err;
  }
}
