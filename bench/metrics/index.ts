/**
 * Every metric `npm run bench` knows, in the order it runs them. To add one (exec-true vs
 * OpenSSH, ship-repo, warm starts, kernel boot comparisons...), write bench/metrics/NAME.ts
 * exporting a Metric and add it here.
 */
import { createReady } from './create-ready.js';
import { createWarm } from './create-warm.js';
import { execTrue } from './exec-true.js';
import { fcKernelBoot } from './fc-kernel-boot.js';
import { idleMemory } from './idle-memory.js';
import type { Metric } from './metric.js';
import { parallel4 } from './parallel-4.js';
import { runTrue } from './run-true.js';
import { runTrueWarm } from './run-true-warm.js';
import { shipRepo } from './ship-repo.js';

export const METRICS: readonly Metric[] = [
  runTrue,
  createReady,
  execTrue,
  parallel4,
  idleMemory,
  shipRepo,
  fcKernelBoot,
  // Warm starts last: each makes its template first and removes it when done.
  runTrueWarm,
  createWarm,
];

export type { BenchContext, Metric } from './metric.js';
