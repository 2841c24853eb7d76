/**
 * Host memory of one idle VM: PSS of banger's QEMU process vs a hand-started QEMU with the same
 * guest size, both measured once settled. Plus two extra rows: the daemon's own RSS with 0 VMs
 * (freshly started) and with 10 idle VMs (booted one after another, 256 MiB each).
 */
import { sleep } from '../../src/base/index.js';
import { compare } from '../harness/compare.js';
import { readPssMiB, readRssMiB } from '../harness/proc-memory.js';
import { buildRow, type MetricRow } from '../harness/report.js';
import { waitSettled } from '../harness/settle.js';
import { sizeFlags, type BenchContext, type Metric } from './metric.js';

const MANY = 10;
const MANY_MEMORY_MIB = 256;
const SAMPLE_INTERVAL_MS = 1000;

async function settledPss(ctx: BenchContext, pid: number, what: string): Promise<number> {
  const result = await waitSettled(() => readPssMiB(pid), { signal: ctx.signal });
  if (!result.settled) {
    ctx.log(
      `idle-memory: ${what} PSS did not settle within ${result.seconds.toFixed(0)} s; using the last readings`,
    );
  }
  return result.value;
}

async function bangerIdlePss(ctx: BenchContext, name: string): Promise<number> {
  try {
    const created = await ctx.home.ok(
      ['vm', 'create', '--name', name, '--json', ...sizeFlags(ctx.vm)],
      { signal: ctx.signal },
    );
    const { pid } = JSON.parse(created.stdout) as { pid: number | null };
    if (pid === null) throw new Error(`banger vm create ${name} gave no VMM pid`);
    return await settledPss(ctx, pid, `banger VM ${name}`);
  } finally {
    await ctx.home.cli(['vm', 'delete', name]);
  }
}

async function rawIdlePss(ctx: BenchContext): Promise<number> {
  const vm = await ctx.raw.startIdle(ctx.vm, { signal: ctx.signal });
  try {
    const pss = await settledPss(ctx, vm.pid, 'raw QEMU');
    if (!vm.alive()) throw new Error('the idle raw QEMU guest exited while being measured');
    return pss;
  } finally {
    await vm.stop();
  }
}

async function daemonRssSamples(ctx: BenchContext): Promise<number[]> {
  const pid = await ctx.home.daemonPid();
  if (pid === undefined) throw new Error('the bench daemon is not running');
  const samples: number[] = [];
  for (let i = 0; i < ctx.runs; i++) {
    await sleep(SAMPLE_INTERVAL_MS, ctx.signal);
    samples.push(await readRssMiB(pid));
  }
  return samples;
}

async function daemonRows(ctx: BenchContext): Promise<MetricRow[]> {
  // A fresh daemon with no VMs: restart it (the CLI starts one on demand).
  await ctx.home.stopDaemon();
  await ctx.home.ok(['vm', 'list'], { signal: ctx.signal });
  ctx.log('idle-memory: daemon RSS with 0 VMs');
  const zero = buildRow({
    name: 'daemon-rss-0vm',
    metric: 'idle-memory',
    unit: 'MiB',
    banger: await daemonRssSamples(ctx),
  });
  const names = Array.from({ length: MANY }, (_, i) => `bench-idle10-${String(i + 1)}`);
  try {
    for (const name of names) {
      ctx.log(`idle-memory: booting ${name} (${String(MANY_MEMORY_MIB)} MiB)`);
      await ctx.home.ok(
        ['vm', 'create', '--name', name, '--vcpu', '1', '--memory', String(MANY_MEMORY_MIB)],
        { signal: ctx.signal },
      );
    }
    ctx.log(`idle-memory: daemon RSS with ${String(MANY)} VMs`);
    const many = buildRow({
      name: `daemon-rss-${String(MANY)}vm`,
      metric: 'idle-memory',
      unit: 'MiB',
      banger: await daemonRssSamples(ctx),
    });
    return [zero, many];
  } finally {
    for (const name of names) await ctx.home.cli(['vm', 'delete', name]);
  }
}

export const idleMemory: Metric = {
  name: 'idle-memory',
  banger:
    'PSS (/proc/PID/smaps_rollup) of the QEMU process of one idle VM made by `banger vm create`, once settled',
  baseline:
    'PSS of QEMU started by hand, same VM, PID 1 `/bin/sh -c "echo BANGER-IDLE; exec sleep infinity"`, once settled',
  async run(ctx) {
    let n = 0;
    const pss = await compare(ctx, {
      name: 'idle-memory',
      unit: 'MiB',
      banger: () => bangerIdlePss(ctx, `bench-idle-${String(++n)}`),
      baseline: () => rawIdlePss(ctx),
    });
    return [pss, ...(await daemonRows(ctx))];
  },
};
