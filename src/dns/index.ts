/**
 * dns: the `.vm` DNS server. An authoritative zone with one A record per running VM (host
 * and guest views), a hand-written codec that answers A, NXDOMAIN/NODATA with the zone's SOA
 * and refuses everything else, and listeners on UDP/TCP (host) and a unix socket (guests).
 *
 * Must never recurse or forward queries, never answer for names outside `.vm`, and never
 * reply to a packet it cannot parse the header of.
 */
export * from './dns-codec.js';
export { DnsZone, ZONE, RECORD_TTL, type DnsView, type VmAddresses } from './dns-zone.js';
export { DnsServer, type DnsListen } from './dns-server.js';
