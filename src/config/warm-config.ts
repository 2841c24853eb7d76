/**
 * The `[warm]` table of config.toml: warm starts from saved guests (docs/warm-start.md).
 */
import type { BangerError } from '../base/index.js';

export interface WarmConfig {
  /**
   * Build a warm template of an image the first time a VM of that image and size is made
   * (`vm run`, `vm create`), instead of only when `banger image warm` asks.
   */
  auto: boolean;
}

export const DEFAULT_WARM_CONFIG: WarmConfig = { auto: false };

export const WARM_CONFIG_KEYS: readonly {
  key: string;
  type: string;
  default: string;
  doc: string;
}[] = [
  {
    key: 'warm.auto',
    type: 'boolean',
    default: 'false',
    doc: 'save a warm template of an image on the first VM of each size (one extra boot), so later VMs of that size start from it',
  },
];

export function parseWarmConfig(
  value: unknown,
  bad: (key: string, rule: string) => BangerError,
): WarmConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad('warm', 'must be a table');
  const out: WarmConfig = { ...DEFAULT_WARM_CONFIG };
  for (const [key, sub] of Object.entries(value as Record<string, unknown>)) {
    if (key !== 'auto') throw bad(`warm.${key}`, 'is not a known key');
    if (typeof sub !== 'boolean') throw bad('warm.auto', 'must be true or false');
    out.auto = sub;
  }
  return out;
}
