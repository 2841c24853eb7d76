/**
 * Decides KVM vs TCG by booting a real kernel under KVM with a short deadline. Opening
 * /dev/kvm proves nothing: on paravirtual "kvm-pvm" hosts a tiny guest runs while a real
 * kernel crawls and dies, and `-cpu host` can fail on MSRs (HOST-NOTES "Virtualisation").
 * Verdict `kvm` only if the probe's init printed its marker in time.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BangerError, run, sha256File } from '../base/index.js';
import { writeCpio } from '../kernels/index.js';
import type { Accel } from '../protocol/index.js';
import { DEFAULT_QEMU_BINARY, qemuVersion } from './host-info.js';
import {
  decideKvmVerdict,
  probeCacheKey,
  type KvmVerdict,
  type ProbeOutcome,
} from './kvm-verdict.js';
import { MICROVM_MACHINE, QEMU_BASE_KERNEL_ARGS } from './qemu/launch-plan.js';
import { probeInitElf } from './probe-init-elf.js';

export const PROBE_MARKER = 'BANGER-KVM-PROBE-OK';
const DEFAULT_PROBE_TIMEOUT_MS = 10_000;

export interface ProbeKvmOptions {
  /** The ELF vmlinux (or bzImage) to boot: the kernel VMs will really use. */
  kernel: string;
  /** Its sha256, when the caller knows it (the kernel manifest has it). */
  kernelSha256?: string;
  /** Where verdicts are cached (layout.probeCacheFile). */
  cacheFile: string;
  /** Probe again even when a verdict is cached. */
  force?: boolean;
  qemuBinary?: string;
  /** The probe boot's deadline (default 10 s; a healthy KVM boot takes well under 1 s). */
  timeoutMs?: number;
  /** /dev/kvm, replaceable for tests. */
  kvmDevice?: string;
  signal?: AbortSignal;
}

export async function probeKvm(options: ProbeKvmOptions): Promise<KvmVerdict> {
  const qemuBinary = options.qemuBinary ?? DEFAULT_QEMU_BINARY;
  const key = probeCacheKey({
    qemuVersion: await qemuVersion({
      qemuBinary,
      ...(options.signal ? { signal: options.signal } : {}),
    }),
    kernelSha256: options.kernelSha256 ?? (await sha256File(options.kernel)),
    hostRelease: os.release(),
  });
  return decideKvmVerdict({
    key,
    cacheFile: options.cacheFile,
    force: options.force,
    probe: async () => {
      const device = options.kvmDevice ?? '/dev/kvm';
      const unusable = await kvmDeviceProblem(device);
      if (unusable !== undefined) return { accel: 'tcg', reason: unusable, elapsedMs: 0 };
      return judgeProbeBoot(
        await probeBoot({
          kernel: options.kernel,
          accel: 'kvm',
          qemuBinary,
          timeoutMs: options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
          signal: options.signal,
        }),
      );
    },
  });
}

async function kvmDeviceProblem(device: string): Promise<string | undefined> {
  try {
    const handle = await fs.open(device, 'r+');
    await handle.close();
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `no ${device}` : `cannot open ${device}: ${code ?? String(err)}`;
  }
}

export interface ProbeBootResult {
  sawMarker: boolean;
  timedOut: boolean;
  exitCode: number | null;
  elapsedMs: number;
  /** The last lines QEMU wrote to stderr. */
  stderrTail: string;
  timeoutMs: number;
}

/** Known ways a KVM probe fails, most specific first (what QEMU prints on stderr). */
const KNOWN_FAILURES: readonly RegExp[] = [
  /failed to set MSR[^\n]*/i,
  /KVM internal error[^\n]*/i,
  /emulation failure[^\n]*/i,
  /Could not access KVM kernel module[^\n]*/i,
  /failed to initialize kvm[^\n]*/i,
];

export function judgeProbeBoot(result: ProbeBootResult): ProbeOutcome {
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  if (result.sawMarker) {
    return {
      accel: 'kvm',
      reason: `a probe boot under KVM reached init in ${seconds(result.elapsedMs)}`,
      elapsedMs: result.elapsedMs,
    };
  }
  for (const pattern of KNOWN_FAILURES) {
    const found = pattern.exec(result.stderrTail)?.[0];
    if (found !== undefined) {
      return {
        accel: 'tcg',
        reason: `KVM probe boot failed: ${found.trim().slice(0, 200)}`,
        elapsedMs: result.elapsedMs,
      };
    }
  }
  if (result.timedOut) {
    return {
      accel: 'tcg',
      reason: `KVM probe boot did not reach init within ${seconds(result.timeoutMs)} (KVM works too slowly or hangs here)`,
      elapsedMs: result.elapsedMs,
    };
  }
  const tail = result.stderrTail.trim().split('\n').slice(-2).join(' / ').slice(0, 200);
  return {
    accel: 'tcg',
    reason: `KVM probe boot ended (exit ${String(result.exitCode)}) without reaching init${tail ? `: ${tail}` : ''}`,
    elapsedMs: result.elapsedMs,
  };
}

/**
 * Boots `kernel` with an initramfs whose /init only prints PROBE_MARKER and exits. Exported
 * for tests, which prove the probe machinery under TCG (needs `tscKhz`).
 */
export async function probeBoot(options: {
  kernel: string;
  accel: Accel;
  qemuBinary?: string;
  tscKhz?: number;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}): Promise<ProbeBootResult> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'banger-kvm-probe-'));
  try {
    const initrd = path.join(dir, 'probe.cpio');
    await fs.writeFile(
      initrd,
      writeCpio([
        { kind: 'dir', path: 'dev' },
        { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
        { kind: 'file', path: 'init', data: probeInitElf(PROBE_MARKER), mode: 0o755 },
      ]),
    );
    const args = [...QEMU_BASE_KERNEL_ARGS, 'cryptomgr.notests=1'];
    if (options.accel === 'tcg') {
      if (options.tscKhz === undefined)
        throw new BangerError('internal', 'a TCG probe boot needs tscKhz');
      args.push(`tsc_early_khz=${String(options.tscKhz)}`);
    }
    const argv = [
      '-M',
      MICROVM_MACHINE,
      ...(options.accel === 'kvm'
        ? ['-accel', 'kvm', '-cpu', 'host']
        : ['-accel', 'tcg', '-cpu', 'max']),
      '-smp',
      '1',
      '-m',
      '128M',
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-no-reboot',
      '-kernel',
      options.kernel,
      '-initrd',
      initrd,
      '-append',
      args.join(' '),
      '-serial',
      'stdio',
    ];
    // Stop as soon as the marker shows: what the guest does after it does not matter.
    const seen = new AbortController();
    const onOuterAbort = (): void => seen.abort();
    options.signal?.addEventListener('abort', onOuterAbort, { once: true });
    let stdout = '';
    let sawMarker = false;
    const started = Date.now();
    let elapsedMs = 0;
    let stderrTail = '';
    let exitCode: number | null = null;
    let timedOut = false;
    try {
      const result = await run(options.qemuBinary ?? DEFAULT_QEMU_BINARY, argv, {
        timeoutMs: options.timeoutMs,
        signal: seen.signal,
        okCodes: [...Array(256).keys()],
        maxStdoutBytes: 1024 * 1024,
        onStdout: (chunk) => {
          stdout = (stdout + chunk.toString('latin1')).slice(-4096);
          if (!sawMarker && stdout.includes(PROBE_MARKER)) {
            sawMarker = true;
            elapsedMs = Date.now() - started;
            seen.abort();
          }
        },
      });
      exitCode = result.code;
      stderrTail = result.stderr;
    } catch (err) {
      // Our own abort after the marker is success; a timeout or a crash (signal) is a verdict.
      if (!(err instanceof BangerError) || err.code === 'precondition_failed') throw err;
      if (err.code === 'canceled' && !sawMarker) throw err;
      if (err.code === 'timeout') timedOut = true;
      stderrTail = typeof err.details?.stderrTail === 'string' ? err.details.stderrTail : '';
      exitCode = typeof err.details?.exitCode === 'number' ? err.details.exitCode : null;
    } finally {
      options.signal?.removeEventListener('abort', onOuterAbort);
    }
    if (!sawMarker) elapsedMs = Date.now() - started;
    return {
      sawMarker,
      timedOut,
      exitCode,
      elapsedMs,
      stderrTail: stderrTail.slice(-2000),
      timeoutMs: options.timeoutMs,
    };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
