/**
 * RPC shapes for reaching into a VM from the host: port forwards (`vm forward`), listening
 * ports (`vm ports`) and SSH (`vm ssh`, the hidden `__ssh-proxy`, `ssh-config`). The CLI and
 * the daemon share these types and validators.
 */
import { asObject, fail, int, onlyKeys, optStr, str } from './validate.js';
import { VM_REF_PATTERN } from './names.js';

/** One host endpoint that carries connections into a guest port (`vm show --json` .forwards). */
export interface ForwardInfo {
  /** 'explicit': `vm forward`; 'auto': every guest port on the VM's own address. */
  origin: 'explicit' | 'auto';
  hostAddress: string;
  hostPort: number;
  guestPort: number;
  /** 'HOST:PORT' ('[::1]:PORT' for IPv6). */
  endpoint: string;
}

export interface VmForwardParams {
  ref: string;
  /** Numeric IPv4 or IPv6 address on the host (default 127.0.0.1). */
  hostAddress?: string;
  hostPort: number;
  guestPort: number;
}

/** One listening guest socket and where the host reaches it (`vm ports --json`). */
export interface GuestPortInfo {
  family: 'ipv4' | 'ipv6';
  /** The address the guest socket is bound to. */
  address: string;
  port: number;
  process?: string;
  pid?: number;
  /** Host endpoints forwarding to this port (explicit and automatic). */
  endpoints: string[];
}

export interface VmPortsResult {
  vm: string;
  ports: GuestPortInfo[];
  /** Every forward of the VM, also those whose guest port nobody listens on yet. */
  forwards: ForwardInfo[];
}

/** What `vm ssh` needs to run OpenSSH against a VM (`vm.ssh-prepare`). */
export interface SshPrepareResult {
  vm: string;
  /** Host key alias used in banger's known_hosts: `<name>.vm`. */
  hostKeyAlias: string;
  identityFile: string;
  knownHostsFile: string;
  /** 'pinned': first use, the guest's key was just recorded; 'known': it matched. */
  hostKey: 'pinned' | 'known';
  /** SHA256 fingerprint of the guest's host key, as ssh-keygen -l prints it. */
  fingerprint: string;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:.]{2,45}$/;

/** A numeric IPv4 address, or an IPv6 one (loose shape check; the OS has the last word). */
export function isNumericAddress(text: string): boolean {
  return IPV4.test(text) || (text.includes(':') && IPV6.test(text));
}

export function parseVmForwardParams(value: unknown): VmForwardParams {
  const obj = asObject(value, 'params');
  onlyKeys(obj, ['ref', 'hostAddress', 'hostPort', 'guestPort'], 'params');
  const out: VmForwardParams = {
    ref: str(obj, 'ref', 'params', VM_REF_PATTERN, 'must be a VM name or id prefix'),
    hostPort: int(obj, 'hostPort', 'params', 1, 65535),
    guestPort: int(obj, 'guestPort', 'params', 1, 65535),
  };
  const host = optStr(obj, 'hostAddress', 'params');
  if (host !== undefined) {
    if (!isNumericAddress(host)) {
      throw fail('params.hostAddress', 'must be a numeric IPv4 or IPv6 address', host);
    }
    out.hostAddress = host;
  }
  return out;
}

/**
 * `[HOST_ADDR:]HOST_PORT:GUEST_PORT` as `vm forward` takes it: `8080:80`,
 * `127.0.0.2:8080:80`, `[::1]:8080:80`.
 */
export function parseForwardSpec(text: string): {
  hostAddress?: string;
  hostPort: number;
  guestPort: number;
} {
  const rule = 'must look like [HOST_ADDR:]HOST_PORT:GUEST_PORT (for example 8080:80)';
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(\d{1,5}):(\d{1,5})$/.exec(text);
  if (!match) throw fail('forward', rule, text);
  const [, hostPart, hostPortText, guestPortText] = match;
  const port = (what: string, value: string | undefined): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 65535) {
      throw fail(`forward ${what}`, 'must be a port from 1 to 65535', value);
    }
    return n;
  };
  const out: { hostAddress?: string; hostPort: number; guestPort: number } = {
    hostPort: port('host port', hostPortText),
    guestPort: port('guest port', guestPortText),
  };
  if (hostPart !== undefined) {
    const host = hostPart.startsWith('[') ? hostPart.slice(1, -1) : hostPart;
    if (!isNumericAddress(host)) {
      throw fail('forward host address', 'must be a numeric IPv4 or IPv6 address', host);
    }
    out.hostAddress = host;
  }
  return out;
}
