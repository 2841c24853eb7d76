/**
 * kernels: the kernel store (Debian cloud kernel pull, Firecracker-compatible build from
 * Debian's kernel source, import from a directory, list, get, remove, boot paths), plus the
 * pieces other modules reuse: the deterministic cpio writer, the ELF checks, and which
 * backends a kernel config can boot.
 * Must never install anything on the host (packages are unpacked in scratch dirs, never
 * dpkg -i), never leave a half-built kernel visible, and never trust a manifest it reads back.
 */
export {
  KernelStore,
  type KernelStoreOptions,
  type KernelOpOptions,
  type KernelBootPaths,
} from './kernel-store.js';
export {
  KERNEL_NAME_PATTERN,
  KERNEL_NAME_RULE,
  isKernelName,
  assertKernelName,
  parseManifest,
  type KernelManifest,
  type KernelSourceInfo,
  type KernelFileEntry,
} from './manifest.js';
export { writeCpio, type CpioEntry, type CpioOptions } from './cpio-writer.js';
export { checkElfFile } from './extract-vmlinux.js';
export { checkElfVmlinux } from './elf-check.js';
export { INITRAMFS_FAIL_PREFIX, DEFAULT_GUEST_INIT } from './initramfs-init.js';
export { INITRAMFS_MODULES } from './debian-kernel.js';
export {
  missingBuildDependencies,
  BUILD_DEPENDENCIES,
  KERNEL_SOURCE_PACKAGE,
  FIRECRACKER_CONFIG_NAME,
} from './build-kernel.js';
export {
  bootableBackends,
  firecrackerKernelProblems,
  parseKernelConfig,
  type KernelConfig,
} from './kernel-config.js';
