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
import { FILE_SYNC_CONFIG_KEYS, parseFileSync, type FileSyncEntry } from './file-sync-config.js';
import {
  DEFAULT_WARM_CONFIG,
  parseWarmConfig,
  WARM_CONFIG_KEYS,
  type WarmConfig,
} from './warm-config.js';

export interface VmDefaults {
  vcpu: number;
  memoryMib: number;
  /** Size of each VM's work disk (mounted at /root in the guest), bytes. */
  diskSizeBytes: number;
}

/** Where `image pull NAME` and `kernel pull NAME` look up ready-made bundles. */
export interface CatalogConfig {
  /** URL of the image catalog's JSON index ('' = no catalog). */
  imagesUrl: string;
  /** URL of the kernel catalog's JSON index ('' = no catalog). */
  kernelsUrl: string;
}

/** Pulling from OCI registries: transport and the limits a hostile image runs into. */
export interface OciConfig {
  /** host[:port] of registries reached over plain HTTP (loopback registries always are). */
  insecureRegistries: string[];
  /** Entries over all layers of one image. */
  maxEntries: number;
  /** Bytes of file content over all layers of one image. */
  maxUnpackedBytes: number;
  /** Device nodes an image may carry: "safe" (null, zero, tty...), "none", or "all". */
  deviceNodes: 'safe' | 'none' | 'all';
}

export interface BangerConfig {
  logLevel: LogLevel;
  defaultImage: string;
  vmm: 'auto' | 'qemu' | 'firecracker';
  vmDefaults: VmDefaults;
  /** How long a booting guest may take to answer the agent handshake. */
  bootTimeoutSeconds: number;
  network: NetworkConfig;
  catalog: CatalogConfig;
  oci: OciConfig;
  /** `[[file_sync]]`: host files copied into each VM when it starts. */
  fileSync: FileSyncEntry[];
  /** `[warm]`: warm starts from saved guests. */
  warm: WarmConfig;
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
  fileSync: [],
  warm: DEFAULT_WARM_CONFIG,
  catalog: { imagesUrl: '', kernelsUrl: '' },
  oci: {
    insecureRegistries: [],
    maxEntries: 65_536,
    maxUnpackedBytes: 8 * 1024 ** 3,
    deviceNodes: 'safe',
  },
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
  {
    key: 'catalog.images_url',
    type: 'string (URL)',
    default: '""',
    doc: 'JSON index of ready-made image bundles for `image pull NAME` ("" = none)',
  },
  {
    key: 'catalog.kernels_url',
    type: 'string (URL)',
    default: '""',
    doc: 'JSON index of kernel bundles for `kernel pull NAME` ("" = none)',
  },
  {
    key: 'oci.insecure_registries',
    type: 'list of strings',
    default: '[]',
    doc: 'registries (host:port) reached over plain HTTP; loopback registries always are',
  },
  {
    key: 'oci.max_entries',
    type: 'integer',
    default: '65536',
    doc: 'most tar entries over all layers of one pulled image (100-10000000)',
  },
  {
    key: 'oci.max_unpacked_size',
    type: 'string',
    default: '"8G"',
    doc: 'most bytes of file content in one pulled image, e.g. "8G"',
  },
  {
    key: 'oci.device_nodes',
    type: 'string',
    default: '"safe"',
    doc: 'device nodes a pulled image may carry: safe (null, zero, tty...), none, all',
  },
  ...NETWORK_CONFIG_KEYS,
  ...FILE_SYNC_CONFIG_KEYS,
  ...WARM_CONFIG_KEYS,
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
      case 'catalog':
        parseCatalog(table(value, key, bad), config.catalog, bad);
        break;
      case 'oci':
        parseOci(table(value, key, bad), config.oci, bad);
        break;
      case 'network':
        config.network = parseNetworkConfig(value, bad);
        break;
      case 'file_sync':
        config.fileSync = parseFileSync(value, bad);
        break;
      case 'warm':
        config.warm = parseWarmConfig(value, bad);
        break;
      default:
        throw bad(key, 'is not a known key');
    }
  }
  return config;
}

type Bad = (key: string, rule: string) => BangerError;

function table(value: unknown, key: string, bad: Bad): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad(key, 'must be a table');
  return value as Record<string, unknown>;
}

function parseCatalog(raw: Record<string, unknown>, out: CatalogConfig, bad: Bad): void {
  for (const [sub, value] of Object.entries(raw)) {
    const full = `catalog.${sub}`;
    if (sub !== 'images_url' && sub !== 'kernels_url') throw bad(full, 'is not a known key');
    if (typeof value !== 'string' || (value !== '' && !isHttpUrl(value))) {
      throw bad(full, `must be an http(s) URL or "" (got ${JSON.stringify(value)})`);
    }
    if (sub === 'images_url') out.imagesUrl = value;
    else out.kernelsUrl = value;
  }
}

function parseOci(raw: Record<string, unknown>, out: OciConfig, bad: Bad): void {
  for (const [sub, value] of Object.entries(raw)) {
    const full = `oci.${sub}`;
    switch (sub) {
      case 'insecure_registries':
        if (
          !Array.isArray(value) ||
          value.length > 64 ||
          !value.every(
            (v) => typeof v === 'string' && /^[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?$/.test(v),
          )
        ) {
          throw bad(
            full,
            'must be a list of at most 64 registry hosts such as "registry.lan:5000"',
          );
        }
        out.insecureRegistries = value as string[];
        break;
      case 'max_entries':
        out.maxEntries = intInRange(value, 100, 10_000_000, () =>
          bad(full, 'must be an integer from 100 to 10000000'),
        );
        break;
      case 'max_unpacked_size':
        if (typeof value !== 'string') throw bad(full, 'must be a size string such as "8G"');
        out.maxUnpackedBytes = parseSize(value, full);
        break;
      case 'device_nodes':
        if (value !== 'safe' && value !== 'none' && value !== 'all') {
          throw bad(full, `must be "safe", "none" or "all" (got ${JSON.stringify(value)})`);
        }
        out.deviceNodes = value;
        break;
      default:
        throw bad(full, 'is not a known key');
    }
  }
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !/[\s\0]/.test(text);
  } catch {
    return false;
  }
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
