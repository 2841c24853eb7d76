import { describe, expect, it } from 'vitest';
import { forwardPolicyCheck, readForwardFirewall } from './forward-policy.js';

const opts = { bridge: 'bgbr0', ownTable: 'banger' };

/** `nft -j list ruleset` of a Docker host (iptables-nft), as nft 1.0.6 prints it. */
function dockerHost(extraRules: unknown[] = []): unknown {
  return {
    nftables: [
      { metainfo: { version: '1.0.6', json_schema_version: 1 } },
      { table: { family: 'ip', name: 'filter', handle: 1 } },
      { chain: { family: 'ip', table: 'filter', name: 'DOCKER-USER', handle: 1 } },
      {
        chain: {
          family: 'ip',
          table: 'filter',
          name: 'FORWARD',
          handle: 2,
          type: 'filter',
          hook: 'forward',
          prio: 0,
          policy: 'drop',
        },
      },
      {
        rule: {
          family: 'ip',
          table: 'filter',
          chain: 'FORWARD',
          expr: [{ counter: { packets: 0, bytes: 0 } }, { jump: { target: 'DOCKER-USER' } }],
        },
      },
      // Docker's own bridge is allowed; that says nothing about banger's.
      {
        rule: {
          family: 'ip',
          table: 'filter',
          chain: 'FORWARD',
          expr: [
            { match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'docker0' } },
            { accept: null },
          ],
        },
      },
      ...extraRules,
    ],
  };
}

const allowBridge = {
  rule: {
    family: 'ip',
    table: 'filter',
    chain: 'DOCKER-USER',
    expr: [
      { match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'bgbr0' } },
      { counter: { packets: 0, bytes: 0 } },
      { accept: null },
    ],
  },
};

describe('bridge firewall', () => {
  it('fails on a Docker host with br_netfilter and names the DOCKER-USER rules that fix it', () => {
    const firewall = readForwardFirewall(dockerHost(), opts);
    expect(firewall).toEqual({
      chains: [{ family: 'ip', table: 'filter', chain: 'FORWARD', allowsBridge: false }],
      dockerUser: true,
    });
    const row = forwardPolicyCheck({ ...firewall, bridge: 'bgbr0', brNetfilter: true });
    expect(row.status).toBe('fail');
    expect(row.detail).toContain('guests cannot reach each other');
    expect(row.hint).toContain('iptables -I DOCKER-USER -i bgbr0 -j ACCEPT');
    expect(row.hint).toContain(
      'iptables -I DOCKER-USER -o bgbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    );
    // Without br_netfilter only routed (NAT) traffic meets the chain.
    const natOnly = forwardPolicyCheck({ ...firewall, bridge: 'bgbr0', brNetfilter: false });
    expect(natOnly.status).toBe('warn');
    expect(natOnly.detail).toContain('NAT traffic on bgbr0 is dropped');
  });

  it('passes once a rule of the dropping table accepts the bridge, or when nothing drops', () => {
    const fixed = readForwardFirewall(dockerHost([allowBridge]), opts);
    expect(fixed.chains[0]?.allowsBridge).toBe(true);
    expect(forwardPolicyCheck({ ...fixed, bridge: 'bgbr0', brNetfilter: true }).status).toBe(
      'pass',
    );
    const open = readForwardFirewall({ nftables: [{ metainfo: {} }] }, opts);
    expect(open).toEqual({ chains: [], dockerUser: false });
    expect(forwardPolicyCheck({ ...open, bridge: 'bgbr0', brNetfilter: true }).status).toBe('pass');
  });

  it("ignores banger's own table, other hooks and other families; nft commands for nft chains", () => {
    const ruleset = {
      nftables: [
        {
          chain: {
            family: 'ip',
            table: 'banger',
            name: 'forward',
            hook: 'forward',
            policy: 'drop',
          },
        },
        { chain: { family: 'ip', table: 'x', name: 'in', hook: 'input', policy: 'drop' } },
        { chain: { family: 'bridge', table: 'x', name: 'f', hook: 'forward', policy: 'drop' } },
        { chain: { family: 'inet', table: 'fw', name: 'fwd', hook: 'forward', policy: 'drop' } },
        // An accept for the bridge in another table does not get past this one's drop.
        allowBridge,
      ],
    };
    const firewall = readForwardFirewall(ruleset, opts);
    expect(firewall.chains).toEqual([
      { family: 'inet', table: 'fw', chain: 'fwd', allowsBridge: false },
    ]);
    const row = forwardPolicyCheck({ ...firewall, bridge: 'bgbr0', brNetfilter: true });
    expect(row.hint).toContain('nft insert rule inet fw fwd iifname "bgbr0" accept');
    expect(readForwardFirewall('garbage', opts)).toEqual({ chains: [], dockerUser: false });
  });
});
