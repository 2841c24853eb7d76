/**
 * The host's upstream DNS servers, for guests with NAT in bridged mode (their traffic leaves
 * through the host, so they can ask the host's resolvers directly). Loopback servers are no
 * use to a guest: with only those (systemd-resolved's 127.0.0.53), the upstreams that
 * systemd-resolved itself uses are read instead, as Docker does.
 */
import { promises as fs } from 'node:fs';
import { parseIpv4 } from './ipv4.js';

const FILES = ['/etc/resolv.conf', '/run/systemd/resolve/resolv.conf'];

/** IPv4 `nameserver` entries of a resolv.conf that are not loopback, in order. Pure. */
export function upstreamNameservers(resolvConf: string): string[] {
  const found: string[] = [];
  for (const match of resolvConf.matchAll(/^[ \t]*nameserver[ \t]+(\S+)/gm)) {
    const address = match[1] ?? '';
    const value = parseIpv4(address);
    if (value === undefined || value >>> 24 === 127 || found.includes(address)) continue;
    found.push(address);
  }
  return found;
}

export async function readUpstreamNameservers(files: readonly string[] = FILES): Promise<string[]> {
  for (const file of files) {
    const found = upstreamNameservers(await fs.readFile(file, 'utf8').catch(() => ''));
    if (found.length > 0) return found;
  }
  return [];
}
