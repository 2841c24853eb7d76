/**
 * Network namespaces made by a test, so that every bridge, guest address and NAT rule of a
 * networking test lives inside them (HOST-NOTES "Network"). Processes are started inside with
 * `nsenter --net` (not `ip netns exec`, whose private mount namespace would hide the
 * namespaces the daemon registers from everyone else, cleanup included). Teardown kills
 * every process still inside a namespace (all of them were started by the test, directly or
 * through the daemon it started there), by pid, before the namespace is deleted: a process
 * left inside would keep a deleted namespace alive and unseen.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { run, spawnChild } from '../../src/base/index.js';

export class TestNetns {
  private constructor(readonly name: string) {}

  static async create(prefix = 'bgt'): Promise<TestNetns> {
    const ns = new TestNetns(`${prefix}-${randomBytes(3).toString('hex')}`);
    await must(['ip', 'netns', 'add', ns.name]);
    await must(['ip', '-n', ns.name, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /**
   * Runs argv inside the namespace (`ip netns exec`, so files written with `writeEtc` replace
   * the host's /etc files for it); any exit status is returned, not thrown.
   */
  async exec(
    argv: string[],
    options: { timeoutMs?: number } = {},
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const result = await run('ip', ['netns', 'exec', this.name, ...argv], {
      okCodes: Array.from({ length: 256 }, (_, i) => i),
      timeoutMs: options.timeoutMs ?? 30_000,
    });
    return { code: result.code, stdout: result.stdout.toString(), stderr: result.stderr };
  }

  /** Like exec, but fails with its stderr unless argv exits 0; returns stdout. */
  async ok(argv: string[]): Promise<string> {
    const result = await this.exec(argv);
    if (result.code !== 0)
      throw new Error(
        `${argv.join(' ')} in ${this.name} exited ${String(result.code)}: ${result.stderr}`,
      );
    return result.stdout;
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

  /** `/etc/netns/NAME/FILE`: `ip netns exec` binds it over `/etc/FILE` (e.g. resolv.conf). */
  async writeEtc(file: string, text: string): Promise<void> {
    await fs.mkdir(this.etcDir, { recursive: true });
    await fs.writeFile(path.join(this.etcDir, file), text);
  }

  /** Whether `pid` runs in this namespace. */
  holds(pid: number): boolean {
    return netnsInodeOf(pid) === statSync(`/run/netns/${this.name}`).ino;
  }

  async destroy(): Promise<void> {
    await deleteNetns(this.name);
    await fs.rm(this.etcDir, { recursive: true, force: true });
  }

  private get etcDir(): string {
    return path.join('/etc/netns', this.name);
  }
}

/** The inode of a process's network namespace, or undefined when it is gone. */
export function netnsInodeOf(pid: number): number | undefined {
  try {
    return statSync(`/proc/${String(pid)}/ns/net`).ino;
  } catch {
    return undefined;
  }
}

/** Pids of the processes inside a named namespace ([] when it does not exist). */
export async function netnsPids(name: string): Promise<number[]> {
  if (!existsSync(`/run/netns/${name}`)) return [];
  const out = await must(['ip', 'netns', 'pids', name]).catch(() => '');
  return out
    .split('\n')
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 0 && pid !== process.pid);
}

/**
 * Kills, by pid, every process inside a namespace the test made (or that the daemon the test
 * started made for it), waits until they are gone, then deletes the namespace.
 */
export async function deleteNetns(name: string): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const pids = await netnsPids(name);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    for (let i = 0; i < 100 && (await netnsPids(name)).some((p) => pids.includes(p)); i++)
      await new Promise((r) => setTimeout(r, 50));
  }
  if (existsSync(`/run/netns/${name}`)) await must(['ip', 'netns', 'del', name]);
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
