/**
 * One bench run: make an isolated banger home with the default kernel and image, prepare the
 * baseline's marker rootfs, run the chosen metrics one after another, print the table and write
 * bench/results/latest.json; then delete every VM, stop the daemon and remove every file, also
 * when a metric fails or the user presses Ctrl-C.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError } from '../src/base/index.js';
import { packageRoot } from '../src/config/index.js';
import { DEFAULT_QEMU_BINARY, hostTscKhz } from '../src/vmm/index.js';
import { prepareMarkerRootfs } from './baseline/marker-rootfs.js';
import { RawQemu, type VmSize } from './baseline/raw-qemu.js';
import type { BenchArgs } from './harness/args.js';
import { BenchHome } from './harness/bench-home.js';
import { ChildSet } from './harness/children.js';
import { onInterrupt } from './harness/interrupt.js';
import { machineInfo } from './harness/machine.js';
import { provisionArtifacts } from './harness/provision.js';
import { reportJson, type BenchReport } from './harness/report.js';
import { renderTable } from './harness/table.js';
import { METRICS, type BenchContext } from './metrics/index.js';

/** banger's default VM size (config vm_defaults), passed explicitly to both sides. */
export const BENCH_VM: VmSize = { vcpus: 1, memoryMib: 512 };

export function resultsFile(): string {
  return path.join(packageRoot(), 'bench', 'results', 'latest.json');
}

export async function runBench(
  args: BenchArgs,
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): Promise<number> {
  const log = (line: string): void => void io.stderr.write(`bench: ${line}\n`);
  const controller = new AbortController();
  const signal = controller.signal;
  const children = new ChildSet();
  const uninstall = onInterrupt({
    first: (sig) => {
      log(`${sig}: stopping and cleaning up (press Ctrl-C again to leave at once)`);
      controller.abort();
      children.killAll();
    },
    second: () => children.killAll(),
  });
  let home: BenchHome | undefined;
  try {
    const machine = await machineInfo({ signal });
    const tscKhz = await hostTscKhz();
    if (tscKhz === undefined) {
      throw new BangerError(
        'precondition_failed',
        'no "cpu MHz" in /proc/cpuinfo: cannot boot under TCG',
      );
    }
    home = await BenchHome.create(children);
    log(`banger home ${home.root}`);
    const artifacts = await provisionArtifacts(home, { signal, log });
    const scratch = path.join(home.root, 'raw');
    await fs.mkdir(scratch, { recursive: true });
    const markerRootfs = path.join(scratch, 'marker-rootfs.ext4');
    log(`writing banger-marker-init into a copy of ${artifacts.rootfs}`);
    await prepareMarkerRootfs({
      rootfs: artifacts.rootfs,
      markerInit: artifacts.markerInit,
      dest: markerRootfs,
      signal,
    });
    const ctx: BenchContext = {
      home,
      children,
      raw: new RawQemu({
        children,
        qemuBinary: DEFAULT_QEMU_BINARY,
        kernel: artifacts.vmlinux,
        initrd: artifacts.initrd,
        rootfs: markerRootfs,
        scratchDir: scratch,
        tscKhz,
      }),
      vm: BENCH_VM,
      runs: args.runs,
      warmups: args.warmups,
      signal,
      log,
    };
    const report: BenchReport = {
      machine,
      settings: { runs: args.runs, warmups: args.warmups, vm: BENCH_VM },
      rows: [],
      failures: [],
    };
    for (const name of args.metrics) {
      const metric = METRICS.find((m) => m.name === name);
      if (metric === undefined) throw new BangerError('not_found', `unknown metric ${name}`);
      if (signal.aborted) {
        report.failures.push({ metric: name, error: 'not run: interrupted' });
        continue;
      }
      log(`${name}: banger: ${metric.banger}`);
      log(`${name}: baseline: ${metric.baseline}`);
      try {
        report.rows.push(...(await metric.run(ctx)));
      } catch (err) {
        const error = signal.aborted ? 'interrupted' : errorText(err);
        log(`${name}: FAILED: ${error}`);
        report.failures.push({ metric: name, error });
      }
    }
    await fs.mkdir(path.dirname(resultsFile()), { recursive: true });
    await fs.writeFile(resultsFile(), JSON.stringify(reportJson(report), null, 2) + '\n');
    io.stdout.write(renderTable(report));
    log(`wrote ${path.relative(process.cwd(), resultsFile())}`);
    if (signal.aborted) return 130;
    return report.failures.length > 0 ? 1 : 0;
  } catch (err) {
    log(signal.aborted ? 'interrupted' : `failed: ${errorText(err)}`);
    return signal.aborted ? 130 : 1;
  } finally {
    children.killAll();
    if (home !== undefined) {
      log('cleaning up: deleting VMs, stopping the daemon, removing the bench home');
      for (const note of await home.destroy()) log(note);
    }
    uninstall();
  }
}

function errorText(err: unknown): string {
  if (err instanceof BangerError && err.hint !== undefined)
    return `${err.message} (hint: ${err.hint})`;
  return err instanceof Error ? err.message : String(err);
}
