/**
 * Reads a kernel's .config and decides which VMM backends can boot it. QEMU microvm boots
 * anything with an initramfs that loads the virtio modules; Firecracker has no initramfs
 * story in banger and discovers virtio-mmio devices only through ACPI (>= 1.8) or the
 * kernel command line, so it needs virtio built in and one of those discovery paths.
 */
import type { VmmKind } from '../protocol/index.js';

export type KernelConfig = Map<string, string>;

/** Parses `CONFIG_X=value` lines; "# CONFIG_X is not set" becomes "n". */
export function parseKernelConfig(text: string): KernelConfig {
  const out: KernelConfig = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const set = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (set?.[1] !== undefined && set[2] !== undefined) {
      out.set(set[1], set[2]);
      continue;
    }
    const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (unset?.[1] !== undefined) out.set(unset[1], 'n');
  }
  return out;
}

/**
 * Config symbols that must be `y` for Firecracker: banger gives it no initramfs, so the
 * kernel itself must reach its virtio-mmio root disk (ext4) and the agent's vsock.
 */
const FIRECRACKER_BUILTINS = [
  'CONFIG_VIRTIO',
  'CONFIG_VIRTIO_MMIO',
  'CONFIG_VIRTIO_BLK',
  'CONFIG_EXT4_FS',
  'CONFIG_VSOCKETS',
  'CONFIG_VIRTIO_VSOCKETS',
] as const;

/**
 * Why Firecracker cannot boot a kernel with this config (empty: it can). Said before a
 * launch is tried, because the alternative is a guest panic with no console to read.
 */
export function firecrackerKernelProblems(config: KernelConfig | undefined): string[] {
  if (config === undefined) return ['its build config is unknown (import it with its config file)'];
  const problems = FIRECRACKER_BUILTINS.filter((symbol) => config.get(symbol) !== 'y').map(
    (symbol) =>
      `${symbol} is ${config.get(symbol) === 'm' ? 'a module' : 'not set'} (must be built in: y)`,
  );
  if (
    config.get('CONFIG_ACPI') !== 'y' &&
    config.get('CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES') !== 'y'
  ) {
    problems.push(
      'neither CONFIG_ACPI (device discovery, Firecracker >= 1.8) nor CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES is set',
    );
  }
  return problems;
}

/**
 * Backends that can boot a kernel with this config. Without a config we only promise QEMU.
 */
export function bootableBackends(config: KernelConfig | undefined): VmmKind[] {
  return config !== undefined && firecrackerKernelProblems(config).length === 0
    ? ['qemu', 'firecracker']
    : ['qemu'];
}

/** "# Linux/x86 6.1.0 Kernel Configuration" -> "6.1.0", as a fallback version source. */
export function configKernelVersion(text: string): string | undefined {
  return /^# Linux\/\S+ (\S+) Kernel Configuration$/m.exec(text)?.[1];
}
