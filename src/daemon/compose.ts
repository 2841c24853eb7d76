/**
 * The composition root: every service and backend is built and wired here, explicitly
 * (no import side effects). Development and tests running as root get in-process privileged
 * operations; a system install hands them to bangerd-root (helper-ops.ts).
 */
import { BangerError, ensurePrivateDir, sha256Hex, type Logger } from '../base/index.js';
import type { BangerConfig, Layout } from '../config/index.js';
import { AgentClient } from '../guest/index.js';
import { extractDirFromExt4, ImageStore } from '../images/index.js';
import { RpcServer, type RpcCall } from '../ipc/index.js';
import { parseNoParams } from '../protocol/index.js';
import { KernelStore } from '../kernels/index.js';
import { openDatabase, VmRecords, WorkspaceRecords } from '../store/index.js';
import { qemuVersion } from '../vmm/index.js';
import { createAccelChooser } from './accel-chooser.js';
import { toAgentSession } from './agent-session.js';
import { imageHandlers, kernelHandlers } from './artifact-handlers.js';
import { imagePullHandlers } from './image-pull-handlers.js';
import { configSource } from './config-source.js';
import { runDoctor } from './doctor.js';
import { daemonHandlers } from './daemon-handlers.js';
import { helperDoctor } from './helper-doctor.js';
import { createHelperOps } from './helper-ops.js';
import { createNetworking } from './networking.js';
import { PortForwarder } from './port-forwards.js';
import type { AgentConnector, ImageSource, KernelSource } from './ports.js';
import { SshAccess } from './ssh-access.js';
import { vmAccessHandlers, vmAccessHooks } from './vm-access.js';
import { vmHandlers, type Handler } from './vm-handlers.js';
import { VmService } from './vm-service.js';
import { warmHandlers } from './warm-handlers.js';
import { WarmService, type TemplateBooter } from './warm-service.js';
import { chooseVmmBackend } from './vmm-choice.js';
import { fileSyncHooks } from './file-sync.js';
import { workspaceHandlers } from './workspace-handlers.js';
import { WorkspaceService } from './workspace-service.js';

export interface DaemonInputs {
  layout: Layout;
  config: BangerConfig;
  logger: Logger;
}

export interface Daemon {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function composeDaemon({ layout, config, logger }: DaemonInputs): Promise<Daemon> {
  for (const dir of [
    layout.kernelsDir,
    layout.imagesDir,
    layout.vmsDir,
    layout.vmRunDir,
    layout.tmpDir,
  ]) {
    await ensurePrivateDir(dir);
  }
  const db = openDatabase(layout.dbFile);
  const records = new VmRecords(db);
  const kernels = new KernelStore({
    kernelsDir: layout.kernelsDir,
    tmpDir: layout.tmpDir,
    cacheDir: layout.cacheDir,
    logger: logger.child({ module: 'kernels' }),
  });
  const images = new ImageStore({ layout });
  // config `vmm`: qemu, firecracker, or auto (firecracker only where it is installed and KVM works).
  // A system install reaches root only through bangerd-root; user mode acts in-process.
  const privileged =
    layout.mode === 'system'
      ? createHelperOps({
          socketPath: layout.helperSocket,
          logger: logger.child({ module: 'helper' }),
        })
      : undefined;
  const { backend, backends } = await chooseVmmBackend({
    setting: config.vmm,
    layout,
    kernels,
    logger,
    ops: privileged,
  });

  const kernelSource: KernelSource = {
    async bootFiles(name) {
      const paths = await kernels.paths(name);
      return { name: paths.name, vmlinux: paths.vmlinux, initrd: paths.initrd };
    },
  };
  const imageSource: ImageSource = {
    async rootfs(name) {
      const image = await images.get(name);
      return {
        name: image.name,
        path: image.rootfsPath,
        format: 'raw',
        kernel: image.manifest.kernel,
      };
    },
    async copyHome(name, dest) {
      return extractDirFromExt4(await images.rootfsPath(name), '/root', dest);
    },
  };
  const agents: AgentConnector = {
    async connect(stream, options) {
      const client = await AgentClient.connect(stream, {
        ...options,
        logger: logger.child({ module: 'agent' }),
      });
      return toAgentSession(client);
    },
  };

  const currentConfig = configSource(layout.configFile, config, logger);
  const catalog = { config: currentConfig, tmpDir: layout.tmpDir };
  const forwarder = new PortForwarder({ logger: logger.child({ module: 'forward' }) });
  const ssh = new SshAccess({ layout, logger: logger.child({ module: 'ssh' }) });
  const networking = createNetworking({
    layout,
    config: currentConfig,
    db,
    logger,
    ...(privileged ? { ops: privileged } : {}),
    autoForward: (spec) => forwarder.autoForward(spec),
  });
  const fileSync = fileSyncHooks({
    config: currentConfig,
    logger: logger.child({ module: 'file-sync' }),
  });
  const chooseAccel = createAccelChooser(layout.probeCacheFile, logger);
  let vmmVersion: Promise<string | undefined> | undefined;
  // Warm templates and snapshots; `vms` boots the templates (its TemplateBooter).
  const warm: WarmService = new WarmService({
    layout,
    config: currentConfig,
    backend,
    chooseAccel,
    logger: logger.child({ module: 'warm' }),
    vmmVersion: () =>
      (vmmVersion ??=
        backend.kind === 'qemu'
          ? qemuVersion().catch(() => undefined)
          : Promise.resolve(undefined)),
    artifacts: {
      async image(name) {
        const image = await images.get(name);
        return {
          name: image.name,
          sha256: image.manifest.sha256,
          rootfs: image.rootfsPath,
          kernel: image.manifest.kernel,
        };
      },
      async kernel(name) {
        const paths = await kernels.paths(name);
        const manifest = await kernels.get(name);
        const bootFiles = { name: paths.name, vmlinux: paths.vmlinux, initrd: paths.initrd };
        return {
          name: paths.name,
          files: paths.initrd === undefined ? [paths.vmlinux] : [paths.vmlinux, paths.initrd],
          // One digest of the sha256 of every file the kernel's manifest lists.
          sha256: sha256Hex(JSON.stringify(manifest.files.map((f) => [f.name, f.sha256]))),
          bootFiles,
        };
      },
    },
    booter: (): TemplateBooter => vms,
  });
  const vms: VmService = new VmService({
    layout,
    config: currentConfig,
    warm,
    chooseAccel,
    records,
    kernels: kernelSource,
    images: imageSource,
    backend,
    backends,
    agents,
    logger: logger.child({ module: 'vm' }),
    hooks: [fileSync, networking.network, ...vmAccessHooks({ forwarder, ssh })],
    network: networking.network,
  });

  const workspaces = new WorkspaceService({
    layout,
    vms,
    records: new WorkspaceRecords(db),
    logger: logger.child({ module: 'workspace' }),
  });

  let server: RpcServer | undefined;
  let stopping: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => (stopping = resolve));
  const vmBase = vmHandlers(vms, workspaces);
  const imageBase = imageHandlers({ kernels, images, records, catalog });
  const handlers: Record<string, Handler> = {
    ...vmBase,
    ...workspaceHandlers(workspaces),
    // After vmBase: its vm.show gives way to one that adds the VM's forwards.
    ...vmAccessHandlers({ vms, forwarder, ssh, show: vmBase['vm.show'] }),
    ...kernelHandlers({ kernels, images, records, catalog }),
    ...imageBase,
    ...imagePullHandlers({ kernels, images, records, ...catalog }),
    ...warmHandlers({
      vms,
      warm,
      config: currentConfig,
      // After imageBase: its image.delete gives way to one that minds snapshots and templates.
      imageDelete: imageBase['image.delete'],
    }),
    ...daemonHandlers({ layout, requestStop: () => stopping?.() }),
    doctor: async (call) => {
      parseNoParams(call.params);
      return [
        ...(await runDoctor({ layout, config: currentConfig, kernels, images })),
        ...(await networking.doctor()),
        ...(privileged ? await helperDoctor(privileged) : []),
      ];
    },
  };
  const dispatch = async (call: RpcCall): Promise<unknown> => {
    const handler = handlers[call.method];
    if (!handler)
      throw new BangerError('bad_request', `unknown method ${JSON.stringify(call.method)}`);
    return handler(call);
  };

  return {
    async start() {
      await images
        .sweepScratch()
        .catch((err: unknown) => logger.warn('scratch sweep failed', { error: String(err) }));
      await warm
        .sweep()
        .catch((err: unknown) => logger.warn('warm sweep failed', { error: String(err) }));
      await networking.start();
      await vms.reconcile();
      await networking.afterReconcile();
      server = new RpcServer({ socketPath: layout.daemonSocket, handler: dispatch, logger });
      await server.listen();
      void stopped.then(() => process.kill(process.pid, 'SIGTERM'));
    },
    async stop() {
      await server?.close();
      vms.detachAll();
      await forwarder.stopEverything();
      await networking.stop();
      db.close();
    },
  };
}
