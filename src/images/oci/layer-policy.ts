/**
 * What a layer may ask for. Limits bound the work a hostile image can cause (entries, bytes);
 * the device policy decides which device nodes an image may carry into the guest.
 */
import { badRequest } from '../../base/index.js';
import type { TarEntry } from '../tar/tar-reader.js';

export type DevicePolicy = 'safe' | 'none' | 'all';
export const DEVICE_POLICIES: readonly DevicePolicy[] = ['safe', 'none', 'all'];

export interface LayerLimits {
  /** Entries over all layers of one image (whiteouts included). */
  maxEntries: number;
  /** Bytes of file content over all layers of one image. */
  maxBytes: number;
  devices: DevicePolicy;
}

export const DEFAULT_LAYER_LIMITS: LayerLimits = {
  maxEntries: 65_536,
  maxBytes: 8 * 1024 ** 3,
  devices: 'safe',
};

/**
 * Character devices every Linux userland may expect in /dev (null, zero, full, random,
 * urandom, tty, console, ptmx): harmless in a guest whose root can make any node anyway.
 */
const SAFE_CHAR_DEVICES = new Set(['1:3', '1:5', '1:7', '1:8', '1:9', '5:0', '5:1', '5:2']);

/** Refuses a device node or FIFO the policy forbids. */
export function checkDeviceEntry(entry: TarEntry, policy: DevicePolicy, where: string): void {
  if (entry.type === 'fifo' || policy === 'all') return;
  const id = `${String(entry.devMajor)}:${String(entry.devMinor)}`;
  if (policy === 'safe' && entry.type === 'char' && SAFE_CHAR_DEVICES.has(id)) return;
  throw badRequest(
    `${where}: ${entry.type} device ${JSON.stringify(entry.path)} (${id}) is refused by the device policy "${policy}"`,
    {
      hint:
        policy === 'safe'
          ? 'only null, zero, full, random, urandom, tty, console and ptmx are allowed; set [oci] device_nodes = "all" in config.toml to accept any'
          : 'set [oci] device_nodes in config.toml to "safe" or "all" to accept device nodes',
    },
  );
}
