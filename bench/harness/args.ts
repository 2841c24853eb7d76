/**
 * `npm run bench -- [METRIC...] [--runs N] [--warmup N]`: which metrics to run and how often.
 * Pure: the list of known metric names comes in, a plan or a BangerError comes out.
 */
import { BangerError } from '../../src/base/index.js';

export const DEFAULT_RUNS = 5;
export const DEFAULT_WARMUPS = 1;

export interface BenchArgs {
  /** Metric names in the order they will run (the registry's order when none were named). */
  metrics: string[];
  runs: number;
  warmups: number;
  help: boolean;
}

export const USAGE =
  'usage: npm run bench -- [METRIC...] [--runs N] [--warmup N]\n' +
  '  METRIC   run only these metrics (default: all)\n' +
  `  --runs   samples per side, banger and baseline interleaved (default ${String(DEFAULT_RUNS)})\n` +
  `  --warmup warm-up runs per side before sampling (default ${String(DEFAULT_WARMUPS)})\n`;

function count(flag: string, value: string | undefined, min: number): number {
  if (value === undefined || !/^[0-9]{1,4}$/.test(value) || Number(value) < min) {
    throw new BangerError(
      'bad_request',
      `${flag} ${value === undefined ? '(missing)' : JSON.stringify(value)} must be a whole number from ${String(min)} to 9999`,
    );
  }
  return Number(value);
}

export function parseBenchArgs(argv: readonly string[], known: readonly string[]): BenchArgs {
  const named: string[] = [];
  let runs = DEFAULT_RUNS;
  let warmups = DEFAULT_WARMUPS;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') ? splitInline(arg) : [arg, undefined];
    if (flag === '--help' || flag === '-h') help = true;
    else if (flag === '--runs') runs = count('--runs', inline ?? argv[++i], 1);
    else if (flag === '--warmup' || flag === '--warmups')
      warmups = count('--warmup', inline ?? argv[++i], 0);
    else if (flag.startsWith('-')) {
      throw new BangerError('bad_request', `unknown option ${JSON.stringify(arg)}`, {
        hint: USAGE,
      });
    } else if (!known.includes(flag)) {
      throw new BangerError(
        'not_found',
        `unknown metric ${JSON.stringify(flag)}: known metrics are ${known.join(', ')}`,
      );
    } else if (!named.includes(flag)) named.push(flag);
  }
  return { metrics: named.length > 0 ? named : [...known], runs, warmups, help };
}

function splitInline(arg: string): [string, string | undefined] {
  const eq = arg.indexOf('=');
  return eq < 0 ? [arg, undefined] : [arg.slice(0, eq), arg.slice(eq + 1)];
}
