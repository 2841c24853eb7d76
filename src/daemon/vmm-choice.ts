/**
 * Which VMM backend this daemon drives, from config `vmm`:
 *  - "qemu": QEMU microvm (KVM where proven, else TCG);
 *  - "firecracker": Firecracker, or, where this host cannot run it, a backend that refuses
 *    every VM at once with why and what works instead;
 *  - "auto": Firecracker only when its binary is installed AND the KVM probe boot says KVM
 *    really works (HOST-NOTES: an openable /dev/kvm proves nothing), else QEMU.
 * The decision is pure (decideVmm); chooseVmmBackend gathers the facts and builds it.
 */
import path from 'node:path';
import { BangerError, type Logger } from '../base/index.js';
import type { BangerConfig, Layout } from '../config/index.js';
import type { KernelStore } from '../kernels/index.js';
import type { DiskSpec, VmmHandles, VmmKind } from '../protocol/index.js';
import {
  chooseCowStrategy,
  createInProcessVmmOps,
  firecrackerHostInfo,
  FirecrackerBackend,
  probeFirecrackerHost,
  probeKvm,
  QemuBackend,
  type FirecrackerHostProbe,
  type VmmBackend,
  type VmmCapabilities,
  type VmmInstance,
  type VmmOps,
} from '../vmm/index.js';

export type VmmSetting = BangerConfig['vmm'];

/** The KVM probe's verdict, or why there is none. */
export type KvmFact =
  { accel: 'kvm' | 'tcg'; reason: string } | { accel: undefined; reason: string };

export type VmmDecision =
  { use: VmmKind; reason: string } | { use: 'refuse'; kind: VmmKind; reason: string; hint: string };

const WHAT_WORKS =
  'QEMU works on this host: set vmm = "qemu" (or "auto") in config.toml and restart the daemon (`banger daemon restart`)';

export function decideVmm(
  setting: VmmSetting,
  fc: FirecrackerHostProbe,
  kvm: KvmFact,
): VmmDecision {
  const fcProblems = [...fc.problems];
  if (kvm.accel !== 'kvm' && fc.kvmDevice) {
    fcProblems.push(
      kvm.accel === undefined
        ? `KVM is not proven to work yet (${kvm.reason})`
        : `KVM does not really work here (probe verdict: ${kvm.reason})`,
    );
  }
  switch (setting) {
    case 'qemu':
      return { use: 'qemu', reason: 'config vmm = "qemu"' };
    case 'firecracker':
      if (fcProblems.length === 0)
        return { use: 'firecracker', reason: `config vmm = "firecracker" (v${fc.version ?? '?'})` };
      return {
        use: 'refuse',
        kind: 'firecracker',
        reason: `vmm = "firecracker" but firecracker cannot run here: ${fcProblems.join('; ')}`,
        hint: WHAT_WORKS,
      };
    case 'auto':
      if (fcProblems.length === 0)
        return {
          use: 'firecracker',
          reason: `auto: firecracker v${fc.version ?? '?'} is installed and KVM works`,
        };
      return { use: 'qemu', reason: `auto: QEMU, because ${fcProblems.join('; ')}` };
  }
}

/** A backend for a choice that cannot work here: every VM is refused at once, with the reason. */
export class RefusingBackend implements VmmBackend {
  readonly capabilities: VmmCapabilities = {
    pause: false,
    snapshot: false,
    vsock: false,
    balloon: false,
  };

  constructor(
    readonly kind: VmmKind,
    private readonly reason: string,
    private readonly hint: string,
  ) {}

  /** Throws the refusal: why this backend cannot run here, and what works instead. */
  refuse(): never {
    throw new BangerError('precondition_failed', this.reason, { hint: this.hint });
  }

  createRootDisk(): Promise<DiskSpec> {
    this.refuse();
  }

  launch(): Promise<VmmInstance> {
    this.refuse();
  }

  adopt(handles: VmmHandles): Promise<VmmInstance | undefined> {
    throw new BangerError(
      'precondition_failed',
      `cannot adopt ${handles.kind} VM pid ${String(handles.pid)}: ${this.reason}`,
      { hint: this.hint },
    );
  }
}

export interface VmmChoice {
  /** The backend new VMs get (config `vmm`). */
  backend: VmmBackend;
  /** The backend of each kind: a VM keeps the kind it was made with, and `--vmm` picks one. */
  backends: Record<VmmKind, VmmBackend>;
  decision: VmmDecision;
  firecracker: FirecrackerHostProbe;
}

/**
 * Gathers the facts (Firecracker on this host, the KVM verdict, how disks are copied) and
 * builds a backend of each kind: QEMU always works; Firecracker is real where it can run and a
 * RefusingBackend (saying why) elsewhere. The KVM probe runs only when Firecracker could
 * otherwise run: it boots a kernel from the store under KVM once, and its verdict is cached.
 */
export async function chooseVmmBackend(options: {
  setting: VmmSetting;
  layout: Layout;
  kernels: KernelStore;
  logger: Logger;
  /** Launch/kill through these (bangerd-root in a system install); default: in-process. */
  ops?: VmmOps | undefined;
}): Promise<VmmChoice> {
  const { layout, logger } = options;
  const fc = await probeFirecrackerHost();
  let kvm: KvmFact = { accel: undefined, reason: 'not probed' };
  if (fc.problems.length === 0) kvm = await kvmFact(options.kernels, layout);
  const decision = decideVmm(options.setting, fc, kvm);
  logger.info('vmm backend', { setting: options.setting, decision });

  const root = process.getuid?.() === 0;
  const host = firecrackerHostInfo(fc, {
    chrootBaseDir: path.join(layout.stateDir, 'jailer'),
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    useJailer: root,
  });
  const ops =
    options.ops ??
    createInProcessVmmOps({
      firecracker: host,
      logger: logger.child({ module: 'vmm-ops' }),
    });
  const qemu = new QemuBackend({ ops, logger: logger.child({ module: 'qemu' }) });
  // What `--vmm firecracker` gets: the real backend where it can run, else a refusal that says why.
  const fcAlone = decideVmm('firecracker', fc, kvm);
  let firecracker: VmmBackend;
  if (fcAlone.use === 'firecracker' && host !== undefined) {
    const cow = await chooseCowStrategy({ dir: layout.vmsDir });
    logger.info('firecracker disks', { strategy: cow.strategy, reason: cow.reason });
    firecracker = new FirecrackerBackend({
      ops,
      host,
      cow,
      logger: logger.child({ module: 'firecracker' }),
    });
  } else {
    firecracker = new RefusingBackend(
      'firecracker',
      fcAlone.use === 'refuse' ? fcAlone.reason : 'firecracker cannot run here',
      WHAT_WORKS,
    );
  }
  const backends: Record<VmmKind, VmmBackend> = { qemu, firecracker };
  const backend = decision.use === 'refuse' ? firecracker : backends[decision.use];
  return { backend, backends, decision, firecracker: fc };
}

/** The KVM verdict for a kernel in the store (one Firecracker can boot, if any). */
export async function kvmFact(kernels: KernelStore, layout: Layout): Promise<KvmFact> {
  const all = await kernels.list().catch(() => []);
  const pick = all.find((k) => k.backends.includes('firecracker')) ?? all[0];
  if (pick === undefined)
    return {
      accel: undefined,
      reason: 'no kernel in the store to probe with: pull or build one, then restart the daemon',
    };
  try {
    const paths = await kernels.paths(pick.name);
    const sha = pick.files.find((f) => f.name === pick.vmlinux)?.sha256;
    const verdict = await probeKvm({
      kernel: paths.vmlinux,
      ...(sha === undefined ? {} : { kernelSha256: sha }),
      cacheFile: layout.probeCacheFile,
    });
    return { accel: verdict.accel, reason: verdict.reason };
  } catch (err) {
    return { accel: undefined, reason: `the KVM probe failed: ${(err as Error).message}` };
  }
}
