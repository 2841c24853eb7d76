/**
 * Address plans: which addresses of the guest subnet and of the loopback range a VM may get,
 * and the checks that refuse a subnet that is too small or collides with a route of the host.
 * Pure; the daemon persists what it hands out (store: network leases).
 */
import { BangerError } from '../base/index.js';
import {
  cidrContains,
  cidrHost,
  cidrSize,
  cidrsOverlap,
  formatCidr,
  parseCidr,
  type Cidr,
} from './ipv4.js';

/** Smallest guest subnet: /28 = gateway + 13 guests. */
export const MAX_SUBNET_PREFIX = 28;
export const MIN_SUBNET_PREFIX = 8;
/** The loopback range must leave 127.0.0.0/24 (127.0.0.1, 127.0.0.53...) alone. */
export const LOOPBACK = parseCidr('127.0.0.0/8') as Cidr;
const LOOPBACK_RESERVED = parseCidr('127.0.0.0/24') as Cidr;

/** Checks a guest subnet's shape (not yet the host's routes); returns it parsed. */
export function checkGuestSubnet(cidr: Cidr, what: string): Cidr {
  if (cidr.prefix < MIN_SUBNET_PREFIX || cidr.prefix > MAX_SUBNET_PREFIX) {
    throw new BangerError(
      'bad_request',
      `${what} ${formatCidr(cidr)} must have a prefix from /${String(MIN_SUBNET_PREFIX)} to /${String(MAX_SUBNET_PREFIX)} (room for the gateway and at least 13 VMs)`,
    );
  }
  if (cidrsOverlap(cidr, LOOPBACK)) {
    throw new BangerError(
      'bad_request',
      `${what} ${formatCidr(cidr)} must not be a loopback network`,
    );
  }
  return cidr;
}

export function checkLoopbackRange(cidr: Cidr, what: string): Cidr {
  if (cidr.prefix < 9 || cidr.prefix > 28 || !cidrContains(LOOPBACK, cidr.network)) {
    throw new BangerError(
      'bad_request',
      `${what} ${formatCidr(cidr)} must be a block inside 127.0.0.0/8 with a prefix from /9 to /28`,
    );
  }
  if (cidrsOverlap(cidr, LOOPBACK_RESERVED)) {
    throw new BangerError(
      'bad_request',
      `${what} ${formatCidr(cidr)} must not include 127.0.0.0/24 (127.0.0.1 and the host resolver live there)`,
    );
  }
  return cidr;
}

/** The bridge's address: the first host of the subnet. */
export function gatewayOf(subnet: Cidr): number {
  return cidrHost(subnet, 1);
}

/**
 * The lowest free address of `block` for a VM: never the network or broadcast address, never
 * one in `used`, and never index 1 when `skipFirst` (the guest subnet's gateway).
 */
export function nextFreeAddress(
  block: Cidr,
  used: ReadonlySet<number>,
  options: { skipFirst: boolean },
): number | undefined {
  const size = cidrSize(block);
  for (let i = options.skipFirst ? 2 : 1; i < size - 1; i++) {
    const candidate = cidrHost(block, i);
    if (!used.has(candidate)) return candidate;
  }
  return undefined;
}

export interface HostRoute {
  dst: string;
  dev?: string | undefined;
}

/**
 * Refuses a guest subnet that overlaps a route of the namespace the bridge lives in (the
 * LAN, a VPN, Docker's networks), except routes through banger's own bridge. The default
 * route overlaps everything and says nothing about collisions, so it is ignored.
 */
export function checkSubnetAgainstRoutes(
  subnet: Cidr,
  routes: readonly HostRoute[],
  ownBridge: string,
): void {
  for (const route of routes) {
    if (route.dst === 'default' || route.dev === ownBridge) continue;
    const dst = parseCidr(route.dst.includes('/') ? route.dst : `${route.dst}/32`, {
      strict: false,
    });
    if (!dst || dst.prefix === 0) continue;
    if (cidrsOverlap(subnet, dst)) {
      throw new BangerError(
        'bad_request',
        `network.subnet ${formatCidr(subnet)} overlaps the host route ${route.dst}${route.dev ? ` (dev ${route.dev})` : ''}`,
        {
          hint: 'pick another network.subnet in config.toml, e.g. "10.213.0.0/24"; see docs/networking.md',
        },
      );
    }
  }
}
