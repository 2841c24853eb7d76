/**
 * Names of everything banger makes in the kernel's network stack. Every interface banger
 * creates starts with "bg" and fits the kernel's 15-byte limit (IFNAMSIZ - 1), so an
 * operation can refuse anything else: a bug or a compromised daemon can never make the root
 * helper touch eth0, docker0 or lo. Pure.
 */
import { BangerError, sha256Hex } from '../base/index.js';

/** Every banger interface: "bg" + up to 13 of [a-z0-9-]; at most 15 bytes. */
export const BANGER_IFNAME_PATTERN = /^bg[a-z0-9-]{1,13}$/;
export const BANGER_IFNAME_RULE = 'must be a banger interface name: "bg" + 1-13 of [a-z0-9-]';
/** banger's own network namespaces: "banger-" + 8 hex (one per install). */
export const BANGER_NETNS_PATTERN = /^banger-[0-9a-f]{8}$/;
export const BANGER_NETNS_RULE = 'must be a banger network namespace: "banger-" + 8 hex digits';

/** The default bridge name (inside banger's namespace in isolated mode, on the host in bridged). */
export const DEFAULT_BRIDGE = 'bgbr0';

/** The tap of a VM: "bg-" + its 12-hex id = exactly 15 bytes, unique across installs. */
export function tapName(vmId: string): string {
  if (!/^[0-9a-f]{12}$/.test(vmId)) {
    throw new BangerError('bad_request', `VM id ${JSON.stringify(vmId)} is not 12 hex digits`);
  }
  return `bg-${vmId}`;
}

/** True for names banger's taps have (as opposed to its bridge or uplink). */
export function isTapName(name: string): boolean {
  return /^bg-[0-9a-f]{12}$/.test(name);
}

/** The network namespace of one banger install, derived from its state directory. */
export function netnsNameFor(stateDir: string): string {
  return `banger-${sha256Hex(stateDir).slice(0, 8)}`;
}

export function checkIfname(name: unknown, field: string): string {
  if (typeof name !== 'string' || !BANGER_IFNAME_PATTERN.test(name)) {
    throw new BangerError('bad_request', `${field} ${JSON.stringify(name)} ${BANGER_IFNAME_RULE}`);
  }
  return name;
}

export function checkNetns(name: unknown, field: string): string {
  if (typeof name !== 'string' || !BANGER_NETNS_PATTERN.test(name)) {
    throw new BangerError('bad_request', `${field} ${JSON.stringify(name)} ${BANGER_NETNS_RULE}`);
  }
  return name;
}

/**
 * A stable, locally administered unicast MAC for a VM: 02 followed by the first five bytes
 * of its id, so the same VM keeps its MAC across restarts and no two VMs of one install share
 * one (ids are unique).
 */
export function macFor(vmId: string): string {
  if (!/^[0-9a-f]{12}$/.test(vmId)) {
    throw new BangerError('bad_request', `VM id ${JSON.stringify(vmId)} is not 12 hex digits`);
  }
  const bytes = vmId.slice(0, 10).match(/../g) ?? [];
  return ['02', ...bytes].join(':');
}

/**
 * A VM name becomes the DNS label `<name>.vm` and the guest's hostname: 1-63 of [a-z0-9-],
 * neither starting nor ending with "-" (RFC 1123). Returns the problem, or undefined.
 */
export function dnsLabelProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 63) return 'must be 1 to 63 characters long';
  if (!/^[a-z0-9-]+$/.test(name)) return 'may hold only lowercase letters, digits and "-"';
  if (name.startsWith('-') || name.endsWith('-')) return 'must not start or end with "-"';
  return undefined;
}
