/**
 * The privileged network operations: banger's bridge, taps, network namespace, NAT rules and
 * the small processes that serve its network (DNS relay, NAT uplink). Requests are typed and
 * carry only names, addresses and paths; the implementation (in-process, or the root helper)
 * validates each field against banger's own patterns and builds every argv itself.
 *
 * `netns` present = inside banger's own network namespace (isolated mode); absent = the
 * caller's namespace (bridged mode).
 */
export type NetworkMode = 'isolated' | 'bridged';

export interface EnsureBridgeRequest {
  netns?: string | undefined;
  bridge: string;
  /** The bridge's own address with the guest subnet's prefix, e.g. "10.213.0.1/24". */
  gateway: string;
}

export interface RemoveNetworkRequest {
  /** Isolated: the namespace is deleted with everything in it. */
  netns?: string | undefined;
  /** Bridged: the bridge and banger's nftables table are deleted (taps must be gone first). */
  bridge: string;
}

export interface CreateTapRequest {
  netns?: string | undefined;
  bridge: string;
  tap: string;
}

export interface DeleteTapRequest {
  netns?: string | undefined;
  tap: string;
}

export interface NatSource {
  /** The VM id, written as the rules' comment so `nft list ruleset` tells whose rule it is. */
  vmId: string;
  /** The guest address. */
  address: string;
}

export interface SyncNatRequest {
  netns?: string | undefined;
  bridge: string;
  /** Isolated: the uplink interface inside the namespace; bridged: absent. */
  uplink?: string | undefined;
  /** Every VM that has NAT now; empty keeps only the rule that holds guests on the bridge. */
  sources: NatSource[];
}

/** Small long-lived processes that serve banger's network, started detached. */
export type NetProcessSpec =
  | {
      /** Answers guests' DNS on `listen`:53 by relaying to the daemon's unix socket. */
      kind: 'dns-relay';
      netns?: string | undefined;
      listen: string;
      socketPath: string;
      logPath: string;
    }
  | {
      /**
       * The NAT uplink of banger's namespace (isolated mode): a userspace stack (pasta) in
       * the caller's namespace, so guest traffic leaves as the host's own sockets and no host
       * route, sysctl or firewall rule is needed.
       */
      kind: 'uplink';
      netns: string;
      ifname: string;
      /** Address of the uplink inside the namespace, "A.B.C.D/N". */
      address: string;
      gateway: string;
      /** Guests send DNS here to reach the host's resolver through the uplink. */
      dnsForward: string;
      logPath: string;
    };

export type NetProcessKind = NetProcessSpec['kind'];

export interface NetProcessHandle {
  kind: NetProcessKind;
  pid: number;
  startTime: number;
}

export interface NetworkOps {
  /** Creates banger's namespace (isolated) and bridge with its address if missing; idempotent. */
  ensureBridge(request: EnsureBridgeRequest): Promise<void>;
  /**
   * Removes banger's namespace with everything in it (isolated), or its bridge and nftables
   * table (bridged); missing is fine.
   */
  removeNetwork(request: RemoveNetworkRequest): Promise<void>;
  /** Creates a VM's tap on the bridge (replacing a stale one of the same name). */
  createTap(request: CreateTapRequest): Promise<void>;
  /** Deletes a VM's tap; missing is fine. */
  deleteTap(request: DeleteTapRequest): Promise<void>;
  /** banger interfaces present (bridge, taps, uplink), for reconcile and leak checks. */
  listLinks(request: { netns?: string | undefined }): Promise<string[]>;
  /** Makes banger's nftables table say exactly `sources` (atomic replace). */
  syncNat(request: SyncNatRequest): Promise<void>;
  startNetProcess(spec: NetProcessSpec): Promise<NetProcessHandle>;
  /** Stops a process started by startNetProcess (pid and start time must still match). */
  stopNetProcess(handle: NetProcessHandle): Promise<void>;
  /** Whether that process still runs (same pid and start time). */
  netProcessAlive(handle: NetProcessHandle): Promise<boolean>;
}
