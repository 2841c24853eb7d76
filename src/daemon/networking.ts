/**
 * Builds the daemon's networking part (VmNetwork, the `.vm` DNS server and its listeners)
 * and its start/stop/doctor steps, so the composition root only wires it in.
 */
import { BangerError, type Logger } from '../base/index.js';
import type { BangerConfig, Layout } from '../config/index.js';
import { DnsServer, DnsZone } from '../dns/index.js';
import { createInProcessNetworkOps } from '../network/index.js';
import type { CheckResult, NetworkOps } from '../protocol/index.js';
import { NetworkLeases, type Db } from '../store/index.js';
import { networkDoctor } from './network-doctor.js';
import type { VmNetworkDeps } from './vm-network.js';
import { VmNetwork } from './vm-network.js';

export interface Networking {
  network: VmNetwork;
  zone: DnsZone;
  /** Before VMs are adopted: DNS listeners up, the previous daemon's network state read. */
  start(): Promise<void>;
  /** After adoption: stale taps and an idle network go. */
  afterReconcile(): Promise<void>;
  stop(): Promise<void>;
  doctor(): Promise<CheckResult[]>;
}

export function createNetworking(options: {
  layout: Layout;
  config: () => BangerConfig;
  db: Db;
  logger: Logger;
  ops?: NetworkOps;
  autoForward?: VmNetworkDeps['autoForward'];
}): Networking {
  const { layout, config, logger } = options;
  const zone = new DnsZone();
  const ops =
    options.ops ?? createInProcessNetworkOps({ roots: [layout.runtimeDir, layout.stateDir] });
  const network = new VmNetwork({
    layout,
    config,
    ops,
    leases: new NetworkLeases(options.db),
    zone,
    logger: logger.child({ module: 'network' }),
    autoForward: options.autoForward,
  });
  const dns = new DnsServer(zone, { logger: logger.child({ module: 'dns' }) });
  let dnsError: string | undefined;
  let listening: string | undefined;
  return {
    network,
    zone,
    async start() {
      await network.init();
      await dns.listenGuests(network.guestDnsSocket);
      const listen = config().network.dnsListen;
      try {
        await dns.listenHost(listen);
        listening = `${listen.address}:${String(listen.port)}`;
      } catch (err) {
        // VMs work without host DNS; doctor says why and how to fix it.
        dnsError = err instanceof BangerError ? err.message : String(err);
        logger.error('DNS server not started', { error: dnsError });
      }
    },
    async afterReconcile() {
      await network.sweep().catch((err: unknown) => {
        logger.warn('network sweep failed', { error: String(err) });
      });
    },
    async stop() {
      await network.shutdown().catch((err: unknown) => {
        logger.warn('network shutdown failed', { error: String(err) });
      });
      await dns.close();
    },
    doctor: () =>
      networkDoctor({ config: config(), network, ops, dns: { listening, error: dnsError } }),
  };
}
