/**
 * Imports a kernel from a directory the user names: `vmlinux` (ELF) or `vmlinuz`/`bzImage`
 * (the ELF is extracted), optionally an initramfs and the kernel's build config. Every
 * refusal names the path and the rule.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError, type ProgressSink } from '../base/index.js';
import { extractVmlinux } from './extract-vmlinux.js';
import { bootableBackends, configKernelVersion, parseKernelConfig } from './kernel-config.js';
import { detectKernelVersion } from './kernel-version.js';
import type { BuiltKernel } from './manifest.js';

export const IMPORT_KERNEL_NAMES = ['vmlinux', 'vmlinuz', 'bzImage'] as const;
export const IMPORT_INITRD_NAMES = ['initrd', 'initramfs', 'initramfs.cpio', 'initrd.img'] as const;
export const IMPORT_CONFIG_NAMES = ['config', '.config'] as const;

/** What an initramfs may start with: a newc/crc cpio or a compressed stream the kernel unpacks. */
const INITRD_MAGICS: readonly Buffer[] = [
  Buffer.from('070701', 'ascii'),
  Buffer.from('070702', 'ascii'),
  Buffer.from([0x1f, 0x8b]),
  Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]),
  Buffer.from([0x28, 0xb5, 0x2f, 0xfd]),
  Buffer.from([0x02, 0x21, 0x4c, 0x18]),
  Buffer.from('BZh', 'ascii'),
  Buffer.from([0x5d, 0x00, 0x00]),
];

export async function importKernelDir(options: {
  from: string;
  stage: string;
  progress: ProgressSink;
  signal?: AbortSignal | undefined;
}): Promise<BuiltKernel> {
  const from = options.from;
  if (typeof from !== 'string' || !path.isAbsolute(from) || /[\0\n]/.test(from)) {
    throw new BangerError(
      'bad_request',
      `import directory ${JSON.stringify(from)} must be an absolute path`,
    );
  }
  const st = await fs.stat(from).catch(() => undefined);
  if (st === undefined)
    throw new BangerError('not_found', `import directory ${from} does not exist`);
  if (!st.isDirectory())
    throw new BangerError('bad_request', `import source ${from} must be a directory`);

  const kernelFile = await firstFile(from, IMPORT_KERNEL_NAMES);
  if (kernelFile === undefined) {
    throw new BangerError(
      'bad_request',
      `${from} holds no kernel: expected one of ${IMPORT_KERNEL_NAMES.join(', ')} (a regular file)`,
    );
  }
  options.progress({ step: 'extract', message: `reading the kernel ${kernelFile}` });
  const vmlinux = path.join(options.stage, 'vmlinux');
  await extractVmlinux({ image: kernelFile, dest: vmlinux, signal: options.signal });

  const built: BuiltKernel = {
    kernelVersion: 'unknown',
    source: { kind: 'import', from: path.resolve(from) },
    vmlinux: 'vmlinux',
    backends: ['qemu'],
  };

  const initrd = await firstFile(from, IMPORT_INITRD_NAMES);
  if (initrd !== undefined) {
    options.progress({ step: 'initramfs', message: `copying the initramfs ${initrd}` });
    const head = Buffer.alloc(8);
    const handle = await fs.open(initrd, 'r');
    try {
      await handle.read(head, 0, head.length, 0);
    } finally {
      await handle.close();
    }
    if (!INITRD_MAGICS.some((m) => head.subarray(0, m.length).equals(m))) {
      throw new BangerError(
        'bad_request',
        `${initrd} is not an initramfs: it must be a newc cpio archive or a gzip/xz/zstd/lz4/bzip2/lzma-compressed one`,
      );
    }
    await fs.copyFile(initrd, path.join(options.stage, 'initrd'));
    await fs.chmod(path.join(options.stage, 'initrd'), 0o644);
    built.initramfs = 'initrd';
  }

  const configFile = await firstFile(from, IMPORT_CONFIG_NAMES);
  let configText: string | undefined;
  if (configFile !== undefined) {
    configText = await fs.readFile(configFile, 'utf8');
    if (!/^CONFIG_[A-Za-z0-9_]+=/m.test(configText)) {
      throw new BangerError(
        'bad_request',
        `${configFile} is not a kernel config: it has no CONFIG_X=value line`,
      );
    }
    await fs.writeFile(path.join(options.stage, 'config'), configText, { mode: 0o644, flag: 'wx' });
    built.config = 'config';
    built.backends = bootableBackends(parseKernelConfig(configText));
  }

  built.kernelVersion =
    detectKernelVersion(await fs.readFile(vmlinux)) ??
    (configText === undefined ? undefined : configKernelVersion(configText)) ??
    'unknown';
  return built;
}

/** The first of `names` in `dir` that is a regular file (symlinks followed: the user's own dir). */
async function firstFile(dir: string, names: readonly string[]): Promise<string | undefined> {
  for (const name of names) {
    const full = path.join(dir, name);
    const st = await fs.stat(full).catch(() => undefined);
    if (st?.isFile()) return full;
  }
  return undefined;
}
