/**
 * Booting one VM: build its launch spec from the record, start the VMM, and wait for the
 * guest agent's handshake. Either the VM comes back live or nothing it started is left.
 */
import { BangerError, type Logger, type ProgressSink } from '../base/index.js';
import type { Layout } from '../config/index.js';
import type { DiskSpec, MemoryFileSpec, VmLaunchSpec } from '../protocol/index.js';
import type { VmRecord } from '../store/index.js';
import type { VmmBackend, VmmInstance } from '../vmm/index.js';
import type {
  AccelChooser,
  AgentConnector,
  AgentSession,
  BootNetwork,
  KernelSource,
} from './ports.js';
import { exists } from '../base/index.js';
import { launchShape } from './saved-manifest.js';
import {
  makeVmDirs,
  removeRuntimeDir,
  tailFile,
  writeHandles,
  writeLaunchShape,
  type VmPaths,
} from './vm-files.js';

export interface LiveVm {
  instance: VmmInstance;
  agent: AgentSession;
}

export interface BootDeps {
  layout: Layout;
  backend: VmmBackend;
  kernels: KernelSource;
  agents: AgentConnector;
  chooseAccel: AccelChooser;
  logger: Logger;
  bootTimeoutMs: number;
  /** Kernel arguments other parts of the daemon add (VmLifecycleHooks.kernelArgs). */
  extraKernelArgs?: ((vm: VmRecord) => Promise<string[]>) | undefined;
  /** Attaches the boot to banger's network (tap, namespace, address arguments). */
  network?: ((vm: VmRecord) => Promise<BootNetwork>) | undefined;
}

/** Kernel arguments banger adds for its own guest init (the backend adds console/timing ones). */
export function guestKernelArgs(vm: VmRecord, hasWorkDisk: boolean): string[] {
  const args = [
    'root=/dev/vda',
    'rw',
    'rootfstype=ext4',
    'init=/sbin/banger-init',
    `banger.hostname=${vm.name}`,
  ];
  if (hasWorkDisk) args.push('banger.workdisk=/dev/vdb');
  return args;
}

/** A VM's launch spec and how it attaches to the network (the tap is made here). */
export interface PreparedLaunch {
  spec: VmLaunchSpec;
  net: BootNetwork | undefined;
}

/**
 * Builds the launch spec for a boot (or a restore, which needs the same devices): kernel,
 * disks, banger's kernel arguments, the network (this makes the VM's tap), sockets and logs.
 */
export async function prepareLaunch(
  vm: VmRecord,
  paths: VmPaths,
  deps: BootDeps,
  options: { memoryFile?: MemoryFileSpec | undefined } = {},
): Promise<PreparedLaunch> {
  const kernel = await deps.kernels.bootFiles(vm.kernel);
  const hasWorkDisk = await exists(paths.workDisk);
  const disks: DiskSpec[] = [
    // QEMU roots are qcow2 overlays; Firecracker's are raw copies (createRootDisk made it).
    {
      id: 'root',
      path: paths.rootOverlay,
      format: deps.backend.kind === 'firecracker' ? 'raw' : 'qcow2',
      readOnly: false,
    },
  ];
  if (hasWorkDisk) disks.push({ id: 'work', path: paths.workDisk, format: 'raw', readOnly: false });

  const net = await deps.network?.(vm);
  const spec: VmLaunchSpec = {
    vmId: vm.id,
    vcpus: vm.vcpus,
    memoryMib: vm.memoryMib,
    accel: await deps.chooseAccel(kernel),
    boot: {
      kernelPath: kernel.vmlinux,
      initrdPath: kernel.initrd,
      args: [
        ...guestKernelArgs(vm, hasWorkDisk),
        ...(net?.kernelArgs ?? []),
        ...((await deps.extraKernelArgs?.(vm)) ?? []),
      ],
    },
    disks,
    nics: net?.nics ?? [],
    netns: net?.netns,
    runDir: paths.runDir,
    consoleLogPath: paths.consoleLog,
    vmmLogPath: paths.vmmLog,
  };
  if (options.memoryFile !== undefined) spec.memoryFile = options.memoryFile;
  return { spec, net };
}

export async function bootVm(
  vm: VmRecord,
  paths: VmPaths,
  deps: BootDeps,
  options: {
    progress: ProgressSink;
    signal?: AbortSignal | undefined;
    /** Guest RAM in this file (a warm template's boot). */
    memoryFile?: MemoryFileSpec | undefined;
  },
): Promise<LiveVm> {
  const t0 = performance.now();
  const { spec } = await prepareLaunch(vm, paths, deps, { memoryFile: options.memoryFile });

  await makeVmDirs(paths);
  options.progress({ step: 'boot', message: `booting ${vm.name}` });
  const t1 = performance.now();
  const instance = await deps.backend.launch(
    spec,
    options.signal ? { signal: options.signal } : {},
  );
  try {
    const t2 = performance.now();
    await writeHandles(paths, instance.handles);
    await writeLaunchShape(paths, launchShape(spec));
    options.progress({ step: 'agent', message: `waiting for ${vm.name} to become ready` });
    const agent = await waitForAgent(vm, paths, instance, deps, options.signal);
    // Where a start's time goes, for `npm run bench` investigations (daemon log, info level).
    deps.logger.info('vm booted', {
      vm: vm.name,
      prepareMs: Math.round(t1 - t0),
      launchMs: Math.round(t2 - t1),
      guestReadyMs: Math.round(performance.now() - t2),
    });
    return { instance, agent };
  } catch (err) {
    await instance.kill().catch((killError: unknown) => {
      deps.logger.warn('kill after failed boot failed', { vm: vm.name, error: String(killError) });
    });
    await removeRuntimeDir(paths);
    throw err;
  }
}

export async function waitForAgent(
  vm: VmRecord,
  paths: VmPaths,
  instance: VmmInstance,
  deps: BootDeps,
  signal: AbortSignal | undefined,
): Promise<AgentSession> {
  const abort = new AbortController();
  const onOuterAbort = (): void => abort.abort();
  signal?.addEventListener('abort', onOuterAbort, { once: true });
  const vmmDied = instance.exited.then(async (exit) => {
    const tail = await tailFile(paths.consoleLog, 15);
    const how =
      exit.kind === 'exited'
        ? `exit code ${String(exit.code)}, signal ${String(exit.signal)}`
        : 'unknown';
    throw new BangerError(
      'operation_failed',
      `the VMM of ${vm.name} exited while the guest was booting (${how})`,
      {
        hint: `guest console log: ${paths.consoleLog}; VMM log: ${paths.vmmLog}${tail ? `\nlast console lines:\n${tail}` : ''}`,
      },
    );
  });
  try {
    const connect = async (): Promise<AgentSession> => {
      const stream = await instance.connectAgent({ signal: abort.signal });
      return deps.agents.connect(stream, { timeoutMs: deps.bootTimeoutMs, signal: abort.signal });
    };
    return await Promise.race([connect(), vmmDied]).catch(async (err: unknown) => {
      if (err instanceof BangerError && err.code === 'timeout') {
        const tail = await tailFile(paths.consoleLog, 15);
        throw new BangerError(
          'timeout',
          `VM ${vm.name} did not become ready within ${String(Math.round(deps.bootTimeoutMs / 1000))} s`,
          {
            hint: `read the guest console log: ${paths.consoleLog}${tail ? `\nlast console lines:\n${tail}` : ''}`,
            cause: err,
          },
        );
      }
      throw err;
    });
  } finally {
    abort.abort();
    signal?.removeEventListener('abort', onOuterAbort);
    vmmDied.catch(() => undefined);
  }
}
