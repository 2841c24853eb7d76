/**
 * Validation of privileged network requests. The request may come over the root helper's
 * socket from a less privileged daemon, so every field is checked here, by the side that acts:
 * interface names must be banger's, namespaces banger's, addresses parsed, paths absolute
 * under banger's runtime roots. Each failure is a bad_request naming the field and the rule.
 */
import path from 'node:path';
import { BangerError, isWithin } from '../base/index.js';
import type {
  CreateTapRequest,
  DeleteTapRequest,
  EnsureBridgeRequest,
  NetProcessSpec,
  RemoveNetworkRequest,
  SyncNatRequest,
} from '../protocol/index.js';
import { checkIfname, checkNetns } from './interface-names.js';
import { parseCidr, parseIpv4 } from './ipv4.js';

function bad(field: string, rule: string, value?: unknown): BangerError {
  const shown = value === undefined ? '' : ` (got ${JSON.stringify(value)?.slice(0, 80) ?? ''})`;
  return new BangerError('bad_request', `network request: ${field} ${rule}${shown}`);
}

export function optNetns(value: unknown): string | undefined {
  return value === undefined ? undefined : checkNetns(value, 'netns');
}

export function checkAddress(value: unknown, field: string): string {
  if (typeof value !== 'string' || parseIpv4(value) === undefined)
    throw bad(field, 'must be an IPv4 address', value);
  return value;
}

/** "A.B.C.D/N" with host bits allowed (an interface address), prefix 8-30. */
export function checkInterfaceAddress(value: unknown, field: string): string {
  const cidr = typeof value === 'string' ? parseCidr(value, { strict: false }) : undefined;
  if (!cidr || cidr.prefix < 8 || cidr.prefix > 30)
    throw bad(field, 'must be an interface address A.B.C.D/N with N from 8 to 30', value);
  return value as string;
}

export function checkEnsureBridge(req: EnsureBridgeRequest): EnsureBridgeRequest {
  return {
    netns: optNetns(req.netns),
    bridge: checkIfname(req.bridge, 'bridge'),
    gateway: checkInterfaceAddress(req.gateway, 'gateway'),
  };
}

export function checkRemoveNetwork(req: RemoveNetworkRequest): RemoveNetworkRequest {
  return { netns: optNetns(req.netns), bridge: checkIfname(req.bridge, 'bridge') };
}

export function checkCreateTap(req: CreateTapRequest): CreateTapRequest {
  return {
    netns: optNetns(req.netns),
    bridge: checkIfname(req.bridge, 'bridge'),
    tap: checkIfname(req.tap, 'tap'),
  };
}

export function checkDeleteTap(req: DeleteTapRequest): DeleteTapRequest {
  return { netns: optNetns(req.netns), tap: checkIfname(req.tap, 'tap') };
}

export function checkSyncNat(req: SyncNatRequest): SyncNatRequest {
  if (!Array.isArray(req.sources) || req.sources.length > 4096)
    throw bad('sources', 'must be a list of at most 4096', req.sources);
  return {
    netns: optNetns(req.netns),
    bridge: checkIfname(req.bridge, 'bridge'),
    uplink: req.uplink === undefined ? undefined : checkIfname(req.uplink, 'uplink'),
    sources: req.sources.map((s, i) => {
      if (typeof s.vmId !== 'string' || !/^[0-9a-f]{12}$/.test(s.vmId))
        throw bad(`sources[${String(i)}].vmId`, 'must be 12 lowercase hex characters', s.vmId);
      return { vmId: s.vmId, address: checkAddress(s.address, `sources[${String(i)}].address`) };
    }),
  };
}

/** Absolute, normalised, no control characters, inside one of `roots`. */
export function checkPathUnder(value: unknown, field: string, roots: readonly string[]): string {
  if (
    typeof value !== 'string' ||
    value.length > 4096 ||
    /[\x00-\x1f\x7f]/.test(value) ||
    !path.isAbsolute(value) ||
    path.normalize(value) !== value
  ) {
    throw bad(field, 'must be an absolute, normalised path', value);
  }
  if (!roots.some((root) => isWithin(root, value)))
    throw bad(field, `must lie under banger's directories (${roots.join(', ')})`, value);
  return value;
}

export function checkNetProcessSpec(
  spec: NetProcessSpec,
  roots: readonly string[],
): NetProcessSpec {
  switch (spec.kind) {
    case 'dns-relay':
      return {
        kind: 'dns-relay',
        netns: optNetns(spec.netns),
        listen: checkAddress(spec.listen, 'listen'),
        socketPath: checkPathUnder(spec.socketPath, 'socketPath', roots),
        logPath: checkPathUnder(spec.logPath, 'logPath', roots),
      };
    case 'uplink':
      return {
        kind: 'uplink',
        netns: checkNetns(spec.netns, 'netns'),
        ifname: checkIfname(spec.ifname, 'ifname'),
        address: checkInterfaceAddress(spec.address, 'address'),
        gateway: checkAddress(spec.gateway, 'gateway'),
        dnsForward: checkAddress(spec.dnsForward, 'dnsForward'),
        logPath: checkPathUnder(spec.logPath, 'logPath', roots),
      };
    default:
      throw bad('kind', 'must be "dns-relay" or "uplink"', (spec as { kind?: unknown }).kind);
  }
}
