/**
 * network: banger's own piece of the kernel's network stack. Addressing (guest subnet,
 * per-VM loopback addresses), interface and namespace names, NAT rule rendering, validation
 * of privileged network requests, the in-process implementation of those requests, and the
 * guests' DNS relay program.
 *
 * Must never touch an interface, namespace or nftables table that is not banger's own (every
 * request is checked against banger's name patterns), never add an address or route to the
 * host outside banger's bridge, and never run a shell. The root helper imports this module.
 */
export * from './ipv4.js';
export * from './interface-names.js';
export * from './addressing.js';
export * from './nat-rules.js';
export * from './forward-policy.js';
export * from './network-op-rules.js';
export { readHostRoutes } from './route-reader.js';
export { readUpstreamNameservers, upstreamNameservers } from './upstream-nameservers.js';
export {
  createInProcessNetworkOps,
  type InProcessNetworkOpsOptions,
} from './in-process-network-ops.js';
export { processStartTime, isSameProcess, type ProcessIdentity } from './net-process.js';
