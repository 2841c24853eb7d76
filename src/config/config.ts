/**
 * config.toml: the user's settings, validated when loaded. Unknown keys and wrong types are
 * refused with the key's full name and the rule, so a typo never silently does nothing.
 */
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { BangerError, LOG_LEVELS, type LogLevel } from '../base/index.js';
import {
  DEFAULT_NETWORK_CONFIG,
  NETWORK_CONFIG_KEYS,
  parseNetworkConfig,
  type NetworkConfig,
} from './network-config.js';

export interface VmDefaults {
  vcpu: number;
  memoryMib: number;
  /** Size of each VM's work disk (mounted at /root in the guest), bytes. */
  diskSizeBytes: number;
}

export interface BangerConfig {
  logLevel: LogLevel;
  defaultImage: string;
  vmm: 'auto' | 'qemu' | 'firecracker';
  vmDefaults: VmDefaults;
  /** How long a booting guest may take to answer the agent handshake. */
  bootTimeoutSeconds: number;
  network: NetworkConfig;
}

export const VCPU_RANGE = { min: 1, max: 32 } as const;
export const MEMORY_RANGE_MIB = { min: 64, max: 262144 } as const;
export const DISK_SIZE_RANGE = { min: 64 * 1024 * 1024, max: 2 * 1024 ** 4 } as const;

export const DEFAULT_CONFIG: BangerConfig = {
  logLevel: 'info',
  defaultImage: 'debian-bookworm',
  vmm: 'auto',
  vmDefaults: { vcpu: 1, memoryMib: 512, diskSizeBytes: 4 * 1024 ** 3 },
  bootTimeoutSeconds: 60,
  network: DEFAULT_NETWORK_CONFIG,
};

/** Documentation of every key, used by `banger config` help and the docs. */
export const CONFIG_KEYS: readonly { key: string; type: string; default: string; doc: string }[] = [
  {
    key: 'log_level',
    type: 'string',
    default: '"info"',
    doc: 'daemon log level: debug, info, warn, error',
  },
  {
    key: 'default_image',
    type: 'string',
    default: '"debian-bookworm"',
    doc: 'image used when --image is not given',
  },
  { key: 'vmm', type: 'string', default: '"auto"', doc: 'VMM backend: auto, qemu or firecracker' },
  {
    key: 'boot_timeout_seconds',
    type: 'integer',
    default: '60',
    doc: 'how long a guest may take to become ready',
  },
  { key: 'vm_defaults.vcpu', type: 'integer', default: '1', doc: 'vCPUs of a new VM (1-32)' },
  {
    key: 'vm_defaults.memory',
    type: 'integer (MiB)',
    default: '512',
    doc: 'memory of a new VM in MiB (64-262144)',
  },
  {
    key: 'vm_defaults.disk_size',
    type: 'string',
    default: '"4G"',
    doc: 'work disk size, e.g. "4G", "512M"',
  },
  ...NETWORK_CONFIG_KEYS,
];

/** Loads and validates a config file; a missing file means all defaults. */
export function loadConfig(file: string): BangerConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return structuredClone(DEFAULT_CONFIG);
    throw new BangerError(
      'precondition_failed',
      `cannot read config file ${file}: ${(err as Error).message}`,
    );
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file = 'config.toml'): BangerConfig {
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text);
  } catch (err) {
    throw new BangerError(
      'bad_request',
      `config file ${file} does not parse as TOML: ${(err as Error).message}`,
      {
        hint: `fix ${file}; see docs/config.md for every key`,
      },
    );
  }
  const config = structuredClone(DEFAULT_CONFIG);
  const bad = (key: string, rule: string): BangerError =>
    new BangerError('bad_request', `config ${file}: ${key} ${rule}`, {
      hint: 'see docs/config.md for every key',
    });

  for (const [key, value] of Object.entries(raw)) {
    switch (key) {
      case 'log_level':
        if (typeof value !== 'string' || !(LOG_LEVELS as readonly string[]).includes(value)) {
          throw bad(key, `must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(value)})`);
        }
        config.logLevel = value as LogLevel;
        break;
      case 'default_image':
        if (typeof value !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,63}$/.test(value)) {
          throw bad(
            key,
            `must be an image name matching [a-z0-9][a-z0-9._-]{0,63} (got ${JSON.stringify(value)})`,
          );
        }
        config.defaultImage = value;
        break;
      case 'vmm':
        if (value !== 'auto' && value !== 'qemu' && value !== 'firecracker') {
          throw bad(key, `must be "auto", "qemu" or "firecracker" (got ${JSON.stringify(value)})`);
        }
        config.vmm = value;
        break;
      case 'boot_timeout_seconds':
        config.bootTimeoutSeconds = intInRange(value, 1, 3600, () =>
          bad(key, 'must be an integer from 1 to 3600'),
        );
        break;
      case 'vm_defaults':
        if (typeof value !== 'object' || value === null || Array.isArray(value))
          throw bad(key, 'must be a table');
        for (const [sub, subValue] of Object.entries(value as Record<string, unknown>)) {
          const full = `vm_defaults.${sub}`;
          switch (sub) {
            case 'vcpu':
              config.vmDefaults.vcpu = intInRange(subValue, VCPU_RANGE.min, VCPU_RANGE.max, () =>
                bad(full, `must be an integer from ${VCPU_RANGE.min} to ${VCPU_RANGE.max}`),
              );
              break;
            case 'memory':
              config.vmDefaults.memoryMib = intInRange(
                subValue,
                MEMORY_RANGE_MIB.min,
                MEMORY_RANGE_MIB.max,
                () =>
                  bad(
                    full,
                    `must be an integer number of MiB from ${MEMORY_RANGE_MIB.min} to ${MEMORY_RANGE_MIB.max}`,
                  ),
              );
              break;
            case 'disk_size':
              if (typeof subValue !== 'string')
                throw bad(full, 'must be a size string such as "4G"');
              config.vmDefaults.diskSizeBytes = parseSize(subValue, full);
              break;
            default:
              throw bad(full, 'is not a known key');
          }
        }
        break;
      case 'network':
        config.network = parseNetworkConfig(value, bad);
        break;
      default:
        throw bad(key, 'is not a known key');
    }
  }
  return config;
}

function intInRange(value: unknown, min: number, max: number, fail: () => BangerError): number {
  if (typeof value === 'bigint') value = Number(value);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw fail();
  return value;
}

/** Parses "4G", "512M", "1024K", "1T" or a byte count; binary units. */
export function parseSize(text: string, what = 'size'): number {
  const match = /^(\d+)([KMGT]?)(i?B)?$/i.exec(text.trim());
  const units: Record<string, number> = {
    '': 1,
    K: 1024,
    M: 1024 ** 2,
    G: 1024 ** 3,
    T: 1024 ** 4,
  };
  const unit = match?.[2]?.toUpperCase() ?? '';
  const factor = units[unit];
  if (!match?.[1] || factor === undefined) {
    throw new BangerError(
      'bad_request',
      `${what} ${JSON.stringify(text)} is not a size (use e.g. 512M, 4G)`,
    );
  }
  const bytes = Number(match[1]) * factor;
  if (bytes < DISK_SIZE_RANGE.min || bytes > DISK_SIZE_RANGE.max) {
    throw new BangerError(
      'bad_request',
      `${what} ${JSON.stringify(text)} must be between 64M and 2T`,
    );
  }
  return bytes;
}

/** "4294967296" -> "4G" for display. */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of [
    ['T', 1024 ** 4],
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${String(bytes / factor)}${unit}`;
  }
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)}G`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)}M`;
  return `${String(bytes)}B`;
}
