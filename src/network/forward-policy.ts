/**
 * What the host's firewall does to traffic through banger's bridge in bridged mode, read from
 * `nft -j list ruleset` (iptables-nft rules appear there too). Pure: the doctor runs nft.
 *
 * Why it matters: a base chain on the forward hook whose policy is drop (Docker sets
 * `iptables -P FORWARD DROP`) drops routed NAT traffic, and when br_netfilter is loaded with
 * `net.bridge.bridge-nf-call-iptables = 1` (Docker loads it) it also drops frames between two
 * guests on the same bridge, because those then traverse the same chain. Nothing banger can
 * put in a table of its own gets a packet past that drop (an nftables accept ends only its own
 * chain; the per-bridge `nf_call_iptables` switch can only add filtering, never remove it; a
 * bridge-family accept is not final either; all measured). Only a rule in the chain that drops
 * allows it, and that chain is the user's: banger names the rules, it never adds them.
 */
import type { CheckResult } from '../protocol/index.js';

export interface DropChain {
  family: string;
  table: string;
  chain: string;
  /** A rule of that table accepts traffic coming from the bridge (`iifname BRIDGE accept`). */
  allowsBridge: boolean;
}

interface NftObject {
  chain?: { family?: string; table?: string; name?: string; hook?: string; policy?: string };
  rule?: { family?: string; table?: string; chain?: string; expr?: unknown[] };
}

export interface ForwardFirewall {
  /** The ip/inet base chains on the forward hook that drop by default, banger's own aside. */
  chains: DropChain[];
  /** Docker's chain for user rules exists (ip filter DOCKER-USER). */
  dockerUser: boolean;
}

export function readForwardFirewall(
  ruleset: unknown,
  options: { bridge: string; ownTable: string },
): ForwardFirewall {
  const list = (ruleset as { nftables?: unknown } | null)?.nftables;
  const objects = Array.isArray(list) ? (list as NftObject[]) : [];
  const chains = objects.flatMap((o) => (o.chain ? [o.chain] : []));
  const rules = objects.flatMap((o) => (o.rule ? [o.rule] : []));
  const dockerUser = chains.some(
    (c) => c.family === 'ip' && c.table === 'filter' && c.name === 'DOCKER-USER',
  );
  const drops = chains
    .filter(
      (c) =>
        (c.family === 'ip' || c.family === 'inet') &&
        c.hook === 'forward' &&
        c.policy === 'drop' &&
        !(c.family === 'ip' && c.table === options.ownTable),
    )
    .map((c) => ({
      family: c.family ?? '',
      table: c.table ?? '',
      chain: c.name ?? '',
      allowsBridge: rules.some(
        (r) =>
          r.family === c.family && r.table === c.table && acceptsFrom(r.expr ?? [], options.bridge),
      ),
    }));
  return { chains: drops, dockerUser };
}

/** A rule that matches `iifname BRIDGE` and accepts (its other matches are not weighed). */
function acceptsFrom(expr: unknown[], bridge: string): boolean {
  let fromBridge = false;
  for (const item of expr) {
    if (typeof item !== 'object' || item === null) continue;
    const e = item as {
      match?: { op?: string; left?: { meta?: { key?: string } }; right?: unknown };
      accept?: unknown;
    };
    if (e.match?.left?.meta?.key === 'iifname' && e.match.op === '==' && e.match.right === bridge)
      fromBridge = true;
    if ('accept' in e) return fromBridge;
  }
  return false;
}

/** The rules that let the bridge's traffic past one drop chain, as the user would type them. */
export function allowCommands(chain: DropChain, bridge: string, dockerUser: boolean): string[] {
  if (chain.family === 'ip' && chain.table === 'filter' && chain.chain === 'FORWARD') {
    // iptables' own chain. Docker rewrites FORWARD when it restarts but keeps DOCKER-USER.
    const target = dockerUser ? 'DOCKER-USER' : 'FORWARD';
    return [
      `iptables -I ${target} -i ${bridge} -j ACCEPT`,
      `iptables -I ${target} -o ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    ];
  }
  const where = `${chain.family} ${chain.table} ${chain.chain}`;
  return [
    `nft insert rule ${where} iifname "${bridge}" accept`,
    `nft insert rule ${where} oifname "${bridge}" ct state established,related accept`,
  ];
}

/** The doctor row for bridged mode. */
export function forwardPolicyCheck(
  input: ForwardFirewall & {
    bridge: string;
    /** net.bridge.bridge-nf-call-iptables = 1: bridged frames traverse the forward hook. */
    brNetfilter: boolean;
  },
): CheckResult {
  const { bridge, chains } = input;
  const name = 'bridge firewall';
  const path = input.brNetfilter
    ? 'traffic between guests (br_netfilter: net.bridge.bridge-nf-call-iptables = 1) and NAT traffic'
    : 'NAT traffic';
  if (chains.length === 0) {
    return {
      name,
      status: 'pass',
      detail: `no forward chain of the host drops by default: ${path} on ${bridge} passes`,
    };
  }
  const named = (c: DropChain): string => `${c.family} ${c.table} ${c.chain}`;
  const blocking = chains.filter((c) => !c.allowsBridge);
  if (blocking.length === 0) {
    return {
      name,
      status: 'pass',
      detail: `${chains.map(named).join(', ')} drop by default, but rules of the same table accept ${bridge}`,
    };
  }
  const commands = blocking.flatMap((c) => allowCommands(c, bridge, input.dockerUser));
  return {
    name,
    status: input.brNetfilter ? 'fail' : 'warn',
    detail:
      `${blocking.map(named).join(', ')} drop${blocking.length === 1 ? 's' : ''} forwarded packets by default ` +
      `and no rule there accepts ${bridge}: ${path} on ${bridge} is dropped` +
      (input.brNetfilter ? ' (guests cannot reach each other)' : ''),
    hint: `allow banger's bridge in that chain: ${commands.join('; ')}; or use network.mode = "isolated", which needs no host rule (docs/networking.md)`,
  };
}
