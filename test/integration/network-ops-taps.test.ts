/**
 * Taps through the in-process network ops, for real: `ip` in a banger-style namespace that
 * the test makes (through ensureBridge) and removes. Every VM boot makes its tap this way,
 * in one `ip -batch` run.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/base/index.js';
import { createInProcessNetworkOps } from '../../src/network/index.js';
import { requirePrerequisite } from '../support/banger-home.js';

const ready = requirePrerequisite(process.getuid?.() === 0, 'root (network namespaces)');
const OWNER = 4242;

interface Link {
  ifname: string;
  master?: string;
  flags: string[];
  linkinfo?: { info_data?: { type?: string; user?: number } };
}

describe.runIf(ready)('in-process network ops: taps', () => {
  const netns = `banger-${randomBytes(4).toString('hex')}`;
  const bridge = 'bgbr0';
  const ops = createInProcessNetworkOps({ roots: [os.tmpdir()], tapOwnerUid: OWNER });

  const link = async (name: string): Promise<Link | undefined> => {
    const shown = await run('ip', ['-n', netns, '-d', '-j', 'link', 'show', 'dev', name], {
      okCodes: [0, 1],
    });
    if (shown.code !== 0) return undefined;
    return (JSON.parse(shown.stdout.toString()) as Link[])[0];
  };

  beforeAll(async () => {
    await ops.ensureBridge({ netns, bridge, gateway: '10.213.0.1/24' });
  });

  afterAll(async () => {
    await ops.removeNetwork({ netns, bridge }).catch(() => undefined);
    if (existsSync(`/run/netns/${netns}`)) await run('ip', ['netns', 'del', netns]);
  });

  it('makes a tap on the bridge, up, that the owner may open', async () => {
    await ops.createTap({ netns, bridge, tap: 'bg-0123456789ab' });
    const tap = await link('bg-0123456789ab');
    expect(tap?.master).toBe(bridge);
    expect(tap?.flags).toContain('UP');
    expect(tap?.linkinfo?.info_data).toMatchObject({ type: 'tap', user: OWNER });
  });

  it('replaces a tap left behind by a VMM that died', async () => {
    const name = 'bg-00000000beef';
    await run('ip', ['-n', netns, 'tuntap', 'add', 'dev', name, 'mode', 'tap']);
    expect((await link(name))?.master).toBeUndefined();
    await ops.createTap({ netns, bridge, tap: name });
    const tap = await link(name);
    expect(tap?.master).toBe(bridge);
    expect(tap?.flags).toContain('UP');
    expect(tap?.linkinfo?.info_data).toMatchObject({ user: OWNER });
  });

  it('fails naming a bridge that does not exist, and leaves no tap', async () => {
    const name = 'bg-aaaaaaaaaaaa';
    await expect(ops.createTap({ netns, bridge: 'bgbr9', tap: name })).rejects.toThrow(/bgbr9/);
    expect(await link(name)).toBeUndefined();
  });

  it('refuses a name outside banger`s pattern before running anything', async () => {
    await expect(ops.createTap({ netns, bridge, tap: 'eth0' })).rejects.toThrow(
      /tap "eth0" must be a banger interface name/,
    );
    expect(await link('eth0')).toBeUndefined();
  });
});
