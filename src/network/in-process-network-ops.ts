/**
 * The network half of an in-process PrivilegedOps (development, tests, and a daemon running
 * as root): validates each request with network-op-rules, builds argv for `ip`, `nft` and
 * `pasta`, and runs them. The root helper does the same behind its socket.
 */
import { existsSync, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { BangerError, run, sleep } from '../base/index.js';
import type { NetProcessSpec, NetworkOps } from '../protocol/index.js';
import { parseCidr } from './ipv4.js';
import { BANGER_IFNAME_PATTERN } from './interface-names.js';
import { renderNatRemoval, renderNatScript } from './nat-rules.js';
import {
  checkCreateTap,
  checkDeleteTap,
  checkEnsureBridge,
  checkNetProcessSpec,
  checkRemoveNetwork,
  checkSyncNat,
  optNetns,
} from './network-op-rules.js';
import { isSameProcess, spawnDetached, stopProcess } from './net-process.js';

export interface InProcessNetworkOpsOptions {
  /** Directories that process sockets and logs must lie under (banger's runtime/state dirs). */
  roots: readonly string[];
  ipBinary?: string;
  nftBinary?: string;
  pastaBinary?: string;
  /** Node, for the DNS relay (default: this process's). */
  nodeBinary?: string;
  /**
   * Owner of the taps made (`ip tuntap add ... user UID`), so a VMM running as that user can
   * open them without privileges. The root helper sets it to the install's owner. No group:
   * the owner's primary group may be shared with other users.
   */
  tapOwnerUid?: number | undefined;
  /** The DNS relay drops to this user once its port is bound (the root helper: the owner). */
  relayUser?: { uid: number; gid: number } | undefined;
  /**
   * Opens a network process's log (append for its output, read for its readiness line).
   * Default: a plain open that refuses a symlink at the last component. The root helper
   * passes one that opens through a verified directory and hands new files to the owner.
   */
  openLog?: ((logPath: string, mode: 'append' | 'read') => Promise<FileHandle>) | undefined;
}

const RELAY_SCRIPT = fileURLToPath(new URL('./dns-relay-main.js', import.meta.url));
const READY_TIMEOUT_MS = 5000;

export function createInProcessNetworkOps(options: InProcessNetworkOpsOptions): NetworkOps {
  const ip = options.ipBinary ?? 'ip';
  const nft = options.nftBinary ?? 'nft';
  const pasta = options.pastaBinary ?? 'pasta';
  const ipIn = (netns: string | undefined, args: string[]): string[] =>
    netns === undefined ? args : ['-n', netns, ...args];
  const netnsExists = (netns: string): boolean => existsSync(`/run/netns/${netns}`);
  const linkExists = async (netns: string | undefined, name: string): Promise<boolean> => {
    if (netns !== undefined && !netnsExists(netns)) return false;
    const result = await run(ip, ipIn(netns, ['-j', 'link', 'show', 'dev', name]), {
      okCodes: [0, 1],
    });
    return result.code === 0;
  };
  const ignoreMissing = async (file: string, argv: string[]): Promise<void> => {
    const result = await run(file, argv, { okCodes: [0, 1, 2] });
    if (
      result.code !== 0 &&
      !/Cannot find device|No such file|does not exist/i.test(result.stderr)
    ) {
      throw new BangerError(
        'operation_failed',
        `${file} ${argv.join(' ')} failed: ${result.stderr.trim()}`,
      );
    }
  };

  return {
    async ensureBridge(request) {
      const { netns, bridge, gateway } = checkEnsureBridge(request);
      if (netns !== undefined && !netnsExists(netns)) {
        await run(ip, ['netns', 'add', netns]);
        await run(ip, ['-n', netns, 'link', 'set', 'lo', 'up']);
        // Our own namespace: routing between the bridge and the NAT uplink happens here.
        await run(ip, ['netns', 'exec', netns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      }
      if (!(await linkExists(netns, bridge))) {
        await run(ip, ipIn(netns, ['link', 'add', bridge, 'type', 'bridge']));
      }
      const shown = await run(ip, ipIn(netns, ['-j', 'addr', 'show', 'dev', bridge]));
      const addrs = (
        JSON.parse(shown.stdout.toString() || '[]') as {
          addr_info?: { family?: string; local?: string; prefixlen?: number }[];
        }[]
      ).flatMap((link) => link.addr_info ?? []);
      const current = addrs
        .filter((a) => a.family === 'inet')
        .map((a) => `${a.local ?? ''}/${String(a.prefixlen)}`);
      if (current.length !== 1 || current[0] !== gateway) {
        await run(ip, ipIn(netns, ['addr', 'flush', 'dev', bridge]));
        await run(ip, ipIn(netns, ['addr', 'add', gateway, 'dev', bridge]));
      }
      await run(ip, ipIn(netns, ['link', 'set', bridge, 'up']));
    },

    async removeNetwork(request) {
      const { netns, bridge } = checkRemoveNetwork(request);
      if (netns !== undefined) {
        if (netnsExists(netns)) await ignoreMissing(ip, ['netns', 'del', netns]);
        return;
      }
      // Bridged: banger's nftables table lives as long as its bridge (its drop rule names it).
      await run(nft, ['-f', '-'], { input: renderNatRemoval() });
      await ignoreMissing(ip, ['link', 'del', bridge]);
    },

    async createTap(request) {
      const { netns, bridge, tap } = checkCreateTap(request);
      const owner = options.tapOwnerUid;
      const user = owner === undefined ? '' : ` user ${String(owner)}`;
      // One `ip` for the three steps (this is on every boot's path); it stops at the first
      // failure. Names and the uid were validated above: nothing here is free text.
      const batch =
        `tuntap add dev ${tap} mode tap${user}\n` +
        `link set ${tap} master ${bridge}\n` +
        `link set ${tap} up\n`;
      const make = (): Promise<unknown> => run(ip, ipIn(netns, ['-batch', '-']), { input: batch });
      try {
        await make();
      } catch (err) {
        // A tap left by a VMM that died goes, then one more try; any other failure stands.
        if (!(await linkExists(netns, tap))) throw err;
        await run(ip, ipIn(netns, ['link', 'del', tap]));
        try {
          await make();
        } catch (again) {
          await ignoreMissing(ip, ipIn(netns, ['link', 'del', tap]));
          throw again;
        }
      }
    },

    async deleteTap(request) {
      const { netns, tap } = checkDeleteTap(request);
      if (netns !== undefined && !netnsExists(netns)) return;
      await ignoreMissing(ip, ipIn(netns, ['link', 'del', tap]));
    },

    async listLinks(request) {
      const netns = optNetns(request.netns);
      if (netns !== undefined && !netnsExists(netns)) return [];
      const result = await run(ip, ipIn(netns, ['-j', 'link', 'show']));
      const links = JSON.parse(result.stdout.toString() || '[]') as { ifname?: string }[];
      return links
        .map((l) => l.ifname ?? '')
        .filter((name) => BANGER_IFNAME_PATTERN.test(name))
        .sort();
    },

    async syncNat(request) {
      const req = checkSyncNat(request);
      if (req.netns !== undefined && !netnsExists(req.netns)) {
        if (req.sources.length === 0) return;
        throw new BangerError(
          'precondition_failed',
          `network namespace ${req.netns} does not exist`,
        );
      }
      const script = renderNatScript(req);
      const argv = ['-f', '-'];
      if (req.netns === undefined) {
        if (req.sources.length > 0) {
          // Bridged NAT routes guests through the host: forwarding must be on (docs/networking.md).
          await fs.writeFile('/proc/sys/net/ipv4/ip_forward', '1\n');
        }
        await run(nft, argv, { input: script });
      } else {
        await run(ip, ['netns', 'exec', req.netns, nft, ...argv], { input: script });
      }
    },

    async startNetProcess(raw) {
      const spec = checkNetProcessSpec(raw, options.roots);
      const { file, argv } = processArgv(spec);
      const openLog = options.openLog;
      const readLog = async (): Promise<string> => {
        if (openLog === undefined) return fs.readFile(spec.logPath, 'utf8').catch(() => '');
        const log = await openLog(spec.logPath, 'read').catch(() => undefined);
        if (log === undefined) return '';
        try {
          return await log.readFile('utf8');
        } finally {
          await log.close();
        }
      };
      const handle = await spawnDetached({
        file,
        argv,
        logPath: spec.logPath,
        openLog: openLog && ((p) => openLog(p, 'append')),
      });
      const ready = async (): Promise<boolean> =>
        spec.kind === 'dns-relay'
          ? (await readLog()).includes(
              `dns-relay: serving ${spec.listen}:53 for ${spec.socketPath}\n`,
            )
          : linkExists(spec.netns, spec.ifname);
      const deadline = Date.now() + READY_TIMEOUT_MS;
      for (;;) {
        if (await ready()) return { kind: spec.kind, ...handle };
        if (!(await isSameProcess(handle)) || Date.now() > deadline) {
          await stopProcess(handle);
          const log = await readLog();
          const tail = log.trimEnd().split('\n').slice(-8).join('\n');
          throw new BangerError(
            'operation_failed',
            `the ${spec.kind} process did not come up:\n${tail}`,
            {
              hint: `see ${spec.logPath}`,
            },
          );
        }
        await sleep(25);
      }
    },

    async stopNetProcess(handle) {
      await stopProcess(handle);
    },

    async netProcessAlive(handle) {
      return isSameProcess(handle);
    },
  };

  function processArgv(spec: NetProcessSpec): { file: string; argv: string[] } {
    switch (spec.kind) {
      case 'dns-relay': {
        const relay = [
          options.nodeBinary ?? process.execPath,
          RELAY_SCRIPT,
          '--listen',
          spec.listen,
          '--socket',
          spec.socketPath,
          ...(options.relayUser === undefined
            ? []
            : ['--user', String(options.relayUser.uid), '--group', String(options.relayUser.gid)]),
        ];
        // `ip netns exec` execs in place: the pid we get is the relay's own.
        return spec.netns === undefined
          ? { file: relay[0] ?? 'node', argv: relay.slice(1) }
          : { file: ip, argv: ['netns', 'exec', spec.netns, ...relay] };
      }
      case 'uplink': {
        const cidr = parseCidr(spec.address, { strict: false });
        return {
          file: pasta,
          argv: [
            '--config-net',
            '--foreground',
            '--quiet',
            '--ipv4-only',
            // Joining a namespace needs the privileges it would otherwise drop first.
            '--runas',
            '0',
            // Nothing is forwarded into the namespace, and its gateway is not the host's loopback.
            '-t',
            'none',
            '-u',
            'none',
            '-T',
            'none',
            '-U',
            'none',
            '--no-map-gw',
            '--no-dhcp',
            '--netns',
            `/run/netns/${spec.netns}`,
            '--ns-ifname',
            spec.ifname,
            '--address',
            spec.address.split('/')[0] ?? '',
            '--netmask',
            String(cidr?.prefix ?? 30),
            '--gateway',
            spec.gateway,
            '--dns-forward',
            spec.dnsForward,
          ],
        };
      }
    }
  }
}
