/**
 * Builds a kernel from Debian's cloud kernel package: download (cached), unpack with
 * dpkg-deb -x in a scratch dir (never installed on the host), depmod, ELF vmlinux out of the
 * bzImage, and an initramfs that loads the virtio modules this kernel has as modules
 * (HOST-NOTES "Kernel"). Writes vmlinux, initramfs.cpio and config into `stage`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BangerError, removeIfExists, run, type ProgressSink } from '../base/index.js';
import { candidates, fetchDeb, resolveDependency } from './debian-packages.js';
import { extractVmlinux } from './extract-vmlinux.js';
import { buildInitramfs, type InitramfsModule } from './initramfs.js';
import { bootableBackends, parseKernelConfig } from './kernel-config.js';
import type { BuiltKernel } from './manifest.js';
import { parseModulesDep, resolveModuleOrder } from './modules-dep.js';

export const DEBIAN_KERNEL_META = 'linux-image-cloud-amd64';
export const DEBIAN_BUSYBOX = 'busybox-static';
/** Modules the guest needs for its disks, NICs, agent channel and entropy (deps are added). */
export const INITRAMFS_MODULES = [
  'virtio_mmio',
  'virtio_blk',
  'virtio_net',
  'virtio_console',
  'virtio-rng',
] as const;

export async function pullDebianKernel(options: {
  stage: string;
  scratchParent: string;
  debCacheDir: string;
  progress: ProgressSink;
  signal?: AbortSignal | undefined;
}): Promise<BuiltKernel> {
  const { progress, signal } = options;
  progress({ step: 'resolve', message: `resolving ${DEBIAN_KERNEL_META}` });
  const kernelName = await resolveDependency({
    meta: DEBIAN_KERNEL_META,
    prefix: 'linux-image-',
    signal,
  });
  const [kernelPkg, busyboxPkg] = await candidates([kernelName, DEBIAN_BUSYBOX], signal);
  if (kernelPkg === undefined || busyboxPkg === undefined)
    throw new BangerError('internal', 'apt-cache lost a package');

  progress({
    step: 'download',
    message: `downloading ${kernelPkg.name} ${kernelPkg.version} and ${DEBIAN_BUSYBOX}`,
  });
  const kernelDeb = await fetchDeb(kernelPkg, { cacheDir: options.debCacheDir, signal });
  const busyboxDeb = await fetchDeb(busyboxPkg, { cacheDir: options.debCacheDir, signal });

  const scratch = await fs.mkdtemp(path.join(options.scratchParent, 'kernel-unpack-'));
  try {
    progress({ step: 'unpack', message: `unpacking ${path.basename(kernelDeb.path)}` });
    const kroot = path.join(scratch, 'kernel');
    const broot = path.join(scratch, 'busybox');
    await run('dpkg-deb', ['-x', kernelDeb.path, kroot], { ...sig(signal) });
    await run('dpkg-deb', ['-x', busyboxDeb.path, broot], { ...sig(signal) });

    const version = kernelName.slice('linux-image-'.length);
    // Bookworm ships modules in /lib/modules, later releases in /usr/lib/modules.
    const modBase = (await isDir(path.join(kroot, 'lib', 'modules', version)))
      ? kroot
      : path.join(kroot, 'usr');
    const modDir = path.join(modBase, 'lib', 'modules', version);
    if (!(await isDir(modDir))) {
      throw new BangerError(
        'operation_failed',
        `${kernelName} has no modules directory for ${version}`,
      );
    }

    progress({ step: 'modules', message: `indexing modules of ${version}` });
    await run('depmod', ['-b', modBase, version], { ...sig(signal) });
    const index = parseModulesDep(
      await fs.readFile(path.join(modDir, 'modules.dep'), 'utf8'),
      await fs.readFile(path.join(modDir, 'modules.builtin'), 'utf8').catch(() => ''),
    );
    const order = resolveModuleOrder(index, INITRAMFS_MODULES);

    progress({ step: 'extract', message: `extracting the ELF vmlinux from vmlinuz-${version}` });
    const vmlinuz = path.join(kroot, 'boot', `vmlinuz-${version}`);
    await extractVmlinux({ image: vmlinuz, dest: path.join(options.stage, 'vmlinux'), signal });

    progress({
      step: 'initramfs',
      message: `building the initramfs (${order.map((m) => m.name).join(' ')})`,
    });
    const modules: InitramfsModule[] = [];
    for (const m of order) {
      modules.push({ name: m.name, data: await readModule(path.join(modDir, m.path), signal) });
    }
    const busybox = await readFirst([
      path.join(broot, 'bin', 'busybox'),
      path.join(broot, 'usr', 'bin', 'busybox'),
    ]);
    await fs.writeFile(
      path.join(options.stage, 'initramfs.cpio'),
      buildInitramfs({ busybox, modules }),
      {
        mode: 0o644,
        flag: 'wx',
      },
    );

    const configText = await fs
      .readFile(path.join(kroot, 'boot', `config-${version}`), 'utf8')
      .catch(() => undefined);
    const built: BuiltKernel = {
      kernelVersion: version,
      source: { kind: 'debian', package: kernelPkg.name, packageVersion: kernelPkg.version },
      vmlinux: 'vmlinux',
      initramfs: 'initramfs.cpio',
      backends: bootableBackends(
        configText === undefined ? undefined : parseKernelConfig(configText),
      ),
    };
    if (configText !== undefined) {
      await fs.writeFile(path.join(options.stage, 'config'), configText, {
        mode: 0o644,
        flag: 'wx',
      });
      built.config = 'config';
    }
    return built;
  } finally {
    await removeIfExists(scratch);
  }
}

function sig(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

async function isDir(p: string): Promise<boolean> {
  return (await fs.lstat(p).catch(() => undefined))?.isDirectory() ?? false;
}

async function readFirst(candidates: string[]): Promise<Buffer> {
  for (const c of candidates) {
    const st = await fs.lstat(c).catch(() => undefined);
    if (st?.isFile()) return fs.readFile(c);
  }
  throw new BangerError('operation_failed', `none of ${candidates.join(', ')} is a file`);
}

/** busybox insmod loads plain .ko files only: unpack compressed modules here. */
async function readModule(file: string, signal: AbortSignal | undefined): Promise<Buffer> {
  if (file.endsWith('.ko')) return fs.readFile(file);
  if (file.endsWith('.ko.gz')) return gunzipSync(await fs.readFile(file));
  const tool = file.endsWith('.ko.xz') ? 'xz' : file.endsWith('.ko.zst') ? 'zstd' : undefined;
  if (tool === undefined)
    throw new BangerError('operation_failed', `unknown kernel module format: ${file}`);
  return (await run(tool, ['-dc', file], { ...sig(signal) })).stdout;
}
