/**
 * `npm run bench -- [METRIC...] [--runs N] [--warmup N]`: banger measured side by side with the
 * raw VMM on this machine (see bench/README.md). Needs `npm run build` first and root (VMs).
 */
import { BangerError } from '../src/base/index.js';
import { parseBenchArgs, USAGE } from './harness/args.js';
import { METRICS } from './metrics/index.js';
import { runBench } from './run-bench.js';

async function main(): Promise<number> {
  let args;
  try {
    args = parseBenchArgs(
      process.argv.slice(2),
      METRICS.map((m) => m.name),
    );
  } catch (err) {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE + '\nmetrics:\n');
    for (const m of METRICS) {
      process.stdout.write(`  ${m.name}\n    banger:   ${m.banger}\n    baseline: ${m.baseline}\n`);
    }
    return 0;
  }
  return runBench(args, { stdout: process.stdout, stderr: process.stderr });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `bench: ${err instanceof BangerError || err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
