/**
 * Doctor's rows for a system install: does bangerd-root answer, whom does it serve, and does
 * it run the same version as this daemon (version drift after an upgrade without a restart).
 */
import { bangerVersion } from '../config/index.js';
import type { CheckResult } from '../protocol/index.js';
import type { HelperOps } from './helper-ops.js';

export async function helperDoctor(ops: Pick<HelperOps, 'hello'>): Promise<CheckResult[]> {
  let hello;
  try {
    hello = await ops.hello();
  } catch (err) {
    return [
      {
        name: 'privileged helper',
        status: 'fail',
        detail: `bangerd-root does not answer: ${err instanceof Error ? err.message : String(err)}`,
        hint: 'sudo banger system restart (see `banger system status`)',
      },
    ];
  }
  const mine = bangerVersion();
  const uid = process.getuid?.();
  const rows: CheckResult[] = [
    {
      name: 'privileged helper',
      status: uid === hello.ownerUid ? 'pass' : 'warn',
      detail: `bangerd-root ${hello.version} (pid ${String(hello.pid)}) serves ${hello.owner} (uid ${String(hello.ownerUid)}); this daemon runs as uid ${String(uid)}`,
      ...(uid === hello.ownerUid
        ? {}
        : { hint: 'the daemon of a system install runs as the owner: sudo banger system restart' }),
    },
  ];
  const versions = [
    ['bangerd', mine],
    ['bangerd-root', hello.version],
    ['install record', hello.installedVersion],
  ] as const;
  const drift = new Set(versions.map(([, v]) => v)).size > 1;
  rows.push({
    name: 'service versions',
    status: drift ? 'warn' : 'pass',
    detail: versions.map(([who, v]) => `${who} ${v}`).join(', '),
    ...(drift
      ? { hint: 'restart the services on the installed build: sudo banger system restart' }
      : {}),
  });
  return rows;
}
