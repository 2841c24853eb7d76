/**
 * Renders banger's nftables table for NAT, as one `nft -f` script that replaces the table
 * atomically (create-if-missing, delete, recreate in one transaction). The table holds only
 * banger's rules; no other table or chain is touched. Pure: input is validated by the caller.
 *
 * Why a table of our own cannot make forwarding work on a host whose FORWARD policy is DROP
 * (Docker): in nftables an `accept` ends only its own base chain; the packet still meets every
 * other base chain on the hook, and a drop there is final (measured; see docs/networking.md).
 * So in isolated mode banger does not forward on the host at all: traffic leaves its
 * namespace through a userspace uplink (pasta) whose sockets are the host's own.
 */
export const NAT_TABLE = 'banger';

export interface NatRuleInput {
  bridge: string;
  /** Isolated: the uplink inside banger's namespace; bridged: undefined. */
  uplink?: string | undefined;
  sources: { vmId: string; address: string }[];
}

/** Removes banger's table (and nothing else); fine when it is missing. */
export function renderNatRemoval(): string {
  return `table ip ${NAT_TABLE}\ndelete table ip ${NAT_TABLE}\n`;
}

/**
 * The nft script. The table always keeps its drop rule while the network is up, even with no
 * NAT VM: a guest without NAT is never routed off the bridge, neither through an uplink that
 * another VM's NAT brought up (isolated) nor by a host that forwards (bridged: ip_forward may
 * be on for Docker or for an earlier NAT VM). The table goes with the network
 * (`renderNatRemoval`, at removeNetwork).
 */
export function renderNatScript(input: NatRuleInput): string {
  const lines = renderNatRemoval().trimEnd().split('\n');
  const br = JSON.stringify(input.bridge);
  const out =
    input.uplink === undefined ? `oifname != ${br}` : `oifname ${JSON.stringify(input.uplink)}`;
  const forward: string[] = [];
  const post: string[] = [];
  for (const { vmId, address } of input.sources) {
    const comment = `comment "banger vm ${vmId}"`;
    forward.push(`    iifname ${br} ${out} ip saddr ${address} accept ${comment}`);
    forward.push(
      `    ${out.replace('oifname', 'iifname')} oifname ${br} ip daddr ${address} ct state established,related accept ${comment}`,
    );
    post.push(`    ${out} ip saddr ${address} masquerade ${comment}`);
  }
  lines.push(
    `table ip ${NAT_TABLE} {`,
    // Runs before the default filter priority so banger's verdicts come first; on a host whose
    // own chains accept (the default), these accepts are what lets NAT traffic through.
    '  chain forward {',
    '    type filter hook forward priority filter - 10; policy accept;',
    ...forward,
    // Guests without NAT are never routed off the bridge.
    `    iifname ${br} oifname != ${br} drop comment "banger: guests without NAT stay on the bridge"`,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    ...post,
    '  }',
    '}',
  );
  return `${lines.join('\n')}\n`;
}
