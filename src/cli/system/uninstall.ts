/**
 * `banger system uninstall [--purge]`: stops and removes the services, the build, `banger` on
 * PATH and the install record. The owner's state (images, kernels, VM disks) stays unless
 * --purge, which first deletes every VM through the daemon (so their VMMs, taps and network
 * go the ordinary way) and then removes every banger directory. Without --purge a running
 * VM stops the uninstall: its VMM would be left without a daemon.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError, run } from '../../base/index.js';
import { entryPoints, installPaths, resolveLayout, UNIT_NAMES } from '../../config/index.js';
import { call } from '../../ipc/index.js';
import { readInstall, requireRoot, checkRoot } from './install.js';
import { serviceManager, stopServices } from './services.js';

interface VmRow {
  name: string;
  state: string;
}

export async function systemUninstall(options: {
  root: string;
  purge: boolean;
  log: (line: string) => void;
}): Promise<void> {
  requireRoot('banger system uninstall');
  const root = checkRoot(options.root);
  const record = await readInstall(root);
  if (record === undefined)
    throw new BangerError('not_found', `banger is not installed under ${root}`);
  const paths = installPaths(root);
  const layout = resolveLayout({ mode: 'system', systemRoot: root, env: {} });

  const vms = await call<VmRow[]>(layout.daemonSocket, { method: 'vm.list', params: {} }).catch(
    () => undefined,
  );
  const running = (vms ?? []).filter((vm) => vm.state !== 'stopped' && vm.state !== 'error');
  if (!options.purge && running.length > 0) {
    throw new BangerError(
      'conflict',
      `VMs are running: ${running.map((vm) => vm.name).join(', ')}`,
      {
        hint: 'stop them first (banger vm stop NAME), or remove everything: banger system uninstall --purge',
      },
    );
  }
  if (
    options.purge &&
    vms === undefined &&
    (await fs.stat(layout.stateDir).catch(() => undefined))
  ) {
    options.log('warning: the daemon does not answer; VMs still running would be left behind');
  }
  if (options.purge) {
    for (const vm of vms ?? []) {
      await call(layout.daemonSocket, { method: 'vm.delete', params: { ref: vm.name } });
      options.log(`deleted VM ${vm.name}`);
    }
  }

  await stopServices(record);
  options.log('stopped bangerd and bangerd-root');
  for (const unit of [UNIT_NAMES.daemon, UNIT_NAMES.helper])
    await fs.rm(path.join(paths.unitDir, unit), { force: true });
  if (serviceManager(root) === 'systemd') await run('systemctl', ['daemon-reload']);

  const link = await fs.readlink(paths.binLink).catch(() => undefined);
  if (link === entryPoints(paths.libDir).cli) await fs.rm(paths.binLink, { force: true });
  await fs.rm(paths.libDir, { recursive: true, force: true });
  await fs.rm(paths.installFile, { force: true });
  options.log(`removed ${paths.libDir}, ${paths.binLink} and ${paths.installFile}`);

  if (!options.purge) {
    options.log(
      `kept the owner's state in ${layout.stateDir} and ${layout.cacheDir} (--purge removes them)`,
    );
    return;
  }
  for (const dir of [
    layout.stateDir,
    layout.cacheDir,
    layout.runtimeDir,
    path.dirname(layout.helperSocket),
    paths.logDir,
    paths.supervisorDir,
    layout.configDir,
  ]) {
    await fs.rm(dir, { recursive: true, force: true });
    options.log(`removed ${dir}`);
  }
}
