/**
 * The `[network]` table of config.toml. Shapes are checked here (a valid CIDR, a port); the
 * daemon checks the rest where it can see the host (routes, free ports) before it makes
 * anything.
 */
import { BangerError } from '../base/index.js';

export interface NetworkConfig {
  /** isolated: bridge and taps in banger's own namespace; bridged: a host bridge. */
  mode: 'isolated' | 'bridged';
  /** Guest subnet; the bridge takes its first address. */
  subnet: string;
  /** Block of 127/8 from which each VM gets its own host loopback address (isolated). */
  loopbackRange: string;
  /** Host bridge name in bridged mode. */
  bridge: string;
  /** Where the daemon answers `<name>.vm` for the host. */
  dnsListen: { address: string; port: number };
  /**
   * How long the network stays up after its last VM stops: a burst of `vm run --rm` reuses
   * it instead of making and removing the namespace, bridge and relay each time.
   */
  idleTeardownSeconds: number;
}

export const DEFAULT_NETWORK_CONFIG: NetworkConfig = {
  mode: 'isolated',
  subnet: '10.213.0.0/24',
  loopbackRange: '127.64.0.0/16',
  bridge: 'bgbr0',
  dnsListen: { address: '127.0.0.1', port: 42069 },
  idleTeardownSeconds: 30,
};

export const NETWORK_CONFIG_KEYS: readonly {
  key: string;
  type: string;
  default: string;
  doc: string;
}[] = [
  {
    key: 'network.mode',
    type: 'string',
    default: '"isolated"',
    doc: "isolated (bridge in banger's own namespace, VMs reached at per-VM loopback addresses) or bridged (host bridge, guest addresses routable from the host)",
  },
  {
    key: 'network.subnet',
    type: 'string (CIDR)',
    default: '"10.213.0.0/24"',
    doc: 'guest addresses, /8 to /28; the bridge takes the first; must not overlap a host route',
  },
  {
    key: 'network.loopback_range',
    type: 'string (CIDR)',
    default: '"127.64.0.0/16"',
    doc: 'block of 127.0.0.0/8 giving each VM its host address in isolated mode',
  },
  {
    key: 'network.bridge',
    type: 'string',
    default: '"bgbr0"',
    doc: 'host bridge name in bridged mode ("bg" + up to 13 of a-z, 0-9, -)',
  },
  {
    key: 'network.dns_listen',
    type: 'string',
    default: '"127.0.0.1:42069"',
    doc: 'address:port where the daemon answers <name>.vm (UDP and TCP)',
  },
  {
    key: 'network.idle_teardown_seconds',
    type: 'integer',
    default: '30',
    doc: 'how long the network stays up after the last VM stops (0-3600; 0: at once); a stopped daemon removes an idle network',
  },
];

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const ADDR_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/;

function octetsOk(parts: (string | undefined)[]): boolean {
  return parts.every((p) => p !== undefined && Number(p) <= 255 && !/^0\d/.test(p));
}

export function parseNetworkConfig(
  value: unknown,
  bad: (key: string, rule: string) => BangerError,
): NetworkConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad('network', 'must be a table');
  const out = structuredClone(DEFAULT_NETWORK_CONFIG);
  for (const [sub, v] of Object.entries(value as Record<string, unknown>)) {
    const key = `network.${sub}`;
    const text = typeof v === 'string' ? v : undefined;
    switch (sub) {
      case 'mode':
        if (v !== 'isolated' && v !== 'bridged')
          throw bad(key, `must be "isolated" or "bridged" (got ${JSON.stringify(v)})`);
        out.mode = v;
        break;
      case 'subnet':
      case 'loopback_range': {
        const m = text === undefined ? null : CIDR.exec(text);
        if (!m || !octetsOk(m.slice(1, 5)) || Number(m[5]) > 32)
          throw bad(
            key,
            `must be an IPv4 network such as "10.213.0.0/24" (got ${JSON.stringify(v)})`,
          );
        if (sub === 'subnet') out.subnet = text as string;
        else out.loopbackRange = text as string;
        break;
      }
      case 'bridge':
        if (text === undefined || !/^bg[a-z0-9-]{1,13}$/.test(text))
          throw bad(key, `must be "bg" followed by 1-13 of a-z, 0-9, - (got ${JSON.stringify(v)})`);
        out.bridge = text;
        break;
      case 'dns_listen': {
        const m = text === undefined ? null : ADDR_PORT.exec(text);
        const port = Number(m?.[2]);
        if (!m?.[1] || !octetsOk(m[1].split('.')) || port < 1 || port > 65535)
          throw bad(key, `must be IPV4:PORT such as "127.0.0.1:42069" (got ${JSON.stringify(v)})`);
        out.dnsListen = { address: m[1], port };
        break;
      }
      case 'idle_teardown_seconds':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 3600)
          throw bad(key, `must be an integer from 0 to 3600 (got ${JSON.stringify(v)})`);
        out.idleTeardownSeconds = v;
        break;
      default:
        throw bad(key, 'is not a known key');
    }
  }
  return out;
}
