/**
 * Runs the baseline VM (raw-qemu-argv.ts) by hand: a fresh qcow2 overlay per boot (made before
 * the clock starts), QEMU spawned directly, timed from spawn until the process exits after the
 * guest printed the marker and powered off. Also starts an idle baseline guest for memory.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError, run, sleep } from '../../src/base/index.js';
import { ChildSet, exited, stopwatch, type ChildResult } from '../harness/children.js';
import {
  IDLE_INIT,
  IDLE_MARKER,
  MARKER,
  MARKER_INIT,
  rawQemuArgv,
  type RawBootSpec,
} from './raw-qemu-argv.js';

export interface RawQemuOptions {
  children: ChildSet;
  qemuBinary: string;
  kernel: string;
  initrd?: string | undefined;
  /** The marker rootfs (marker-rootfs.ts): raw ext4, the base of every overlay. */
  rootfs: string;
  /** Per-boot directories go here. */
  scratchDir: string;
  tscKhz: number;
}

export interface VmSize {
  vcpus: number;
  memoryMib: number;
}

interface PreparedBoot {
  dir: string;
  consoleLog: string;
  argv: string[];
}

/** A running idle baseline guest. */
export interface RawIdleVm {
  pid: number;
  /** True while QEMU runs. */
  alive(): boolean;
  /** Kills QEMU (SIGKILL) and removes its overlay. */
  stop(): Promise<void>;
}

const BOOT_TIMEOUT_MS = 120_000;

export class RawQemu {
  private seq = 0;

  constructor(private readonly options: RawQemuOptions) {}

  /** One boot to the marker and power-off; returns its wall time in seconds. */
  async bootToMarker(size: VmSize, options: { signal?: AbortSignal } = {}): Promise<number> {
    return this.bootManyToMarker(1, size, options);
  }

  /** `count` boots started at once; returns the seconds until the last QEMU exited. */
  async bootManyToMarker(
    count: number,
    size: VmSize,
    options: { signal?: AbortSignal } = {},
  ): Promise<number> {
    const boots: PreparedBoot[] = [];
    try {
      for (let i = 0; i < count; i++) {
        boots.push(await this.prepare(size, { init: MARKER_INIT }, options.signal));
      }
      const elapsed = stopwatch();
      const results = await Promise.all(
        boots.map((b) =>
          this.options.children.run(this.options.qemuBinary, b.argv, {
            timeoutMs: BOOT_TIMEOUT_MS,
            ...(options.signal ? { signal: options.signal } : {}),
          }),
        ),
      );
      const seconds = elapsed();
      for (const [i, result] of results.entries()) await checkMarkerBoot(boots[i]!, result);
      return seconds;
    } finally {
      for (const b of boots) await fs.rm(b.dir, { recursive: true, force: true });
    }
  }

  /** Starts an idle guest and returns once it printed its marker (userspace is up). */
  async startIdle(size: VmSize, options: { signal?: AbortSignal } = {}): Promise<RawIdleVm> {
    const boot = await this.prepare(
      size,
      { init: IDLE_INIT.init, initArgs: IDLE_INIT.args },
      options.signal,
    );
    const child = this.options.children.start(this.options.qemuBinary, boot.argv);
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-8192)));
    const alive = (): boolean => child.exitCode === null && child.signalCode === null;
    const stop = async (): Promise<void> => {
      if (alive()) child.kill('SIGKILL');
      await exited(child);
      await fs.rm(boot.dir, { recursive: true, force: true });
    };
    try {
      const deadline = Date.now() + BOOT_TIMEOUT_MS;
      while (!(await consoleHas(boot.consoleLog, IDLE_MARKER))) {
        if (!alive() || Date.now() > deadline) {
          throw new BangerError(
            'operation_failed',
            `the idle baseline guest ${alive() ? 'did not print' : 'exited before printing'} ${IDLE_MARKER}: ${stderr.trim()}\n${await consoleTail(boot.consoleLog)}`,
          );
        }
        await sleep(50, options.signal);
      }
      if (child.pid === undefined) throw new BangerError('operation_failed', 'QEMU has no pid');
      return { pid: child.pid, alive, stop };
    } catch (err) {
      await stop();
      throw err;
    }
  }

  private async prepare(
    size: VmSize,
    init: Pick<RawBootSpec, 'init' | 'initArgs'>,
    signal: AbortSignal | undefined,
  ): Promise<PreparedBoot> {
    const dir = path.join(this.options.scratchDir, `raw-${String(++this.seq)}`);
    await fs.mkdir(dir, { recursive: true });
    const rootDisk = path.join(dir, 'root.qcow2');
    const consoleLog = path.join(dir, 'console.log');
    await run(
      'qemu-img',
      ['create', '-q', '-f', 'qcow2', '-b', this.options.rootfs, '-F', 'raw', rootDisk],
      signal ? { signal } : {},
    );
    const argv = rawQemuArgv({
      qemuBinary: this.options.qemuBinary,
      kernel: this.options.kernel,
      initrd: this.options.initrd,
      rootDisk,
      consoleLog,
      vcpus: size.vcpus,
      memoryMib: size.memoryMib,
      tscKhz: this.options.tscKhz,
      ...init,
    });
    return { dir, consoleLog, argv };
  }
}

async function consoleHas(consoleLog: string, marker: string): Promise<boolean> {
  const text = await fs.readFile(consoleLog, 'utf8').catch(() => '');
  return text.includes(marker);
}

async function consoleTail(consoleLog: string): Promise<string> {
  const text = await fs.readFile(consoleLog, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-10).join('\n');
}

async function checkMarkerBoot(boot: PreparedBoot, result: ChildResult): Promise<void> {
  if (result.code === 0 && (await consoleHas(boot.consoleLog, MARKER))) return;
  throw new BangerError(
    'operation_failed',
    `raw QEMU boot ${result.code === 0 ? 'exited without printing' : `failed (exit ${String(result.code ?? result.signal)}) before`} ${MARKER}: ${result.stderr.trim()}\n${await consoleTail(boot.consoleLog)}`,
  );
}
