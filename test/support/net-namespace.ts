/**
 * Network namespaces made by a test, so that every bridge, guest address and NAT rule of a
 * networking test lives inside them (HOST-NOTES "Network"). The daemon under test is started
 * inside with `nsenter --net` (not `ip netns exec`, whose private mount namespace would hide
 * the namespaces the daemon registers from everyone else, cleanup included).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { run, spawnChild } from '../../src/base/index.js';

export class TestNetns {
  private constructor(readonly name: string) {}

  static async create(prefix = 'bgt'): Promise<TestNetns> {
    const ns = new TestNetns(`${prefix}-${randomBytes(3).toString('hex')}`);
    await must(['ip', 'netns', 'add', ns.name]);
    await must(['ip', '-n', ns.name, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** Runs argv inside the namespace; any exit status is returned, not thrown. */
  async exec(argv: string[]): Promise<{ code: number | null; stdout: string }> {
    const result = await run('ip', ['netns', 'exec', this.name, ...argv], {
      okCodes: Array.from({ length: 256 }, (_, i) => i),
      timeoutMs: 30_000,
    });
    return { code: result.code, stdout: result.stdout.toString() };
  }

  /** Starts a long-running process inside the namespace; returns its pid. */
  spawn(argv: string[], env?: NodeJS.ProcessEnv): number {
    const child = spawnChild('nsenter', [`--net=/run/netns/${this.name}`, ...argv], {
      env: env ?? process.env,
      stdio: 'ignore',
      detached: true,
    });
    child.unref();
    return child.pid ?? -1;
  }

  async destroy(): Promise<void> {
    if (existsSync(`/run/netns/${this.name}`)) await must(['ip', 'netns', 'del', this.name]);
  }
}

/** Joins two namespaces with a veth pair, addresses given as "A.B.C.D/N". */
export async function linkNamespaces(
  a: { ns: TestNetns; ifname: string; address: string },
  b: { ns: TestNetns; ifname: string; address: string },
): Promise<void> {
  await must([
    'ip',
    'link',
    'add',
    a.ifname,
    'netns',
    a.ns.name,
    'type',
    'veth',
    'peer',
    'name',
    b.ifname,
    'netns',
    b.ns.name,
  ]);
  for (const side of [a, b]) {
    await must(['ip', '-n', side.ns.name, 'addr', 'add', side.address, 'dev', side.ifname]);
    await must(['ip', '-n', side.ns.name, 'link', 'set', side.ifname, 'up']);
  }
}

export function netnsNames(): string[] {
  return existsSync('/run/netns') ? readdirSync('/run/netns') : [];
}

export async function must(argv: string[]): Promise<string> {
  const [file, ...args] = argv;
  return (await run(file ?? 'false', args)).stdout.toString();
}
