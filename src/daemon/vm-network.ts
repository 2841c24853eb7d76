/**
 * VM networking in the daemon: address leases, banger's bridge (in its own namespace when
 * isolated), one tap per running VM, the guests' DNS relay, NAT rules and the NAT uplink, the
 * `.vm` records, and (isolated mode) the automatic port forwards from each VM's loopback
 * address. The network exists while at least one VM is starting or running, and for
 * `network.idle_teardown_seconds` after the last one stops (a burst of `vm run --rm` reuses
 * it); then, or when the daemon stops with no VM running, it is torn down, so an idle banger
 * leaves nothing in the kernel.
 *
 * Network-wide steps (bring up, tear down, taps, NAT sync) run one at a time; every privileged
 * step goes through NetworkOps.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BangerError, ensurePrivateDir, writeFileAtomic, type Logger } from '../base/index.js';
import type { BangerConfig, Layout } from '../config/index.js';
import type { DnsZone } from '../dns/index.js';
import {
  checkGuestSubnet,
  checkLoopbackRange,
  checkSubnetAgainstRoutes,
  cidrContains,
  formatCidr,
  formatIpv4,
  gatewayOf,
  isTapName,
  macFor,
  netnsNameFor,
  nextFreeAddress,
  parseIpv4,
  readHostRoutes,
  readUpstreamNameservers,
  requireCidr,
  tapName,
  DEFAULT_BRIDGE,
  type Cidr,
  type HostRoute,
} from '../network/index.js';
import type {
  NetProcessHandle,
  NetworkMode,
  NetworkOps,
  NicSpec,
  VmNetworkInfo,
} from '../protocol/index.js';
import type { NetworkLease, NetworkLeases, VmRecord } from '../store/index.js';
import type { AgentSession, BootNetwork, VmLifecycleHooks } from './ports.js';

/** The NAT uplink inside banger's namespace (isolated mode): a /30 of the shared address space. */
export const UPLINK = {
  ifname: 'bgup0',
  address: '100.64.213.2/30',
  gateway: '100.64.213.1',
  /** Guests with NAT use it as their second nameserver: pasta relays it to the host's resolver. */
  dnsForward: '100.64.213.1',
} as const;

interface Settings {
  mode: NetworkMode;
  subnet: Cidr;
  gateway: string;
  loopback: Cidr;
  bridge: string;
  /** Isolated: banger's namespace. */
  netns: string | undefined;
}

/** What is up in the kernel, persisted so a restarted daemon can adopt or remove it. */
interface NetworkState {
  mode: NetworkMode;
  bridge: string;
  netns: string | undefined;
  gateway: string;
  relay?: NetProcessHandle | undefined;
  uplink?: NetProcessHandle | undefined;
}

export interface VmNetworkDeps {
  layout: Layout;
  config: () => BangerConfig;
  ops: NetworkOps;
  leases: NetworkLeases;
  zone: DnsZone;
  logger: Logger;
  /** Serves every listening guest port on the VM's loopback address (isolated mode). */
  autoForward?:
    | ((spec: { vmId: string; agent: AgentSession; hostAddress: string }) => {
        close(): Promise<void>;
      })
    | undefined;
  readRoutes?: (() => Promise<HostRoute[]>) | undefined;
  /** The host's upstream DNS servers (bridged NAT guests ask them). */
  readNameservers?: (() => Promise<string[]>) | undefined;
}

export class VmNetwork implements VmLifecycleHooks {
  /** VMs that hold a tap: booting or running. */
  private readonly active = new Map<string, VmRecord>();
  private readonly forwards = new Map<string, { close(): Promise<void> }>();
  private state: NetworkState | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  /** Pending teardown of an idle network (see idleTeardown). */
  private idleTimer: NodeJS.Timeout | undefined;
  /** This daemon made or checked the bridge of `state` (ensureUp skips it while true). */
  private bridgeChecked = false;
  /**
   * From init to the end of sweep: VMs are being adopted one by one, and network-wide steps
   * (NAT sync, uplink, teardown) wait for sweep, which sees them all. Synced per VM, the first
   * adopted VM without NAT would stop the uplink that the next one needs.
   */
  private adopting = false;
  /**
   * What banger's nft table was last made to say (NatRuleInput as JSON), by this daemon and
   * since the network came up: a VM without NAT that stops changes nothing, so no `nft` runs.
   */
  private natApplied: string | undefined;
  /**
   * Each booting VM's NAT sync, started once its tap exists: it runs beside the guest's
   * start instead of before the user's first command, and re-applies the whole table at every
   * start (a ruleset flushed behind banger's back is made whole again).
   */
  private readonly natAtBoot = new Map<string, Promise<void>>();

  constructor(private readonly deps: VmNetworkDeps) {}

  get dir(): string {
    return path.join(this.deps.layout.runtimeDir, 'network');
  }

  /** The unix socket the guests' DNS relay hands queries to. */
  get guestDnsSocket(): string {
    return path.join(this.dir, 'dns.sock');
  }

  private get stateFile(): string {
    return path.join(this.dir, 'state.json');
  }

  /** Reads what a previous daemon left up (called before VMs are adopted). */
  async init(): Promise<void> {
    this.adopting = true;
    await ensurePrivateDir(this.dir);
    try {
      this.state = JSON.parse(await fs.readFile(this.stateFile, 'utf8')) as NetworkState;
    } catch {
      this.state = undefined;
    }
  }

  /**
   * After adoption: removes taps of VMs that are not running, and the whole network when no
   * VM runs (what a crashed daemon or a killed VM left behind); otherwise makes NAT match the
   * adopted VMs (the same uplink when it still runs) and restarts a DNS relay that died.
   */
  async sweep(): Promise<void> {
    await this.serial(async () => {
      try {
        const state = this.state;
        const netns = state?.netns ?? this.settings().netns;
        const links = await this.deps.ops.listLinks({ netns });
        for (const link of links) {
          if (isTapName(link) && !this.active.has(link.slice(3))) {
            await this.deps.ops.deleteTap({ netns, tap: link });
            this.deps.logger.info('removed stale tap', { tap: link });
          }
        }
        if (this.active.size === 0) await this.teardown();
        else if (state) {
          await this.syncNat({ force: true });
          await this.ensureRelay(state, state.gateway.split('/')[0] ?? '');
          await this.saveState();
        }
      } finally {
        this.adopting = false;
      }
    });
  }

  // ---- leases ---------------------------------------------------------------------------------

  /** At create: reserves the VM's addresses and records whether it gets NAT. */
  reserve(vm: VmRecord, options: { nat: boolean }): NetworkLease {
    return this.allocate(vm.id, options.nat);
  }

  release(vmId: string): void {
    this.deps.leases.release(vmId);
  }

  describe(vm: VmRecord): VmNetworkInfo | undefined {
    const lease = this.deps.leases.get(vm.id);
    if (!lease) return undefined;
    const mode = this.state?.mode ?? this.deps.config().network.mode;
    return {
      mode,
      guestAddress: lease.guestIp,
      hostAddress: mode === 'isolated' ? lease.hostIp : lease.guestIp,
      mac: lease.mac,
      nat: lease.nat,
      dnsName: `${vm.name}.vm`,
    };
  }

  /** What is up now, for doctor. */
  describeState():
    | {
        netns: string | undefined;
        bridge: string;
        gateway: string;
        vms: number;
        relay: boolean;
        uplink: boolean;
      }
    | undefined {
    const state = this.state;
    if (!state) return undefined;
    return {
      netns: state.netns,
      bridge: state.bridge,
      gateway: state.gateway,
      vms: this.active.size,
      relay: state.relay !== undefined,
      uplink: state.uplink !== undefined,
    };
  }

  /** `vm set --nat/--no-nat`: takes effect at once on a running VM. */
  async setNat(vm: VmRecord, nat: boolean): Promise<void> {
    if (!this.deps.leases.get(vm.id)) this.allocate(vm.id, nat);
    else this.deps.leases.setNat(vm.id, nat);
    if (this.active.has(vm.id)) await this.serial(() => this.syncNat());
  }

  // ---- boot -----------------------------------------------------------------------------------

  /** Before a boot: brings the network up, makes the VM's tap, and says how to attach to it. */
  async prepareBoot(vm: VmRecord): Promise<BootNetwork> {
    const boot = await this.serial(() => this.prepareTap(vm));
    // While daemon restart adopts VMs, network-wide steps wait for sweep (see `adopting`).
    const sync = this.serial(() =>
      this.adopting ? Promise.resolve() : this.syncNat({ force: true }),
    );
    sync.catch(() => undefined); // awaited by started(); a boot that fails never asks
    this.natAtBoot.set(vm.id, sync);
    return boot;
  }

  private async prepareTap(vm: VmRecord): Promise<BootNetwork> {
    const settings = this.settings();
    let lease = this.deps.leases.get(vm.id);
    if (
      !lease ||
      !cidrContains(settings.subnet, parseIpv4(lease.guestIp) ?? 0) ||
      !cidrContains(settings.loopback, parseIpv4(lease.hostIp) ?? 0) ||
      parseIpv4(lease.guestIp) === parseIpv4(settings.gateway)
    ) {
      lease = this.allocate(vm.id, lease?.nat ?? false);
    }
    this.cancelIdleTeardown();
    await this.ensureUp(settings);
    const tap = tapName(vm.id);
    // Active before the tap exists: a boot that fails from here on is detached, tap and all.
    this.active.set(vm.id, vm);
    const createTap = (): Promise<void> =>
      this.deps.ops.createTap({ netns: settings.netns, bridge: settings.bridge, tap });
    await createTap().catch(async (err: unknown) => {
      if (!this.bridgeChecked) throw err;
      // The bridge this daemon made went away behind its back: make it again, once.
      this.deps.logger.warn('tap failed on a checked bridge: making the network again', {
        vm: vm.name,
        error: String(err),
      });
      this.bridgeChecked = false;
      await this.ensureUp(settings);
      await createTap();
    });
    // .vm names from the gateway; other names (REFUSED there) from the next server, which
    // a guest with NAT can reach: pasta's relay to the host resolver (isolated), or the
    // host's own upstream servers (bridged). Fixed at boot: `vm set --nat` on a running VM
    // routes it at once, the extra server comes with its next boot.
    const dns = [settings.gateway];
    if (lease.nat && settings.mode === 'isolated') dns.push(UPLINK.dnsForward);
    if (lease.nat && settings.mode === 'bridged')
      dns.push(...(await (this.deps.readNameservers ?? readUpstreamNameservers)()).slice(0, 2));
    const nics: NicSpec[] = [{ tap, mac: lease.mac }];
    return {
      nics,
      netns: settings.netns,
      kernelArgs: [
        `banger.ip=${lease.guestIp}/${String(settings.subnet.prefix)}`,
        `banger.gw=${settings.gateway}`,
        `banger.dns=${dns.join(',')}`,
      ],
    };
  }

  // ---- lifecycle hooks ------------------------------------------------------------------------

  async started(vm: VmRecord, agent: AgentSession): Promise<void> {
    const lease = this.deps.leases.get(vm.id);
    const natAtBoot = this.natAtBoot.get(vm.id);
    this.natAtBoot.delete(vm.id);
    if (!lease) return;
    await this.serial(async () => {
      this.active.set(vm.id, vm);
      const mode = this.state?.mode ?? this.deps.config().network.mode;
      this.deps.zone.set(vm.name, {
        host: mode === 'isolated' ? lease.hostIp : lease.guestIp,
        guest: lease.guestIp,
      });
      // The boot's own sync ran beside the guest (an earlier step of this queue); again only
      // if it failed or something changed since.
      const synced =
        natAtBoot !== undefined &&
        (await natAtBoot.then(
          () => true,
          () => false,
        ));
      if (!this.adopting) await this.syncNat({ force: !synced });
      if (mode === 'isolated' && this.deps.autoForward && !this.forwards.has(vm.id)) {
        this.forwards.set(
          vm.id,
          this.deps.autoForward({ vmId: vm.id, agent, hostAddress: lease.hostIp }),
        );
      }
    });
  }

  async stopped(vm: VmRecord): Promise<void> {
    await this.detach(vm);
  }

  deleted(vm: VmRecord): void {
    this.deps.zone.delete(vm.name);
    this.release(vm.id);
  }

  // ---- internals ------------------------------------------------------------------------------

  /** The VM no longer runs: its record, forwards and tap go (and the network with the last). */
  async detach(vm: VmRecord): Promise<void> {
    this.deps.zone.delete(vm.name);
    const forward = this.forwards.get(vm.id);
    this.forwards.delete(vm.id);
    await forward?.close().catch(() => undefined);
    this.natAtBoot.delete(vm.id);
    await this.serial(async () => {
      // Not active: never booted, or detached already (a stop's hook, then delete).
      const wasActive = this.active.delete(vm.id);
      const netns = this.state?.netns;
      if (this.state && wasActive) await this.deps.ops.deleteTap({ netns, tap: tapName(vm.id) });
      if (this.adopting) return;
      if (this.active.size > 0) {
        if (wasActive) await this.syncNat();
        return;
      }
      // The network lingers, but NAT rules and the uplink follow the running VMs at once.
      if (wasActive && this.deps.config().network.idleTeardownSeconds > 0) await this.syncNat();
      await this.idleTeardown();
    });
  }

  /** Daemon shutdown: an idle network goes now; one with running VMs stays (they keep running). */
  async shutdown(): Promise<void> {
    this.cancelIdleTeardown();
    await this.serial(async () => {
      if (this.active.size === 0) await this.teardown();
    });
  }

  /** No VM runs: tear the network down after the configured idle time (at once for 0). */
  private async idleTeardown(): Promise<void> {
    const seconds = this.deps.config().network.idleTeardownSeconds;
    if (seconds === 0) {
      await this.teardown();
      return;
    }
    this.cancelIdleTeardown();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      void this.serial(async () => {
        if (this.active.size === 0) await this.teardown();
      }).catch((err: unknown) => {
        this.deps.logger.warn('idle network teardown failed', { error: String(err) });
      });
    }, seconds * 1000);
    this.idleTimer.unref();
  }

  private cancelIdleTeardown(): void {
    if (this.idleTimer === undefined) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private settings(): Settings {
    const net = this.deps.config().network;
    const subnet = checkGuestSubnet(requireCidr(net.subnet, 'network.subnet'), 'network.subnet');
    const loopback = checkLoopbackRange(
      requireCidr(net.loopbackRange, 'network.loopback_range'),
      'network.loopback_range',
    );
    const isolated = net.mode === 'isolated';
    return {
      mode: net.mode,
      subnet,
      gateway: formatIpv4(gatewayOf(subnet)),
      loopback,
      bridge: isolated ? DEFAULT_BRIDGE : net.bridge,
      netns: isolated ? netnsNameFor(this.deps.layout.stateDir) : undefined,
    };
  }

  private allocate(vmId: string, nat: boolean): NetworkLease {
    const settings = this.settings();
    return this.deps.leases.allocate(vmId, (used) => {
      const guest = nextFreeAddress(settings.subnet, toNumbers(used.guest), { skipFirst: true });
      const host = nextFreeAddress(settings.loopback, toNumbers(used.host), { skipFirst: false });
      if (guest === undefined || host === undefined) {
        throw new BangerError(
          'unavailable',
          `no free address left in ${guest === undefined ? `network.subnet ${formatCidr(settings.subnet)}` : `network.loopback_range ${formatCidr(settings.loopback)}`}`,
          { hint: 'delete VMs you no longer need, or use a larger range in config.toml' },
        );
      }
      return { guestIp: formatIpv4(guest), hostIp: formatIpv4(host), mac: macFor(vmId), nat };
    });
  }

  private async ensureUp(settings: Settings): Promise<void> {
    const state = this.state;
    if (
      state &&
      this.active.size > 0 &&
      (state.mode !== settings.mode ||
        state.bridge !== settings.bridge ||
        state.gateway !== `${settings.gateway}/${String(settings.subnet.prefix)}`)
    ) {
      throw new BangerError(
        'precondition_failed',
        `network settings changed while VMs run on the old ones (${state.mode}, ${state.gateway})`,
        { hint: 'stop every VM (banger vm stop NAME...), then start them again' },
      );
    }
    // The subnet must not shadow anything the host reaches (LAN, VPN, Docker), in either mode:
    // NAT traffic to such a destination would never leave banger's network.
    const routes = await (this.deps.readRoutes ?? readHostRoutes)();
    checkSubnetAgainstRoutes(settings.subnet, routes, settings.bridge);
    const gateway = `${settings.gateway}/${String(settings.subnet.prefix)}`;
    if (
      this.bridgeChecked &&
      state?.mode === settings.mode &&
      state.bridge === settings.bridge &&
      state.netns === settings.netns &&
      state.gateway === gateway
    ) {
      // Made or checked by this daemon and unchanged since: every boot of a busy banger
      // would otherwise pay four `ip` runs for nothing. A bridge removed behind banger's
      // back fails the tap, and prepareBoot comes back here with the check on.
      const relay = state.relay;
      await this.ensureRelay(state, settings.gateway);
      if (state.relay !== relay) await this.saveState();
      return;
    }
    this.natApplied = undefined; // a namespace made anew has no table yet
    await this.deps.ops.ensureBridge({ netns: settings.netns, bridge: settings.bridge, gateway });
    this.bridgeChecked = true;
    const next: NetworkState = {
      mode: settings.mode,
      bridge: settings.bridge,
      netns: settings.netns,
      gateway,
      relay: state?.relay,
      uplink: state?.uplink,
    };
    this.state = next;
    await this.ensureRelay(next, settings.gateway);
    await this.saveState();
  }

  /** Starts the guests' DNS relay on the gateway address unless it still runs. */
  private async ensureRelay(state: NetworkState, gateway: string): Promise<void> {
    if (state.relay && (await this.deps.ops.netProcessAlive(state.relay))) return;
    state.relay = await this.deps.ops.startNetProcess({
      kind: 'dns-relay',
      netns: state.netns,
      listen: gateway,
      socketPath: this.guestDnsSocket,
      logPath: path.join(this.dir, 'dns-relay.log'),
    });
  }

  /**
   * Makes the NAT rules (and the isolated uplink) match the active VMs with NAT. The table is
   * written when what it must say changed since this daemon last wrote it, or with `force`.
   */
  private async syncNat(options: { force?: boolean } = {}): Promise<void> {
    const state = this.state;
    if (!state) return;
    const sources = [...this.active.keys()].flatMap((vmId) => {
      const lease = this.deps.leases.get(vmId);
      return lease?.nat ? [{ vmId, address: lease.guestIp }] : [];
    });
    const isolated = state.netns !== undefined;
    if (
      isolated &&
      sources.length > 0 &&
      !(state.uplink && (await this.deps.ops.netProcessAlive(state.uplink)))
    ) {
      state.uplink = await this.deps.ops.startNetProcess({
        kind: 'uplink',
        netns: state.netns as string,
        ifname: UPLINK.ifname,
        address: UPLINK.address,
        gateway: UPLINK.gateway,
        dnsForward: UPLINK.dnsForward,
        logPath: path.join(this.dir, 'uplink.log'),
      });
      await this.saveState();
    }
    const request = {
      netns: state.netns,
      bridge: state.bridge,
      uplink: isolated ? UPLINK.ifname : undefined,
      sources,
    };
    const said = JSON.stringify(request);
    if (options.force === true || said !== this.natApplied) {
      this.natApplied = undefined;
      await this.deps.ops.syncNat(request);
      this.natApplied = said;
    }
    if (isolated && sources.length === 0 && state.uplink) {
      await this.deps.ops.stopNetProcess(state.uplink);
      state.uplink = undefined;
      await this.saveState();
    }
  }

  private async teardown(): Promise<void> {
    const state = this.state;
    if (!state) return;
    for (const handle of [state.relay, state.uplink]) {
      if (handle) await this.deps.ops.stopNetProcess(handle);
    }
    // Isolated: the namespace goes with everything in it; bridged: the bridge and banger's table.
    await this.deps.ops.removeNetwork({ netns: state.netns, bridge: state.bridge });
    this.state = undefined;
    this.bridgeChecked = false;
    this.natApplied = undefined;
    await fs.rm(this.stateFile, { force: true });
    this.deps.logger.info('network torn down', { mode: state.mode });
  }

  private async saveState(): Promise<void> {
    await writeFileAtomic(this.stateFile, JSON.stringify(this.state));
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.tail.then(work, work);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

function toNumbers(addresses: Set<string>): Set<number> {
  return new Set([...addresses].map((a) => parseIpv4(a) ?? -1));
}
